"""``multiproj demo`` (what ``make demo`` runs): a three-minute tour of the library.

1. Speed: l1,inf projections of 1000 x m matrices (the authors' protocol and normal data),
   bi-level vs exact vs the naive NumPy baseline, as ratios to ``Y.copy()``.
2. Sparsity: a radius sweep, bi-level vs exact l1,inf: zero groups, distance, and the
   additive identity ``||Y - P(Y)|| + ||P(Y)|| = ||Y||``.
3. Feature selection: the sparse supervised autoencoder (:mod:`multiproj.sae`) on the
   synthetic data of [SAE] (make_classification), with its metrics and selected features (skipped, with a
   message, when torch or scikit-learn is missing).

The figures go to a folder (default ``demo-output/``) named at the end.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from .suite import Config

#: the demo's sizes: small enough for about three minutes in all on a 2-core machine
DEMO_CONFIG = Config(
    repeats=5,
    sizes_m=(1000, 4000, 8000),
    sizes_balls=("l1,inf",),
    sparsity_shape=(1000, 1000),
    sparsity_fractions=(0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5),
)


def add_parser(sub: Any) -> None:
    from ..cli import add_command

    p = add_command(
        sub,
        "demo",
        help="a three-minute tour: speed, sparsity and feature selection with the SAE",
        description=(
            "Speed table (bi-level vs exact l1,inf vs naive NumPy), the sparsity / additive "
            "identity comparison, and a sparse supervised autoencoder on synthetic data; "
            "figures are written to --out."
        ),
        func=run,
    )
    p.add_argument("--out", default="demo-output", metavar="DIR", help="folder for the figures and JSON")
    p.add_argument("--no-sae", action="store_true", help="skip the autoencoder part")
    p.add_argument("--quick", action="store_true", help="smaller sizes everywhere (a smoke test)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bars or lines and no compile status line (the tables are printed)")


def _console():
    try:
        from rich.console import Console

        console = Console()
        return console if console.is_terminal else Console(width=max(console.width, 150))
    except ImportError:
        return None


def _say(console, text: str) -> None:
    if console is not None:
        console.rule(text)
    else:
        print(f"\n== {text} ==")


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace
    from pathlib import Path

    from . import report
    from .cli import run_with_progress
    from .suite import QUICK

    from ..cli import check_output

    check_output(args.out, "--out", folder=True)
    t_start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    console = _console()
    cfg = DEMO_CONFIG
    if args.quick:
        cfg = replace(QUICK, sizes_m=(500, 1000), sizes_balls=("l1,inf",), sparsity_shape=(200, 200), repeats=2)

    _say(console, "1. Speed: l1,inf projections of 1000 x m matrices, groups = columns")
    print(
        "Median of repeated calls after a JIT warm-up; in brackets the ratio to Y.copy() of the\n"
        "same array in the same run.  'naive-numpy' is the 3-line NumPy bi-level baseline."
    )
    results = run_with_progress(["sizes"], cfg, progress=not args.quiet)
    info = report.machine_info()
    report.print_tables(results, info, console)
    _speed_summary(results["sizes"])

    _say(console, "2. Sparsity: bi-level vs exact l1,inf over a radius sweep")
    print(
        "For each radius (a fraction of ||Y||_{1,inf}, Y normal or uniform): fraction of zero columns,\n"
        "relative Frobenius distance, and the additive identity ||Y-P|| + ||P|| = ||Y||."
    )
    results.update(run_with_progress(["sparsity"], cfg, progress=not args.quiet))
    report.print_tables({"sparsity": results["sparsity"]}, info, console)
    _sparsity_summary(results["sparsity"])

    plots = report.write_plots(out, results, info)
    sae_summary = None
    if not args.no_sae:
        _say(console, "3. Feature selection: sparse supervised autoencoder on synthetic data")
        sae_summary = _sae_part(out, quick=args.quick, console=console, progress=not args.quiet)
    report.write_json(out / "demo.json", results | ({"sae": sae_summary["runs"]} if sae_summary else {}), info, cfg.to_dict(), "multiproj demo")
    _say(console, "done")
    print(f"Figures and results written to {out.resolve()}/:")
    for p in sorted(out.iterdir()):
        print(f"  {p.name}")
    print(f"Total time: {time.perf_counter() - t_start:.0f} s.  Machine: {report.machine_line(info)}")
    del plots
    return 0


def _speed_summary(rows: list[dict]) -> None:
    def t(m, method, data_prefix):
        for r in rows:
            if r["m"] == m and r["method"] == method and r["data"].startswith(data_prefix) and r["time_ms"]:
                return r["time_ms"]
        return None

    for prefix in ("uniform", "normal"):
        ms = sorted({r["m"] for r in rows})
        parts = []
        for m in ms:
            b, e, n = t(m, "bilevel", prefix), t(m, "exact", prefix), t(m, "naive-numpy", prefix)
            s = f"m={m}:"
            s += f" exact/bi-level = {e / b:.1f}x" if b and e else " exact n/a"
            s += f", naive/bi-level = {n / b:.1f}x" if b and n else ""
            parts.append(s)
        print(f"{prefix}: " + "; ".join(parts))


def _sparsity_summary(rows: list[dict]) -> None:
    by = {}
    for r in rows:
        by.setdefault((r["data"], r["method"]), []).append(r)
    for (data, method), rs in by.items():
        errs = [r["identity_error"] for r in rs if r["identity_error"] is not None]
        zs = [r["zero_groups"] for r in rs if r["zero_groups"] is not None]
        if errs:
            print(f"{data}, {method}: max identity error {max(errs):.1e}; zero groups {min(zs):.0%} .. {max(zs):.0%}")
        else:
            print(f"{data}, {method}: n/a")


#: the projections the SAE part compares: (label, ball, method); ball None = no projection
SAE_RUNS = (
    ("none", None, "bilevel"),
    ("l1", "l1", "exact"),
    ("exact l1,inf", "l1,inf", "exact"),
    ("bi-level l1,inf", "l1,inf", "bilevel"),
    ("bi-level l1,1", "l1,1", "bilevel"),
    ("l1,2", "l1,2", "bilevel"),
)
SAE_MIN_BATCH = 32  # the paper's batch of 4 is much slower on 2 cores; see the printed note


class FoldProgress:
    """Progress of one cross-validation of the SAE on ``stream`` (default stderr): a line
    per fold when it ends (time, accuracy, features kept) and, on a terminal, a line
    rewritten after every epoch."""

    def __init__(self, label: str, folds: int, stream: Any = None) -> None:
        self.label, self.folds = label, folds
        self.stream = sys.stderr if stream is None else stream
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.fold, self.t0 = 0, time.perf_counter()

    def fold_start(self, k: int) -> None:
        self.fold, self.t0 = k, time.perf_counter()

    def epoch(self, e: int, total: int, history: dict) -> None:
        if self.live:
            self.stream.write(
                f"\r  {self.label}: fold {self.fold + 1}/{self.folds}, epoch {e + 1}/{total}, "
                f"train loss {history['train_loss'][-1]:.3g}, {history['n_selected'][-1]} features\x1b[K"
            )
            self.stream.flush()

    def fold_end(self, k: int, result: dict) -> None:
        line = (
            f"  {self.label}: fold {k + 1}/{self.folds} done in {time.perf_counter() - self.t0:.1f} s, "
            f"accuracy {result['accuracy']:.3f}, {result['n_selected']} features kept"
        )
        self.stream.write(("\r" + line + "\x1b[K" if self.live else line) + "\n")
        self.stream.flush()


def _sae_part(out, quick: bool = False, console=None, progress: bool = True) -> dict | None:
    """Cross-validate the SAE estimator with each constraint of :data:`SAE_RUNS` on the
    synthetic data; print metrics and the selected features (and, when ``progress``, a
    :class:`FoldProgress` per constraint).  Returns a summary, or None when the part is
    skipped."""
    import numpy as np

    try:
        from sklearn.datasets import make_classification

        from ..sae import SparseAutoencoderClassifier, cross_validate_sae
    except ImportError as exc:
        print(f"Skipped: the autoencoder needs torch, scikit-learn and multiproj.sae ({exc}).")
        return None

    n, f, k, folds = (300, 200, 16, 2) if quick else (1000, 1000, 64, 4)
    # the synthetic data of [SAE]; shuffle=False puts the k informative features first
    X, y = make_classification(
        n_samples=n, n_features=f, n_informative=k, n_redundant=0, n_repeated=0, n_classes=2,
        n_clusters_per_class=1, class_sep=1.0, shuffle=False, random_state=0,
    )
    X = X.astype(np.float32)
    base = SparseAutoencoderClassifier()
    # one torch thread: this small model trains faster and far more predictably on a shared
    # 2-core machine than with torch's default thread pool
    settings = {"batch_size": max(SAE_MIN_BATCH, base.get_params().get("batch_size", SAE_MIN_BATCH)), "n_threads": 1}
    if quick:
        settings.update(epochs=2, retrain_epochs=2)
    base.set_params(**{key: v for key, v in settings.items() if key in base.get_params()})
    print(
        f"Data: make_classification, {n} samples x {f} features, {k} informative (columns 0..{k - 1}); "
        f"{folds}-fold stratified cross-validation (the test fold takes no part in training).\n"
        f"Estimator: multiproj.sae.SparseAutoencoderClassifier with its defaults except "
        f"batch_size >= {SAE_MIN_BATCH} (the paper uses 4) and n_threads=1: "
        + ", ".join(f"{p}={v!r}" for p, v in base.get_params().items() if p not in ("callback", "verbose"))
    )
    metrics = ("accuracy", "auc", "f1", "n_selected", "feature_recall", "feature_precision", "seconds")
    runs, importances, supports = [], {}, {}
    for label, ball, method in SAE_RUNS:
        params = {**base.get_params(), "ball": ball, "method": method}
        hooks = {}
        if progress:
            bar = FoldProgress(label, folds)
            # a function, not the bound method: the estimator's clone deep-copies its params
            params["callback"] = lambda e, total, h, bar=bar: bar.epoch(e, total, h)
            hooks = {"on_fold_start": bar.fold_start, "on_fold_end": bar.fold_end}
        try:
            cv = cross_validate_sae(X, y, params, folds=folds, seed=0, informative=np.arange(k), **hooks)
        except Exception as exc:  # noqa: BLE001 - one failing constraint does not end the tour
            print(f"{label}: failed ({type(exc).__name__}: {exc})")
            continue
        summary = {"projection": label, "ball": ball, "method": method,
                   "folds": [{key: fr[key] for key in metrics} for fr in cv["folds"]]}
        for key in metrics:
            summary[key] = cv[key]
            summary[key + "_std"] = cv[key + "_std"]
        always = np.flatnonzero(np.asarray(cv["selection_frequency"]) == 1.0)
        summary["selected_in_every_fold"] = always.tolist()
        runs.append(summary)
        importances[label] = np.mean([fr["importances"] for fr in cv["folds"]], axis=0)
        supports[label] = always

    def pm(r, key, fmt):
        return f"{r[key]:{fmt}} +/- {r[key + '_std']:{fmt}}"

    header = ["projection", "accuracy", "AUC", "macro F1", "selected", "recall", "precision", "fit s"]
    body = [
        [
            r["projection"], pm(r, "accuracy", ".3f"), pm(r, "auc", ".3f"), pm(r, "f1", ".3f"),
            f"{r['n_selected']:.0f} ({100 * r['n_selected'] / f:.1f}%)", f"{r['feature_recall']:.2f}",
            f"{r['feature_precision']:.2f}", f"{r['seconds']:.1f}",
        ]
        for r in runs
    ]
    _print_table(
        f"SAE, {folds}-fold cross-validation: mean +/- std over the test folds; selected features "
        "(mean) and their recall/precision against the informative ones",
        header, body, console,
    )
    label = "bi-level l1,inf"
    if label in supports:
        always, imp = supports[label], importances[label]
        ranked = [int(i) for i in always[np.argsort(-imp[always])]]
        print(
            f"{label}: {len(ranked)} features selected in every fold, by mean first-layer column norm: "
            f"{ranked[:30]}{' ...' if len(ranked) > 30 else ''}"
        )
        keep = ("exact l1,inf", "bi-level l1,inf", "bi-level l1,1", "l1,2")
        _plot_features(out / "sae_features.png", {lab: importances[lab] for lab in keep if lab in importances}, k)
    return {"runs": runs, "settings": {k_: v for k_, v in base.get_params().items() if k_ != "callback"}}


def _print_table(title, header, body, console=None) -> None:
    try:
        from rich.table import Table
    except ImportError:
        console = None
    if console is None:
        print(title)
        print("  " + " | ".join(header))
        for row in body:
            print("  " + " | ".join(row))
        return
    t = Table(title=title, title_justify="left")
    for i, h in enumerate(header):
        t.add_column(h, justify="left" if i == 0 else "right")
    for row in body:
        t.add_row(*row)
    console.print(t)


def _plot_features(path, importances: dict, n_informative: int) -> None:
    """One panel per constraint: first-layer column norms, informative features in orange."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(len(importances), 1, figsize=(6.5, 1.5 * len(importances) + 0.6), sharex=True, squeeze=False)
    for ax, (label, imp) in zip(axes[:, 0], importances.items()):
        idx = np.arange(imp.size)
        ax.bar(idx, imp, width=1.0, color=np.where(idx < n_informative, "C1", "C0"))
        ax.set_ylabel("norm", fontsize=7)
        ax.set_title(f"{label}: mean first-layer column norm over the folds", fontsize=8)
    axes[-1, 0].set_xlabel(f"input feature (the first {n_informative}, orange, are informative)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
