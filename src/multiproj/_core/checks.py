"""Argument checks, done once at the public boundary.

Input policy
------------
* ``y`` must be real.  Its dtype is the one :func:`numpy.asarray` gives it: float32 and
  float64 arrays are used as they are (no copy), and so are float32 scalars and lists of
  float32 numbers (float32 in, float32 out); float16 becomes float32; integer and boolean
  data, Python floats and lists of them become float64.  ``np.longdouble`` (float128)
  raises TypeError: the kernels compute in float64 at most, and narrowing silently would
  lose the precision the caller chose; convert with ``y.astype(np.float64)``.  Complex,
  object and string data raise TypeError, and so do masked arrays (``numpy.ma``), whose
  mask the projections cannot honour (fill or compress them first).
* Any memory layout is read where it lies, without a hidden copy where the kernels only
  read: read-only arrays, memory maps (``np.load(..., mmap_mode="r")``), ``np.frombuffer``,
  broadcast (zero-stride) arrays, Fortran order, negative strides, non-contiguous slices.
  ``y`` is never written unless it is ``out`` (or ``project_`` was called).
* Magnitudes: every finite float32/float64 input is valid, subnormal to the largest
  finite numbers.  l2-type norms are computed from a plain float64 sum of squares, and
  again on entries scaled by the largest magnitude when that sum may have underflowed or
  overflowed, so norms and projections are exact to rounding at any scale.
* NaN or inf anywhere in ``y`` raises ValueError, detected during the first (read-only)
  pass of the kernels, so nothing has been written when the error is raised.
* ``radius`` (``strength`` for prox) must be a real number, finite and >= 0: ValueError
  otherwise (a number too large for a float, e.g. ``10**400``, included; TypeError when it
  is not a number at all).
* Unknown ``ball`` or ``method``, an ``axis`` out of range or repeated (flat balls
  included), a mixed ball on a 0-D or 1-D input: ValueError naming the parameter.
* ``out`` must be a writeable array of the same shape and of the result's dtype whose
  elements have distinct memory locations (no zero or overlapping strides): TypeError or
  ValueError otherwise.  It may be ``y`` itself (in place) or overlap ``y`` in any other
  way (a shifted view, ``y.T``): the result is then computed into a buffer first and
  copied, as NumPy's ufuncs do, so it is the same as with a separate ``out``.
* torch tensors follow the same rules; tensors without data (the ``meta`` device) raise
  TypeError.
* Compiled kernels are cached on disk by Numba (next to the package, in the user's cache
  directory, or in ``NUMBA_CACHE_DIR``).  Where none of these is writable the kernels are
  compiled at every start, with one warning.
"""

from __future__ import annotations

import numbers
import operator

import numpy as np

from .ball import Ball


def as_int(value, message: str) -> int:
    """``value`` as an int (any integer type, not bool), else TypeError(``message``)."""
    if not isinstance(value, bool):
        try:
            return operator.index(value)
        except TypeError:
            pass
    raise TypeError(message)


def _axis_of(a, ndim: int, name: str, given, what: str) -> int:
    """One axis of an ``ndim``-D array, in ``range(ndim)``; ``given`` is the parameter's
    value as passed (for the messages) and ``what`` what it must hold."""
    a = as_int(a, f"The '{name}' parameter must {what}. Got {given!r} instead.")
    if not -ndim <= a < ndim:
        raise ValueError(
            f"The '{name}' parameter must name axes of a {ndim}-D array "
            f"(from {-ndim} to {ndim - 1}). Got {given!r} instead."
        )
    return a % ndim


