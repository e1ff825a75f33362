"""Running generated kernels: the disk cache and compiled functions."""
