"""Sparsity schedules: the share of the way from dense to the target reached at a step.

A schedule is a map ``f`` from the progress ``p`` in ``[0, 1]`` to a share ``f(p)`` in
``[0, 1]`` with ``f(0) = 0`` (dense) and ``f(1) = 1`` (the target): ``"linear"`` is
``f(p) = p``, ``"cosine"`` is ``f(p) = (1 - cos(pi p)) / 2`` (slow start and end),
``"constant"`` is ``f = 1`` (the target from the first projection on); any callable with
the same contract may be given.

With ``warmup`` steps ``W`` and ``steps`` annealing steps ``S``, the ``t``-th optimiser step
(1-based) projects only when ``t > W``, at progress ``p = min(1, (t - W) / S)`` (``p = 1``
when ``S = 0``).  A target ``keep = k`` groups out of ``n`` gives the count
``k_t = k + ceil((n - k) (1 - f(p)))``: ``n`` (nothing removed) at ``p = 0``, ``k`` at
``p = 1``, never below ``k``.  A target ``radius = r`` starts from ``r_0 = ||w||``, the
norm of the weight at the first projection, and gives ``r_t = r_0 + (r - r_0) f(p)``.
"""

from __future__ import annotations

import math
import numbers
import operator

SCHEDULES = ("constant", "linear", "cosine")


def _constant(p: float) -> float:
    return 1.0


def _linear(p: float) -> float:
    return p


def _cosine(p: float) -> float:
    return 0.5 * (1.0 - math.cos(math.pi * p))


_BUILTIN = {"constant": _constant, "linear": _linear, "cosine": _cosine}


class Schedule:
    """``warmup``, ``steps`` and the shape ``f`` of a schedule (see the module docstring)."""

    __slots__ = ("name", "fn", "warmup", "steps")

    def __init__(self, fn, warmup: int, steps: int, name: str):
        self.fn, self.warmup, self.steps, self.name = fn, warmup, steps, name

    def projects_at(self, t: int) -> bool:
        return t > self.warmup

    def share(self, t: int) -> float:
        """``f(p)`` at step ``t`` (checked to be a finite number in [0, 1])."""
        p = 1.0 if self.steps == 0 else min(1.0, max(0.0, (t - self.warmup) / self.steps))
        s = self.fn(p)
        if isinstance(s, bool) or not isinstance(s, numbers.Real) or not 0.0 <= float(s) <= 1.0:
            raise ValueError(
                f"The schedule {self.name!r} must return a number in [0, 1] (the share of the way "
                f"from dense to the target). Got {s!r} at progress {p:g}."
            )
        return float(s)

    def keep_count(self, t: int, n: int, k: int) -> int:
        s = self.share(t)
        return min(n, k + math.ceil((n - k) * (1.0 - s) - 1e-9))

    def radius(self, t: int, r0: float, r: float) -> float:
        return r if r >= r0 else r0 + (r - r0) * self.share(t)

    def __repr__(self) -> str:
        return f"Schedule({self.name!r}, warmup={self.warmup}, steps={self.steps})"


def _count(value, name: str, where: str) -> int:
    msg = f"{where}: the '{name}' field must be an int >= 0. Got {value!r} instead."
    if isinstance(value, bool):
        raise TypeError(msg)
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(msg) from None
    if value < 0:
        raise ValueError(msg)
    return value


def make_schedule(schedule, *, warmup=0, steps=0, where: str = "") -> Schedule:
    """Check and build a :class:`Schedule` (``where`` prefixes error messages)."""
    warmup = _count(warmup, "warmup", where)
    steps = _count(steps, "steps", where)
    if schedule is None:
        schedule = "linear" if steps else "constant"
    if callable(schedule):
        return Schedule(schedule, warmup, steps, getattr(schedule, "__name__", "callable"))
    if not isinstance(schedule, str) or schedule not in _BUILTIN:
        raise ValueError(
            f"{where}: the 'schedule' field must be one of {list(SCHEDULES)} or a callable "
            f"p -> share in [0, 1]. Got {schedule!r} instead."
        )
    return Schedule(_BUILTIN[schedule], warmup, steps, schedule)
