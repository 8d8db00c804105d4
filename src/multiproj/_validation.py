"""Input checks for the public API, done once at the boundary (STYLE s.9).

Input policy
------------
* ``y`` must be real.  float32 and float64 arrays are used as they are (float32 stays
  float32).  Integer, boolean and float16 arrays, lists and scalars are converted to a new
  float64 array (float16 to float32).  Complex, object and string data raise TypeError.
* NaN or inf anywhere in ``y`` raises ValueError, detected during the first (read-only)
  pass of the kernels, so nothing has been written when the error is raised.
* ``radius`` (``strength`` for prox) must be a real number, finite and >= 0: ValueError
  otherwise (TypeError when it is not a number at all).
* Unknown ``ball`` or ``method``, an ``axis`` out of range or repeated, a mixed ball on a
  0-D or 1-D input: ValueError naming the parameter.  ``out`` must be an array of the same
  shape and of the result's dtype: TypeError or ValueError otherwise.
"""

from __future__ import annotations

import numbers
import operator
from dataclasses import dataclass

import numpy as np

_NORM_ALIASES = {"1": "1", "2": "2", "inf": "inf", "infinity": "inf", "∞": "inf"}


@dataclass(frozen=True)
class Ball:
    """A norm ball specification: the norms from the outermost level inwards.

    ``("1",)``, ``("2",)``, ``("inf",)`` are the flat balls; ``("1", q)`` the mixed l1,q
    balls; ``("1", q2, ..., qk)`` the multi-level balls of order k.
    """

    norms: tuple[str, ...]

    @property
    def name(self) -> str:
        return "l" + ",".join(self.norms)

    @property
    def is_flat(self) -> bool:
        return len(self.norms) == 1

    @property
    def order(self) -> int:
        return len(self.norms)

    @property
    def inner(self) -> str:
        return self.norms[-1]

    def __str__(self) -> str:
        return self.name


def parse_ball(ball) -> Ball:
    """Parse ``"l1"``, ``"l2"``, ``"linf"``, ``"l1,inf"``, ``"l1,inf,inf"``, ... into a Ball."""
    if isinstance(ball, Ball):
        return ball
    if not isinstance(ball, str):
        raise TypeError(
            f"The 'ball' parameter must be a string such as 'l1', 'l1,inf' or 'l1,2'. "
            f"Got {ball!r} of type {type(ball).__name__} instead."
        )
    text = ball.strip().lower().replace(" ", "")
    parts = text[1:].split(",") if text.startswith("l") else []
    norms = tuple(_NORM_ALIASES.get(p) for p in parts)
    ok = bool(norms) and None not in norms and (len(norms) == 1 or norms[0] == "1")
    if not ok:
        raise ValueError(
            "The 'ball' parameter must be 'l1', 'l2', 'linf', or a mixed ball whose outer "
            "norm is l1 and inner norms are 1, 2 or inf, such as 'l1,inf', 'l1,1', 'l1,2' "
            f"or 'l1,inf,inf'. Got {ball!r} instead."
        )
    return Ball(norms)


def check_radius(radius, name: str = "radius") -> float:
    """Return ``radius`` as a float after checking it is finite and >= 0."""
    if isinstance(radius, np.ndarray) and radius.ndim == 0:
        radius = radius.item()
    if isinstance(radius, bool) or not isinstance(radius, numbers.Real):
        # objects that convert cleanly (e.g. one-element tensors) are accepted
        item = getattr(radius, "item", None)
        if callable(item) and getattr(radius, "ndim", 1) == 0:
            return check_radius(item(), name)
        raise TypeError(
            f"The '{name}' parameter must be a finite real number >= 0. "
            f"Got {radius!r} of type {type(radius).__name__} instead."
        )
    value = float(radius)
    if not np.isfinite(value) or value < 0:
        raise ValueError(
            f"The '{name}' parameter must be a finite real number >= 0. Got {radius!r} instead."
        )
    return value


def check_axes(axis, ndim: int, name: str = "axis") -> tuple[int, ...]:
    """Normalise an int or tuple of ints to sorted non-negative axes of an ``ndim`` array."""
    items = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in items:
        if isinstance(a, bool):
            raise TypeError(f"The '{name}' parameter must be an int or a tuple of ints. Got {axis!r} instead.")
        try:
            a = operator.index(a)
        except TypeError:
            raise TypeError(
                f"The '{name}' parameter must be an int or a tuple of ints. Got {axis!r} instead."
            ) from None
        if not -ndim <= a < ndim:
            raise ValueError(
                f"The '{name}' parameter must name axes of a {ndim}-D array "
                f"(from {-ndim} to {ndim - 1}). Got {axis!r} instead."
            )
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"The '{name}' parameter names an axis twice. Got {axis!r} instead.")
    return tuple(sorted(out))


