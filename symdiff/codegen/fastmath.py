"""Branch-free, SIMD-friendly elementary functions for generated Numba kernels.

Generated kernels are explicit loop nests compiled with ``numba.njit``.  A call
to ``math.exp`` (or ``np.exp``) inside such a loop becomes one scalar libm call
per element, and LLVM cannot vectorise a loop that contains an opaque call
(the llvmlite wheels ship without SVML).  The functions here are written only
with arithmetic, integer bit manipulation and selects, so once LLVM inlines
them into a loop the loop vectoriser turns them into packed SIMD code.

Accuracy, measured against long-double NumPy over the whole range of each
dtype (``tests/test_fastmath.py``), max error in ulps: exp, log < 1;
expm1, cosh < 1.5; log1p, softplus < 2; tanh, sigmoid, sinh < 2.5 -- for
float64 and float32 alike.  Special values follow C99/NumPy: ``nan``
propagates, overflow gives ``inf``, underflow goes through the subnormals to
0, ``log(0) = -inf``, ``log(x<0) = nan``, odd functions keep the sign of zero.

Methods
-------
* ``exp``/``expm1``: Cody-Waite reduction ``x = n*ln2 + r``, ``|r| <= ln2/2``,
  with ``ln2`` split into a head with trailing zero bits and a tail, so
  ``n*LN2_HI`` is exact; ``expm1(r) = r + r**2 * P(r)``; ``2**n`` is made by
  writing the biased exponent into the exponent field, split into two factors
  so that the whole range from subnormal results to overflow needs no branch.
* ``log``: subnormals are scaled by ``2**52`` (``2**23``), the exponent ``k``
  and mantissa ``m`` in ``[sqrt(1/2), sqrt(2))`` are taken from the bits, and
  with ``f = m - 1``, ``s = f/(2+f)``, ``z = s*s``,
  ``log(1+f) = f - (f*f/2 - s*(f*f/2 + z*G(z)))`` (the atanh series,
  arranged so the large terms are exact).  ``log1p`` adds the rounding error
  of ``u = 1+x`` back as ``(x - (u-1))/u``.
* ``tanh``, ``sinh``, ``cosh``, ``sigmoid``, ``softplus`` are built on the
  same pieces in forms that avoid cancellation and intermediate overflow.

float32 has its own kernels (float32 constants, shorter polynomials, float32
thresholds), so a vector register holds twice as many lanes as in float64.
The coefficients are Chebyshev interpolants computed with ``mpmath.chebyfit``
at 60 digits: ``P(r) = (exp(r) - 1 - r)/r**2`` on ``[-0.35, 0.35]`` (degree 10
for float64, error 1.6e-18; degree 5 for float32) and
``G(z) = (2*atanh(sqrt(z))/sqrt(z) - 2)/z`` on ``[0, 0.02944]`` (degree 6,
error 3.1e-16; degree 2 for float32, error 1.9e-7; ``G`` enters the result
multiplied by ``z*s/2 <= 0.0026`` relative).

Each public function is, per dtype, one ``numba.njit`` function (its building
blocks are inlined into it at Numba IR level, so it compiles as one unit; the
dtype dispatch is an inline overload that leaves only the call in the caller),
compiled with ``error_model="numpy"`` (no division-by-zero branch), ``fastmath`` restricted
to ``contract`` (LLVM may fuse ``a*b + c`` into an FMA; the measured maxima
are the same without it) and ``forceinline=True`` (LLVM ``alwaysinline``):
the kernel inlines the already compiled code, so the results do not depend on
the kernel's own ``fastmath``/``error_model`` flags.  Numba's IR-level
``inline="always"`` re-lowers the body with the *caller's* flags instead, which
brings back the division-by-zero branches of the default error model (no
vectorisation) and lets ``fastmath=True`` drop the nan/inf handling; and
without any forced inlining LLVM's cost model leaves large bodies such as
``fast_softplus`` as calls.  Note that Numba's on-disk cache of a kernel is
not invalidated when this file changes.

``FAST`` and ``LIBM`` map an op name to the name of its implementation as it
appears in generated source, which does ``import math`` and
``from symdiff.codegen.fastmath import *``.
"""

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

