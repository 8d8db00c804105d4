"""The CPU backend: the solvers of the registry on NumPy arrays, and the backend entry
points that :mod:`multiproj._api` calls for arrays (CPU tensors reach the same solvers
through :mod:`multiproj._torch.bridge`).

Every solver has the signature ``solve(y, radius, ball, *, axes, levels, out)`` where ``y``
is a float32/float64 ndarray, ``axes`` and ``levels`` come from the call's
:class:`~multiproj._core.plan.Plan`, and ``out`` is None (allocate) or a checked array
(possibly ``y`` itself).  It returns the result.  Non-finite input is detected in the
first, read-only pass and raises before anything is written.
"""

from __future__ import annotations

import contextlib

import numpy as np

from .._core.ball import Ball, exact_form
from .._core.checks import as_float_array, check_out, raise_not_finite
from .._core.plan import Plan
from .._core.threads import serial_if_small
from .groups import apply_group_radii, finite_group_norms, group_norms, outer_l1, run_on_groups
from .layout import group_layout


def _bilevel_on(xc: np.ndarray, oc: np.ndarray, radius: float, q: str) -> None:
    if xc.size == 0:
        return
    v = finite_group_norms(xc, q)
    # inside test with the same sum as ``norm``, so that a radius equal to the norm is
    # always the identity
    inside = float(v.sum()) <= radius
    if not inside:
        u, inside = outer_l1(v, radius)
    if inside:
        if oc is not xc:
            oc[...] = xc
        return
    apply_group_radii(xc, oc, q, v, u)


def project_bilevel(y, radius, ball: Ball, *, axes, levels=None, out=None):
    """Bi-level projection onto the l1,q ball [MLP s.3]: norms, one l1 projection, per-group
    projection."""
    return run_on_groups(y, out, axes, lambda xc, oc: _bilevel_on(xc, oc, radius, ball.inner))


def _flat_on(xc: np.ndarray, oc: np.ndarray, radius: float, q: str) -> None:
    from ..kernels import vector as k

    if xc.size == 0:
        return
    x1, o1 = xc.reshape(-1), oc.reshape(-1)
    fn = {"1": k.project_l1_flat, "2": k.project_l2_flat, "inf": k.project_linf_flat}[q]
    if not fn(x1, radius, o1):
        raise_not_finite()


def project_flat(y, radius, ball: Ball, *, axes=None, levels=None, out=None):
    """Projection onto the l1, l2 or linf ball of ``y`` taken as one flat vector, or, when
    ``axes`` leaves some axes out, onto one ball per index of the other axes (``radius``
    then a float or a float64 array of the batch shape, see
    :mod:`multiproj._cpu.batched`)."""
    if axes is not None and len(axes) < y.ndim:
        from .batched import project_batched

        return project_batched(y, radius, ball.norms[0], axes, out)
    return run_on_groups(y, out, tuple(range(y.ndim)), lambda xc, oc: _flat_on(xc, oc, radius, ball.norms[0]))


def project_exact(y, radius, ball: Ball, *, axes=None, levels=None, out=None):
    """Euclidean projection.  l1,1 is the flat l1 ball; l1,2 is exactly its bi-level
    projection; l1,inf (the remaining ball the registry allows) has its own exact solver."""
    how, b = exact_form(ball)
    if how == "flat":  # l1,1 is the flat l1 ball of every entry
        return project_flat(y, radius, b, axes=axes if ball.is_flat else None, out=out)
    if how == "bilevel":
        return project_bilevel(y, radius, b, axes=axes, out=out)
    return run_on_groups(y, out, axes, lambda xc, oc: _exact_l1inf_on(xc, oc, radius))


def _exact_l1inf_on(xc: np.ndarray, oc: np.ndarray, radius: float) -> None:
    """Exact l1,inf projection of a canonical view (see :mod:`multiproj.kernels.l1inf`)."""
    from ..kernels.l1inf import exact_l1inf_levels

    if xc.size == 0:
        return
    levels = exact_l1inf_levels(xc, radius)
    if levels is None:
        raise_not_finite()
    apply_group_radii(xc, oc, "inf", *levels)


# --------------------------------------------------------------------------- norms
def norm_of(y: np.ndarray, ball: Ball, *, axes=None, levels=None):
    """The norm of ``y`` for a flat or mixed ball; with ``levels`` (checked by the API) the
    multi-level norm of [MLP s.4].  A float, except for batched flat balls (``axes``
    leaving some axes out): the float64 array of the balls' norms, of the batch shape."""
    if levels is not None:
        from .multilevel import multilevel_norm

        return multilevel_norm(y, ball, levels)
    if ball.is_flat and axes is not None and len(axes) < y.ndim:
        from .batched import batched_norms

        return batched_norms(y, ball.norms[0], axes)
    if y.size == 0:
        return 0.0
    if ball.is_flat:
        lay = group_layout(y, tuple(range(y.ndim)))
        v = finite_group_norms(lay.gather(y), ball.norms[0])
        return float(v.sum())
    lay = group_layout(y, axes)
    return float(finite_group_norms(lay.gather(y), ball.inner).sum())

