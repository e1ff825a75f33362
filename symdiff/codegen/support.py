"""Small Numba helpers that generated kernels call (beyond fastmath and BLAS)."""
from __future__ import annotations

import numba
import numpy as np
from numba.core import cgutils, types
from numba.core.imputils import impl_ret_new_ref
from numba.extending import intrinsic
from numba.np.arrayobj import _empty_nd_impl  # NumPy's allocation as Numba lowers np.empty

from .blas import matmul

__all__ = ["empty_array", "filled_array", "logsumexp_rows", "rows_of", "softmax_rows",
           "softmax_minus_rows", "log_softmax_rows", "argmax_rows", "argmin_rows",
           "prod_others_rows", "prod_others_adjoint_rows", "batched_matmul", "matvec_pair", "store_step"]


def _array_type(shape, dtype):
    """The C-ordered array type of ``empty_array(shape, dtype)``, or None if not typable."""
    if (isinstance(shape, types.BaseTuple) and len(shape) > 0
            and all(isinstance(s, types.Integer) for s in shape)
            and isinstance(dtype, (types.NumberClass, types.DType))):
        scalar = dtype.instance_type if isinstance(dtype, types.NumberClass) else dtype.dtype
        return types.Array(scalar, len(shape), "C")
    return None


def _allocate(context, builder, arrty, shape_type, shape):
    """Lower a new uninitialised array of type arrty and run-time shape (a tuple value)."""
    dims = [context.cast(builder, v, t, types.intp)
            for t, v in zip(shape_type, cgutils.unpack_tuple(builder, shape))]
    for dim in dims:
        negative = builder.icmp_signed("<", dim, context.get_constant(types.intp, 0))
        with builder.if_then(negative, likely=False):
            context.call_conv.return_user_exc(builder, ValueError,
                                              ("negative dimensions not allowed",))
    return _empty_nd_impl(context, builder, arrty, dims)


@intrinsic
def empty_array(typingctx, shape, dtype):
    """``np.empty(shape, dtype)`` for a tuple of sizes and a NumPy scalar type or dtype.

    An intrinsic: the allocation is lowered into the calling kernel, so neither
    NumPy's ``np.empty`` overload nor a helper function is compiled for it (Numba
    caches neither across kernels, and each costs a compile on a fresh install).
    """
    arrty = _array_type(shape, dtype)
    if arrty is None:
        return None

    def codegen(context, builder, signature, args):
        array = _allocate(context, builder, arrty, shape, args[0])
        return impl_ret_new_ref(context, builder, arrty, array._getvalue())

    return arrty(shape, dtype), codegen


@intrinsic
def filled_array(typingctx, shape, value, dtype):
    """``np.full(shape, value, dtype)``, lowered in place like :func:`empty_array`."""
    arrty = _array_type(shape, dtype)
    if arrty is None or not isinstance(value, (types.Number, types.Boolean)):
        return None

    def codegen(context, builder, signature, args):
        array = _allocate(context, builder, arrty, shape, args[0])
        fill = context.cast(builder, args[1], value, arrty.dtype)
        with cgutils.for_range(builder, array.nitems) as loop:
            context.pack_value(builder, arrty.dtype, fill, builder.gep(array.data, [loop.index]))
        return impl_ret_new_ref(context, builder, arrty, array._getvalue())

    return arrty(shape, value, dtype), codegen


@numba.njit(cache=True, nogil=True)
def _row_max(x, r):
    """The largest entry of row ``r`` (its first NaN, if any) and its column."""
    m = x[r, 0]
    at = 0
    for c in range(1, x.shape[1]):
        v = x[r, c]
        if v > m or v != v:
            m = v
            at = c
            if v != v:
                break
    return m, at


@numba.njit(cache=True, nogil=True)
def _max_and_rest(x, r):
    """The largest entry ``m`` of row ``r`` (NaN if any) and the sum of ``exp(v - m)``
    over the *other* entries (so ``log(sum(exp(row))) = m + log1p(rest)`` keeps the
    digits a plain ``log`` of ``1 + tiny`` would round away)."""
    cols = x.shape[1]
    m, at = _row_max(x, r)
    rest = 0.0
    if np.isfinite(m):
        for c in range(cols):
            if c != at:
                rest += np.exp(x[r, c] - m)
    return m, rest


@numba.njit(cache=True, nogil=True)
def logsumexp_rows(x):
    """log(sum(exp(row))) of each row of a C-contiguous 2-D array, max-shifted for stability."""
    rows = x.shape[0]
    out = np.empty(rows, dtype=x.dtype)
    for r in range(rows):
        m, rest = _max_and_rest(x, r)
        out[r] = m + np.log1p(rest) if np.isfinite(m) else m  # inf, -inf (all -inf) or NaN stay
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
    out = empty_array((batch,) + x.shape[1:], x.dtype)
    # element by element: a row assignment would compile Numba's shape-mismatch
    # message formatting (seconds on a fresh install)
    rows, out_rows = np.ascontiguousarray(x).reshape((n, -1)), out.reshape((batch, -1))
    for r in range(batch):
        row = (first + r) % n
        for j in range(out_rows.shape[1]):
            out_rows[r, j] = rows[row, j]
    return out