__all__ = [
    "fast_exp",
    "fast_log",
    "fast_log1p",
    "fast_expm1",
    "fast_tanh",
    "fast_sigmoid",
    "fast_softplus",
    "fast_sinh",
    "fast_cosh",
    "libm_sigmoid",
    "libm_softplus",
    "FAST",
    "LIBM",
]

_JIT = dict(cache=True, error_model="numpy", fastmath={"contract"}, forceinline=True)
# the building blocks below are inlined (Numba IR) into each per-dtype function, which
# all share _JIT's flags: a function then compiles as one unit, not one per block
_PIECE = dict(error_model="numpy", fastmath={"contract"}, inline="always")

# ---------------------------------------------------------------------------
# bit casts and dtype dispatch
# ---------------------------------------------------------------------------


@intrinsic
def _bits(typingctx, x):
    """Reinterpret the bits of a float64 (float32) as an int64 (int32)."""
    if x == types.float64:
        sig, width = types.int64(x), 64
    elif x == types.float32:
        sig, width = types.int32(x), 32
    else:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(width))

    return sig, codegen


@intrinsic
def _f64_from_bits(typingctx, i):
    """Reinterpret an int64 as a float64."""
    if i != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(i), codegen


@intrinsic
def _f32_from_bits(typingctx, i):
    """Reinterpret the low 32 bits of an integer as a float32."""
    if not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        low = builder.trunc(args[0], ir.IntType(32)) if i.bitwidth > 32 else args[0]
        return builder.bitcast(low, ir.FloatType())

    return types.float32(i), codegen


def _public(name: str, impl64, impl32, doc: str):
    """The public function for the pieces ``impl64``/``impl32``: each compiled alone
    (``_JIT``, cached); called on float32 it runs ``impl32``, on any other real
    ``impl64`` (after conversion to float64), from compiled code or from Python."""
    unit64, unit32 = njit(**_JIT)(impl64.py_func), njit(**_JIT)(impl32.py_func)

    def function(x):
        return unit32(x) if isinstance(x, np.float32) else unit64(np.float64(x))

    # inline: only the dtype dispatch and conversion enter the caller, not a compile unit
    @overload(function, inline="always")
    def _overload(x):
        if x == types.float32:
            return lambda x: unit32(x)
        if isinstance(x, (types.Float, types.Integer, types.Boolean)):
            return lambda x: unit64(np.float64(x))
        return None

    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    return function


def _like(x, y):
    """``y`` converted to float32 if ``x`` is float32, else to float64."""
    raise NotImplementedError("only callable from numba-compiled code")


@overload(_like, inline="always")
def _like_overload(x, y):
    if x == types.float32:
        return lambda x, y: np.float32(y)
    return lambda x, y: np.float64(y)


# ---------------------------------------------------------------------------
# float64 kernels
# ---------------------------------------------------------------------------

_INV_LN2 = 1.4426950408889634
_LN2_HI = 0.6931471803691238  # ln2 rounded to 32 significant bits
_LN2_LO = 1.9082149292705877e-10  # ln2 - _LN2_HI
_SHIFTER = 6755399441055744.0  # 1.5 * 2**52: adding it rounds to an integer
_SHIFTER_BITS = 0x4338000000000000

# P(r) = (exp(r) - 1 - r) / r**2 on |r| <= 0.35, degree 10
_P = (0.5, 0.1666666666666667, 0.04166666666666667, 0.008333333333325551,
      0.0013888888888883332, 0.00019841269876840357, 2.480158732699005e-05,
      2.755725286336732e-06, 2.755727183153613e-07, 2.5106262550879078e-08,
      2.0915433598076003e-09)