# --------------------------------------------------------------------------- prox
def prox(y: np.ndarray, lam: float, ball: Ball, axes, strength=None) -> np.ndarray:
    """Proximal operator of ``lam * ||.||_ball`` for l1 (``axes`` None), l1,2 and l1,inf
    (see :func:`multiproj.prox`); a new array.  ``strength`` (the caller's raw argument,
    which the torch backend keeps for autograd) is not used here."""
    if y.size == 0:
        return y.copy()
    axes = tuple(range(y.ndim)) if axes is None else axes
    with serial_if_small(y.size):
        return run_on_groups(y, None, axes, lambda xc, oc: _prox_on(xc, oc, lam, ball.inner))


def _prox_on(xc: np.ndarray, oc: np.ndarray, lam: float, q: str) -> None:
    """Prox on a canonical view; ``oc`` may be ``xc`` (a private gathered copy)."""
    if q == "1":
        from ..kernels.vector import soft_threshold_into

        x1 = xc.reshape(-1)
        if not np.isfinite(group_norms(x1.reshape(1, -1, 1), "1")).all():
            raise_not_finite()
        soft_threshold_into(x1, lam, oc.reshape(-1))
        return
    A, _, B = xc.shape
    shape = (A, B) if B > 1 else (A,)
    if q == "2":
        v = finite_group_norms(xc, "2")
        apply_group_radii(xc, oc, "2", v, np.maximum(v - lam, 0.0))
        return
    # l1,inf: clip every group at the threshold of its own l1 projection of radius lam
    from ..kernels.compile import for_threads as pick
    from ..kernels.grouped import l1_thresholds_cols, l1_thresholds_rows

    s = finite_group_norms(xc, "1").reshape(-1)
    m = group_norms(xc, "inf").reshape(-1)
    tau = np.empty(A * B)
    if B > 1:
        pick(l1_thresholds_cols)(xc, lam, tau)
    else:
        pick(l1_thresholds_rows)(xc[:, :, 0], lam, tau)
    # inside the l1 ball the whole group is its own projection: the prox is 0
    tau[s <= lam] = 0.0
    if lam == 0.0:
        tau = m
    apply_group_radii(xc, oc, "inf", m.reshape(shape), tau.reshape(shape))


# --------------------------------------------------------------------------- backend entry points
as_array = as_float_array


def overlaps(y: np.ndarray, out: np.ndarray) -> bool:
    """True when ``out`` shares memory with ``y`` other than as the same view (same first
    element and strides, which the solvers treat as in place).  Exact (``np.shares_memory``)
    where that is cheap; counted as overlapping when the exact answer is too costly."""
    if out is y or (
        out.__array_interface__["data"][0] == y.__array_interface__["data"][0] and out.strides == y.strides
    ):
        return False
    if not np.may_share_memory(y, out):
        return False
    try:
        return bool(np.shares_memory(y, out, max_work=1 << 20))
    except np.exceptions.TooHardError:
        return True


def solve(y: np.ndarray, radius, plan: Plan, out=None) -> np.ndarray:
    """Run the registry's CPU solver of ``plan`` on the checked array ``y`` (``radius`` from
    :meth:`Plan.radius`: a float, or an array of radii for batched flat balls).  An ``out``
    that overlaps ``y`` (a shifted view, ``y.T``, ...) receives a copy of the result
    computed into a buffer, as NumPy's ufuncs do."""
    if y.size == 0:
        return y.copy() if out is None else out
    solver = plan.method.solver("numpy")
    # below the method's cut-off every pass runs on the calling thread (see
    # multiproj._core.threads)
    with serial_if_small(y.size, plan.method.name):
        if out is not None and overlaps(y, out):
            np.copyto(out, solver(y, radius, plan.ball, axes=plan.axes, levels=plan.levels, out=None))
            return out
        return solver(y, radius, plan.ball, axes=plan.axes, levels=plan.levels, out=out)


def project(y: np.ndarray, radius, plan: Plan, out=None) -> np.ndarray:
    """:func:`multiproj.project` of the float array ``y`` (from :func:`as_array`)."""
    return solve(y, plan.radius(radius, y.shape), plan, check_out(out, y))


def norm(y: np.ndarray, plan: Plan):
    """:func:`multiproj.norm` of the float array ``y`` (an array for batched flat balls)."""
    with serial_if_small(y.size):
        return norm_of(y, plan.ball, axes=plan.axes, levels=plan.levels)


def check_inplace(y) -> None:
    """TypeError unless ``y`` can receive its own projection (:func:`multiproj.project_`)."""
    if not isinstance(y, np.ndarray) or y.dtype not in (np.float32, np.float64):
        raise TypeError(
            "The 'y' parameter of project_ must be a float32 or float64 numpy.ndarray (or "
            f"torch tensor) to write into. Got {type(y).__name__}"
            + (f" of dtype {y.dtype}" if hasattr(y, "dtype") else "")
            + " instead."
        )


def inplace():
    """Context of an in-place projection (nothing to set up for arrays)."""
    return contextlib.nullcontext()
