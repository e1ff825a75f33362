"""Matrix products for Numba nopython code, backed by numpy's bundled OpenBLAS.

Numba's own ``np.dot``/``@`` need SciPy, which symdiff does not depend on.
NumPy wheels ship OpenBLAS (``numpy.libs/libscipy_openblas64_*.so`` on Linux,
``numpy/.dylibs`` on macOS) exporting ILP64 CBLAS ``scipy_cblas_?gemm64_``.

Compiled code reaches everything through fixed symbol names registered with
``llvmlite.binding.add_symbol`` at import (the way Numba registers its own
runtime helpers), so it binds at link time, also when loaded from Numba's
on-disk cache, and ``cache=True`` works for callers:

* ``symdiff_cblas_{d,s}gemm``: the OpenBLAS ``?gemm``, or if no bundled
  OpenBLAS is found (or ``SYMDIFF_DISABLE_BLAS=1``) the loop cfunc
  ``fallback_gemm(dtype)``; ``HAVE_BLAS`` tells which.  Cached machine code
  does not depend on the choice.
* ``symdiff_cblas_{d,s}gemv``: the OpenBLAS ``?gemv`` (or the loop cfunc
  ``fallback_gemv(dtype)``), for products with a vector: a ``gemm`` with one
  column packs the whole matrix first, several times slower than ``gemv``.
* ``symdiff_gemm_{d,s}``: a cfunc taking pointers, shapes and byte strides
  that picks transpose flags and leading dimensions, copies operands BLAS
  cannot address, and calls the gemm (the gemv for a matrix-vector product).  Keeping this logic in one compiled
  cfunc instead of inlining it keeps each new ``matmul`` signature cheap
  to compile; the price is loading (first time: compiling) two cfuncs at
  import.

Public API (njit-callable, cacheable; all but ``gemm`` also callable from Python):

* ``gemm(a, b, out, alpha, beta)``: ``out[...] = alpha * a @ b + beta * out`` for 2-D
  arrays, lowered into the caller (what generated kernels use);
* ``matmul(a, b)``: ``np.matmul`` for 1-D/2-D float32/float64 operands.
* ``matmul_into(a, b, out, alpha=1.0, beta=0.0)``:
  ``out[...] = alpha * (a @ b) + beta * out`` without allocating the result.
"""

import ctypes
import glob
import os

import numpy as np
from llvmlite import binding as ll
from llvmlite import ir
from numba import cfunc, from_dtype, njit, types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic, overload
from numba.np.arrayobj import populate_array

__all__ = ["BLAS_LIBRARY", "HAVE_BLAS", "fallback_gemm", "gemm", "matmul", "matmul_into"]

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112  # CBLAS enum values
_COPY = 0  # _blas_layout verdict: the operand must be copied to C order first
_CHAR = {"float64": "d", "float32": "s"}


def _cblas_args(t):
    """Numba argument types of row-major ILP64 CBLAS ``?gemm`` for scalar type t."""
    p, i32, i64 = types.CPointer(t), types.int32, types.int64
    return (i32, i32, i32, i64, i64, i64, t, p, i64, p, i64, t, p, i64)


def _cblas_gemv_args(t):
    """Numba argument types of row-major ILP64 CBLAS ``?gemv`` for scalar type t."""
    p, i32, i64 = types.CPointer(t), types.int32, types.int64
    return (i32, i32, i64, i64, t, p, i64, p, i64, t, p, i64)


def _driver_args(t):
    """Numba argument types of ``symdiff_gemm_?``: m, n, k, alpha, (ptr, stride0, stride1) x3."""
    p, i64 = types.CPointer(t), types.int64
    return (i64, i64, i64, t, p, i64, i64, p, i64, i64, t, p, i64, i64)


def _call_symbol(context, builder, name, argtys, values):
    """Emit a call to the void C function ``name`` taking argtys (Numba types)."""
    fnty = ir.FunctionType(ir.VoidType(), [context.get_value_type(t) for t in argtys])
    builder.call(cgutils.get_or_insert_function(builder.module, fnty, name), values)