# G(z) = (2*atanh(s)/s - 2) / z with z = s*s <= 0.02944, degree 6
_G = (0.666666666666667, 0.3999999999989945, 0.28571428626001427,
      0.22222211130560726, 0.18182889433757515, 0.15331711346672997,
      0.14616576421644387)

_SQRT_HALF_BITS = 0x3FE6A09E667F3BCD  # bits of sqrt(1/2)
_MANT_MASK = 0x000FFFFFFFFFFFFF
_TWO52 = 4503599627370496.0
_TINY = 2.2250738585072014e-308  # smallest normal float64


@njit(**_PIECE)
def _pow2_64(k):
    """``2.0**k`` for an integer ``-1022 <= k <= 1023``."""
    return _f64_from_bits((k + 1023) << 52)


@njit(**_PIECE)
def _pow2c_64(k):
    """``2.0**max(k, -1022)``; used only where the clamp is negligible."""
    return _pow2_64(-1022 if k < -1022 else k)


@njit(**_PIECE)
def _reduce64(x):
    """Split ``x`` (clamped to a finite range) as ``n*ln2 + r``.

    Returns the integer ``n`` and ``expm1(r)`` as an unevaluated sum
    ``r_hi + c``: ``r_hi = x - n*LN2_HI`` is exact and ``c`` is small, so the
    caller can add them in the order that loses the least.
    """
    t = x * _INV_LN2 + _SHIFTER
    n = _bits(t) - _SHIFTER_BITS
    nf = t - _SHIFTER
    r_hi = x - nf * _LN2_HI
    r_lo = -(nf * _LN2_LO)
    r = r_hi + r_lo
    p = _P[9] + r * _P[10]
    p = _P[8] + r * p
    p = _P[7] + r * p
    p = _P[6] + r * p
    p = _P[5] + r * p
    p = _P[4] + r * p
    p = _P[3] + r * p
    p = _P[2] + r * p
    p = _P[1] + r * p
    p = _P[0] + r * p
    return n, r_hi, r_lo + (r * r) * p


@njit(**_PIECE)
def _exp64(x):
    x = 710.0 if x > 710.0 else x
    x = -746.0 if x < -746.0 else x
    n, r, c = _reduce64(x)
    q = r + c
    n1 = n >> 1
    s1 = _pow2_64(n1)
    # 2**n = 2**n1 * 2**(n - n1): the last product rounds once, into the
    # subnormals or to inf when the result leaves the normal range.
    return (q * s1 + s1) * _pow2_64(n - n1)


@njit(**_PIECE)
def _expm1_64(x):
    xc = 710.0 if x > 710.0 else x
    xc = -60.0 if xc < -60.0 else xc
    n, r, c = _reduce64(xc)
    n1 = n >> 1
    n2 = n - n1
    s1 = _pow2_64(n1)
    # 2**n * (1 + r + c) - 1 = ((r*s1 + (s1 - 2**-n2)) + c*s1) * 2**n2; the
    # difference of two powers of two is exact for |n| <= 53.
    y = ((r * s1 + (s1 - _pow2_64(-n2))) + c * s1) * _pow2_64(n2)
    return x if x == 0.0 else y  # keeps the sign of -0.0


@njit(**_PIECE)
def _log_kf64(k, f):
    """``k*ln2 + log(1 + f)`` for ``sqrt(1/2) - 1 <= f < sqrt(2) - 1``."""
    s = f / (2.0 + f)
    z = s * s
    g = _G[5] + z * _G[6]
    g = _G[4] + z * g
    g = _G[3] + z * g
    g = _G[2] + z * g
    g = _G[1] + z * g
    g = _G[0] + z * g
    hfsq = 0.5 * f * f
    return k * _LN2_HI - ((hfsq - (s * (hfsq + z * g) + k * _LN2_LO)) - f)


