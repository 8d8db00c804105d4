"""Compare the constraints of the SAE's first layer on the synthetic data of [SAE].

Rows: no projection, l1 (flat), exact l1,inf, bi-level l1,inf, bi-level l1,1, l1,2.
Columns: mean +/- std over the folds of accuracy, ROC AUC (from probabilities), macro F1,
number of selected features, recall and precision of the 64 informative features, and the
training seconds per fold.  Cross-validation without leakage (multiproj.sae.cross_validate_sae).

The comparison with other feature selectors (L1-logistic regression, SelectKBest, random
forest) at matched numbers of features is ``multiproj sae --compare`` (multiproj.sae.compare).

Every row uses the same folds, seed and training settings (the estimator's defaults unless
overridden), so the first descent is identical across rows, and without --radius every
projection keeps the same number of features (``keep``, through multiproj.radius_for), so the
rows differ only in which features they keep and how the kept weights are shrunk.  With one
--radius for every row, the rows show the paper's comparison ([BLP]: same accuracy, fewer
features for bi-level l1,inf than for the exact projection).  Times are wall-clock training seconds per fold (after a JIT
warm-up) on whatever machine runs it: compare them within one run only.

    .venv/bin/python benchmarks/sae_compare.py                 # full table (several minutes)
    .venv/bin/python benchmarks/sae_compare.py --quick         # 300 x 200, 2 folds, smoke test
    .venv/bin/python benchmarks/sae_compare.py --json out.json --optimizer adam --lr 5e-4 --batch-size 4
"""

from __future__ import annotations

import argparse
import json
import sys
import time

ROWS = [
    ("none", None, "exact"),
    ("l1", "l1", "exact"),
    ("exact l1,inf", "l1,inf", "exact"),
    ("bi-level l1,inf", "l1,inf", "bilevel"),
    ("bi-level l1,1", "l1,1", "bilevel"),
    ("l1,2", "l1,2", "bilevel"),
]


def machine() -> str:
    """:func:`multiproj.bench.report.machine_line`, with torch's thread count and the
    scikit-learn version."""
    import sklearn
    import torch

    from .report import machine_info, machine_line

    return (f"{machine_line(machine_info())}; torch threads {torch.get_num_threads()}, "
            f"scikit-learn {sklearn.__version__}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small data, 2 folds, few epochs (smoke test)")
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-seed", type=int, default=0)
    ap.add_argument("--radius", type=float, default=None, help="same radius for every row (default: the rule)")
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--retrain-epochs", type=int)
    ap.add_argument("--batch-size", type=int)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--optimizer", choices=["sgd", "adam"])
    ap.add_argument("--rows", nargs="+", default=[r[0] for r in ROWS], help="subset of the rows")
    ap.add_argument("--json", help="write all results as JSON")
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    from multiproj.sae import SparseAutoencoderClassifier, cross_validate_sae, make_synthetic

    torch.set_num_threads(1)
    if args.quick:
        ds = make_synthetic(300, 200, 16, random_state=args.data_seed)
        folds, over = 2, dict(epochs=8, retrain_epochs=4)
    else:
        ds = make_synthetic(1000, 1000, 64, random_state=args.data_seed)
        folds, over = args.folds, {}
    for k in ("epochs", "retrain_epochs", "batch_size", "lr", "optimizer"):
        if getattr(args, k) is not None:
            over[k] = getattr(args, k)
    base = SparseAutoencoderClassifier().get_params()
    # the network's own predictions (refit="sae"): the rows compare the constraints of the SAE;
    # the comparison with other feature selectors is `multiproj sae --compare`
    base.update(over, radius=args.radius, random_state=args.seed, n_threads=1, refit="sae")
    print(f"# SAE comparison: {ds.name}, {folds} folds")
    print(f"# machine: {machine()}")
    print("# settings: " + ", ".join(f"{k}={base[k]}" for k in
          ("optimizer", "lr", "batch_size", "epochs", "retrain_epochs", "schedule", "keep", "refit", "radius",
           "threshold", "hidden", "recon_weight", "epoch_selection")))
    # warm the JIT (Numba compiles each kernel for float32 on first use): not part of the timings
    import multiproj

    for _, ball, method in ROWS:
        if ball is not None:
            w = torch.randn(8, 20)
            multiproj.project_(w, 1.0, ball, method=method, **({} if ball == "l1" else {"axis": 0}))
    results = {}
    t_all = time.perf_counter()
    for name, ball, method in ROWS:
        if name not in args.rows:
            continue
        params = dict(base, ball=ball, method=method)
        t0 = time.perf_counter()
        res = cross_validate_sae(ds.X, ds.y, params, folds=folds, seed=args.seed, informative=ds.informative)
        res["wall_seconds"] = time.perf_counter() - t0
        res["radius_used"] = [f["radius"] for f in res["folds"]]
        for f in res["folds"]:
            f.pop("weights", None)
        results[name] = res
        print(f"  {name}: done in {res['wall_seconds']:.0f} s", file=sys.stderr, flush=True)

    def pm(r, m, fmt="{:.3f}"):
        return (fmt + " ± " + fmt).format(r[m], r[m + "_std"])

    print()
    print("| projection | radius (mean) | accuracy | AUC | F1 | selected | % kept | recall | precision | s / fold |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        rad = r["radius_used"]
        rtxt = "-" if rad[0] is None else f"{np.mean(rad):.3g}"
        print(f"| {name} | {rtxt} | {pm(r, 'accuracy')} | {pm(r, 'auc')} | {pm(r, 'f1')} | "
              f"{pm(r, 'n_selected', '{:.1f}')} | {r['pct_selected']:.1f} | {pm(r, 'feature_recall', '{:.2f}')} | "
              f"{pm(r, 'feature_precision', '{:.2f}')} | {r['seconds']:.1f} |")
    print(f"\n# total {time.perf_counter() - t_all:.0f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"data": ds.name, "machine": machine(), "settings": {k: v for k, v in base.items() if k != "callback"},
                       "results": results}, fh, indent=1, default=float)
    return 0

