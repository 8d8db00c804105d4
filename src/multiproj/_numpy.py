"""NumPy backend: drives the Numba kernels on canonical views of validated arrays.

Every solver has the signature ``solve(y, radius, ball, *, axes, levels, out)`` where ``y``
is a float32/float64 ndarray checked by the API, ``axes`` the sorted axes the inner norm
reduces, and ``out`` None (allocate) or a checked array (possibly ``y`` itself).  It returns
the result.  Non-finite input is detected in the first, read-only pass and raises before
anything is written.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._layout import group_layout
from ._validation import Ball, raise_not_finite

Q_CODES = {"1": 1, "2": 2, "inf": 3}


def run_on_groups(y: np.ndarray, out, axes: tuple[int, ...], fn: Callable) -> np.ndarray:
    """Call ``fn(xc, oc)`` on canonical ``(A, N, B)`` views of ``y`` and of the output.

    Views are used whenever the memory layout allows; otherwise ``y`` is gathered into a
    C-ordered copy, which then also serves as the output buffer.
    """
    lay = group_layout(y, axes)
    xc = lay.view(y)
    copied = xc is None
    if copied:
        xc = lay.gather(y)
    if out is None:
        oc = xc if copied else np.empty(lay.canonical, dtype=y.dtype)
        fn(xc, oc)
        return lay.unview(oc)
    oc = lay.view(out)
    if oc is None:
        oc = xc if copied else np.empty(lay.canonical, dtype=y.dtype)
        fn(xc, oc)
        np.copyto(out, lay.unview(oc))
    else:
        fn(xc, oc)
    return out


# --------------------------------------------------------------------------- group norms
def group_norms(xc: np.ndarray, q: str) -> np.ndarray:
    """Inner norms of the canonical view: shape ``(A,)`` (rows layout) or ``(A, B)``."""
    from .kernels.grouped import group_norms_cols, group_norms_rows

    A, N, B = xc.shape
    if B == 1:
        v = np.empty(A)
        group_norms_rows(xc[:, :, 0], Q_CODES[q], v)
    else:
        v = np.empty((A, B))
        group_norms_cols(xc, Q_CODES[q], v)
    return v


def finite_group_norms(xc: np.ndarray, q: str) -> np.ndarray:
    v = group_norms(xc, q)
    if not np.isfinite(v).all():
        raise_not_finite()
    return v


def apply_group_radii(xc: np.ndarray, oc: np.ndarray, q: str, v: np.ndarray, u: np.ndarray) -> None:
    """Project each group onto its own l_q ball: group ``g`` to radius ``u[g]``."""
    from .kernels.grouped import apply_radii_cols, apply_radii_rows

    if xc.shape[2] == 1:
        apply_radii_rows(xc[:, :, 0], Q_CODES[q], v, u, oc[:, :, 0])
    else:
        apply_radii_cols(xc, Q_CODES[q], v, u, oc)


def outer_l1(v: np.ndarray, radius: float) -> tuple[np.ndarray, bool]:
    """``(P_l1(v, radius), inside)`` for a non-negative vector (any shape) of group norms."""
    from .kernels.grouped import outer_l1 as _outer

    return _outer(np.ascontiguousarray(v, dtype=np.float64), float(radius))


# --------------------------------------------------------------------------- solvers
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
    from .kernels import l1 as k

    if xc.size == 0:
        return
    x1, o1 = xc.reshape(-1), oc.reshape(-1)
    fn = {"1": k.project_l1_flat, "2": k.project_l2_flat, "inf": k.project_linf_flat}[q]
    if not fn(x1, radius, o1):
        raise_not_finite()


def project_flat(y, radius, ball: Ball, *, axes=None, levels=None, out=None):
    """Projection onto the l1, l2 or linf ball of ``y`` taken as one flat vector."""
    return run_on_groups(y, out, tuple(range(y.ndim)), lambda xc, oc: _flat_on(xc, oc, radius, ball.norms[0]))


def project_exact(y, radius, ball: Ball, *, axes=None, levels=None, out=None):
    """Euclidean projection.  l1,1 is the flat l1 ball; l1,2 is exactly its bi-level
    projection; l1,inf has its own exact solver."""
    if ball.is_flat:
        return project_flat(y, radius, ball, out=out)
    if ball.norms == ("1", "1"):
        return project_flat(y, radius, Ball(("1",)), out=out)
    if ball.norms == ("1", "2"):
        return project_bilevel(y, radius, ball, axes=axes, out=out)
    if ball.norms == ("1", "inf"):
        raise NotImplementedError(
            "The exact projection onto the l1,inf ball is not available yet; "
            "use method='bilevel' for the bi-level l1,inf projection."
        )
    raise ValueError(f"method='exact' does not support the ball {ball.name!r}.")


# --------------------------------------------------------------------------- norms
def norm(y: np.ndarray, ball: Ball, *, axes=None, levels=None) -> float:
    """The norm of ``y`` for a flat or mixed ball."""
    if y.size == 0:
        return 0.0
    if ball.is_flat:
        lay = group_layout(y, tuple(range(y.ndim)))
        v = finite_group_norms(lay.gather(y), ball.norms[0])
        return float(v.sum())
    lay = group_layout(y, axes)
    return float(finite_group_norms(lay.gather(y), ball.inner).sum())
