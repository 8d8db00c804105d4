"""Reports of the benchmark suite: machine information, console tables (rich when it is
installed, plain text otherwise), JSON, CSV and matplotlib (Agg) PNG figures.

Every output carries the machine information (:func:`machine_info`): the JSON under
``"machine"``, the CSV as ``#`` comment lines above the header, the tables in their caption,
the figures in a footer.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import math
import os
import platform
import sys
from pathlib import Path

__all__ = [
    "machine_info",
    "machine_line",
    "print_machine",
    "tables",
    "print_tables",
    "write_json",
    "write_csv",
    "write_markdown",
    "write_plots",
    "columns_of",
]


# --------------------------------------------------------------------------- machine
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        try:
            import subprocess

            out = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, timeout=5)
            if out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine() or "unknown"


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except (OSError, ValueError):
        pass
    return None


def machine_info() -> dict:
    """CPU model, cores, memory, load, OS and the versions of the libraries that matter.

    torch is not imported for this: its version comes from the package metadata, and the
    CUDA device is named only when torch was already imported by a benchmark.
    """
    from .. import __version__, max_threads

    try:
        cores_available = len(os.sched_getaffinity(0))
    except AttributeError:
        cores_available = os.cpu_count()
    info = {
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_available": cores_available,
        "numba_threads": max_threads(),
        "memory_gib": _memory_gib(),
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "multiproj": __version__,
        "numpy": _version("numpy"),
        "numba": _version("numba"),
        "torch": _version("torch"),
        "cuda_device": None,
    }
    numba = sys.modules.get("numba")
    if numba is not None:
        try:
            info["numba_threading_layer"] = numba.threading_layer()
        except ValueError:  # no parallel kernel has run yet
            pass
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            if torch.cuda.is_available():
                info["cuda_device"] = torch.cuda.get_device_name(0)
        except Exception:  # noqa: BLE001 - information only
            pass
    return info


def machine_line(info: dict) -> str:
    """One line describing the machine (for captions and figure footers)."""
    parts = [
        f"{info['cpu']}, {info['cores']} cores ({info['numba_threads']} numba threads"
        + (f", {info['numba_threading_layer']}" if info.get("numba_threading_layer") else "")
        + ")",
        f"numpy {info['numpy']}, numba {info['numba']}" + (f", torch {info['torch']}" if info.get("torch") else ""),
        f"multiproj {info['multiproj']}",
        info["date_utc"],
    ]
    if info.get("load_average"):
        parts.append(f"load {info['load_average'][0]}")
    if info.get("cuda_device"):
        parts.append(f"GPU {info['cuda_device']}")
    return "; ".join(parts)


def print_machine() -> dict:
    """Print ``machine: <machine_line>`` (the header of the benchmark scripts) and return
    the :func:`machine_info` it describes."""
    info = machine_info()
    print("machine: " + machine_line(info))
    return info


# --------------------------------------------------------------------------- formatting
def _ms(x) -> str:
    if x is None:
        return "n/a"
    return f"{x:.3g} ms" if x < 100 else f"{x:.0f} ms"


def _x(x) -> str:
    if x is None:
        return "n/a"
    return f"{x:.2f}x" if x < 10 else f"{x:.3g}x"


def _note(r: dict) -> str:
    """Short text for a row without a time: ``n/a`` or ``error`` (details in JSON/CSV)."""
    note = r.get("note") or "n/a"
    return "n/a" if note.startswith("n/a") else "error"


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _g(x, digits=4) -> str:
    return "n/a" if x is None else f"{x:.{digits}g}"


def _label(r: dict) -> str:
    return f"{r['method']} {r['ball']}"


def _pivot(rows, key_fn, col_fn, cell_fn):
    """``(keys, cols, cells)`` with ``cells[(key, col)]`` the text for that row."""
    keys, cols, cells = [], [], {}
    for r in rows:
        k, c = key_fn(r), col_fn(r)
        if k not in keys:
            keys.append(k)
        if c not in cols:
            cols.append(c)
        cells[(k, c)] = cell_fn(r)
    return keys, cols, cells


def _yes_no(flag) -> str:
    return "" if flag is None else ("yes" if flag else "no")


# The tables with one line per row: (sub-benchmark, title or title(rows), ((header, cell(row)), ...)).
_ROW_TABLES = (
    ("sparsity", "sparsity: radius sweep (norms in the ball's norm, l1,inf; groups = columns)", (
        ("data", lambda r: r["data"]),
        ("radius / ||Y||", lambda r: f"{r['radius_fraction']:.1%}"),
        ("method ball", _label),
        ("zero groups", lambda r: _pct(r["zero_groups"]) if r["zero_groups"] is not None else _note(r)),
        ("||Y-P||_F/||Y||_F", lambda r: _g(r["rel_dist_fro"])),
        ("||Y-P||/||Y||", lambda r: _g(r["residual_norm"])),
        ("||P||/||Y||", lambda r: _g(r["projection_norm"])),
        ("identity error", lambda r: _g(r["identity_error"], 2)),
    )),
    ("torch", "torch: median time on tensors (ratio to tensor.clone(); vs the NumPy call)", (
        ("device dtype", lambda r: f"{r.get('device', '')} {r.get('dtype', '')}"),
        ("method ball", lambda r: _label(r) if "method" in r else ""),
        ("torch", lambda r: _note(r) if r.get("time_ms") is None else _ms(r["time_ms"])),
        ("x clone", lambda r: _x(r.get("ratio"))),
        ("numpy", lambda r: _ms(r.get("numpy_ms"))),
        ("torch/numpy", lambda r: _x(r.get("vs_numpy"))),
        ("max |diff|", lambda r: _g(r.get("max_abs_diff"), 2)),
    )),
    ("targets", "targets: ratio to Y.copy() (or to the sort) of the same run, against the fastest "
                "other library's ratio on this machine kind", (
        ("workload (1 thread)", lambda r: r["workload"]),
        ("time", lambda r: _note(r) if r["time_ms"] is None else _ms(r["time_ms"])),
        ("reference", lambda r: _ms(r["copy_ms"])),
        ("ratio", lambda r: _g(r["ratio"], 3)),
        ("fastest peer", lambda r: _g(r["peer"], 3)),
        ("goal (<=)", lambda r: _g(r["target"], 3)),
        ("met", lambda r: _yes_no(r["met"])),
    )),
    ("contention", lambda rows: f"contention: {rows[0]['threads']} threads against 1 (median time, round-robin)", (
        ("kernel", lambda r: r["kernel"]),
        ("busy processes", lambda r: str(r["busy"])),
        ("1 thread", lambda r: _ms(r["t1_ms"])),
        ("all threads", lambda r: _ms(r["tn_ms"])),
        ("ratio", lambda r: _g(r["ratio"], 3)),
        ("bound", lambda r: _g(r["bound"], 2)),
        ("within", lambda r: _yes_no(None if r["ratio"] is None else r["ratio"] <= r["bound"])),
    )),
    ("autograd", "autograd: median time of the forward call, of the forward call recording the graph and "
                 "of the backward (1 thread, groups = columns)", (
        ("shape", lambda r: r.get("shape", "")),
        ("method ball", lambda r: _label(r) if "method" in r else _note(r)),
        ("fwd", lambda r: _ms(r.get("fwd_ms"))),
        ("fwd+grad", lambda r: _ms(r.get("fwd_grad_ms"))),
        ("bwd", lambda r: _ms(r.get("bwd_ms"))),
        ("bwd / fwd", lambda r: _x(r.get("bwd_vs_fwd"))),
        ("fwd+grad / fwd", lambda r: _x(r.get("fwd_grad_vs_fwd"))),
    )),
    ("firstcall", "firstcall: first call of a 1000 x 1000 matrix, empty Numba cache (compilation)", (
        ("method ball", _label),
        ("wall", lambda r: f"{r['wall_s']:.2f} s"),
        ("CPU", lambda r: f"{r['cpu_s']:.2f} s"),
        ("goal (wall, <=)", lambda r: f"{r['goal_s']:.0f} s"),
    )),
)


def tables(results: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """``(title, header, rows)`` of the console tables, one or more per sub-benchmark."""
    out = []
    rows = results.get("sizes") or []
    for data in dict.fromkeys(r["data"] for r in rows):
        sub = [r for r in rows if r["data"] == data]
        keys, cols, cells = _pivot(
            sub,
            _label,
            lambda r: f"{r['n']}x{r['m']}",
            lambda r: _note(r) if r["time_ms"] is None else f"{_ms(r['time_ms'])} ({_x(r['ratio'])})",
        )
        copies = {f"{r['n']}x{r['m']}": _ms(r["copy_ms"]) for r in sub}
        body = [[k] + [cells.get((k, c), "") for c in cols] for k in keys]
        body.append(["Y.copy() (reference)"] + [copies[c] for c in cols])
        out.append((f"sizes: {data}; median time (ratio to Y.copy())", ["method ball"] + cols, body))
    for bench, title, first, key_fn, ratio in (
        ("threads", "threads: median time (speedup vs 1 thread)", "shape method ball",
         lambda r: f"{r['shape']} {_label(r)}", "speedup"),
        ("tensors", "tensors: median time (ratio to a copy of the tensor)", "tensor method ball",
         lambda r: f"order {r['order']} {r['shape']} {_label(r)}", "ratio"),
        ("multilevel", "multilevel: median time (median ratio to Y.copy(), calls in turns)", "ball shape eta",
         lambda r: f"{r['ball']} {r['shape']} eta={r['eta']}", "ratio"),
    ):
        rows = results.get(bench) or []
        if rows:
            keys, cols, cells = _pivot(
                rows,
                key_fn,
                lambda r: f"{r['threads']} thr",
                lambda r, ratio=ratio: _note(r) if r["time_ms"] is None else f"{_ms(r['time_ms'])} ({_x(r.get(ratio))})",
            )
            body = [[k] + [cells.get((k, c), "") for c in cols] for k in keys]
            out.append((title, [first] + cols, body))
    for bench, title, columns in _ROW_TABLES:
        rows = results.get(bench) or []
        if rows:
            header = [h for h, _ in columns]
            body = [[cell(r) for _, cell in columns] for r in rows]
            out.append((title(rows) if callable(title) else title, header, body))
    return out


def print_tables(results: dict, info: dict, console=None) -> None:
    """Print the tables with rich when available, as plain text otherwise."""
    caption = machine_line(info)
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        for title, header, body in tables(results):
            print(f"\n{title}\n  " + " | ".join(header))
            for row in body:
                print("  " + " | ".join(row))
        print(f"\nmachine: {caption}")
        return
    if console is None:
        console = Console()
        if not console.is_terminal:  # pipes and files: wide enough for the tables
            console = Console(width=max(console.width, 150))
    for title, header, body in tables(results):
        t = Table(title=title, caption=caption, title_justify="left", caption_justify="left")
        for i, h in enumerate(header):
            t.add_column(h, justify="left" if i == 0 else "right")
        for row in body:
            t.add_row(*row)
        console.print(t)


# --------------------------------------------------------------------------- files
def columns_of(rows: list[dict]) -> list[str]:
    """Union of the row keys, in order of first appearance."""
    return list(dict.fromkeys(k for r in rows for k in r))


def _clean(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, tuple):
        return [_clean(v) for v in x]
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x


def write_json(path, results: dict, info: dict, config: dict, command: str) -> Path:
    """``{"command", "machine", "config", "results": {bench: [rows]}}`` as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"command": command, "machine": info, "config": config, "results": results}
    path.write_text(json.dumps(_clean(doc), indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return path


def write_csv(path, results: dict, info: dict, command: str) -> Path:
    """All rows of all sub-benchmarks in one CSV, ``#`` lines with the machine first
    (``pandas.read_csv(path, comment="#")`` reads it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [r for rs in results.values() for r in rs]
    cols = columns_of(rows)
    with path.open("w", newline="", encoding="utf-8") as fh:
        fh.write(f"# {command}\n")
        for k, v in info.items():
            fh.write(f"# {k}: {v}\n")
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in cols})
    return path


def write_markdown(path, results: dict, info: dict, command: str) -> Path:
    """The console tables as GitHub markdown, with the command and the machine."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"Command: `{command}`  ", f"Machine: {machine_line(info)}", ""]
    for title, header, body in tables(results):
        lines += [f"**{title}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- figures
def _figure(ncols: int = 1, width: float = 5.0, height: float = 3.6):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    return fig, list(axes[0])


def _save(fig, path: Path, info: dict) -> Path:
    import matplotlib.pyplot as plt

    import textwrap

    width = int(fig.get_figwidth() * 13)  # characters of 7.5-point text per line
    footer = "\n".join(textwrap.wrap("Machine: " + machine_line(info), width))
    lines = footer.count("\n") + 1
    fig.text(0.01, 0.006, footer, fontsize=7.5, color="0.25", ha="left", va="bottom")
    # room at the bottom for the footer: 7.5-point lines of about 0.15 inch
    fig.tight_layout(rect=(0, min(0.4, 0.15 * lines / fig.get_figheight() + 0.01), 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _save_below(fig, path: Path, info: dict, legend_rows: int) -> Path:
    """``_save`` for a figure whose legend sits in a band between the axes and the footer."""
    import matplotlib.pyplot as plt

    import textwrap

    width = int(fig.get_figwidth() * 13)
    footer = "\n".join(textwrap.wrap("Machine: " + machine_line(info), width))
    lines = footer.count("\n") + 1
    h = fig.get_figheight()
    foot = 0.15 * lines / h + 0.01
    band = 0.17 * legend_rows / h + 0.02
    fig.text(0.01, 0.006, footer, fontsize=7.5, color="0.25", ha="left", va="bottom")
    for leg in fig.legends:
        leg.set_bbox_to_anchor((0.5, foot), transform=fig.transFigure)
    fig.tight_layout(rect=(0, min(0.6, foot + band), 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot_sizes(rows, path, info):
    datas = list(dict.fromkeys(r["data"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    balls = list(dict.fromkeys(r["ball"] for r in rows))
    fig, axes = _figure(len(datas), width=5.5, height=4.8)
    for ax, data in zip(axes, datas):
        sub = [r for r in rows if r["data"] == data]
        for lab in dict.fromkeys(_label(r) for r in sub):
            pts = sorted((r["m"], r["time_ms"]) for r in sub if _label(r) == lab and r["time_ms"] is not None)
            if pts:
                # colour = method, line style and marker = ball
                r0 = next(r for r in sub if _label(r) == lab)
                i, j = methods.index(r0["method"]), balls.index(r0["ball"])
                ax.plot(*zip(*pts), color=f"C{i}", ls=["-", "--", "-.", ":"][j % 4], marker="os^v"[j % 4], label=lab, lw=1.3, ms=4.5)
        cp = sorted({(r["m"], r["copy_ms"]) for r in sub if r["copy_ms"] is not None})
        if cp:
            ax.plot(*zip(*cp), color="k", ls=(0, (1, 1)), label="Y.copy()", lw=2)
        ax.set_yscale("log")
        ax.set_xlabel("m (matrix 1000 x m, groups = columns)")
        ax.set_ylabel("median time (ms)")
        ax.set_title(data, fontsize=9)
        ax.grid(alpha=0.3, which="both")
    threads = sorted({r["threads"] for r in rows})
    fig.suptitle("Projection time against the matrix width ("
                 + ", ".join(str(t) for t in threads) + " thread" + ("s" if threads != [1] else "") + ")",
                 fontsize=10)
    # one legend under the panels, clear of the curves
    handles, labels = axes[-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), fontsize=7,
               bbox_to_anchor=(0.5, 0.09), frameon=False)
    return _save_below(fig, path, info, legend_rows=-(-len(labels) // 6))


def _finish(fig, ax, path, info, xlabel: str, ylabel: str, title: tuple[str, int], legend_loc: str):
    """Label one-panel figure ``ax`` (``title`` = (text, font size)), grid, legend, save."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title[0], fontsize=title[1])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc=legend_loc)
    return _save(fig, path, info)


def _plot_threads(rows, path, info):
    fig, (ax,) = _figure(1, width=5.6, height=4.0)
    top = 1
    for i, key in enumerate(dict.fromkeys(f"{r['shape']} {_label(r)}" for r in rows)):
        pts = sorted((r["threads"], r["speedup"]) for r in rows if f"{r['shape']} {_label(r)}" == key and r.get("speedup"))
        if pts:
            ax.plot(*zip(*pts), marker="osD^v"[i % 5], ls=["-", "--", "-.", ":"][i % 4], label=key, lw=1.4, ms=5)
            top = max(top, max(p[0] for p in pts))
    ax.plot([1, top], [1, top], "k:", lw=1, label="ideal (linear)")
    return _finish(fig, ax, path, info, "Numba threads", "speedup over 1 thread (x)",
                   ("Speedup against the number of threads", 10), "upper left")


def _plot_tensors(rows, path, info):
    import numpy as np

    fig, (ax,) = _figure(1, width=7.5, height=4.0)
    orders = sorted({r["order"] for r in rows})
    series = list(dict.fromkeys(f"{r['method']}, {r['threads']} thr" for r in rows))
    w = 0.8 / max(1, len(series))
    for i, s in enumerate(series):
        vals = []
        for o in orders:
            v = [r["ratio"] for r in rows if r["order"] == o and f"{r['method']}, {r['threads']} thr" == s]
            vals.append(v[0] if v and v[0] is not None else np.nan)
        ax.bar(np.arange(len(orders)) + i * w, vals, w, label=s)
    ax.axhline(1.0, color="k", ls="--", lw=1, label="copy")
    shapes = {r["order"]: r["shape"] for r in rows}
    ax.set_xticks(np.arange(len(orders)) + w * (len(series) - 1) / 2)
    ax.set_xticklabels([f"{o}\n{shapes[o]}" for o in orders], fontsize=8)
    ax.set_xlabel("tensor order (shape); ball l1,inf,...,inf")
    ax.set_ylabel("time / Y.copy() of the tensor (x)")
    ax.set_title("2^24 float64 entries as tensors of several orders", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    # the legend goes to the right of the axes, never over a bar
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return _save(fig, path, info)


def _plot_sparsity(rows, path, info):
    fig, (a1, a2) = _figure(2, width=5.2, height=4.0)
    labels = list(dict.fromkeys(_label(r) for r in rows))
    datas = list(dict.fromkeys(r["data"] for r in rows))
    for i, lab in enumerate(labels):
        for j, data in enumerate(datas):
            pts = sorted(
                (r["radius_fraction"], r["zero_groups"], r["rel_dist_fro"])
                for r in rows
                if _label(r) == lab and r["data"] == data and r["zero_groups"] is not None
            )
            if pts:
                f, z, d = zip(*pts)
                # colour and marker = method, line style = data; later methods drawn thinner
                # with smaller hollow markers, so that curves that coincide stay visible
                style = dict(marker="osD^v"[i % 5], color=f"C{i}", ls=["-", "--", ":", "-."][j % 4],
                             lw=max(0.9, 2.8 - 0.9 * i), ms=max(3.5, 7.5 - 2.0 * i),
                             mfc="none" if i else f"C{i}", mew=1.2)
                a1.plot(f, z, label=f"{lab}, {data}", **style)
                a2.plot(f, d, label=f"{lab}, {data}", **style)
    for ax in (a1, a2):
        ax.set_xscale("log")
        ax.set_xlabel("radius / ||Y||_{1,inf}")
        ax.grid(alpha=0.3, which="both")
    a1.set_ylabel("fraction of zero groups")
    a2.set_ylabel("||Y - P(Y)||_F / ||Y||_F")
    a1.set_title("sparsity", fontsize=9)
    a2.set_title("relative distance to Y", fontsize=9)
    fig.suptitle("l1,inf projections of 1000 x 1000 matrices against the radius", fontsize=10)
    handles, labs = a1.get_legend_handles_labels()
    fig.legend(handles, labs, loc="lower center", ncol=min(3, len(labs)), fontsize=7,
               bbox_to_anchor=(0.5, 0.09), frameon=False)
    return _save_below(fig, path, info, legend_rows=-(-len(labs) // 3))


def _plot_identity(rows, path, info):
    fig, (ax,) = _figure(1, width=5.2, height=4.6)
    ax.plot([0, 1], [1, 0], "k--", lw=1, label="x + y = 1")
    markers = "os^vD"
    for i, lab in enumerate(dict.fromkeys(_label(r) for r in rows)):
        pts = [(r["residual_norm"], r["projection_norm"]) for r in rows if _label(r) == lab and r["residual_norm"] is not None]
        s = 40 if i == 0 else 16  # coinciding points stay visible
        if pts:
            err = max(abs(x + y - 1) for x, y in pts)
            ax.scatter(*zip(*pts), marker=markers[i % len(markers)], s=s, facecolors="none", edgecolors=f"C{i}", label=f"{lab} (max |x+y-1| = {err:.1e})")
    title = "Additive identity in the l1,inf norm\n(both are column-wise clippings: it holds for both)"
    return _finish(fig, ax, path, info, "||Y - P(Y)|| / ||Y||", "||P(Y)|| / ||Y||", (title, 9), "upper right")


def _plot_torch(rows, path, info):
    import numpy as np

    rows = [r for r in rows if r.get("time_ms") is not None]
    if not rows:
        return None
    fig, (ax,) = _figure(1, width=7.5, height=1.8 + 0.28 * len(rows))
    labels = [f"{_label(r)}, {r['device']} {r['dtype']}" for r in rows]
    y = np.arange(len(rows))[::-1]
    ax.barh(y + 0.2, [r["ratio"] for r in rows], 0.4, color="C0", label="torch call / tensor.clone()")
    ax.barh(y - 0.2, [r["vs_numpy"] or np.nan for r in rows], 0.4, color="C1", hatch="//",
            label="torch call / same call on the NumPy array")
    ax.axvline(1.0, color="k", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel("time ratio (log scale; 1 = same time)")
    shape = rows[0].get("shape")
    ax.set_title("torch tensors through multiproj" + (f", {shape}" if shape else ""), fontsize=10)
    ax.grid(alpha=0.3, axis="x", which="both")
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path, info)


PLOTS = {
    "sizes": [("sizes.png", _plot_sizes)],
    "threads": [("threads.png", _plot_threads)],
    "tensors": [("tensors.png", _plot_tensors)],
    "sparsity": [("sparsity.png", _plot_sparsity), ("identity.png", _plot_identity)],
    "torch": [("torch.png", _plot_torch)],
}


def write_plots(directory, results: dict, info: dict) -> list[Path]:
    """PNG figures (matplotlib, Agg backend) for the sub-benchmarks that have results."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, rows in results.items():
        rows = [r for r in rows if r.get("method") is not None]
        if not rows:
            continue
        for fname, fn in PLOTS.get(name, []):
            p = fn(rows, directory / fname, info)
            if p is not None:
                paths.append(p)
    return paths
