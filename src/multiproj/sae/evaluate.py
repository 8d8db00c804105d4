"""k-fold cross-validation of the SAE without leakage.

Per fold, everything that is fitted (the optional standardisation, the network, the choice of
the radius by the default rule, the epoch selection on a validation split) sees only the
training part of the fold: the whole chain is one scikit-learn :class:`~sklearn.pipeline.Pipeline`
fitted on the training rows, and the test rows are used once, to score it.  (The original
script chose the best epoch on the test fold and computed the AUC from hard labels.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["make_pipeline", "fit_fold", "cross_validate_sae", "METRICS", "log_transformer"]

#: metrics reported per fold and as mean +/- std
METRICS = ("accuracy", "auc", "f1", "n_selected", "pct_selected", "seconds", "feature_recall", "feature_precision")


def _log1p_checked(X):
    X = np.asarray(X, dtype=np.float64)
    if np.any(X < 0):
        from .data import DataError

        raise DataError(
            f"the log transform needs non-negative values; the data have {int((X < 0).sum())} "
            f"negative cell(s) (minimum {X.min():.4g}). Drop --log or shift the data."
        )
    return np.log1p(X)


def log_transformer() -> Any:
    """``log1p`` of non-negative data as a stateless :class:`~sklearn.preprocessing.FunctionTransformer`
    (so ``get_feature_names_out`` and ``set_output`` work in a pipeline); negative values
    raise :class:`~multiproj.sae.DataError`."""
    from sklearn.preprocessing import FunctionTransformer

    return FunctionTransformer(_log1p_checked, feature_names_out="one-to-one")


def make_pipeline(params: dict | None = None, *, log: bool = False, standardize: bool = False) -> Any:
    """``[log1p] -> [StandardScaler] -> SparseAutoencoderClassifier(**params)``."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from .estimator import SparseAutoencoderClassifier

    steps = []
    if log:
        steps.append(("log", log_transformer()))
    if standardize:
        steps.append(("scale", StandardScaler()))
    steps.append(("sae", SparseAutoencoderClassifier(**(params or {}))))
    return Pipeline(steps)


def _auc(y_true, proba, classes) -> float:
    from sklearn.metrics import roc_auc_score

    if np.unique(y_true).size < 2:
        return float("nan")
    if classes.size == 2:
        return float(roc_auc_score(y_true == classes[1], proba[:, 1]))
    return float(roc_auc_score(y_true, proba, multi_class="ovr", average="macro", labels=classes))


def fit_fold(pipeline, X, y, train, test, *, informative=None) -> dict:
    """Fit a clone of ``pipeline`` on ``X[train]`` and score it on ``X[test]``.

    Returns a dict with the metrics of :data:`METRICS` (feature recall/precision only when
    ``informative`` is given), ``selected`` (0-based column indices), ``importances``,
    ``history`` (the learning curves, on the training fold and its validation split),
    ``best_epoch``, ``radius``, ``weights`` (the first-layer weight, an array) and ``model``
    (the fitted pipeline).
    """
    from sklearn.base import clone
    from sklearn.metrics import accuracy_score, f1_score

    model = clone(pipeline)
    t0 = time.perf_counter()
    model.fit(X[train], y[train])
    seconds = time.perf_counter() - t0
    sae = model[-1]
    proba = model.predict_proba(X[test])
    pred = sae.classes_[np.argmax(proba, axis=1)]
    selected = np.flatnonzero(sae.support_)
    n_features = X.shape[1]
    out = {
        "accuracy": float(accuracy_score(y[test], pred)),
        "auc": _auc(y[test], proba, sae.classes_),
        "f1": float(f1_score(y[test], pred, average="macro")),
        "n_selected": int(selected.size),
        "pct_selected": 100.0 * selected.size / n_features,
        "seconds": seconds,
        "selected": selected.tolist(),
        "importances": sae.feature_importances_.tolist(),
        "history": sae.history_,
        "best_epoch": int(sae.best_epoch_),
        "radius": sae.radius_,
        "weights": sae.model_.first_layer.weight.detach().cpu().numpy().copy(),
        "model": model,
    }
    if informative is not None:
        inf = np.asarray(informative)
        hit = np.isin(selected, inf).sum()
        out["feature_recall"] = float(hit / inf.size) if inf.size else float("nan")
        out["feature_precision"] = float(hit / selected.size) if selected.size else 0.0
    return out