@intrinsic
def _cblas_gemm(typingctx, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """Call ``symdiff_cblas_?gemm`` (row-major) on the data of 2-D arrays a, b, c."""
    if not (isinstance(c, types.Array) and a.dtype == b.dtype == c.dtype
            and str(c.dtype) in _CHAR):
        return None
    sig = types.none(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    return sig, _cblas_codegen("gemm", 11, _cblas_args)


@intrinsic
def _cblas_gemv(typingctx, trans, m, n, alpha, a, lda, x, incx, beta, y, incy):
    """Call ``symdiff_cblas_?gemv`` (row-major ``m`` by ``n`` matrix at ``a``) on the data of arrays a, x, y."""
    if not (isinstance(y, types.Array) and a.dtype == x.dtype == y.dtype and str(y.dtype) in _CHAR):
        return None
    sig = types.none(trans, m, n, alpha, a, lda, x, incx, beta, y, incy)
    return sig, _cblas_codegen("gemv", 9, _cblas_gemv_args)


def _cblas_codegen(routine: str, output_at: int, arg_types):
    """Lowering of a call to ``symdiff_cblas_?<routine>``: arrays pass their data
    pointers, scalars are cast to the C types; the dtype is that of argument ``output_at``."""

    def codegen(context, builder, signature, args):
        dtype = signature.args[output_at].dtype
        argtys = arg_types(dtype)
        values = [context.get_constant(types.int32, ROW_MAJOR)]
        for i, (ty, val) in enumerate(zip(signature.args, args)):
            if isinstance(ty, types.Array):
                values.append(context.make_array(ty)(context, builder, val).data)
            else:
                values.append(context.cast(builder, val, ty, argtys[i + 1]))
        _call_symbol(context, builder, f"symdiff_cblas_{_CHAR[str(dtype)]}{routine}", argtys, values)
        return context.get_dummy_value()

    return codegen


@intrinsic
def gemm(typingctx, a, b, out, alpha, beta):
    """``out[...] = alpha * a @ b + beta * out`` for 2-D arrays of matching shapes (not
    checked), any strides, by a call to ``symdiff_gemm_?``; out is not read when beta == 0.

    An intrinsic: a kernel calling it compiles no helper function.
    """
    if not (all(isinstance(x, types.Array) and x.ndim == 2 for x in (a, b, out))
            and a.dtype == b.dtype == out.dtype and str(out.dtype) in _CHAR):
        return None
    sig = types.none(a, b, out, alpha, beta)

    def codegen(context, builder, signature, args):
        dtype = signature.args[2].dtype
        arrs = [context.make_array(t)(context, builder, v)
                for t, v in zip(signature.args[:3], args[:3])]
        m, k = cgutils.unpack_tuple(builder, arrs[0].shape)
        n = cgutils.unpack_tuple(builder, arrs[1].shape)[1]
        alpha_, beta_ = (context.cast(builder, args[i], signature.args[i], dtype) for i in (3, 4))
        operands = []
        for arr in arrs:
            operands += [arr.data, *cgutils.unpack_tuple(builder, arr.strides)]
        values = [m, n, k, alpha_, *operands[:6], beta_, *operands[6:]]
        _call_symbol(context, builder, f"symdiff_gemm_{_CHAR[str(dtype)]}",
                     _driver_args(dtype), values)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _view(typingctx, ptr, rows, cols, stride0, stride1):
    """2-D array (layout 'A', not owning its memory) at ptr with byte strides."""
    if not isinstance(ptr, types.CPointer):
        return None
    arrty = types.Array(ptr.dtype, 2, "A")
    sig = arrty(ptr, rows, cols, stride0, stride1)

    def codegen(context, builder, signature, args):
        arr = context.make_array(arrty)(context, builder)
        shape, strides = (
            cgutils.pack_array(builder, [context.cast(builder, args[i], signature.args[i],
                                                      types.intp) for i in pair])
            for pair in ((1, 2), (3, 4)))
        itemsize = context.get_constant(
            types.intp, context.get_abi_sizeof(context.get_data_type(ptr.dtype)))
        populate_array(arr, data=args[0], shape=shape, strides=strides,
                       itemsize=itemsize, meminfo=None)
        return arr._getvalue()

    return sig, codegen


def _gemm_loops(order, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """Row-major CBLAS ``?gemm`` in plain loops (``order`` is assumed ROW_MAJOR)."""
    for i in range(m):
        row = i * ldc
        for j in range(n):
            c[row + j] = 0 if beta == 0 else beta * c[row + j]
        for p in range(k):
            aip = alpha * (a[p * lda + i] if trans_a == TRANS else a[i * lda + p])
            if trans_b == TRANS:
                for j in range(n):
                    c[row + j] += aip * b[j * ldb + p]
            else:
                for j in range(n):
                    c[row + j] += aip * b[p * ldb + j]


def _gemv_loops(order, trans, m, n, alpha, a, lda, x, incx, beta, y, incy):
    """Row-major CBLAS ``?gemv`` in plain loops (``order`` is assumed ROW_MAJOR)."""
    if trans == NO_TRANS:
        for i in range(m):
            acc = 0 * alpha
            for j in range(n):
                acc += a[i * lda + j] * x[j * incx]
            y[i * incy] = alpha * acc + (0 if beta == 0 else beta * y[i * incy])
    else:
        for j in range(n):
            y[j * incy] = 0 if beta == 0 else beta * y[j * incy]
        for i in range(m):
            xi = alpha * x[i * incx]
            for j in range(n):
                y[j * incy] += xi * a[i * lda + j]


_FALLBACKS = {}  # (routine, dtype name) -> cfunc; kept alive while its address is registered


def _fallback(routine: str, dtype, arg_types, loops):
    """Loop implementation ``loops`` of row-major ILP64 CBLAS ``?<routine>`` for dtype, as a Numba cfunc."""
    name = np.dtype(dtype).name
    if (routine, name) not in _FALLBACKS:
        sig = types.void(*arg_types(from_dtype(np.dtype(name))))
        _FALLBACKS[routine, name] = cfunc(sig, cache=True)(loops)
    return _FALLBACKS[routine, name]


def fallback_gemm(dtype):
    """Loop implementation of row-major ILP64 CBLAS ``?gemm`` for dtype, as a Numba cfunc."""
    return _fallback("gemm", dtype, _cblas_args, _gemm_loops)


def fallback_gemv(dtype):
    """Loop implementation of row-major ILP64 CBLAS ``?gemv`` for dtype, as a Numba cfunc."""
    return _fallback("gemv", dtype, _cblas_gemv_args, _gemv_loops)


@njit(cache=True)
def _blas_layout(x):
    """(trans, ld) describing 2-D x (no zero dims) to row-major CBLAS, or (_COPY, 0)."""
    r, c = x.shape
    sr, sc = x.strides
    s = x.itemsize
    if sr % s != 0 or sc % s != 0:
        return _COPY, 0
    sr //= s
    sc //= s
    if (c == 1 or sc == 1) and (r == 1 or sr >= c):
        return NO_TRANS, sr if r > 1 else c
    if (r == 1 or sr == 1) and (c == 1 or sc >= r):
        return TRANS, sc if c > 1 else r
    return _COPY, 0


@njit(cache=True)
def _c_copy(x):
    """C-ordered copy of 2-D x."""
    y = np.empty(x.shape, x.dtype)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            y[i, j] = x[i, j]
    return y


@njit(cache=True)
def _update(out, beta, add):
    """out = beta * out + add for 2-D arrays (add may be None); out not read if beta == 0."""
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            v = 0.0 if beta == 0 else beta * out[i, j]
            if add is not None:
                v += add[i, j]
            out[i, j] = v


@njit(cache=True)
def _extent(x):
    """[lo, hi) byte addresses spanned by non-empty 2-D x."""
    lo = hi = np.int64(x.ctypes.data)
    for i in range(2):
        span = x.strides[i] * (x.shape[i] - 1)
        if span < 0:
            lo += span
        else:
            hi += span
    return lo, hi + x.itemsize


@njit(cache=True)
def _overlaps(x, y):
    """Whether the memory of 2-D arrays x and y may overlap."""
    if x.size == 0 or y.size == 0:
        return False
    xlo, xhi = _extent(x)
    ylo, yhi = _extent(y)
    return xlo < yhi and ylo < xhi


@njit(cache=True)
def _gemm(a, b, out, alpha, beta):
    """out = alpha * a @ b + beta * out for 2-D arrays of matching shapes, any strides.

    As in BLAS, out is not read when beta == 0.
    """
    m, k = a.shape
    n = b.shape[1]
    if m == 0 or n == 0:
        return
    if k == 0:
        _update(out, beta, None)
        return
    ta, lda = _blas_layout(a)
    if ta == _COPY or _overlaps(a, out):
        a = _c_copy(a)
        ta, lda = NO_TRANS, k
    tb, ldb = _blas_layout(b)
    if tb == _COPY or _overlaps(b, out):
        b = _c_copy(b)
        tb, ldb = NO_TRANS, n
    if (n == 1 or m == 1) and _gemv(a, b, out, alpha, beta, ta, lda, tb, ldb):
        return
    tc, ldc = _blas_layout(out)
    if tc == NO_TRANS:
        _cblas_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, out, ldc)
    else:
        tmp = np.empty((m, n), out.dtype)
        _cblas_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, 0.0, tmp, n)
        _update(out, beta, tmp)


@njit(cache=True)
def _step(x, axis):
    """The element stride of 2-D x along ``axis`` (1 for a length-1 axis), or 0 if BLAS cannot use it."""
    if x.shape[axis] == 1:
        return 1
    stride = x.strides[axis]
    if stride <= 0 or stride % x.itemsize != 0:
        return 0
    return stride // x.itemsize


@njit(cache=True)
def _gemv(a, b, out, alpha, beta, ta, lda, tb, ldb):
    """out = alpha * a @ b + beta * out by ``?gemv`` when b is one column or a one row
    (a and b already addressable, not overlapping out); False if it does not apply."""
    m, k = a.shape
    n = b.shape[1]
    if n == 1:  # out[:, 0] = op(A) b[:, 0]
        incx, incy = _step(b, 0), _step(out, 0)
    else:  # out[0, :] = op(B)^T a[0, :]
        incx, incy = _step(a, 1), _step(out, 1)
    if incx == 0 or incy == 0:
        return False
    if beta == 0:  # as in BLAS, out is not read: no NaN from 0 * garbage
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):
                out[i, j] = 0
    if n == 1:
        if ta == NO_TRANS:
            _cblas_gemv(NO_TRANS, m, k, alpha, a, lda, b, incx, beta, out, incy)
        else:
            _cblas_gemv(TRANS, k, m, alpha, a, lda, b, incx, beta, out, incy)
    elif tb == NO_TRANS:
        _cblas_gemv(TRANS, k, n, alpha, b, ldb, a, incx, beta, out, incy)
    else:
        _cblas_gemv(NO_TRANS, n, k, alpha, b, ldb, a, incx, beta, out, incy)
    return True