def check_radius(radius, name: str = "radius") -> float:
    """Return ``radius`` as a float after checking it is finite and >= 0."""
    if isinstance(radius, np.ndarray) and radius.ndim == 0:
        radius = radius.item()
    if isinstance(radius, bool) or not isinstance(radius, numbers.Real):
        # objects that convert cleanly (e.g. one-element tensors) are accepted
        item = getattr(radius, "item", None)
        if callable(item) and getattr(radius, "ndim", 1) == 0:
            try:
                value = item()
            except Exception as exc:  # e.g. a tensor without data (meta device)
                raise TypeError(
                    f"The '{name}' parameter must be a finite real number >= 0. Got "
                    f"{type(radius).__name__} whose value cannot be read ({exc})."
                ) from None
            return check_radius(value, name)
        raise TypeError(
            f"The '{name}' parameter must be a finite real number >= 0. "
            f"Got {radius!r} of type {type(radius).__name__} instead."
        )
    try:
        value = float(radius)
    except OverflowError:  # e.g. 10**400: no float holds it
        value = float("inf")
    if not np.isfinite(value) or value < 0:
        shown = repr(radius)
        if len(shown) > 40:  # 10**400 and the like
            shown = f"{shown[:12]}...{shown[-4:]} ({len(shown)} characters; larger than any float)"
        raise ValueError(
            f"The '{name}' parameter must be a finite real number >= 0. Got {shown} instead."
        )
    return value


def check_radii(radius, shape: tuple[int, ...], axes, flat: bool, ball: str, name: str = "radius"):
    """The radius of a projection of an array of ``shape``: a float (:func:`check_radius`),
    or, for batched flat balls spanning ``axes`` (None: one ball), a float64 array of the
    batch shape (``shape`` without ``axes``) from an array that broadcasts to it or to its
    keepdims form (``axes`` of length 1).  Entries must be finite and >= 0.  Mixed balls
    take a number only."""
    if isinstance(radius, bool) or isinstance(radius, numbers.Real) or getattr(radius, "ndim", None) == 0:
        return check_radius(radius, name)
    if hasattr(radius, "detach") and hasattr(radius, "cpu"):  # a tensor, on any device
        try:
            radius = radius.detach().cpu().numpy()
        except Exception as exc:  # e.g. a tensor without data (meta device)
            raise TypeError(
                f"The '{name}' parameter must be a finite real number >= 0 or an array of them. "
                f"Got {type(radius).__name__} whose values cannot be read ({exc})."
            ) from None
    if not isinstance(radius, (np.ndarray, list, tuple)):
        return check_radius(radius, name)
    try:
        arr = np.asarray(radius, dtype=np.float64)
    except OverflowError:  # e.g. [10**400]: no float holds it
        arr = np.asarray([np.inf])
    except (TypeError, ValueError):
        raise TypeError(
            f"The '{name}' parameter must be a finite real number >= 0 or an array of them. "
            f"Got {_shown(radius)} instead."
        ) from None
    if not flat:
        raise ValueError(
            f"The '{name}' parameter must be a number for the mixed ball {ball!r}. Got an array "
            f"of shape {arr.shape} instead; array radii are for the flat balls 'l1', 'l2' and "
            "'linf', one per ball of a batch (see 'axis')."
        )
    if arr.size and not (np.isfinite(arr).all() and (arr >= 0).all()):
        raise ValueError(
            f"The '{name}' parameter must hold finite real numbers >= 0. Got {_shown(radius)} instead."
        )
    axes = tuple(range(len(shape))) if axes is None else tuple(axes)
    batch = tuple(n for k, n in enumerate(shape) if k not in axes)
    keep = tuple(1 if k in axes else n for k, n in enumerate(shape))
    for target in (batch, keep):
        try:
            out = np.broadcast_to(arr, target)
        except ValueError:
            continue
        if not batch:
            return float(out.reshape(()))
        return out.reshape(batch)
    raise ValueError(
        f"The '{name}' parameter must be a number or an array that broadcasts to the batch "
        f"shape {batch} (the shape of the data without the balls' axes {axes}) or to {keep}. "
        f"Got an array of shape {arr.shape} instead."
    )


