"""The SAE against the feature selectors a practitioner already uses, at matched ``k``.

:func:`compare` runs, on the same folds (``KFold(shuffle=True)``, or folds given by the
caller), with the preprocessing (optional ``log1p``, standardisation) fitted on each training
fold only:

``sae``
    :class:`~multiproj.sae.SparseAutoencoderClassifier` with ``keep=k``.
``l1_lr``
    L1-penalised logistic regression (liblinear; one-vs-rest for several classes) whose ``C``
    is found by bisection on ``log C`` so that the number of features with a non-zero
    coefficient (in any class) is as close to ``k`` as possible; it predicts itself.
``kbest``
    ``SelectKBest(f_classif, k)`` then a logistic regression on those features.
``rf``
    The ``k`` largest impurity importances of a random forest (200 trees) then a logistic
    regression on those features.

The final logistic regressions are ``LogisticRegression(C=1, class_weight)`` (lbfgs).
Per method and ``k``: balanced accuracy, ROC AUC from probabilities (one-vs-rest macro for
several classes), macro F1, the number of features selected, their stability (the size of
the intersection over the size of the union of the folds' selected sets) and the seconds
per fold.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["compare", "BASELINES", "METHODS", "format_table", "plot_compare", "default_ks", "to_frame"]

BASELINES = ("l1_lr", "kbest", "rf")
METHODS = ("sae",) + BASELINES
LABELS = {"sae": "SAE", "l1_lr": "L1-LR", "kbest": "SelectKBest+LR", "rf": "RF top-k+LR"}


def default_ks(n_features: int) -> list[int]:
    """``[10, 20]``, or ``[5, 10]`` when there are fewer than 40 features (capped at F)."""
    ks = [5, 10] if n_features < 40 else [10, 20]
    return sorted({min(k, n_features) for k in ks})


def _lr(class_weight, random_state=0):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, max_iter=2000, class_weight=class_weight)


def _l1_model(C, n_classes, class_weight, random_state):
    import sklearn
    from sklearn.linear_model import LogisticRegression

    major, minor = (int(p) for p in sklearn.__version__.split(".")[:2])
    kw = dict(C=C, solver="liblinear", class_weight=class_weight, random_state=random_state, max_iter=1000)
    if (major, minor) >= (1, 8):
        kw["l1_ratio"] = 1.0
    else:
        kw["penalty"] = "l1"
    m = LogisticRegression(**kw)
    if n_classes > 2:
        from sklearn.multiclass import OneVsRestClassifier

        m = OneVsRestClassifier(m)
    return m


def _l1_support(m) -> np.ndarray:
    coef = np.vstack([e.coef_ for e in m.estimators_]) if hasattr(m, "estimators_") else m.coef_
    return np.any(coef != 0, axis=0)


def _fit_l1_for_k(X, y, k, n_classes, class_weight, random_state, steps=18):
    """Bisection on log10(C) for a support of about ``k`` features; the closest fit wins
    (ties: the smaller support)."""
    lo, hi = -4.0, 2.0
    best = None
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = _l1_model(10.0**mid, n_classes, class_weight, random_state).fit(X, y)
        s = _l1_support(m)
        cnt = int(s.sum())
        key = (abs(cnt - k), cnt)
        if best is None or key < best[0]:
            best = (key, m, s)
        if cnt == k:
            break
        if cnt < k:
            lo = mid
        else:
            hi = mid
    return best[1], best[2]


def _auc(y_true, proba, classes) -> float:
    from sklearn.metrics import roc_auc_score

    present = np.unique(y_true)
    if present.size < 2:
        return float("nan")
    if classes.size == 2:
        return float(roc_auc_score(y_true == classes[1], proba[:, 1]))
    if present.size < classes.size:  # a class absent from the test fold: macro over the present ones
        cols = np.isin(classes, present)
        p = proba[:, cols]
        return float(roc_auc_score(y_true, p / p.sum(axis=1, keepdims=True), multi_class="ovr",
                                   average="macro", labels=classes[cols]))
    return float(roc_auc_score(y_true, proba, multi_class="ovr", average="macro", labels=classes))


def _preprocess(log: bool, standardize: bool):
    from sklearn.pipeline import make_pipeline as mk
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    from .evaluate import log_transformer

    steps = []
    if log:
        steps.append(log_transformer())
    if standardize:
        steps.append(StandardScaler())
    return mk(*steps) if steps else FunctionTransformer(None)


def _fold_iter(X, y, folds, fold_seed, fold_labels):
    if fold_labels is not None:
        lab = np.asarray(fold_labels)
        if lab.shape != (X.shape[0],):
            raise ValueError(
                f"The 'fold_labels' parameter of compare must have one entry per sample "
                f"({X.shape[0]}). Got shape {lab.shape} instead."
            )
        ids = np.unique(lab)
        if ids.size < 2:
            raise ValueError(f"The 'fold_labels' parameter of compare must name at least 2 folds. Got {ids.tolist()}.")
        return [(np.flatnonzero(lab != f), np.flatnonzero(lab == f)) for f in ids]
    from sklearn.model_selection import KFold

    return list(KFold(n_splits=folds, shuffle=True, random_state=fold_seed).split(X))


def compare(
    X: ArrayLike,
    y: ArrayLike,
    ks: Sequence[int] | None = None,
    *,
    methods: Sequence[str] = METHODS,
    sae_params: dict | None = None,
    sae_grid: dict | None = None,
    folds: int = 4,
    fold_seed: int = 0,
    fold_labels: ArrayLike | None = None,
    log: bool = False,
    standardize: bool = True,
    class_weight: str | dict | None = "balanced",
    random_state: int = 0,
    feature_names: Sequence[str] | None = None,
    progress: Callable | None = None,
) -> dict:
    """Cross-validate the SAE and the baselines at matched numbers of features ``ks``.

    Parameters
    ----------
    X : array_like or pandas.DataFrame, shape (n_samples, n_features)
    y : array_like, shape (n_samples,)
    ks : sequence of int, optional
        Numbers of features; default :func:`default_ks`.
    methods : sequence of {"sae", "l1_lr", "kbest", "rf"}
    sae_params : dict, optional
        Parameters of :class:`~multiproj.sae.SparseAutoencoderClassifier` (``keep`` is set
        to each ``k``).
    sae_grid : dict, optional
        A parameter grid (e.g. ``{"lr": [1e-4, 1e-3]}``): the SAE is then
        :class:`~multiproj.sae.SparseAutoencoderCV` over it, 3 stratified inner folds of each
        training fold.
    folds, fold_seed : int
        ``KFold(folds, shuffle=True, random_state=fold_seed)``.
    fold_labels : array_like, optional
        One fold id per sample: the folds are these groups (overrides ``folds``).
    log, standardize : bool
        ``log1p`` / ``StandardScaler`` fitted on each training fold.
    class_weight : "balanced" or None
        Of every logistic regression and of the SAE (unless ``sae_params`` sets it).
    random_state : int
        Seeds the random forest, liblinear and the SAE.
    progress : callable, optional
        ``progress(method, k, fold)`` before each fit.

    Returns
    -------
    dict
        ``results``: one entry per (method, k) with ``method``, ``k``, per-fold lists and
        means of ``balanced_accuracy``, ``auc``, ``f1``, ``n_selected``, ``seconds``, the
        ``stability`` and ``selected`` (per fold, column indices); plus ``n_samples``,
        ``n_features``, ``n_classes``, ``ks``, ``folds`` (the test indices), ``settings``.
    """
    from sklearn.base import clone
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.feature_selection import SelectKBest, f_classif
    from sklearn.metrics import balanced_accuracy_score, f1_score

    from .estimator import SparseAutoencoderClassifier
    from .search import SparseAutoencoderCV

    if feature_names is None and hasattr(X, "columns"):
        feature_names = [str(c) for c in X.columns]
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"compare needs X of shape (n, F) and y of shape (n,). Got {X.shape} and {y.shape}.")
    F = X.shape[1]
    ks = default_ks(F) if ks is None else [int(k) for k in ks]
    for k in ks:
        if not 1 <= k <= F:
            raise ValueError(f"The 'ks' parameter of compare must hold ints in [1, {F}]. Got {k} instead.")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"The 'methods' parameter of compare must be a subset of {list(METHODS)}. Got {unknown}.")
    classes = np.unique(y)
    splits = _fold_iter(X, y, folds, fold_seed, fold_labels)
    sp = dict(class_weight=class_weight, random_state=random_state)
    sp.update(sae_params or {})
    results = []
    for method in methods:
        for k in ks:
            rec = {m: [] for m in ("balanced_accuracy", "auc", "f1", "n_selected", "seconds", "selected")}
            for f, (tr, te) in enumerate(splits):
                if progress is not None:
                    progress(method, k, f)
                pre = clone(_preprocess(log, standardize))
                t0 = time.perf_counter()
                Xtr = pre.fit_transform(X[tr])
                Xte = pre.transform(X[te])
                ytr = y[tr]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", category=RuntimeWarning)  # f_classif on constant columns
                    warnings.simplefilter("ignore", category=UserWarning)
                    if method == "sae":
                        model = SparseAutoencoderClassifier(**dict(sp, keep=k))
                        if sae_grid is not None:
                            model = SparseAutoencoderCV(model, sae_grid, random_state=random_state)
                        model = model.fit(Xtr, ytr)
                        sel = np.flatnonzero(model.support_)
                        proba = model.predict_proba(Xte)
                    elif method == "l1_lr":
                        model, s = _fit_l1_for_k(Xtr, ytr, k, classes.size, class_weight, random_state)
                        sel = np.flatnonzero(s)
                        proba = model.predict_proba(Xte)
                    else:
                        if method == "kbest":
                            sk = SelectKBest(f_classif, k=k).fit(Xtr, ytr)
                            scores = np.nan_to_num(sk.scores_, nan=-np.inf)
                        else:
                            rf = RandomForestClassifier(n_estimators=200, random_state=random_state, n_jobs=1,
                                                        class_weight=class_weight).fit(Xtr, ytr)
                            scores = rf.feature_importances_
                        sel = np.sort(np.argsort(-scores, kind="stable")[:k])
                        model = _lr(class_weight).fit(Xtr[:, sel], ytr)
                        proba = model.predict_proba(Xte[:, sel])
                secs = time.perf_counter() - t0
                mclasses = model.classes_
                if mclasses.size < classes.size:  # a class absent from the training fold
                    full = np.zeros((proba.shape[0], classes.size))
                    full[:, np.searchsorted(classes, mclasses)] = proba
                    proba = full
                pred = classes[np.argmax(proba, axis=1)]
                rec["balanced_accuracy"].append(float(balanced_accuracy_score(y[te], pred)))
                rec["auc"].append(_auc(y[te], proba, classes))
                rec["f1"].append(float(f1_score(y[te], pred, average="macro")))
                rec["n_selected"].append(int(sel.size))
                rec["seconds"].append(secs)
                rec["selected"].append(sel.tolist())
            out = {"method": method, "k": k}
            for m in ("balanced_accuracy", "auc", "f1", "n_selected", "seconds"):
                out[m + "_folds"] = rec[m]
                out[m] = float(np.nanmean(rec[m]))
                out[m + "_std"] = float(np.nanstd(rec[m]))
            out["selected"] = rec["selected"]
            out["stability"] = stability(rec["selected"])
            if feature_names is not None:
                cons = consensus(rec["selected"], len(splits))
                out["consensus_features"] = [feature_names[j] for j in cons]
            results.append(out)
    return {
        "n_samples": int(X.shape[0]),
        "n_features": int(F),
        "n_classes": int(classes.size),
        "ks": ks,
        "n_folds": len(splits),
        "folds": [te.tolist() for _, te in splits],
        "settings": {"fold_seed": fold_seed, "log": log, "standardize": standardize, "class_weight": class_weight,
                     "random_state": random_state, "sae_params": {k: v for k, v in sp.items() if k != "callback"}, "sae_grid": sae_grid,
                     "fold_labels": fold_labels is not None},
        "results": results,
    }


def stability(selected) -> float:
    """``|intersection| / |union|`` of the selected sets (1.0 when all are equal and non-empty)."""
    sets = [set(s) for s in selected]
    union = set().union(*sets)
    if not union:
        return float("nan")
    return len(set.intersection(*sets)) / len(union)


def consensus(selected, n_folds) -> list[int]:
    """Features selected in at least half of the folds, by decreasing count."""
    cnt = {}
    for s in selected:
        for j in s:
            cnt[j] = cnt.get(j, 0) + 1
    return [j for j, c in sorted(cnt.items(), key=lambda t: (-t[1], t[0])) if c >= n_folds / 2]


def to_frame(res: dict):
    """The results of :func:`compare` as a pandas DataFrame: one row per (method, k), the
    means and standard deviations over the folds and the stability."""
    import pandas as pd

    cols = ["method", "k", "n_selected", "balanced_accuracy", "balanced_accuracy_std", "auc", "auc_std", "f1",
            "f1_std", "stability", "seconds"]
    return pd.DataFrame([{c: r[c] for c in cols} for r in res["results"]], columns=cols)


def format_table(res: dict, *, markdown: bool = True) -> str:
    """The results as a Markdown table (one row per method and ``k``)."""
    rows = ["| k | method | features | balanced acc. | AUC | macro F1 | stability | s / fold |",
            "|---|---|---|---|---|---|---|---|"]
    for k in res["ks"]:
        group = [r for r in res["results"] if r["k"] == k]
        best_base = max((r["balanced_accuracy"] for r in group if r["method"] != "sae"), default=None)
        for r in group:
            mark = ""
            if r["method"] == "sae" and best_base is not None:
                mark = " **(>= best baseline)**" if r["balanced_accuracy"] >= best_base - 1e-12 else ""
            rows.append(
                f"| {k} | {LABELS[r['method']]} | {r['n_selected']:.1f} | "
                f"{r['balanced_accuracy']:.3f} ± {r['balanced_accuracy_std']:.3f}{mark} | "
                f"{r['auc']:.3f} | {r['f1']:.3f} | {r['stability']:.2f} | {r['seconds']:.2f} |"
            )
    return "\n".join(rows)


def plot_compare(res: dict, path: str, title: str = "") -> str:
    """Balanced accuracy (mean ± std over the folds) against the number of features, one
    line per method; written to ``path`` (PNG)."""
    import os

    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for i, method in enumerate(dict.fromkeys(r["method"] for r in res["results"])):
        rr = sorted((r for r in res["results"] if r["method"] == method), key=lambda r: r["k"])
        x = np.array([r["n_selected"] for r in rr])
        ax.errorbar(x + (i - 1.5) * 0.08, [r["balanced_accuracy"] for r in rr],
                    yerr=[r["balanced_accuracy_std"] for r in rr], marker="o", capsize=3, label=LABELS[method])
    ax.set(xlabel="selected features (mean over folds)", ylabel="balanced accuracy (mean ± std over folds)",
           title=title or "balanced accuracy vs number of features")
    ax.title.set_fontsize(9)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
