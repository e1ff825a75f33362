"""Small Numba helpers that generated kernels call (beyond fastmath and BLAS)."""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def logsumexp_rows(x):
    """log(sum(exp(row))) of each row of a C-contiguous 2-D array, max-shifted for stability."""
    rows, cols = x.shape
    out = np.empty(rows, dtype=x.dtype)
    for r in range(rows):
        m = x[r, 0]
        for c in range(1, cols):
            v = x[r, c]
            if v > m or v != v:
                m = v
        if not np.isfinite(m):  # inf, -inf (all entries -inf) or nan
            out[r] = m
            continue
        total = 0.0
        for c in range(cols):
            total += np.exp(x[r, c] - m)
        out[r] = m + np.log(total)
    return out


@numba.njit(cache=True, nogil=True)
def rows_of(x, first, batch):
    """Rows ``first .. first+batch`` of ``x``, wrapping around past the end
    (all of ``x`` when ``batch`` is 0); always a C-contiguous array."""
    n = x.shape[0]
    if batch == 0:
        return np.ascontiguousarray(x)
    if first + batch <= n:
        return np.ascontiguousarray(x[first:first + batch])
    out = np.empty((batch,) + x.shape[1:], dtype=x.dtype)
    for r in range(batch):
        out[r] = x[(first + r) % n]
    return out