def _gemm_driver(m, n, k, alpha, a, sa0, sa1, b, sb0, sb1, beta, c, sc0, sc1):
    """Body of the ``symdiff_gemm_?`` cfuncs: _gemm on raw pointers and byte strides."""
    _gemm(_view(a, m, k, sa0, sa1), _view(b, k, n, sb0, sb1), _view(c, m, n, sc0, sc1),
          alpha, beta)


def _find_openblas():
    """(path, {(routine, dtype name): address}) of numpy's bundled ILP64 OpenBLAS
    ``?gemm`` and ``?gemv``, or None."""
    if os.environ.get("SYMDIFF_DISABLE_BLAS", "0") not in ("", "0"):
        return None
    root = os.path.dirname(np.__file__)
    for pattern in ("../numpy.libs/*openblas*", ".dylibs/*openblas*"):
        for path in sorted(glob.glob(os.path.join(root, pattern))):
            path = os.path.realpath(path)
            try:
                # The file numpy itself loaded, so this reuses the same OpenBLAS
                # instance (and thread pool); ctypes never unloads it.
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            # numpy >= 2.0 wheels use the scipy_ prefix, numpy 1.2x wheels none.
            for prefix in ("scipy_cblas_", "cblas_"):
                try:
                    funcs = {(routine, name): getattr(lib, f"{prefix}{char}{routine}64_")
                             for name, char in _CHAR.items() for routine in ("gemm", "gemv")}
                except AttributeError:
                    continue
                return path, {key: ctypes.cast(f, ctypes.c_void_p).value
                              for key, f in funcs.items()}
    return None