def as_float_array(y, name: str = "y") -> np.ndarray:
    """Return ``y`` as a float32/float64 ndarray (no copy when it already is one)."""
    if isinstance(y, np.ndarray) and y.dtype in (np.float32, np.float64):
        return y
    try:
        arr = np.asarray(y)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"The '{name}' parameter must be a real array. Got {type(y).__name__}: {exc}") from None
    kind = arr.dtype.kind
    if kind in "biu":
        return arr.astype(np.float64)
    if kind == "f":
        return arr.astype(np.float32 if arr.dtype.itemsize < 4 else np.float64)
    raise TypeError(
        f"The '{name}' parameter must be a real (float, int or bool) array. "
        f"Got an array of dtype {arr.dtype} instead."
    )


def check_out(out, y: np.ndarray) -> np.ndarray | None:
    """Check that ``out`` can receive a result for ``y``: same shape, same float dtype."""
    if out is None:
        return None
    if not isinstance(out, np.ndarray):
        raise TypeError(f"The 'out' parameter must be a numpy.ndarray. Got {type(out).__name__} instead.")
    if out.shape != y.shape:
        raise ValueError(f"The 'out' parameter must have shape {y.shape}. Got shape {out.shape} instead.")
    if out.dtype != y.dtype:
        raise TypeError(f"The 'out' parameter must have dtype {y.dtype}. Got dtype {out.dtype} instead.")
    if not out.flags.writeable:
        raise ValueError("The 'out' parameter must be writeable. Got a read-only array.")
    return out


def raise_not_finite(name: str = "y") -> None:
    raise ValueError(f"The '{name}' parameter must contain only finite values. Got NaN or inf.")


def check_levels(levels, ndim: int, ball: Ball, name: str = "levels") -> tuple[tuple[int, ...], ...]:
    """Normalise the ``levels`` of a multi-level ball to one sorted tuple of axes per level.

    ``levels`` lists, from the outermost level to the innermost, the axis (int) or axes
    (tuple of ints, flattened into one level) of an ``ndim``-D array that each level spans.
    It must have one entry per norm of ``ball`` and name every axis exactly once.  None
    means ``(0, 1, ..., ndim - 1)``, which needs ``ndim == ball.order``.
    """
    if ball.is_flat:
        raise ValueError(
            f"The '{name}' parameter needs a mixed ball such as 'l1,inf' or 'l1,inf,inf'. "
            f"Got the flat ball {ball.name!r} with {name}={levels!r} instead."
        )
    k = ball.order
    if levels is None:
        if ndim != k:
            raise ValueError(
                f"The ball {ball.name!r} has {k} levels but the array is {ndim}-D; pass "
                f"'{name}' (one axis or tuple of axes per level, outermost first) to say "
                f"which axes each level spans. Got {name}=None instead."
            )
        return tuple((a,) for a in range(ndim))
    if not isinstance(levels, (tuple, list)):
        raise TypeError(
            f"The '{name}' parameter must be a tuple with one axis (int) or tuple of axes per "
            f"level, outermost first. Got {levels!r} of type {type(levels).__name__} instead."
        )
    if len(levels) != k:
        raise ValueError(
            f"The '{name}' parameter must have one entry per norm of the ball {ball.name!r} "
            f"({k}). Got {levels!r} with {len(levels)} entries instead."
        )
    out = []
    seen = []
    for lvl in levels:
        items = lvl if isinstance(lvl, (tuple, list)) else (lvl,)
        if not items:
            raise ValueError(f"The '{name}' parameter has an empty level. Got {levels!r} instead.")
        axes = []
        for a in items:
            if isinstance(a, bool):
                a = None
            try:
                a = operator.index(a)
            except TypeError:
                raise TypeError(
                    f"The '{name}' parameter must hold ints or tuples of ints. Got {levels!r} instead."
                ) from None
            if not -ndim <= a < ndim:
                raise ValueError(
                    f"The '{name}' parameter must name axes of a {ndim}-D array "
                    f"(from {-ndim} to {ndim - 1}). Got {levels!r} instead."
                )
            a %= ndim
            if a in seen:
                raise ValueError(f"The '{name}' parameter names axis {a} twice. Got {levels!r} instead.")
            seen.append(a)
            axes.append(a)
        out.append(tuple(sorted(axes)))
    missing = sorted(set(range(ndim)) - set(seen))
    if missing:
        raise ValueError(
            f"The '{name}' parameter must name every axis of the {ndim}-D array exactly once; "
            f"axes {missing} are missing. Got {levels!r} instead."
        )
    return tuple(out)