@njit(**_PIECE)
def _log64(x):
    sub = x < _TINY
    xs = x * _TWO52 if sub else x
    # Move the mantissa into [sqrt(1/2), sqrt(2)) and the exponent into k.
    ib = _bits(xs) + (0x3FF0000000000000 - _SQRT_HALF_BITS)
    k = (ib >> 52) - 1023
    k = k - 52 if sub else k
    m = _f64_from_bits((ib & _MANT_MASK) + _SQRT_HALF_BITS)
    y = _log_kf64(np.float64(k), m - 1.0)
    y = np.nan if x < 0.0 else y
    y = -np.inf if x == 0.0 else y
    return y if x < np.inf else x  # inf and nan


@njit(**_PIECE)
def _log1p64(x):
    u = 1.0 + x
    # (x - (u-1))/u corrects log(u) for the rounding of 1 + x.
    c = (x - (u - 1.0)) / u
    y = _log64(u) + (c if u > 0.0 else 0.0)
    y = x if u == 1.0 else y
    return y if u < np.inf else u


@njit(**_PIECE)
def _tanh64(x):
    a = abs(x)
    a = 20.0 if a > 20.0 else a  # tanh(20) rounds to 1
    e = _expm1_64(2.0 * a)
    return math.copysign(e / (e + 2.0), x)


@njit(**_PIECE)
def _sigmoid64(x):
    e = _exp64(-abs(x))
    d = 1.0 + e
    return 1.0 / d if x >= 0.0 else e / d


@njit(**_PIECE)
def _softplus64(x):
    e = _exp64(-abs(x))
    # log1p(e) for 0 <= e <= 1 without rounding 1 + e: e itself is the f of
    # _log_kf64, or (1 + e)/2 - 1 = (e - 1)/2 with k = 1 above sqrt(2) - 1.
    big = e > 0.41421356237309503
    y = _log_kf64(1.0 if big else 0.0, (e - 1.0) * 0.5 if big else e)
    return (x if x > 0.0 else 0.0) + y


@njit(**_PIECE)
def _sinh64(x):
    a = abs(x)
    n, r, c = _reduce64(711.0 if a > 711.0 else a)
    q = r + c
    n1 = n >> 1
    n2 = n - n1
    # exp(a)/2 = s2*h1*(1+q) and exp(-a)/2 = h/(1+q), so
    # sinh(a) = s2*(h1*q + (h1 - h/s2)) + h*q/(1+q).  h1 - h/s2 is a
    # difference of powers of two, exact whenever it is not negligible, and
    # for small a nothing cancels.
    s2 = _pow2_64(n2)
    h1 = _pow2_64(n1 - 1)
    h = _pow2c_64(-n - 1)
    y = s2 * (h1 * q + (h1 - _pow2c_64(-n - n2 - 1))) + h * (q / (1.0 + q))
    y = a if a < 1e-8 else y  # sinh(a) rounds to a; keeps subnormals exact
    return math.copysign(y, x)


@njit(**_PIECE)
def _cosh64(x):
    a = abs(x)
    n, r, c = _reduce64(711.0 if a > 711.0 else a)
    q = r + c
    n1 = n >> 1
    h1 = _pow2_64(n1 - 1)
    return _pow2_64(n - n1) * (h1 * q + h1) + _pow2c_64(-n - 1) / (1.0 + q)


# ---------------------------------------------------------------------------
# float32 kernels: the same algorithms with float32 constants, shorter
# polynomials (P of degree 5, G of degree 2) and float32 thresholds.
# ---------------------------------------------------------------------------

_F = np.float32
_ONE_F, _TWO_F, _HALF_F, _ZERO_F = _F(1.0), _F(2.0), _F(0.5), _F(0.0)
_INF_F, _NAN_F = _F(np.inf), _F(np.nan)
_INV_LN2_F = _F(1.4426950408889634)
_LN2_HI_F = _F(0.693145751953125)  # ln2 rounded to 16 significant bits
_LN2_LO_F = _F(1.428606765330187e-06)
_SHIFTER_F = _F(12582912.0)  # 1.5 * 2**23
_SHIFTER_BITS_F = 0x4B400000
_P_F = tuple(_F(c) for c in (0.5, 0.1666666716337204, 0.04166645556688309,
                             0.00833331048488617, 0.0013934532180428505,
                             0.00019891970441676676))
