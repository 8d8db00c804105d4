"""The CPU backend: Numba kernels driven on canonical views of NumPy arrays (and of the
storage of CPU tensors)."""
