"""The plan of one call: which solver, which ball, and which axes every norm reduces.

Every entry point (:func:`multiproj.project`, :func:`~multiproj.norm`,
:func:`~multiproj.prox`, the torch training hooks, :mod:`multiproj.dask`,
:mod:`multiproj.distributed`) calls :func:`resolve` once; the backends trust the plan.
"""

from __future__ import annotations

from dataclasses import dataclass

from .ball import Ball, parse_ball
from .checks import check_axes, check_levels, check_radii, flat_axis
from .registry import Method, get_method


@dataclass(frozen=True)
class Plan:
    """A legal combination of method, ball and axes for an array of ``ndim`` dimensions.

    Attributes
    ----------
    method : Method
        The registry entry.
    ball : Ball
        The parsed ball.
    ndim : int
        Number of dimensions of the data.
    axes : tuple of int or None
        Sorted axes reduced by the inner norm of a mixed ball (bi-level and exact
        methods); for a flat ball the axes that every ball spans (all axes: one ball; fewer:
        the other axes index independent balls, see :attr:`batched`); None for the
        multi-level method.
    levels : tuple of tuple of int or None
        The multi-level method only: the sorted axes of every level, outermost first.
    """

    method: Method
    ball: Ball
    ndim: int
    axes: tuple[int, ...] | None = None
    levels: tuple[tuple[int, ...], ...] | None = None

    @property
    def batched(self) -> bool:
        """True for a flat ball whose ``axes`` leave some axes out: one ball per index of
        the other (batch) axes."""
        return self.ball.is_flat and self.axes is not None and len(self.axes) < self.ndim

    def batch_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape that indexes the balls: ``shape`` without the balls' axes (``()`` for
        one ball)."""
        if not self.batched:
            return ()
        return tuple(n for k, n in enumerate(shape) if k not in self.axes)

    def radius(self, radius, shape: tuple[int, ...]):
        """The checked ``radius`` of a call on an array of ``shape``: a float, or for
        batched flat balls possibly a float64 array of :meth:`batch_shape`."""
        return check_radii(radius, shape, self.axes if self.batched else None,
                           self.ball.is_flat, self.ball.name)

    def chain(self) -> tuple[tuple[tuple[int, ...], ...], tuple[str, ...]]:
        """The plan as a chain of levels, outermost first, and their norms.

        The multi-level form every method shares: a mixed ball reducing ``axes`` is the two
        levels ``(group axes, axes)``; a flat ball (and l1,1 with the exact method, which
        is the flat l1 ball) is one group holding every axis, ``((), every axis)``.
        """
        every = tuple(range(self.ndim))
        if self.batched:
            raise ValueError(
                f"Batched flat balls (the ball {self.ball.name!r} over axis={self.axes} of a "
                f"{self.ndim}-D array) are not supported here; use axis=None (one ball over "
                "every axis), or multiproj.project on the whole array."
            )
        if self.levels is not None:
            return self.levels, self.ball.norms
        if self.ball.is_flat:
            return ((), every), ("1", self.ball.norms[0])
        if self.method.name == "exact" and self.ball.norms == ("1", "1"):
            return ((), every), ("1", "1")
        return (tuple(k for k in every if k not in self.axes), self.axes), self.ball.norms


def check_supports(method: Method, ball: Ball) -> None:
    """ValueError unless the registry entry ``method`` supports ``ball``."""
    if not method.supports(ball):
        raise ValueError(
            f"method={method.name!r} does not support the ball {ball.name!r}; "
            f"it supports {', '.join(method.balls)}."
        )


def resolve(method, ball, ndim: int, axis=None, levels=None) -> Plan:
    """Check that ``method``, ``ball``, ``axis`` and ``levels`` go together for an array of
    ``ndim`` dimensions, and return the :class:`Plan`.

    The one rule for ``axis`` (every entry point calls this function):

    * mixed balls (bi-level and exact methods): the axes the inner norm reduces;
      ``None`` means ``0``;
    * flat balls (``"l1"``, ``"l2"``, ``"linf"``): the axes that every ball spans;
      ``None`` means every axis (one ball); fewer axes make one independent ball per
      index of the other axes (batched balls);
    * ``method="multilevel"``: not used (``levels`` says which axes every norm reduces).

    An axis out of range or named twice raises ValueError naming ``'axis'``.  ``levels``
    is used only by the multi-level method (ValueError with any other method).
    """
    m = get_method(method)
    b = parse_ball(ball)
    multilevel = m.name == "multilevel"
    if levels is not None and not multilevel:
        raise ValueError(
            f"The 'levels' parameter is used only by method='multilevel'. Got levels={levels!r} "
            f"with method={m.name!r} instead; use 'axis' for this method."
        )
    check_supports(m, b)
    if multilevel:  # 'axis' is not used: the levels say which axes every norm reduces
        return Plan(m, b, ndim, levels=check_levels(levels, ndim, b))
    if b.is_flat:  # the balls span 'axis' (None: every axis, one ball)
        return Plan(m, b, ndim, axes=flat_axis(axis, ndim))
    if ndim < 2:
        raise ValueError(
            f"The mixed ball {b.name!r} needs an array with at least 2 dimensions "
            f"(groups and entries). Got a {ndim}-D array; use a flat ball such as 'l1' instead."
        )
    return Plan(m, b, ndim, axes=check_axes(0 if axis is None else axis, ndim))


def resolve_norm(ball, ndim: int, axis=None, levels=None) -> Plan:
    """The plan of :func:`multiproj.norm`: the multi-level norm with ``levels`` or for a
    ball of three norms or more, else the norm of the flat or l1,q ball reducing ``axis``."""
    b = parse_ball(ball)
    if levels is not None or b.order > 2:
        if b.is_flat:
            check_levels(levels, ndim, b)  # a flat ball has no levels: says so
        return resolve("multilevel", b, ndim, levels=levels)
    return resolve("exact", b, ndim, axis=axis)


__all__ = ["Plan", "resolve", "resolve_norm", "Method"]