_G_F = tuple(_F(c) for c in (0.6666668653488159, 0.3998877704143524, 0.29580044746398926))
_SQRT_HALF_BITS_F = 0x3F3504F3
_TINY_F = _F(1.1754943508222875e-38)
_SQRT2_M1_F = _F(0.41421356237309503)
_TWO23_F = _F(8388608.0)
_EXP_HI_F, _EXP_LO_F, _EXPM1_LO_F = _F(89.0), _F(-104.0), _F(-30.0)
_TANH_HI_F, _HYP_HI_F, _SINH_TINY_F = _F(10.0), _F(90.0), _F(2.0**-12)


@njit(**_PIECE)
def _pow2_32(k):
    """``float32(2)**k`` for an integer ``-126 <= k <= 127``."""
    return _f32_from_bits((k + 127) << 23)


@njit(**_PIECE)
def _pow2c_32(k):
    """``float32(2)**max(k, -126)``; used only where the clamp is negligible."""
    return _pow2_32(-126 if k < -126 else k)


@njit(**_PIECE)
def _reduce32(x):
    """float32 version of ``_reduce64``."""
    t = x * _INV_LN2_F + _SHIFTER_F
    n = _bits(t) - _SHIFTER_BITS_F
    nf = t - _SHIFTER_F
    r_hi = x - nf * _LN2_HI_F
    r_lo = -(nf * _LN2_LO_F)
    r = r_hi + r_lo
    p = _P_F[4] + r * _P_F[5]
    p = _P_F[3] + r * p
    p = _P_F[2] + r * p
    p = _P_F[1] + r * p
    p = _P_F[0] + r * p
    return n, r_hi, r_lo + (r * r) * p


@njit(**_PIECE)
def _exp32(x):
    x = _EXP_HI_F if x > _EXP_HI_F else x
    x = _EXP_LO_F if x < _EXP_LO_F else x
    n, r, c = _reduce32(x)
    q = r + c
    n1 = n >> 1
    s1 = _pow2_32(n1)
    return (q * s1 + s1) * _pow2_32(n - n1)


@njit(**_PIECE)
def _expm1_32(x):
    xc = _EXP_HI_F if x > _EXP_HI_F else x
    xc = _EXPM1_LO_F if xc < _EXPM1_LO_F else xc
    n, r, c = _reduce32(xc)
    n1 = n >> 1
    n2 = n - n1
    s1 = _pow2_32(n1)
    y = ((r * s1 + (s1 - _pow2_32(-n2))) + c * s1) * _pow2_32(n2)
    return x if x == 0 else y


@njit(**_PIECE)
def _log_kf32(k, f):
    s = f / (_TWO_F + f)
    z = s * s
    g = _G_F[0] + z * (_G_F[1] + z * _G_F[2])
    hfsq = _HALF_F * f * f
    return k * _LN2_HI_F - ((hfsq - (s * (hfsq + z * g) + k * _LN2_LO_F)) - f)


@njit(**_PIECE)
def _log32(x):
    sub = x < _TINY_F
    xs = x * _TWO23_F if sub else x
    ib = _bits(xs) + (0x3F800000 - _SQRT_HALF_BITS_F)
    k = (ib >> 23) - 127
    k = k - 23 if sub else k
    m = _f32_from_bits((ib & 0x007FFFFF) + _SQRT_HALF_BITS_F)
    y = _log_kf32(np.float32(k), m - _ONE_F)
    y = _NAN_F if x < 0 else y
    y = -_INF_F if x == 0 else y
    return y if x < _INF_F else x


@njit(**_PIECE)
def _log1p32(x):
    u = _ONE_F + x
    c = (x - (u - _ONE_F)) / u
    y = _log32(u) + (c if u > 0 else _ZERO_F)
    y = x if u == 1 else y
    return y if u < _INF_F else u


