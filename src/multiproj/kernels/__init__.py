"""Private Numba kernels.  They trust their inputs: validation happens in the public API.

Importing this package imports Numba; the public API imports it lazily on the first call.
"""
