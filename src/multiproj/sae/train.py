"""Training the SAE with a constrained first layer: the two schedules of SPEC s.7.

``"double_descent"`` [SAE, BLP]
    Train ``epochs`` epochs without constraint; project the first encoder weight ``W``
    (``h x F``, groups = input features = columns, ``axis=0``) once onto the ball of
    radius ``radius``; set the entries with ``|W_ij| < threshold`` to zero; then retrain
    ``retrain_epochs`` epochs with a fresh optimiser while a mask keeps the zeros at zero
    (:func:`multiproj.nn.freeze_zeros`).
``"projected"``
    Projected gradient: project ``W`` after every optimiser step
    (:func:`multiproj.nn.register_projection`), ``epochs + retrain_epochs`` epochs in all.

The projection goes through the public API (:func:`multiproj.project_`) and the torch
integration (:mod:`multiproj.nn`); nothing here re-implements a projection.

Model selection uses only the validation data handed to :func:`train_sae` (a split of the
training data, see :mod:`multiproj.sae.evaluate`), never test data.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["SCHEDULES", "EPOCH_SELECTIONS", "TrainResult", "train_sae", "feature_norms", "default_radius", "DEFAULT_KEEP"]

SCHEDULES = ("double_descent", "projected")
EPOCH_SELECTIONS = ("last", "val_accuracy", "val_loss")
OPTIMIZERS = ("adam", "sgd")

# Default radius rule (documented in the estimator and the CLI): "double_descent": with v_j the
# inner norm of column j of the first-layer weight W after the first descent and q the (k+1)-th
# largest v_j with
# k = ceil(keep * F), radius = sum_j max(v_j - q, 0): the radius at which the bi-level
# projection keeps k = `keep` x F features (the exact l1,inf projection keeps more).
# "projected": keep x ||W_0||_ball, W_0 the initial weight.
DEFAULT_KEEP = 0.1


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
    """

    history: dict = field(default_factory=dict)
    best_epoch: int = -1
    support: np.ndarray | None = None
    radius: float | None = None
    seconds: float = 0.0


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


def default_radius(weight, ball: str, keep: float = DEFAULT_KEEP) -> float:
    """The default radius: ``sum_j max(v_j - q, 0)``, ``v_j`` = inner norm of column ``j``.

    ``q`` is the ``(k+1)``-th largest ``v_j``, ``k = ceil(keep * F)``, so that the bi-level
    projection onto the ball of this radius keeps the ``k`` columns (input features) with the
    largest norms: ``u = P_l1(v, radius)`` has threshold ``tau = q`` [MLP] s.3.  With
    ``k = F`` the radius is ``sum_j v_j`` and nothing is removed.  The inner
    norm is that of ``ball`` (inf for l1,inf, 1 for l1,1 and the flat l1, 2 for l1,2).
    """
    q = {"l1,inf": np.inf, "l1,1": 1, "l1": 1, "l1,2": 2}.get(ball, 2)
    v = np.sort(feature_norms(weight, q))[::-1]
    k = max(1, int(np.ceil(float(keep) * v.size)))
    if k >= v.size:  # keep everything: the weight is already in the ball
        return float(v.sum())
    return float((v[:k] - v[k]).sum())


def _check_choice(value, name, choices):
    if value not in choices:
        raise ValueError(f"The {name!r} parameter must be one of {list(choices)}. Got {value!r} instead.")


