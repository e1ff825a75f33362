"""Small Numba helpers that generated kernels call (beyond fastmath and BLAS)."""
from __future__ import annotations

import numba
import numpy as np

from .blas import matmul


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


@numba.njit(cache=True, nogil=True)
def softmax_rows(x):
    """exp(row - max(row)) / sum(exp(row - max(row))) for each row of a C-contiguous
    2-D array (NaN where the row holds NaN or +inf, as the formula gives in NumPy)."""
    rows, cols = x.shape
    out = np.empty_like(x)
    for r in range(rows):
        m = x[r, 0]
        for c in range(1, cols):
            v = x[r, c]
            if v > m or v != v:
                m = v
        total = 0.0
        for c in range(cols):
            e = np.exp(x[r, c] - m)
            out[r, c] = e
            total += e
        for c in range(cols):
            out[r, c] = out[r, c] / total
    return out


@numba.njit(cache=True, nogil=True)
def log_softmax_rows(x):
    """row - logsumexp(row) for each row of a C-contiguous 2-D array."""
    lse = logsumexp_rows(x)
    rows, cols = x.shape
    out = np.empty_like(x)
    for r in range(rows):
        for c in range(cols):
            out[r, c] = x[r, c] - lse[r]
    return out


@numba.njit(cache=True, nogil=True)
def argmax_rows(x):
    """Index of the largest entry of each row (the first one; a NaN counts as largest)."""
    rows, cols = x.shape
    out = np.empty(rows, dtype=np.int64)
    for r in range(rows):
        best = 0
        m = x[r, 0]
        if m == m:
            for c in range(1, cols):
                v = x[r, c]
                if v != v:
                    best = c
                    break
                if v > m:
                    m = v
                    best = c
        out[r] = best
    return out


@numba.njit(cache=True, nogil=True)
def argmin_rows(x):
    """Index of the smallest entry of each row (the first one; a NaN counts as smallest)."""
    rows, cols = x.shape
    out = np.empty(rows, dtype=np.int64)
    for r in range(rows):
        best = 0
        m = x[r, 0]
        if m == m:
            for c in range(1, cols):
                v = x[r, c]
                if v != v:
                    best = c
                    break
                if v < m:
                    m = v
                    best = c
        out[r] = best
    return out


@numba.njit(cache=True, nogil=True)
def prod_others_rows(x):
    """For each entry, the product of the other entries of its row (prefix times
    suffix products: exact when entries are zero)."""
    rows, cols = x.shape
    out = np.empty_like(x)
    for r in range(rows):
        acc = x.dtype.type(1)
        for c in range(cols):
            out[r, c] = acc
            acc = acc * x[r, c]
        acc = x.dtype.type(1)
        for c in range(cols - 1, -1, -1):
            out[r, c] = out[r, c] * acc
            acc = acc * x[r, c]
    return out


@numba.njit(cache=True, nogil=True)
def batched_matmul(a, b):
    """a[i] @ b[i] for 3-D C-contiguous arrays of equal first size."""
    n = a.shape[0]
    out = np.empty((n, a.shape[1], b.shape[2]), dtype=a.dtype)
    for i in range(n):
        out[i] = matmul(a[i], b[i])
    return out


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def matvec_pair(a, u, v):
    """``np.stack([a @ u, a @ v])`` reading ``a`` once (two products share each row's
    loads); the dot products may be summed in any order, as BLAS does.  A matrix
    whose rows are not contiguous takes two matrix-vector products instead."""
    m, k = a.shape
    out = np.empty((2, m), dtype=a.dtype)
    if a.strides[1] != a.itemsize and k > 1:
        out[0] = matmul(a, u)
        out[1] = matmul(a, v)
        return out
    zero = np.zeros(1, dtype=a.dtype)[0]
    for i in range(m):
        s = zero
        t = zero
        for j in range(k):
            x = a[i, j]
            s += x * u[j]
            t += x * v[j]
        out[0, i] = s
        out[1, i] = t
    return out