_DRIVERS = {}  # dtype name -> driver cfunc; kept alive while its address is registered


def _bind_symbols():
    """Register all symbols; return the OpenBLAS path, or None if loops are used."""
    found = _find_openblas()
    for name, char in _CHAR.items():
        gemm = fallback_gemm(name).address if found is None else found[1]["gemm", name]
        gemv = fallback_gemv(name).address if found is None else found[1]["gemv", name]
        ll.add_symbol(f"symdiff_cblas_{char}gemm", gemm)
        ll.add_symbol(f"symdiff_cblas_{char}gemv", gemv)
        sig = types.void(*_driver_args(from_dtype(np.dtype(name))))
        _DRIVERS[name] = cfunc(sig, cache=True)(_gemm_driver)
        ll.add_symbol(f"symdiff_gemm_{char}", _DRIVERS[name].address)
    return None if found is None else found[0]


BLAS_LIBRARY = _bind_symbols()
HAVE_BLAS = BLAS_LIBRARY is not None


def _check_types(a, b, out):
    """Typing-time check of matmul/matmul_into arguments (compiles to nothing)."""


@overload(_check_types)
def _check_types_ov(a, b, out):
    for x, name in ((a, "a"), (b, "b")):
        if not (isinstance(x, types.Array) and x.ndim in (1, 2)
                and x.dtype in (types.float32, types.float64)):
            raise TypingError(f"matmul: {name} must be a 1-D or 2-D float32/float64 array, "
                              f"got {x}")
    if a.dtype != b.dtype:
        raise TypingError(f"matmul: a and b must have the same dtype, got {a.dtype} and {b.dtype}")
    ndim = 2 if a.ndim == 2 and b.ndim == 2 else 1
    if not isinstance(out, types.NoneType) and not (
            isinstance(out, types.Array) and out.ndim == ndim and out.dtype == a.dtype
            and out.mutable):
        raise TypingError(f"matmul_into: out must be a writable {ndim}-D {a.dtype} array, "
                          f"got {out}")
    return lambda a, b, out: None