def cross_validate_sae(
    X: ArrayLike,
    y: ArrayLike,
    params: dict | None = None,
    *,
    folds: int = 4,
    seed: int = 0,
    log: bool = False,
    standardize: bool = False,
    informative: ArrayLike | None = None,
    fold_labels: ArrayLike | None = None,
    on_fold_start: Callable | None = None,
    on_fold_end: Callable | None = None,
) -> dict:
    """Stratified k-fold cross-validation of the SAE pipeline.

    Parameters
    ----------
    X : ndarray (n_samples, n_features)
    y : ndarray (n_samples,)
    params : dict
        Parameters of :class:`~multiproj.sae.SparseAutoencoderClassifier`.
    folds, seed : int
        ``StratifiedKFold(folds, shuffle=True, random_state=seed)``.
    log, standardize : bool
        Prepend a ``log1p`` transform / a ``StandardScaler`` (fitted on the training fold).
    fold_labels : array_like, optional
        One fold id per sample: the test folds are these groups (overrides ``folds``/``seed``).
    informative : array of int, optional
        Indices of the truly informative features: adds ``feature_recall`` and
        ``feature_precision``.
    on_fold_start, on_fold_end : callable, optional
        ``on_fold_start(k)`` and ``on_fold_end(k, fold_result)`` (progress display).

    Returns
    -------
    dict
        ``folds`` (list of per-fold dicts, see :func:`fit_fold`, without the fitted model),
        for each metric ``m`` of :data:`METRICS` the mean as ``m`` and ``m_std``,
        ``selected`` (features selected in at least half of the folds, 0-based, in column
        order), ``selection_frequency`` (per feature, share of folds selecting it) and
        ``ranking`` (``selected`` by decreasing mean importance).
    """
    from sklearn.model_selection import StratifiedKFold

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    params = dict(params or {})
    pipe = make_pipeline(params, log=log, standardize=standardize)
    if fold_labels is not None:
        lab = np.asarray(fold_labels)
        splits = [(np.flatnonzero(lab != f), np.flatnonzero(lab == f)) for f in np.unique(lab)]
        folds = len(splits)
    else:
        splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(X, y)
    results = []
    for k, (train, test) in enumerate(splits):
        if on_fold_start is not None:
            on_fold_start(k)
        r = fit_fold(pipe, X, y, train, test, informative=informative)
        r.pop("model")
        results.append(r)
        if on_fold_end is not None:
            on_fold_end(k, r)
    out: dict = {"n_samples": int(X.shape[0]), "n_features": int(X.shape[1]), "n_folds": folds}
    for m in METRICS:
        vals = [r[m] for r in results if m in r]
        if vals:
            out[m] = float(np.mean(vals))
            out[m + "_std"] = float(np.std(vals))
    freq = np.zeros(X.shape[1])
    imp = np.zeros(X.shape[1])
    for r in results:
        freq[r["selected"]] += 1
        imp += np.asarray(r["importances"])
    freq /= len(results)
    selected = np.flatnonzero(freq >= 0.5)
    out["selected"] = selected.tolist()
    out["selection_frequency"] = freq.tolist()
    out["ranking"] = selected[np.argsort(-imp[selected], kind="stable")].tolist()
    if informative is not None:
        inf = np.asarray(informative)
        hit = np.isin(selected, inf).sum()
        out["consensus_feature_recall"] = float(hit / inf.size) if inf.size else float("nan")
        out["consensus_feature_precision"] = float(hit / selected.size) if selected.size else 0.0
    out["folds"] = results
    return out
