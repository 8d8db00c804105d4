"""``multiproj sae``: cross-validated feature selection with the sparse supervised autoencoder.

Examples::

    multiproj sae --data synthetic --json out.json --plots figs/
    multiproj sae --csv metabolomics.csv --target Label --drop SampleID --log --standardize \\
        --projection l1inf-bilevel --radius 0.5 1 2 --plots figs/

Default radius rule (no ``--radius``), ``double_descent``: the radius at which the projection
of the first-layer weight W after the first descent keeps exactly ``--keep`` features (the
columns of largest inner norm; multiproj.radius_for), so that asking for k features gives k
(fewer only when tied column norms make k infeasible).  ``projected``: radius = (k / F) x
||W_0||_ball, W_0 the initial weight.

``--compare`` cross-validates the SAE and the baselines (L1-logistic regression with C chosen for
about k features, SelectKBest(f_classif, k) + LR, random-forest top-k + LR) at the numbers of
features ``--ks`` on the same KFold folds (``--fold-seed``, or ``--fold-column``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

#: --projection name -> (ball, method); ball None = no projection
PROJECTIONS = {
    "none": (None, "exact"),
    "l1": ("l1", "exact"),
    "l11-bilevel": ("l1,1", "bilevel"),
    "l1inf-exact": ("l1,inf", "exact"),
    "l1inf-bilevel": ("l1,inf", "bilevel"),
    "l12": ("l1,2", "bilevel"),
}


#: --data name -> loader
BUNDLED = ("synthetic", "breast_cancer", "wine", "digits")


def _keep(text: str):
    """--keep: an int (a number of features) or a float in (0, 1] (a share)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an int or a float in (0, 1], got {text!r}") from None
    if not 0 < v <= 1:
        raise argparse.ArgumentTypeError(f"a share of the features must be in (0, 1], got {text!r}")
    return v


#: defaults of SparseAutoencoderClassifier that the CLI's options repeat (shown in --help;
#: a test checks them against the estimator's)
ESTIMATOR_DEFAULTS: dict[str, Any] = {
    "epochs": 20, "retrain_epochs": 20, "batch_size": 32, "lr": 1e-4, "optimizer": "sgd",
    "hidden": 100, "init_scale": 0.1, "epoch_selection": "last", "validation_fraction": 0.1,
    "refit": "lr", "class_weight": "balanced", "schedule": "double_descent", "n_resamples": 0,
    "path_steps": 5, "path_epochs": 2,
}

#: parameter of the library (estimator, data reader, synthetic data) -> the option that sets it
FLAGS = {
    "ball": "--projection", "method": "--projection", "random_state": "--seed", "n_threads": "--threads",
    **{name: "--" + name.replace("_", "-") for name in (
        *ESTIMATOR_DEFAULTS, "keep", "radius", "n_samples", "n_features", "n_informative", "folds", "ks",
    )},
}


