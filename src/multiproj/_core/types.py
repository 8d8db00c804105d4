"""Type aliases of the public signatures (for type checkers and readers; nothing here runs).

torch is an optional dependency: it is imported for the type checker only, and the public
modules write ``from __future__ import annotations`` so that the aliases are never evaluated
at run time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    import torch

    from .ball import Ball

#: an array the library returns: a NumPy array, or a tensor for a tensor input
Array = Union[NDArray[Any], "torch.Tensor"]
#: data the library accepts: anything ``numpy.asarray`` reads, or a tensor
ArrayIn = Union[ArrayLike, "torch.Tensor"]
#: an array written in place: ``project_`` returns the array it was given
InplaceArray = TypeVar("InplaceArray", NDArray[Any], "torch.Tensor")
#: a radius or strength: a real number or a 0-d tensor (a learnt radius)
Scalar = Union[float, np.floating, np.integer, "torch.Tensor"]
#: a ball: its name (``"l1,inf"``) or a parsed ball
BallLike = Union[str, "Ball"]
#: the axes reduced by the inner norm of a mixed ball
Axis = Union[int, Sequence[int], None]
#: the levels of the multi-level method, outermost first: an axis or a tuple of axes each
Levels = Union[Sequence[Union[int, Sequence[int]]], None]

__all__ = ["Array", "ArrayIn", "InplaceArray", "Scalar", "BallLike", "Axis", "Levels", "ArrayLike", "NDArray"]
