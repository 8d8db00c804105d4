"""Training the SAE with a constrained first layer: the two schedules of [SAE] and [BLP].

``"double_descent"`` [SAE, BLP]
    Train ``epochs`` epochs without constraint; project the first encoder weight ``W``
    (``h x F``, groups = input features = columns, ``axis=0``) once onto the ball of
    radius ``radius``; set the entries with ``|W_ij| <= threshold`` of the kept columns to zero
    (never a whole kept column); then retrain ``retrain_epochs`` epochs with a fresh optimiser
    while a mask keeps the zeros at zero (:func:`multiproj.nn.freeze_zeros`).  Without an
    explicit radius, the radius is the one at which the projection keeps exactly ``keep``
    columns (:func:`multiproj.radius_for`), so that asking for ``k`` features gives ``k``
    (fewer only when ties among the column scores make ``k`` infeasible).
``"projected"``
    Projected gradient: project ``W`` after every optimiser step
    (:func:`multiproj.nn.register_projection`), ``epochs + retrain_epochs`` epochs in all.

The projection goes through the public API (:func:`multiproj.project_`,
:func:`multiproj.radius_for`) and the torch integration (:mod:`multiproj.nn`); nothing here
re-implements a projection.

Model selection uses only the validation data handed to :func:`train_sae` (a split of the
training data, see :mod:`multiproj.sae.estimator`), never test data.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    import torch

    from .model import SupervisedAutoencoder

__all__ = [
    "SCHEDULES",
    "EPOCH_SELECTIONS",
    "TrainResult",
    "train_sae",
    "feature_norms",
    "default_radius",
    "n_keep",
    "path_counts",
    "DEFAULT_KEEP",
]

SCHEDULES = ("double_descent", "projected")
EPOCH_SELECTIONS = ("last", "val_accuracy", "val_loss")
OPTIMIZERS = ("adam", "sgd")

#: default number of features to keep (capped at the number of features)
DEFAULT_KEEP = 10

#: inner norm of each ball, i.e. the column score the projection ranks the features by
_INNER = {"l1,inf": np.inf, "l1,1": 1, "l1": 1, "l1,2": 2}


@dataclass
class TrainResult:
    """What :func:`train_sae` returns.

    Attributes
    ----------
    history : dict of lists
        One entry per epoch: ``phase`` (1 or 2), ``train_loss`` (per sample), ``train_accuracy``,
        ``val_loss``, ``val_accuracy`` (NaN without validation data), ``n_selected``.
    best_epoch : int
        0-based index (into ``history``) of the epoch whose weights were kept.
    support : ndarray of bool, shape (F,)
        Input features whose first-layer column is not all zero.
    radius : float or None
        The radius used (``None`` without projection).
    seconds : float
        Wall-clock training time.
    path : dict or None
        With ``path_steps > 0``: ``counts`` (features kept at each step), ``radii`` (the
        radius of each step), ``exit_step`` (per feature, the step at which its column became
        zero; ``len(counts)`` for the features kept to the end: the path's ranking) and
        ``entry_radius`` (per feature, the radius of the last step at which its column is
        non-zero, 0 when the first projection removed it).  The radii are not monotone: the
        training between two steps changes the scale of ``W``.
    """

    history: dict = field(default_factory=dict)
    best_epoch: int = -1
    support: np.ndarray | None = None
    radius: float | None = None
    seconds: float = 0.0
    path: dict | None = None


def n_keep(keep, n_features: int) -> int:
    """The number of features ``keep`` asks for among ``n_features``.

    An int is a count (capped at ``n_features``); a float in ``(0, 1]`` a share,
    ``ceil(keep * n_features)`` and at least 1.
    """
    if isinstance(keep, numbers.Integral) and not isinstance(keep, bool):
        return int(min(max(int(keep), 1), n_features))
    return int(min(n_features, max(1, math.ceil(float(keep) * n_features - 1e-9 * n_features))))


def feature_norms(weight, ord=2) -> np.ndarray:
    """Column norms of a first-layer weight ``(h, F)``: one number per input feature."""
    import torch

    with torch.no_grad():
        w = weight.detach()
        if ord == np.inf:
            n = w.abs().amax(dim=0)
        elif ord == 1:
            n = w.abs().sum(dim=0)
        else:
            n = torch.linalg.vector_norm(w, ord=2, dim=0)
    return n.cpu().numpy().astype(np.float64)


def column_scores(weight, ball: str) -> np.ndarray:
    """The score by which the bi-level projection onto ``ball`` ranks the columns (their
    inner norm: l_inf for l1,inf, l1 for l1,1 and the flat l1 ball, l2 for l1,2)."""
    return feature_norms(weight, _INNER.get(ball, 2))


def default_radius(weight, ball: str, keep=DEFAULT_KEEP, method: str = "bilevel") -> float:
    """The radius at which ``project(weight, r, ball, method=method, axis=0)`` keeps exactly
    ``n_keep(keep, F)`` columns (input features), from :func:`multiproj.radius_for`.

    For the bi-level balls the columns kept are those of largest inner norm ``v_j`` and the
    radius is ``sum_{j<=k} (v_(j) - theta)`` with ``theta`` the midpoint of ``v_(k)`` and
    ``v_(k+1)`` [MLP] s.3; with ties at ``v_(k)`` it keeps the largest feasible count below
    ``k``.  With ``k = F`` it is ``||W||`` (nothing is removed).
    """
    from multiproj._radius import radius_for

    k = n_keep(keep, weight.shape[1])
    kw = {} if ball == "l1" else {"axis": 0}
    if ball == "l1":
        # the flat l1 ball has one group per entry: keep the k columns whose largest entry is
        # largest by keeping the entries above the (k+1)-th column maximum
        return _flat_l1_radius(weight, k)
    return float(radius_for(weight.detach(), ball, keep=k, method=method, **kw))


def _flat_l1_radius(weight, k: int) -> float:
    v = np.sort(feature_norms(weight, np.inf))[::-1]
    a = np.abs(weight.detach().cpu().numpy().astype(np.float64)).ravel()
    if k >= v.size:
        return float(a.sum())
    theta = 0.5 * (v[k - 1] + v[k])
    return float(np.maximum(a - theta, 0).sum())


def _check_choice(value, name, choices):
    if value not in choices:
        raise ValueError(f"The {name!r} parameter must be one of {list(choices)}. Got {value!r} instead.")


def train_sae(
    model: SupervisedAutoencoder,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    X_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    sample_weight: torch.Tensor | None = None,
    ball: str | None = "l1,inf",
    method: str = "bilevel",
    radius: float | None = None,
    keep: int | float = DEFAULT_KEEP,
    support: ArrayLike | None = None,
    schedule: str = "double_descent",
    epochs: int = 30,
    retrain_epochs: int = 30,
    batch_size: int = 4,
    lr: float = 5e-4,
    optimizer: str = "adam",
    recon_weight: float = 5e-5,
    reduction: str = "sum",
    threshold: float = 1e-3,
    epoch_selection: str = "last",
    path_steps: int = 0,
    path_epochs: int = 2,
    seed: int = 0,
    callback: Callable | None = None,
) -> TrainResult:
    """Train ``model`` (a :class:`~multiproj.sae.model.SupervisedAutoencoder`) in place.

    Parameters
    ----------
    model : SupervisedAutoencoder
    X, y : torch.Tensor
        Training data (float, ``(n, F)``) and class indices (long, ``(n,)``).
    X_val, y_val : torch.Tensor, optional
        Validation data for ``epoch_selection`` and the learning curves; must not be test data.
    sample_weight : torch.Tensor, optional
        Per-sample weight ``(n,)`` of the cross-entropy term (e.g. class-balancing weights
        ``n / (C n_c)``); the reconstruction term is not weighted.
    ball : str or None
        Constraint on the first-layer weight: ``None`` (no projection), ``"l1"`` (the weight as
        one vector), ``"l1,inf"``, ``"l1,1"``, ``"l1,2"`` (groups = input features).
    method : {"bilevel", "exact", ...}
        Projection method of :func:`multiproj.project` (``"exact"`` with ``"l1,inf"`` is the
        exact projection, ``"bilevel"`` the bi-level one [BLP]).
    radius : float, optional
        Radius of the ball.  ``None``: for ``"double_descent"``, :func:`default_radius` of the
        weight after the first descent, at which the projection keeps exactly
        ``n_keep(keep, F)`` features; for ``"projected"``, ``keep / F`` (as a share) times the
        norm of the initial weight (at initialisation all columns have about the same norm).
    keep : int or float
        Number (int) or share (float in (0, 1]) of the features to keep; see ``radius``.
    support : array of bool (F,), optional
        ``"double_descent"`` only: the features to keep, chosen elsewhere (e.g. by stability
        selection); at the end of the first descent the other columns are set to zero instead
        of projecting.  Overrides ``radius`` and ``keep``.
    schedule : {"double_descent", "projected"}
    epochs, retrain_epochs : int
        Epochs of the first and the second descent (``"projected"``: their sum).
    batch_size, lr : mini-batch size and learning rate.
    optimizer : {"adam", "sgd"}
        Adam or SGD with momentum 0.9.
    recon_weight, reduction : weight ``lambda`` and reduction of the loss (see :class:`SAELoss`).
    threshold : float
        Double descent: after the projection, the entries of the kept columns with
        ``|W_ij| <= threshold`` become 0 (a kept column is never emptied), and every zero
        stays 0 (:func:`multiproj.nn.freeze_zeros`).
    epoch_selection : {"last", "val_accuracy", "val_loss"}
        Which epoch's weights to keep, among the epochs of the final phase (the second descent,
        or every epoch for ``"projected"``): the last, or the best on the validation data
        (accuracy, ties broken by loss; or loss).
    path_steps, path_epochs : int
        ``"double_descent"`` without ``radius`` or ``support``: ``path_steps > 0`` replaces
        the single projection at the end of the first descent by a warm-started path of
        decreasing radii.  Step ``s`` keeps ``c_s`` features, ``c_s`` decreasing
        geometrically from ``F`` to ``n_keep(keep, F)`` (``c_S = k``): it projects ``W``
        onto the ball of the radius :func:`default_radius` at which exactly ``c_s`` columns
        stay non-zero, then (except after the last step) trains ``path_epochs`` epochs with
        the removed columns frozen at zero.  Removing a few features at a time and letting
        the network adapt in between is backward elimination with a projection: a feature
        that a correlated, removed feature was masking can still be kept.  The second
        descent then starts from the ``k`` columns of the last step.
    seed : int
        Seeds the mini-batch order (the caller seeds the initialisation).
    callback : callable, optional
        ``callback(epoch_index, n_epochs_total, history)`` after every epoch.
    """
    import torch

    import multiproj
    from multiproj import nn as mpnn

    _check_choice(schedule, "schedule", SCHEDULES)
    _check_choice(epoch_selection, "epoch_selection", EPOCH_SELECTIONS)
    _check_choice(optimizer, "optimizer", OPTIMIZERS)
    if reduction not in ("sum", "mean"):
        raise ValueError(f"The 'reduction' parameter must be 'sum' or 'mean'. Got {reduction!r} instead.")
    if epoch_selection != "last" and X_val is None:
        raise ValueError(f"epoch_selection={epoch_selection!r} needs validation data (X_val, y_val).")
    t0 = time.perf_counter()
    W = model.first_layer.weight
    F = W.shape[1]
    gen = torch.Generator().manual_seed(int(seed))
    n = X.shape[0]
    sw = None if sample_weight is None else torch.as_tensor(sample_weight, dtype=X.dtype)
    total = epochs + retrain_epochs
    hist = {k: [] for k in ("phase", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "n_selected")}
    handles = []
    best = {"epoch": -1, "key": None, "state": None}
    used_radius = None
    path_record = None
    proj_kw = {} if ball in (None, "l1", "l2", "linf") else {"axis": 0}
    red = torch.sum if reduction == "sum" else torch.mean

    def batch_loss(xb, yb, wb):
        logits, rec = model(xb)
        ce = torch.nn.functional.cross_entropy(logits, yb, reduction="none")
        loss = red(ce * wb) if wb is not None else red(ce)
        if recon_weight:
            loss = loss + recon_weight * red(torch.nn.functional.smooth_l1_loss(rec, xb, reduction="none"))
        return loss

    def evaluate(Xe, ye):
        model.eval()
        with torch.no_grad():
            logits, rec = model(Xe)
            ce = torch.nn.functional.cross_entropy(logits, ye, reduction="sum").item()
            rl = torch.nn.functional.smooth_l1_loss(rec, Xe, reduction="sum").item()
            acc = (logits.argmax(1) == ye).double().mean().item()
        model.train()
        return (ce + recon_weight * rl) / Xe.shape[0], acc

    def new_optimizer():
        if optimizer == "sgd":
            return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        return torch.optim.Adam(model.parameters(), lr=lr)

    def run_epoch(opt):
        perm = torch.randperm(n, generator=gen)
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            loss = batch_loss(X[idx], y[idx], None if sw is None else sw[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    def run_path():
        """Backward elimination along decreasing radii (see ``path_steps``); returns the
        support of the last step and the path record."""
        k = n_keep(keep, F)
        counts = path_counts(F, k, path_steps)
        exit_step = np.full(F, len(counts), dtype=np.int64)
        entry_radius = np.zeros(F)
        radii = []
        for s, c in enumerate(counts):
            with torch.no_grad():
                r = default_radius(W, ball, c, method)
                multiproj.project_(W.data, r, ball, method=method, **proj_kw)
            radii.append(r)
            alive = (W.detach() != 0).any(dim=0).cpu().numpy()
            exit_step[~alive & (exit_step == len(counts))] = s
            entry_radius[alive] = r
            if s == len(counts) - 1:
                break
            popt = new_optimizer()
            h = mpnn.freeze_zeros(W, popt)
            model.train()
            for _ in range(path_epochs):
                run_epoch(popt)
            h.remove()
        return alive, {"counts": list(counts), "radii": radii, "exit_step": exit_step, "entry_radius": entry_radius}

    def select_and_freeze(opt):
        """End of the first descent: keep `support` or project onto the ball; prune; freeze."""
        nonlocal used_radius
        with torch.no_grad():
            if support is not None:
                mask = torch.as_tensor(np.asarray(support, dtype=bool))
                W.data[:, ~mask] = 0
                used_radius = float(multiproj.norm(W.detach(), ball, **proj_kw)) if ball is not None else None
            elif ball is not None:
                used_radius = float(radius) if radius is not None else default_radius(W, ball, keep, method)
                multiproj.project_(W.data, used_radius, ball, method=method, **proj_kw)
            else:
                return None
            kept = (W.detach() != 0).any(dim=0)
            small = W.detach().abs() <= threshold
            # prune small entries, but never every entry of a kept column
            emptied = small.all(dim=0) & kept
            small[:, emptied] = W.detach()[:, emptied] == 0
            W.data[small] = 0
        return mpnn.freeze_zeros(W, opt)

    opt = new_optimizer()
    if schedule == "projected" and ball is not None:
        # at initialisation all columns have about the same norm, so the keep-k rule would
        # give a radius near 0: use the share keep / F of the initial norm instead
        share = n_keep(keep, F) / F
        used_radius = float(radius) if radius is not None else share * float(multiproj.norm(W.detach(), ball, **proj_kw))
        multiproj.project_(W.data, used_radius, ball, method=method, **proj_kw)
        handles.append(mpnn.register_projection(opt, W, used_radius, ball, method=method, **proj_kw))

    model.train()
    try:
        for epoch in range(total):
            phase = 1 if (schedule == "double_descent" and epoch < epochs) else 2
            if schedule == "double_descent" and epoch == epochs:
                if path_steps > 0 and ball is not None and support is None and radius is None:
                    support, path_record = run_path()
                opt = new_optimizer()
                h = select_and_freeze(opt)
                if h is not None:
                    handles.append(h)
            run_epoch(opt)
            tl, ta = evaluate(X, y)
            vl, va = evaluate(X_val, y_val) if X_val is not None else (float("nan"), float("nan"))
            hist["phase"].append(phase)
            hist["train_loss"].append(tl)
            hist["train_accuracy"].append(ta)
            hist["val_loss"].append(vl)
            hist["val_accuracy"].append(va)
            hist["n_selected"].append(int((W.detach() != 0).any(dim=0).sum().item()))
            final_phase = schedule == "projected" or phase == 2 or (ball is None and epoch >= epochs)
            if final_phase:
                key = {"last": (0.0,), "val_accuracy": (-va, vl), "val_loss": (vl,)}[epoch_selection]
                if best["key"] is None or key < best["key"] or epoch_selection == "last":
                    best = {"epoch": epoch, "key": key, "state": None}
                    if epoch_selection != "last":
                        best["state"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if callback is not None:
                callback(epoch, total, hist)
        if schedule == "double_descent" and retrain_epochs == 0 and (ball is not None or support is not None):
            # no second descent: select once, at the end
            if path_steps > 0 and ball is not None and support is None and radius is None:
                support, path_record = run_path()
            h = select_and_freeze(None)
            if h is not None:
                h.remove()
            best = {"epoch": total - 1, "key": None, "state": None}
    finally:
        for h in handles:
            h.remove()
    if best["state"] is not None and best["epoch"] != total - 1:
        model.load_state_dict(best["state"])
    model.eval()
    sup = (W.detach() != 0).any(dim=0).cpu().numpy()
    return TrainResult(
        history=hist, best_epoch=best["epoch"], support=sup, radius=used_radius,
        seconds=time.perf_counter() - t0, path=path_record,
    )


def path_counts(n_features: int, k: int, steps: int) -> list[int]:
    """Numbers of features kept along the path: ``steps`` counts decreasing geometrically
    from ``n_features`` (excluded) to ``k`` (the last), strictly decreasing (fewer steps when
    ``n_features - k < steps``); ``[k]`` when ``steps <= 1`` or ``k >= n_features``."""
    if k >= n_features or steps <= 1:
        return [min(k, n_features)]
    out = []
    for s in range(1, steps + 1):
        c = int(round(n_features * (k / n_features) ** (s / steps)))
        c = max(k, min(c, (out[-1] - 1) if out else n_features - 1))
        if not out or c < out[-1]:
            out.append(c)
    if out[-1] != k:
        out.append(k)
    return out
