"""The plan of one call: which solver, which ball, and which axes every norm reduces.

Every entry point (:func:`multiproj.project`, :func:`~multiproj.norm`,
:func:`~multiproj.prox`, the torch training hooks, :mod:`multiproj.dask`,
:mod:`multiproj.distributed`) calls :func:`resolve` once; the backends trust the plan.
"""

from __future__ import annotations

from dataclasses import dataclass

from .ball import Ball, parse_ball
from .checks import check_axes, check_levels, flat_axis
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
        methods); None for flat balls and for the multi-level method.
    levels : tuple of tuple of int or None
        The multi-level method only: the sorted axes of every level, outermost first.
    """

    method: Method
    ball: Ball
    ndim: int
    axes: tuple[int, ...] | None = None
    levels: tuple[tuple[int, ...], ...] | None = None

    def chain(self) -> tuple[tuple[tuple[int, ...], ...], tuple[str, ...]]:
        """The plan as a chain of levels, outermost first, and their norms.

        The multi-level form every method shares: a mixed ball reducing ``axes`` is the two
        levels ``(group axes, axes)``; a flat ball (and l1,1 with the exact method, which
        is the flat l1 ball) is one group holding every axis, ``((), every axis)``.
        """
        every = tuple(range(self.ndim))
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


def resolve(method, ball, ndim: int, axis=0, levels=None) -> Plan:
    """Check that ``method``, ``ball``, ``axis`` and ``levels`` go together for an array of
    ``ndim`` dimensions, and return the :class:`Plan`.

    ``axis`` is used by mixed balls with the bi-level and exact methods; ``levels`` only
    by the multi-level method (ValueError with any other method).
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
    if b.is_flat:  # one ball over every axis: 'axis' may only name axes that exist
        flat_axis(axis, ndim)
        return Plan(m, b, ndim)
    if ndim < 2:
        raise ValueError(
            f"The mixed ball {b.name!r} needs an array with at least 2 dimensions "
            f"(groups and entries). Got a {ndim}-D array; use a flat ball such as 'l1' instead."
        )
    return Plan(m, b, ndim, axes=check_axes(axis, ndim))


def resolve_norm(ball, ndim: int, axis=0, levels=None) -> Plan:
    """The plan of :func:`multiproj.norm`: the multi-level norm with ``levels`` or for a
    ball of three norms or more, else the norm of the flat or l1,q ball reducing ``axis``."""
    b = parse_ball(ball)
    if levels is not None or b.order > 2:
        if b.is_flat:
            check_levels(levels, ndim, b)  # a flat ball has no levels: says so
        return resolve("multilevel", b, ndim, levels=levels)
    return resolve("exact", b, ndim, axis=axis)


__all__ = ["Plan", "resolve", "resolve_norm", "Method"]
