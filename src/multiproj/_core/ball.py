"""Norm balls: ``"l1"``, ``"l2"``, ``"linf"``, the mixed ``"l1,q"`` and the multi-level
``"l1,q2,...,qk"``, parsed once into a :class:`Ball`."""

from __future__ import annotations

from dataclasses import dataclass

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


def exact_form(ball: Ball) -> tuple[str, Ball]:
    """How the Euclidean projection onto ``ball`` is computed.

    ``("flat", b)`` for the flat balls and for l1,1 (the flat l1 ball of every entry),
    ``("bilevel", ball)`` for l1,2 (its bi-level projection is the exact one: the groups'
    l2 norms are projected onto the l1 ball and every group is scaled to its radius), and
    ``("exact", ball)`` for l1,inf, which needs its own solver."""
    if ball.is_flat:
        return "flat", ball
    if ball.norms == ("1", "1"):
        return "flat", Ball(("1",))
    if ball.norms == ("1", "2"):
        return "bilevel", ball
    return "exact", ball