def add_parser(sub: Any) -> None:
    from ..cli import add_command
    from .train import DEFAULT_KEEP, SCHEDULES

    d = ESTIMATOR_DEFAULTS
    p = add_command(
        sub,
        "sae",
        help="feature selection with the sparse supervised autoencoder (k-fold CV)",
        description=(
            "Cross-validate the supervised autoencoder of [SAE] whose first layer is projected "
            "onto a norm ball (groups = input features), and report accuracy, AUC, F1, the "
            "selected features and training time. Everything fitted (scaling, network, epoch "
            "selection) sees only the training part of each fold."
        ),
        epilog=(
            "Default radius rule: without --radius, for double_descent, the radius at which the "
            "projection of the first-layer weight W after the first descent keeps exactly KEEP "
            "features (those of largest column norm); for projected, (k / F) x ||W_0|| (initial weight)."
        ),
        func=run,
    )
    g = p.add_argument_group("data")
    src = g.add_mutually_exclusive_group()
    src.add_argument("--data", choices=list(BUNDLED), default=None,
                     help="synthetic data of [SAE] (make_classification, shuffle=False) or a data set "
                     "bundled with scikit-learn (default: synthetic, unless --csv)")
    src.add_argument("--csv", metavar="PATH",
                     help="delimited text file: rows = samples (header row), or rows = features (first "
                     "column = feature names, one row named TARGET with the labels; detected) "
                     "(default: none, see --data)")
    g.add_argument("--target", metavar="NAME", default=None,
                   help="label column (or row, features as rows) of the CSV file (default: 'Label')")
    g.add_argument("--drop", metavar="NAME", nargs="+", default=[],
                   help="CSV columns (rows) to ignore, e.g. sample ids (default: none)")
    g.add_argument("--features-as-rows", action="store_true", default=None,
                   help="the CSV file has one row per feature (default: detected)")
    g.add_argument("--decimal", choices=[".", ","], default=None, help="decimal mark (default: detected)")
    g.add_argument("--fold-column", metavar="NAME", default=None,
                   help="CSV column (row) giving each sample's fold: the folds of the cross-validation "
                   "(default: none, stratified folds from --fold-seed)")
    g.add_argument("--n-samples", type=int, default=1000, help="samples of the synthetic data")
    g.add_argument("--n-features", type=int, default=1000, help="features of the synthetic data")
    g.add_argument("--n-informative", type=int, default=64,
                   help="informative features of the synthetic data (its first columns)")
    g.add_argument("--data-seed", type=int, default=0, help="seed of the synthetic generator")
    g.add_argument("--log", action="store_true", help="log1p transform (non-negative data)")
    g.add_argument("--standardize", action="store_true",
                   help="standardise the features (fitted on the training folds only)")
    m = p.add_argument_group("model and training")
    m.add_argument("--projection", choices=list(PROJECTIONS), default="l1inf-bilevel",
                   help="constraint on the first layer: ball and method (l12 is the bi-level l1,2)")
    m.add_argument("--radius", type=float, nargs="+", default=None, metavar="R",
                   help="radius (several values: a sweep) (default: the rule below, from --keep)")
    m.add_argument("--keep", type=_keep, default=DEFAULT_KEEP,
                   help="features to select: a number (int) or a share of the features (float in (0, 1]); "
                   "the projection's radius keeps exactly that many; ignored with --radius")
    m.add_argument("--n-resamples", type=int, default=d["n_resamples"],
                   help="stability selection over that many half subsamples of the training fold")
    m.add_argument("--refit", choices=["sae", "lr", "lr_cv"], default=d["refit"],
                   help="final classifier on the selected features: the retrained SAE or a logistic regression "
                   "(lr_cv: its C by inner cross-validation on the training fold)")
    m.add_argument("--path-steps", type=int, default=d["path_steps"],
                   help="steps of the warm-started radius path that removes features gradually (0: one projection)")
    m.add_argument("--path-epochs", type=int, default=d["path_epochs"],
                   help="epochs of training between two steps of the path")
    m.add_argument("--class-weight", choices=["balanced", "none"], default=d["class_weight"],
                   help="class weights of the cross-entropy")
    m.add_argument("--schedule", choices=list(SCHEDULES), default=d["schedule"],
                   help="double_descent: train, select, retrain on the selection; projected: one "
                   "projected training")
    m.add_argument("--folds", type=int, default=4, help="folds of the cross-validation")
    m.add_argument("--epochs", type=int, default=d["epochs"], help="epochs of the first descent")
    m.add_argument("--retrain-epochs", type=int, default=d["retrain_epochs"], help="epochs of the second descent")
    m.add_argument("--batch-size", type=int, default=d["batch_size"], help="mini-batch size")
    m.add_argument("--lr", type=float, default=d["lr"], help="learning rate")
    m.add_argument("--optimizer", choices=["sgd", "adam"], default=d["optimizer"],
                   help="SGD with momentum 0.9 or Adam (the original protocol of [SAE]: --optimizer adam "
                   "--lr 5e-4 --batch-size 4 --epochs 30 --retrain-epochs 30)")
    m.add_argument("--hidden", type=int, default=d["hidden"], help="width of the hidden layer")
    m.add_argument("--init-scale", type=float, default=d["init_scale"],
                   help="factor on the initial first-layer weight (small: column norms reflect training)")
    m.add_argument("--epoch-selection", choices=["last", "val_accuracy", "val_loss"], default=d["epoch_selection"],
                   help="which epoch of the final training is kept")
    m.add_argument("--validation-fraction", type=float, default=d["validation_fraction"],
                   help="share of the training fold held out for --epoch-selection")
    m.add_argument("--seed", type=int, default=0, help="seed of the initialisation and the batches")
    m.add_argument("--fold-seed", type=int, default=None, help="seed of the folds (default: --seed)")
    m.add_argument("--threads", type=int, default=1, help="torch threads (1 suits small batches)")
    c = p.add_argument_group("comparison with the baselines")
    c.add_argument("--compare", action="store_true",
                   help="cross-validate the SAE and L1-logistic regression, SelectKBest(f_classif)+LR and "
                   "random-forest top-k+LR at the same numbers of features (--ks) on the same KFold folds, "
                   "standardisation fitted on each training fold; table, --json and --plots")
    c.add_argument("--ks", type=int, nargs="+", default=None,
                   help="numbers of features for --compare (default: 10 20, or 5 10 below 40 features)")
    o = p.add_argument_group("output")
    o.add_argument("--json", metavar="PATH", help="write the metrics as JSON (default: not written)")
    o.add_argument("--plots", metavar="DIR", help="write PNG figures into DIR (default: none)")
    o.add_argument("--quiet", action="store_true",
                   help="no progress bar, no table and no compile status line")


