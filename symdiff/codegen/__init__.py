"""Code generation: lowering graphs to Numba kernels, and the helpers kernels call."""