@numba.njit(cache=True, nogil=True)
def store_step(out, step, value):
    """``out[step] = value`` for a C-contiguous ``out`` and ``value`` of shape
    ``out.shape[1:]``, element by element (see :func:`rows_of`)."""
    source = np.ascontiguousarray(value).reshape(value.size)
    target = out.reshape((out.shape[0], value.size))
    for j in range(value.size):
        target[step, j] = source[j]


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
def softmax_minus_rows(x, t, total):
    """``softmax(row)*sum(t_row) - t_row`` (``total``) or ``softmax(row) - t_row`` for
    each row of C-contiguous 2-D arrays, without cancellation: with
    ``e = exp(row - max(row))`` an entry is ``(e*others(t) - t*others(e))/sum(e)``
    (``1 - t`` for ``others(t)`` when not ``total``), where ``others(v)[c]`` is the
    sum of the row's entries other than ``c``: a sum of the small terms only
    beside the row's largest entry, prefix plus suffix sums for ``t``."""
    rows, cols = x.shape
    out = np.empty_like(x)
    rest_t = np.empty(cols, dtype=np.float64)
    for r in range(rows):
        m, top = _row_max(x, r)
        rest = 0.0
        for c in range(cols):
            e = np.exp(x[r, c] - m)
            out[r, c] = e
            if c != top:
                rest += e
        whole = out[r, top] + rest
        if total:
            acc = 0.0
            for c in range(cols):
                rest_t[c] = acc
                acc += t[r, c]
            acc = 0.0
            for c in range(cols - 1, -1, -1):
                rest_t[c] += acc
                acc += t[r, c]
        for c in range(cols):
            e = out[r, c]
            others_e = rest if c == top else whole - e
            share = rest_t[c] if total else 1.0 - t[r, c]
            out[r, c] = (e * share - t[r, c] * others_e) / whole
    return out


@numba.njit(cache=True, nogil=True)
def log_softmax_rows(x):
    """row - logsumexp(row) for each row of a C-contiguous 2-D array, as
    ``(row - m) - log1p(rest)``: accurate to the last digit at saturation."""
    rows, cols = x.shape
    out = np.empty_like(x)
    for r in range(rows):
        m, rest = _max_and_rest(x, r)
        if not np.isfinite(m):
            for c in range(cols):
                out[r, c] = x[r, c] - m
            continue
        tail = np.log1p(rest)
        for c in range(cols):
            out[r, c] = (x[r, c] - m) - tail
    return out


@numba.njit(cache=True, nogil=True)
def _arg_rows(x, largest):
    """Index of the largest (or smallest) entry of each row: the first one, and the
    first NaN if there is one (as NumPy's argmax/argmin)."""
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
                if (v > m) if largest else (v < m):
                    m = v
                    best = c
        out[r] = best
    return out


@numba.njit(cache=True, nogil=True)
def argmax_rows(x):
    """Index of the largest entry of each row (the first one; a NaN counts as largest)."""
    return _arg_rows(x, True)


@numba.njit(cache=True, nogil=True)
def argmin_rows(x):
    """Index of the smallest entry of each row (the first one; a NaN counts as smallest)."""
    return _arg_rows(x, False)


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
def prod_others_adjoint_rows(x, g):
    """For each entry j of a row: the sum over i != j of g[i] times the product of the
    row's entries other than i and j.  With P[j] = prod(x[:j]) and S[j] = prod(x[j+1:]),
    it is L[j]*S[j] + P[j]*R[j], where L[j+1] = L[j]*x[j] + g[j]*P[j] sums over i < j and
    R[j-1] = R[j]*x[j] + g[j]*S[j] over i > j: linear time, exact when entries are zero."""
    rows, cols = x.shape
    out = np.empty(x.shape, dtype=g.dtype)
    prefix = np.empty(cols, dtype=g.dtype)
    for r in range(rows):
        p, left = g.dtype.type(1), g.dtype.type(0)
        for j in range(cols):
            out[r, j] = left
            prefix[j] = p
            left = left * x[r, j] + g[r, j] * p
            p = p * x[r, j]
        s, right = g.dtype.type(1), g.dtype.type(0)
        for j in range(cols - 1, -1, -1):
            out[r, j] = out[r, j] * s + prefix[j] * right
            right = right * x[r, j] + g[r, j] * s
            s = s * x[r, j]
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