def _params(args, ball, method, radius) -> dict:
    from .estimator import SparseAutoencoderClassifier

    d = SparseAutoencoderClassifier().get_params()
    params = dict(
        ball=ball,
        method=method,
        radius=radius,
        keep=args.keep,
        n_resamples=args.n_resamples,
        refit=args.refit,
        class_weight=None if args.class_weight == "none" else args.class_weight,
        schedule=args.schedule,
        hidden=args.hidden,
        epoch_selection=args.epoch_selection,
        validation_fraction=args.validation_fraction,
        random_state=args.seed,
        n_threads=args.threads,
    )
    for name in ("epochs", "retrain_epochs", "batch_size", "lr", "optimizer", "init_scale", "path_steps",
                 "path_epochs"):
        v = getattr(args, name)
        params[name] = d[name] if v is None else v
    return params


def _load(args):
    import numpy as np

    from .data import Dataset, DataError, load_csv, make_synthetic

    if args.csv:
        return load_csv(args.csv, args.target or "Label", drop=args.drop, decimal=args.decimal,
                        features_as_rows=args.features_as_rows, fold_column=args.fold_column)
    for flag, val in (("--target", args.target), ("--fold-column", args.fold_column),
                      ("--features-as-rows", args.features_as_rows)):
        if val:
            raise DataError(f"{flag} is only used with --csv.")
    if args.data in ("breast_cancer", "wine", "digits"):
        from sklearn import datasets

        b = getattr(datasets, f"load_{args.data}")()
        names = [str(n) for n in getattr(b, "feature_names", [f"x{j}" for j in range(b.data.shape[1])])]
        return Dataset(X=b.data.astype(np.float64), y=b.target, feature_names=names,
                       name=f"scikit-learn {args.data} ({b.data.shape[0]} x {b.data.shape[1]})")
    return make_synthetic(args.n_samples, args.n_features, args.n_informative, random_state=args.data_seed)


def _jsonable(obj):
    import numpy as np

    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items() if k != "weights"}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and obj != obj:
        return None
    return obj


def run(args: argparse.Namespace) -> int:
    import json
    import os
    import time

    import numpy as np

    from .data import DataError
    from .evaluate import cross_validate_sae

    from ..cli import UsageError, check_output, flag_message

    check_output(args.json, "--json")
    check_output(args.plots, "--plots", folder=True)
    try:
        ds = _load(args)
    except DataError as exc:
        raise UsageError(f"--csv: {exc}" if args.csv else str(exc)) from None
    except ValueError as exc:  # a bad synthetic-data option
        raise UsageError(flag_message(exc, FLAGS, bare=False)) from None
    smallest = int(np.unique(ds.y, return_counts=True)[1].min())
    if args.folds < 2 or smallest < args.folds:
        raise UsageError(f"--folds must be >= 2 and at most the size of the smallest class "
                         f"({smallest}). Got {args.folds} instead.")
    ball, method = PROJECTIONS[args.projection]
    fold_seed = args.seed if args.fold_seed is None else args.fold_seed
    fold_labels = ds.info.get("folds")
    if args.compare:
        return _run_compare(args, ds, ball, method, fold_seed, fold_labels)
    radii = args.radius if (args.radius and ball is not None) else [None]
    params0 = _params(args, ball, method, radii[0])
    n_epochs = params0["epochs"] + params0["retrain_epochs"]
    show = not args.quiet

    progress = None
    if show:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), transient=True, console=_console())
    runs = []
    t0 = time.perf_counter()
    try:
        if progress is not None:
            progress.start()
            task = progress.add_task("training", total=len(radii) * args.folds * n_epochs)
        for radius in radii:
            params = _params(args, ball, method, radius)
            label = "none" if ball is None else ("default rule" if radius is None else f"{radius:g}")

            def fold_start(k, label=label):
                if progress is not None:
                    progress.update(task, description=f"radius {label}, fold {k + 1}/{args.folds}")

            if progress is not None:
                params["callback"] = lambda e, total, h: progress.advance(task)
            res = cross_validate_sae(
                ds.X, ds.y, params, folds=args.folds, seed=fold_seed, fold_labels=fold_labels, log=args.log,
                standardize=args.standardize, informative=ds.informative, on_fold_start=fold_start,
            )
            res["radius"] = radius
            res["radius_used"] = [f["radius"] for f in res["folds"]]
            runs.append(res)
    except DataError as exc:
        raise UsageError(str(exc)) from None
    except (ValueError, TypeError, NotImplementedError) as exc:
        raise UsageError(flag_message(exc, FLAGS, bare=False)) from None
    finally:
        if progress is not None:
            progress.stop()
    total_seconds = time.perf_counter() - t0

    best = max(runs, key=lambda r: (round(r["accuracy"], 6), -r["n_selected"]))
    settings = {k: v for k, v in params0.items() if k not in ("radius", "callback")}
    settings.update(projection=args.projection, folds=args.folds, log=args.log, standardize=args.standardize)
    out = dict(best)
    out.update(
        data=ds.name,
        feature_names_selected=[ds.feature_names[j] for j in best["selected"]],
        settings=settings,
        total_seconds=total_seconds,
    )
    if len(runs) > 1:
        out["runs"] = [{k: v for k, v in r.items() if k != "folds"} for r in runs]
        out["best_radius"] = best["radius"]
    if show:
        _print_table(runs, ds, args, total_seconds)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as fh:
            json.dump(_jsonable(out), fh, indent=1)
    if args.plots:
        from .plots import write_plots

        files = write_plots(runs, best, ds, args.plots)
        if show:
            _console().print(f"plots: {', '.join(files)}")
    return 0