def train_sae(
    model,
    X,
    y,
    *,
    X_val=None,
    y_val=None,
    ball: str | None = "l1,inf",
    method: str = "bilevel",
    radius: float | None = None,
    default_keep: float = DEFAULT_KEEP,
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
    ball : str or None
        Constraint on the first-layer weight: ``None`` (no projection), ``"l1"`` (the weight as
        one vector), ``"l1,inf"``, ``"l1,1"``, ``"l1,2"`` (groups = input features).
    method : {"bilevel", "exact", ...}
        Projection method of :func:`multiproj.project` (``"exact"`` with ``"l1,inf"`` is the
        exact projection, ``"bilevel"`` the bi-level one [BLP]).
    radius : float, optional
        Radius of the ball.  ``None``: for ``"double_descent"``, the rule :func:`default_radius`
        applied to the weight after the first descent, which makes the bi-level projection keep
        ``ceil(default_keep * F)`` features; for ``"projected"``, ``default_keep`` times the norm
        of the initial weight (at initialisation all columns have about the same norm).
    default_keep : float in (0, 1]
        See ``radius``.
    schedule : {"double_descent", "projected"}
    epochs, retrain_epochs : int
        Epochs of the first and the second descent (``"projected"``: their sum).
    batch_size, lr : mini-batch size and learning rate (SPEC s.7: 4 and 5e-4 with Adam).
    optimizer : {"adam", "sgd"}
        Adam (SPEC s.7) or SGD with momentum 0.9.
    recon_weight, reduction : weight ``lambda`` and reduction of the loss (see :class:`SAELoss`).
    threshold : float
        Double descent: after the projection, entries with ``|W_ij| <= threshold`` become 0
        and stay 0 (:func:`multiproj.nn.freeze_zeros`).
    epoch_selection : {"last", "val_accuracy", "val_loss"}
        Which epoch's weights to keep, among the epochs of the final phase (the second descent,
        or every epoch for ``"projected"``): the last, or the best on the validation data
        (accuracy, ties broken by loss; or loss).
    seed : int
        Seeds the mini-batch order (the caller seeds the initialisation).
    callback : callable, optional
        ``callback(epoch_index, n_epochs_total, history)`` after every epoch.
    """
    import torch

    import multiproj
    from multiproj import nn as mpnn

    from .model import SAELoss

    _check_choice(schedule, "schedule", SCHEDULES)
    _check_choice(epoch_selection, "epoch_selection", EPOCH_SELECTIONS)
    _check_choice(optimizer, "optimizer", OPTIMIZERS)
    if epoch_selection != "last" and X_val is None:
        raise ValueError(f"epoch_selection={epoch_selection!r} needs validation data (X_val, y_val).")
    t0 = time.perf_counter()
    loss_fn = SAELoss(recon_weight, reduction)
    W = model.first_layer.weight
    gen = torch.Generator().manual_seed(int(seed))
    n = X.shape[0]
    total = epochs + retrain_epochs
    hist = {k: [] for k in ("phase", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "n_selected")}
    handles = []
    best = {"epoch": -1, "key": None, "state": None}
    used_radius = None
    proj_kw = {} if ball in (None, "l1", "l2", "linf") else {"axis": 0}

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

    opt = new_optimizer()
    if schedule == "projected" and ball is not None:
        # at initialisation all columns have about the same norm, so the quantile rule would
        # give a radius near 0: use the share `default_keep` of the initial norm instead
        used_radius = float(radius) if radius is not None else default_keep * float(multiproj.norm(W.detach(), ball, **proj_kw))
        multiproj.project_(W.data, used_radius, ball, method=method, **proj_kw)
        handles.append(mpnn.register_projection(opt, W, used_radius, ball, method=method, **proj_kw))

    model.train()
    try:
        for epoch in range(total):
            phase = 1 if (schedule == "double_descent" and epoch < epochs) else 2
            if schedule == "double_descent" and epoch == epochs:
                # end of the first descent: project once, prune small entries, freeze the zeros
                opt = new_optimizer()
                if ball is not None:
                    used_radius = float(radius) if radius is not None else default_radius(W, ball, default_keep)
                    multiproj.project_(W.data, used_radius, ball, method=method, **proj_kw)
                    handles.append(mpnn.freeze_zeros(W, opt, threshold=threshold))
            perm = torch.randperm(n, generator=gen)
            for start in range(0, n, batch_size):
                idx = perm[start : start + batch_size]
                xb, yb = X[idx], y[idx]
                logits, rec = model(xb)
                loss = loss_fn(logits, rec, xb, yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
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
        if schedule == "double_descent" and retrain_epochs == 0 and ball is not None:
            # no second descent: project and prune the trained weight once, at the end
            used_radius = float(radius) if radius is not None else default_radius(W, ball, default_keep)
            multiproj.project_(W.data, used_radius, ball, method=method, **proj_kw)
            mpnn.freeze_zeros(W, threshold=threshold).remove()
            best = {"epoch": total - 1, "key": None, "state": None}
    finally:
        for h in handles:
            h.remove()
    if best["state"] is not None and best["epoch"] != total - 1:
        model.load_state_dict(best["state"])
    model.eval()
    support = (W.detach() != 0).any(dim=0).cpu().numpy()
    return TrainResult(
        history=hist, best_epoch=best["epoch"], support=support, radius=used_radius,
        seconds=time.perf_counter() - t0,
    )