@njit(**_PIECE)
def _tanh32(x):
    a = abs(x)
    a = _TANH_HI_F if a > _TANH_HI_F else a
    e = _expm1_32(_TWO_F * a)
    return math.copysign(e / (e + _TWO_F), x)


@njit(**_PIECE)
def _sigmoid32(x):
    e = _exp32(-abs(x))
    d = _ONE_F + e
    return _ONE_F / d if x >= 0 else e / d


@njit(**_PIECE)
def _softplus32(x):
    e = _exp32(-abs(x))
    big = e > _SQRT2_M1_F
    y = _log_kf32(_ONE_F if big else _ZERO_F, (e - _ONE_F) * _HALF_F if big else e)
    return (x if x > 0 else _ZERO_F) + y


@njit(**_PIECE)
def _sinh32(x):
    a = abs(x)
    n, r, c = _reduce32(_HYP_HI_F if a > _HYP_HI_F else a)
    q = r + c
    n1 = n >> 1
    n2 = n - n1
    s2 = _pow2_32(n2)
    h1 = _pow2_32(n1 - 1)
    h = _pow2c_32(-n - 1)
    y = s2 * (h1 * q + (h1 - _pow2c_32(-n - n2 - 1))) + h * (q / (_ONE_F + q))
    y = a if a < _SINH_TINY_F else y
    return math.copysign(y, x)


@njit(**_PIECE)
def _cosh32(x):
    a = abs(x)
    n, r, c = _reduce32(_HYP_HI_F if a > _HYP_HI_F else a)
    q = r + c
    n1 = n >> 1
    h1 = _pow2_32(n1 - 1)
    return _pow2_32(n - n1) * (h1 * q + h1) + _pow2c_32(-n - 1) / (_ONE_F + q)


# ---------------------------------------------------------------------------
# public functions
# ---------------------------------------------------------------------------

fast_exp = _public("fast_exp", _exp64, _exp32, "``exp(x)``, branch-free.")
fast_log = _public("fast_log", _log64, _log32, "Natural logarithm, branch-free.")
fast_log1p = _public("fast_log1p", _log1p64, _log1p32, "``log(1 + x)``, accurate for small ``x``.")
fast_expm1 = _public("fast_expm1", _expm1_64, _expm1_32, "``exp(x) - 1``, accurate for small ``x``.")
fast_tanh = _public("fast_tanh", _tanh64, _tanh32, "Hyperbolic tangent via ``expm1(2|x|)``.")
fast_sigmoid = _public("fast_sigmoid", _sigmoid64, _sigmoid32, "Logistic function ``1/(1 + exp(-x))``, stable for both signs.")
fast_softplus = _public("fast_softplus", _softplus64, _softplus32, "``log(1 + exp(x))`` as ``max(x, 0) + log1p(exp(-|x|))``.")
fast_sinh = _public("fast_sinh", _sinh64, _sinh32, "Hyperbolic sine, accurate near 0 and up to overflow.")
fast_cosh = _public("fast_cosh", _cosh64, _cosh32, "Hyperbolic cosine, up to overflow.")


@njit(**_JIT)
def libm_sigmoid(x):
    """Logistic function from libm ``exp``, stable for both signs."""
    one = _like(x, 1.0)
    e = math.exp(-abs(x))
    return one / (one + e) if x >= 0 else e / (one + e)


@njit(**_JIT)
def libm_softplus(x):
    """``max(x, 0) + log1p(exp(-|x|))`` from libm ``exp`` and ``log1p``."""
    m = x if x > 0 else _like(x, 0.0)
    return m + math.log1p(math.exp(-abs(x)))


_OPS = ("exp", "log", "log1p", "expm1", "tanh", "sigmoid", "softplus", "sinh", "cosh")

#: op name -> name of the branch-free implementation in generated source
FAST = {op: "fast_" + op for op in _OPS}

#: op name -> name of the libm-based implementation in generated source
LIBM = {op: "math." + op for op in _OPS}
LIBM["sigmoid"] = "libm_sigmoid"
LIBM["softplus"] = "libm_softplus"