def _shown(value) -> str:
    """``repr(value)`` cut to about 80 characters (arrays of radii can be long)."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}...{text[-12:]} ({len(text)} characters)"


def check_axes(axis, ndim: int, name: str = "axis") -> tuple[int, ...]:
    """Normalise an int or tuple of ints to sorted non-negative axes of an ``ndim`` array."""
    items = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = [_axis_of(a, ndim, name, axis, "be an int or a tuple of ints") for a in items]
    if len(set(out)) != len(out):
        raise ValueError(f"The '{name}' parameter names an axis twice. Got {axis!r} instead.")
    return tuple(sorted(out))


def as_float_array(y, name: str = "y") -> np.ndarray:
    """Return ``y`` as a float32/float64 ndarray (no copy when it already is one), with the
    float dtype of ``np.asarray(y)`` (see the input policy above)."""
    if isinstance(y, np.ma.MaskedArray):
        raise TypeError(
            f"The '{name}' parameter must be a plain array: masked arrays are not supported "
            "(the projection would ignore the mask). Got a numpy.ma.MaskedArray; pass "
            "y.filled(value) or y.compressed() instead."
        )
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
        if arr.dtype.itemsize > 8:
            raise TypeError(
                f"The '{name}' parameter must be float32 or float64 (or convertible without "
                f"loss). Got an array of dtype {arr.dtype} (np.longdouble), which the kernels "
                "cannot compute in its own precision; convert it with y.astype(np.float64)."
            )
        return arr if arr.dtype.itemsize == 4 else arr.astype(np.float32 if arr.dtype.itemsize < 4 else np.float64)
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
    if has_internal_overlap(out.shape, out.strides, out.itemsize):
        raise ValueError(
            "The 'out' parameter must have distinct memory locations for its elements. Got "
            f"an array with strides {out.strides} for shape {out.shape}, whose elements "
            "share memory (e.g. a broadcast or as_strided view)."
        )
    return out


def has_internal_overlap(shape, strides, itemsize: int = 1) -> bool:
    """True when two elements of an array of ``shape``, ``strides`` and ``itemsize`` (both
    in bytes, or both in elements with ``itemsize=1``) share memory.

    Strides that nest (sorted by size, each at least ``itemsize`` plus the extent of the
    axes below it), as those of every array made by slicing, transposing or reshaping a
    fresh one, cannot overlap; a zero stride on an axis of length > 1 always does.  Other
    layouts (``as_strided`` views) are checked exactly, element by element, up to 2**22
    elements, and counted as overlapping beyond."""
    axes = sorted((abs(st), n) for n, st in zip(shape, strides) if n > 1)
    extent = itemsize
    nests = True
    for st, n in axes:
        if st == 0:
            return True
        if st < extent:
            nests = False
        extent += st * (n - 1)
    if nests:
        return False
    if int(np.prod([n for _, n in axes], dtype=np.int64)) > 1 << 22:
        return True
    offsets = np.zeros(1, dtype=np.int64)
    for st, n in axes:
        offsets = (offsets[:, None] + np.arange(n, dtype=np.int64) * st).ravel()
    offsets.sort()
    return bool(np.any(np.diff(offsets) < itemsize))


def flat_axis(axis, ndim: int, name: str = "axis") -> tuple[int, ...]:
    """The sorted axes that every flat ball spans in an ``ndim``-D array: ``axis`` None means
    every axis (one ball); fewer axes leave batch axes, each index of which is one ball.  A
    0-D array takes ``axis`` 0, -1 or () too (its one entry is the ball).  ValueError naming
    the parameter for an axis the array does not have or an axis named twice."""
    if axis is None:
        return tuple(range(ndim))
    if ndim == 0:
        if isinstance(axis, bool) or not (axis == () or (isinstance(axis, numbers.Integral) and axis in (0, -1))):
            raise ValueError(f"The '{name}' parameter must be 0 or None for a 0-D array. Got {axis!r} instead.")
        return ()
    return check_axes(axis, ndim, name)


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
            a = _axis_of(a, ndim, name, levels, "hold ints or tuples of ints")
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


def check_every(every) -> int:
    """``every`` (project after every ``every``-th optimiser step) as an int >= 1."""
    message = f"The 'every' parameter must be an int >= 1. Got {every!r} instead."
    every = as_int(every, message)  # TypeError for a non-integer
    if every < 1:
        raise ValueError(message)
    return every
