"""``multiproj demo`` (what ``make demo`` runs): a three-minute tour of the library.

1. Speed: l1,inf projections of 1000 x m matrices (the authors' protocol and normal data),
   bi-level vs exact vs the naive NumPy baseline, as ratios to ``Y.copy()``.
2. Sparsity: a radius sweep, bi-level vs exact l1,inf: zero groups, distance, and the
   additive identity ``||Y - P(Y)|| + ||P(Y)|| = ||Y||``.
3. Feature selection: the sparse supervised autoencoder (:mod:`multiproj.sae`) on the
   synthetic data of SPEC s.7, with its metrics and selected features (skipped, with a
   message, when torch or scikit-learn is missing).

The figures go to a folder (default ``demo-output/``) named at the end.
"""

from __future__ import annotations

import argparse

from .suite import Config

#: the demo's sizes: small enough for about three minutes in all on a 2-core machine
DEMO_CONFIG = Config(
    repeats=5,
    sizes_m=(1000, 4000, 8000),
    sizes_balls=("l1,inf",),
    sparsity_shape=(1000, 1000),
    sparsity_fractions=(0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5),
)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="a three-minute tour: speed, sparsity and feature selection with the SAE",
        description=(
            "Speed table (bi-level vs exact l1,inf vs naive NumPy), the sparsity / additive "
            "identity comparison, and a sparse supervised autoencoder on synthetic data; "
            "figures are written to --out."
        ),
    )
    p.add_argument("--out", default="demo-output", metavar="DIR", help="folder for the figures and JSON (default: demo-output)")
    p.add_argument("--no-sae", action="store_true", help="skip the autoencoder part")
    p.add_argument("--quick", action="store_true", help="smaller sizes everywhere (a smoke test)")
    p.set_defaults(func=run)


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
    import time
    from dataclasses import replace
    from pathlib import Path

    from . import report
    from .cli import run_with_progress
    from .suite import QUICK

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
    results = run_with_progress(["sizes"], cfg)
    info = report.machine_info()
    report.print_tables(results, info, console)
    _speed_summary(results["sizes"])

    _say(console, "2. Sparsity: bi-level vs exact l1,inf over a radius sweep")
    print(
        "For each radius (a fraction of ||Y||_{1,inf}, Y normal): fraction of zero columns,\n"
        "relative Frobenius distance, and the additive identity ||Y-P|| + ||P|| = ||Y||."
    )
    results.update(run_with_progress(["sparsity"], cfg))
    report.print_tables({"sparsity": results["sparsity"]}, info, console)
    _sparsity_summary(results["sparsity"])

    plots = report.write_plots(out, results, info)
    sae_summary = None
    if not args.no_sae:
        _say(console, "3. Feature selection: sparse supervised autoencoder on synthetic data")
        sae_summary = _sae_part(out, quick=args.quick)
    report.write_json(out / "demo.json", results | ({"sae": [sae_summary]} if sae_summary else {}), info, cfg.to_dict(), "multiproj demo")
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
        by.setdefault(r["method"], []).append(r)
    for method, rs in by.items():
        errs = [r["identity_error"] for r in rs if r["identity_error"] is not None]
        zs = [r["zero_groups"] for r in rs if r["zero_groups"] is not None]
        if errs:
            print(f"{method}: max identity error {max(errs):.1e}; zero groups {min(zs):.0%} .. {max(zs):.0%}")
        else:
            print(f"{method}: n/a")


def _sae_part(out, quick: bool = False) -> dict | None:
    """Fit the SAE estimator on a split of the synthetic data; report metrics and the
    selected features.  Returns a summary dict, or None when the part is skipped."""
    import time

    import numpy as np

    try:
        from sklearn.datasets import make_classification
        from sklearn.metrics import f1_score, roc_auc_score
        from sklearn.model_selection import train_test_split

        from ..sae import SparseAutoencoderClassifier
    except ImportError as exc:
        print(f"Skipped: the autoencoder needs torch, scikit-learn and multiproj.sae ({exc}).")
        return None

    n, f, k = (300, 200, 16) if quick else (1000, 1000, 64)
    # SPEC s.7 generator; shuffle=False puts the k informative features first
    X, y = make_classification(
        n_samples=n, n_features=f, n_informative=k, n_redundant=0, n_repeated=0, n_classes=2,
        n_clusters_per_class=1, class_sep=1.0, shuffle=False, random_state=0,
    )
    X = X.astype(np.float32)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    est = SparseAutoencoderClassifier()
    params = est.get_params()
    settings = {}
    if "random_state" in params:
        settings["random_state"] = 0
    if quick and "epochs" in params:
        settings["epochs"] = 3
    est.set_params(**settings)
    print(f"Data: make_classification {n} samples x {f} features, {k} informative (columns 0..{k - 1}); 75/25 split.")
    print("Estimator: " + ", ".join(f"{p}={v!r}" for p, v in est.get_params().items()))
    t0 = time.perf_counter()
    est.fit(Xtr, ytr)
    seconds = time.perf_counter() - t0
    proba = est.predict_proba(Xte)[:, 1]
    pred = est.predict(Xte)
    support = np.flatnonzero(est.get_support())
    informative = set(range(k))
    hits = len(informative.intersection(support.tolist()))
    summary = {
        "accuracy": float((pred == yte).mean()),
        "auc": float(roc_auc_score(yte, proba)),
        "f1": float(f1_score(yte, pred, average="macro")),
        "n_selected": int(support.size),
        "selected_percent": 100.0 * support.size / f,
        "feature_recall": hits / k,
        "feature_precision": hits / support.size if support.size else 0.0,
        "seconds": seconds,
        "selected": support.tolist(),
    }
    print(
        f"test accuracy {summary['accuracy']:.3f}, AUC {summary['auc']:.3f}, macro F1 {summary['f1']:.3f}; "
        f"{support.size} of {f} features kept ({summary['selected_percent']:.1f}%); "
        f"informative recall {summary['feature_recall']:.2f}, precision {summary['feature_precision']:.2f}; "
        f"fit {seconds:.0f} s"
    )
    imp = getattr(est, "feature_importances_", None)
    if imp is not None:
        imp = np.asarray(imp)
        order = [int(i) for i in np.argsort(-imp) if imp[i] > 0][:20]
        print("Top selected features (by first-layer group norm): " + ", ".join(str(i) for i in order))
        _plot_features(out / "sae_features.png", imp, k)
    return summary


def _plot_features(path, importances, n_informative: int) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(6, 3))
    idx = np.arange(importances.size)
    ax.bar(idx, importances, width=1.0, color=np.where(idx < n_informative, "C1", "C0"))
    ax.axvline(n_informative - 0.5, color="k", ls=":", lw=1)
    ax.set_xlabel(f"input feature (the first {n_informative} are informative)")
    ax.set_ylabel("first-layer group norm")
    ax.set_title("SAE: selected features", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
