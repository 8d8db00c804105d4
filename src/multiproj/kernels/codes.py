"""Codes shared by the kernels: the inner norm ``q`` of a group, and the sign mask of a
float64 seen as int64 bits."""

from __future__ import annotations

import numpy as np

#: inner norm codes (``q``) passed to the group kernels
Q1, Q2, QINF = 1, 2, 3
#: norm name -> code
Q_CODES = {"1": Q1, "2": Q2, "inf": QINF}

#: |x| of a float64 as int64 bits: clear the sign bit
ABS_BITS64 = np.int64(0x7FFFFFFFFFFFFFFF)
#: the same for a float32 seen as int32 bits
ABS_BITS32 = np.int32(0x7FFFFFFF)
