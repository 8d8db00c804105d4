"""GPU check: CUDA results against CPU results for every ball and method, and the time of the
bi-level l1,inf projection of a 8192 x 65536 float32 matrix against a device-to-device copy.

Run it whenever a CUDA machine is at hand::

    python benchmarks/gpu_check.py                      # the full check (needs CUDA)
    python benchmarks/gpu_check.py --json gpu.json      # also save the figures
    python benchmarks/gpu_check.py --device cpu --shape 256x2048   # dry run of the script:
        # runs the torch-ops code path that CUDA tensors use, on CPU tensors

Without a CUDA device (and without ``--device cpu``) it says so and exits 0.  Exit status 1
when a CUDA result differs from the CPU result beyond the tolerance.

Part 1 compares, for every method of the registry and every ball it lists, in float32 and
float64, ``multiproj.project`` on the CUDA tensor against the same call on the CPU tensor
(the Numba kernels), and checks dtype, device and the in-place ``project_`` (same data
pointer).  Part 2 times, with CUDA events (median of ``--repeat``), the bi-level l1,inf
projection with groups = columns (``axis=0``) and rows (``axis=1``), a few other balls, and
``dst.copy_(Y)``; the target is bi-level l1,inf <= 2.5 x the copy.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

import multiproj
from multiproj._core.ball import parse_ball
from multiproj._core.checks import check_levels

from .report import machine_info

TOL = {torch.float32: 2e-5, torch.float64: 1e-10}


def _device_project(t, r, ball, method, kw, device):
    if device == "cpu":  # dry run: the torch-ops solver, as CUDA tensors use it
        b = parse_ball(ball)
        if method == "multilevel":
            axes, levels = None, check_levels(kw.get("levels"), t.ndim, b)
        else:
            axes, levels = (None if b.is_flat else (kw.get("axis", 0),)), None
        return multiproj.METHODS[method].solver("torch")(t, r, b, axes=axes, levels=levels, out=None)
    return multiproj.project(t, r, ball, method=method, **kw)


def _shape_for(order: int):
    return {1: (512, 1024), 2: (512, 1024), 3: (32, 64, 48), 4: (12, 16, 10, 14)}[order]


def check_results(device: str) -> tuple[list[dict], bool]:
    print("\n1. device result vs CPU result (max |diff| / max |y|)")
    print(f"{'method':<11} {'ball':<12} {'dtype':<8} {'rel diff':>10} {'tol':>8} {'in place':>9}  status")
    rows, ok_all = [], True
    gen = torch.Generator().manual_seed(0)
    for name, m in multiproj.METHODS.items():
        if "torch" not in m.kernels:
            note = " (host fallback)"
        else:
            note = ""
        for ball in m.balls:
            b = parse_ball(ball)
            shape = _shape_for(b.order)
            kw = {}
            if name == "multilevel":
                kw = {"levels": tuple(range(len(shape)))} if b.order == len(shape) else {}
            elif not b.is_flat:
                kw = {"axis": 0}
            for dtype in (torch.float32, torch.float64):
                y = torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype)
                nkw = {k: v for k, v in kw.items()}
                try:
                    r = 0.3 * multiproj.norm(y, ball, **nkw)
                    ref = multiproj.project(y, r, ball, method=name, **kw)
                except NotImplementedError as exc:
                    print(f"{name:<11} {ball:<12} {str(dtype)[6:]:<8} {'':>10} {'':>8} {'':>9}  n/a: {exc}")
                    continue
                yd = y.to(device)
                res = _device_project(yd, r, ball, name, kw, device)
                diff = float((res.cpu().to(torch.float64) - ref.to(torch.float64)).abs().max())
                rel = diff / max(float(y.abs().max()), 1e-300)
                same = res.dtype == y.dtype and res.device == yd.device
                inplace = True
                if device != "cpu":
                    ptr = yd.data_ptr()
                    multiproj.project_(yd, r, ball, method=name, **kw)
                    inplace = yd.data_ptr() == ptr and bool(
                        ((yd.cpu().double() - ref.double()).abs().max() / max(float(y.abs().max()), 1e-300))
                        <= TOL[dtype]
                    )
                ok = rel <= TOL[dtype] and same and inplace
                ok_all &= ok
                extra = note
                print(
                    f"{name:<11} {ball:<12} {str(dtype)[6:]:<8} {rel:>10.2e} {TOL[dtype]:>8.0e} "
                    f"{str(inplace):>9}  {'ok' if ok else 'FAIL'}{extra}"
                )
                rows.append(dict(method=name, ball=ball, dtype=str(dtype), rel_diff=rel, ok=ok))
    return rows, ok_all


def device_timer(device: str):
    """``run(fn, repeat)``: the median seconds of ``repeat`` calls of ``fn`` after one
    warm-up call, timed by CUDA events on ``"cuda"`` and by the wall clock otherwise."""
    if device == "cuda":

        def run(fn, repeat):
            fn()
            torch.cuda.synchronize()
            times = []
            for _ in range(repeat):
                a = torch.cuda.Event(enable_timing=True)
                b = torch.cuda.Event(enable_timing=True)
                a.record()
                fn()
                b.record()
                b.synchronize()
                times.append(a.elapsed_time(b) / 1e3)
            return float(np.median(times))

    else:

        def run(fn, repeat):
            fn()
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            return float(np.median(times))

    return run


def time_projection(device: str, shape, repeat: int) -> dict:
    print(f"\n2. time on {device}: {shape[0]} x {shape[1]} float32, median of {repeat}")
    timer = device_timer(device)
    gen = torch.Generator(device=device).manual_seed(1)
    Y = torch.rand(shape, generator=gen, device=device, dtype=torch.float32)
    dst = torch.empty_like(Y)
    out = torch.empty_like(Y)
    t_copy = timer(lambda: dst.copy_(Y), repeat)
    gb = Y.numel() * Y.element_size() / 1e9
    print(f"{'device-to-device copy':<40} {t_copy * 1e3:9.3f} ms  ({2 * gb / t_copy:.0f} GB/s)  1.00")
    res = {"shape": list(shape), "copy_s": t_copy}
    cases = [
        ("bilevel", "l1,inf", {"axis": 0}, "bilevel l1,inf, groups = columns"),
        ("bilevel", "l1,inf", {"axis": 1}, "bilevel l1,inf, groups = rows"),
        ("bilevel", "l1,2", {"axis": 0}, "bilevel l1,2, groups = columns"),
        ("bilevel", "l1,1", {"axis": 0}, "bilevel l1,1, groups = columns"),
        ("exact", "l1", {}, "exact l1 (flat)"),
    ]
    if "multilevel" in multiproj.METHODS:
        cases.append(("multilevel", "l1,inf", {"levels": (1, 0)}, "multilevel l1,inf (= bilevel)"))
    for method, ball, kw, label in cases:
        nkw = kw if "levels" in kw else {k: v for k, v in kw.items()}
        r = 0.1 * multiproj.norm(Y, ball, **nkw)
        if device == "cpu":
            fn = lambda: _device_project(Y, r, ball, method, kw, "cpu")  # noqa: E731
        else:
            fn = lambda: multiproj.project(Y, r, ball, method=method, out=out, **kw)  # noqa: E731
        t = timer(fn, repeat)
        ratio = t / t_copy
        target = "  (target <= 2.5)" if (method, ball) == ("bilevel", "l1,inf") else ""
        print(f"{label:<40} {t * 1e3:9.3f} ms  {'':>10}  {ratio:.2f}{target}")
        res[label] = {"s": t, "ratio_to_copy": ratio}
    return res


def device_parser(description: str, shape: str, repeat: int, dry_run: str) -> argparse.ArgumentParser:
    """The options of the device checks: ``--device``, ``--shape``, ``--repeat``, ``--json``."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"],
                   help=f"cuda (default); cpu = dry run of {dry_run} on CPU tensors")
    p.add_argument("--shape", default=shape, help="timed matrix, ROWSxCOLS")
    p.add_argument("--repeat", type=int, default=repeat)
    p.add_argument("--json", help="write the figures to this file")
    return p


