"""The optimiser step post-hook that the projection handles of :mod:`multiproj.nn` share."""

from __future__ import annotations

__all__ = ["StepHook"]


class StepHook:
    """A handle that runs ``self._after_step(optimizer, args, kwargs)`` after every
    ``optimizer.step()`` until :meth:`remove` is called."""

    _hook = None

    def _register(self, optimizer) -> None:
        self._hook = optimizer.register_step_post_hook(self._after_step)

    def _after_step(self, optimizer, args, kwargs) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def remove(self) -> None:
        """Stop projecting after optimiser steps (idempotent)."""
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    @property
    def active(self) -> bool:
        """True until :meth:`remove` is called."""
        return self._hook is not None