# Below, branches on .ndim are resolved at compile time (Numba folds them), so
# each signature compiles only its own case.  The operand promotion is written
# out in both functions: a shared helper would cost a compile per signature.

@njit(cache=True, nogil=True)
def matmul(a, b):
    """Return ``np.matmul(a, b)`` for 1-D/2-D arrays of the same float32/float64 dtype."""
    _check_types(a, b, None)
    a2 = a[None, :] if a.ndim == 1 else a  # 1-D operands promoted as np.matmul does
    b2 = b[:, None] if b.ndim == 1 else b
    m, k = a2.shape
    n = b2.shape[1]
    if k != b2.shape[0]:
        raise ValueError("matmul: shapes not aligned", a.shape, b.shape)
    if a.ndim == 2 and b.ndim == 2:
        out = np.empty((m, n), a.dtype)
        gemm(a2, b2, out, 1.0, 0.0)
        return out
    if a.ndim == 2:
        out = np.empty(m, a.dtype)
        gemm(a2, b2, out[:, None], 1.0, 0.0)
        return out
    out = np.empty(n, a.dtype)
    gemm(a2, b2, out[None, :], 1.0, 0.0)
    return out if b.ndim == 2 else out[0]


@njit(cache=True, nogil=True)
def matmul_into(a, b, out, alpha=1.0, beta=0.0):
    """Set ``out[...] = alpha * (a @ b) + beta * out`` in place.

    out has np.matmul's result shape (shape (1,) if a and b are both 1-D),
    any strides, and may overlap a or b.  As in BLAS, out is not read when
    beta == 0.
    """
    _check_types(a, b, out)
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    if a2.shape[1] != b2.shape[0]:
        raise ValueError("matmul: shapes not aligned", a.shape, b.shape)
    out2 = out if out.ndim == 2 else (out[:, None] if a.ndim == 2 else out[None, :])
    if out2.shape[0] != a2.shape[0] or out2.shape[1] != b2.shape[1]:
        raise ValueError("matmul_into: out shape does not match a @ b",
                         out.shape, a.shape, b.shape)
    gemm(a2, b2, out2, alpha, beta)