def parse_shape(text: str) -> tuple[int, ...]:
    """``"ROWSxCOLS"`` as a tuple of ints."""
    return tuple(int(s) for s in text.lower().split("x"))


def device_machine(device: str, script: str) -> dict | None:
    """:func:`multiproj.bench.report.machine_info` with the GPU and CUDA version, printed;
    ``None`` (after saying so) when ``device`` is ``"cuda"`` and there is no CUDA device."""
    if device == "cuda" and not torch.cuda.is_available():
        print(f"{script}: no CUDA device on this machine (torch.cuda.is_available() is False); "
              "nothing to check. Use --device cpu for a dry run.")
        return None
    info = machine_info()
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    return info


def finish(ok: bool, json_path: str | None, doc: dict) -> int:
    """Print the verdict, write ``doc`` (with ``ok``) as JSON when asked; the exit status."""
    print("\nall results within tolerance" if ok else "\nSOME RESULTS DIFFER (see FAIL above)")
    if json_path:
        with open(json_path, "w") as fh:
            json.dump({**doc, "ok": ok}, fh, indent=2)
    return 0 if ok else 1


def main(argv=None) -> int:
    args = device_parser("CUDA vs CPU check and bi-level timing.", "8192x65536", 20,
                         "the device code path").parse_args(argv)
    info = device_machine(args.device, "gpu_check")
    if info is None:
        return 0
    rows, ok = check_results(args.device)
    timing = time_projection(args.device, parse_shape(args.shape), args.repeat)
    return finish(ok, args.json, {"machine": info, "checks": rows, "timing": timing})