def _run_compare(args, ds, ball, method, fold_seed, fold_labels) -> int:
    import json
    import os

    from .compare import LABELS, compare, format_table, plot_compare

    from ..cli import UsageError, flag_message

    params = _params(args, ball, method, args.radius[0] if args.radius else None)
    show = not args.quiet
    progress = None
    if show:
        def progress(m, k, f):
            print(f"  {LABELS[m]}, k={k}, fold {f + 1}", file=sys.stderr, flush=True)
    try:
        res = compare(ds.X, ds.y, args.ks, sae_params=params, folds=args.folds, fold_seed=fold_seed,
                      fold_labels=fold_labels, log=args.log, standardize=True,
                      class_weight=params["class_weight"], random_state=args.seed,
                      feature_names=ds.feature_names, progress=progress)
    except (ValueError, TypeError) as exc:
        raise UsageError(flag_message(exc, FLAGS, bare=False)) from None
    res["data"] = ds.name
    if show:
        print(f"{ds.name}: {res['n_samples']} samples, {res['n_features']} features, {res['n_classes']} classes, "
              f"{res['n_folds']} folds (fold seed {fold_seed})")
        print(format_table(res))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as fh:
            json.dump(_jsonable(res), fh, indent=1)
    if args.plots:
        path = plot_compare(res, os.path.join(args.plots, "compare.png"),
                            title=f"{ds.name}: balanced accuracy vs number of features")
        if show:
            print(f"plot: {path}")
    return 0


def _console():
    import shutil

    from rich.console import Console

    return Console(width=max(shutil.get_terminal_size((120, 24)).columns, 110))


def _fmt(r, m, pct=False):
    if m not in r:
        return "-"
    if m in ("n_selected",):
        return f"{r[m]:.1f} ± {r[m + '_std']:.1f}"
    if m == "seconds":
        return f"{r[m]:.1f}"
    return f"{r[m]:.3f} ± {r[m + '_std']:.3f}"


def _print_table(runs, ds, args, total_seconds):
    from rich.table import Table

    c = _console()
    c.print(f"[bold]multiproj sae[/bold]: {ds.name}, {args.folds} folds, projection {args.projection}, "
            f"schedule {args.schedule}")
    metrics = ["accuracy", "auc", "f1", "n_selected", "feature_recall", "feature_precision", "seconds"]
    heads = {"n_selected": "selected", "feature_recall": "recall", "feature_precision": "precision",
             "seconds": "s/fold", "auc": "AUC", "f1": "F1"}
    t = Table(show_header=True)
    t.add_column("radius")
    for m in metrics:
        if m in runs[0]:
            t.add_column(heads.get(m, m), justify="right")
    for r in runs:
        used = r["radius_used"]
        lab = "-" if used[0] is None else (f"{r['radius']:g}" if r["radius"] is not None else f"{sum(used) / len(used):.3g} (rule)")
        t.add_row(lab, *[_fmt(r, m) for m in metrics if m in runs[0]])
    c.print(t)
    best = max(runs, key=lambda r: (round(r["accuracy"], 6), -r["n_selected"]))
    names = [ds.feature_names[j] for j in best["ranking"][:20]]
    c.print(f"selected in >= half of the folds: {len(best['selected'])} features; top: {', '.join(names)}"
            + (" ..." if len(best["ranking"]) > 20 else ""))
    c.print(f"total time {total_seconds:.1f} s")
