"""Accuracy of symdiff.codegen.fastmath against long-double NumPy references.

Every function is evaluated the way generated kernels use it: inside an
``njit`` loop over an array.  Inputs are dense random samples over the whole
range of each dtype plus edge values; errors are measured in ulps of the
dtype against a reference computed in x87 extended precision
(``np.longdouble``), so the reference's own error is ~2**-11 ulp.
Special values (nan, +-inf, +-0) must match exactly, including the sign.

The loop kernels are deliberately not ``cache=True``: Numba's cache of a
caller is not invalidated when an inlined callee in another file changes, so a
cached kernel would keep testing an old fastmath.py.

Running this file as a script prints the measured max ulp error per function
and dtype (``python tests/test_fastmath.py [n_per_part] [seed]``).
"""

import math

import numpy as np
import pytest
from numba import njit

from symdiff.codegen import fastmath as fm
from symdiff.codegen.fastmath import (
    fast_cosh,
    fast_exp,
    fast_expm1,
    fast_log,
    fast_log1p,
    fast_sigmoid,
    fast_sinh,
    fast_softplus,
    fast_tanh,
    libm_sigmoid,
    libm_softplus,
)

LD = np.longdouble
HAVE_EXTENDED = np.finfo(LD).nmant >= 63


def _eval_all_py(x, out):
    """out[j, i] = f_j(x[i]) for every function, in one loop (one compile per dtype)."""
    for i in range(x.shape[0]):
        v = x[i]
        out[0, i] = fast_exp(v)
        out[1, i] = fast_log(v)
        out[2, i] = fast_log1p(v)
        out[3, i] = fast_expm1(v)
        out[4, i] = fast_tanh(v)
        out[5, i] = fast_sigmoid(v)
        out[6, i] = fast_softplus(v)
        out[7, i] = fast_sinh(v)
        out[8, i] = fast_cosh(v)
        out[9, i] = libm_sigmoid(v)
        out[10, i] = libm_softplus(v)


_eval_all = njit(_eval_all_py)


NAMES = ["exp", "log", "log1p", "expm1", "tanh", "sigmoid", "softplus", "sinh", "cosh",
         "libm_sigmoid", "libm_softplus"]


def _sigmoid_ref(x):
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def _softplus_ref(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


REFERENCE = {
    "exp": np.exp,
    "log": np.log,
    "log1p": np.log1p,
    "expm1": np.expm1,
    "tanh": np.tanh,
    "sigmoid": _sigmoid_ref,
    "softplus": _softplus_ref,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "libm_sigmoid": _sigmoid_ref,
    "libm_softplus": _softplus_ref,
}

# Max ulp error allowed (float64, float32).  Measured maxima over 6e6
# samples per dtype (FMA contraction on or off gives the same maxima):
#   exp 0.83/0.82, log 0.79/0.82, log1p 1.44/1.44, expm1 1.16/1.14,
#   tanh 2.34/2.42, sigmoid 2.18/2.31, softplus 1.63/1.60, sinh 2.34/2.24,
#   cosh 1.25/1.31, libm_sigmoid 2.12/2.31, libm_softplus 1.52/1.48.
BOUND = {
    "exp": (1.0, 1.0),
    "log": (1.0, 1.0),
    "log1p": (2.0, 2.0),
    "expm1": (1.5, 1.5),
    "tanh": (3.0, 3.0),
    "sigmoid": (3.0, 3.0),
    "softplus": (2.0, 2.0),
    "sinh": (3.0, 3.0),
    "cosh": (1.5, 1.5),
    # these two depend on the platform's libm
    "libm_sigmoid": (4.0, 4.0),
    "libm_softplus": (4.0, 4.0),
}


def _edge_values(dtype):
    fi = np.finfo(dtype)
    sub = fi.smallest_subnormal
    tiny = fi.smallest_normal
    big = fi.max
    if dtype == np.float64:
        thresholds = [709.782712893384, 709.7827128933841, 709.79, 710.0, 710.4758600739439,
                      710.476, -708.39, -745.1332191019411, -745.1332191019412, -745.2,
                      -746.0, 19.06, 22.0, 36.7, 37.0, 38.0, -36.7, -37.5, -38.0]
    else:
        thresholds = [88.72283, 88.72284, 88.7, 89.0, 89.4159, 89.416, -87.3365, -103.27893,
                      -103.9721, -103.97208, -104.0, 9.01, 9.02, 15.95, 16.0, 17.0, -16.0, -17.0,
                      -17.4]
    vals = [0.0, sub, 2 * sub, 3 * sub, tiny, tiny * (1 - fi.eps), 2 * tiny, fi.eps, fi.epsneg,
            fi.eps / 2, fi.epsneg / 2, 0.5, 1.0, 2.0, math.log(2), 1 - fi.epsneg, 1 + fi.eps,
            0.3465, 0.3466, 0.3467, 1e-8, 1e-5, 0.1, 100.0, 1e6, 1e20, big / 2, big, np.inf]
    vals += thresholds
    vals = np.array(vals, dtype=dtype)
    with np.errstate(over="ignore"):
        up, down = np.nextafter(vals, np.inf), np.nextafter(vals, -np.inf)
    vals = np.concatenate([vals, up, down])
    return np.concatenate([vals, -vals, np.array([np.nan, -1 - fi.eps, -1 + fi.epsneg], dtype)])


def _random_values(dtype, n, seed):
    """Log-uniform magnitudes over the whole range, both signs, plus dense
    uniform samples where the functions are not trivially saturated."""
    rng = np.random.default_rng(seed)
    fi = np.finfo(dtype)
    lo, hi = math.log2(fi.smallest_subnormal), math.log2(fi.max)
    mag = np.exp2(rng.uniform(lo, hi, n)).astype(dtype)
    sign = rng.choice(np.array([-1, 1], dtype=dtype), n)
    lim = 760.0 if dtype == np.float64 else 110.0
    parts = [
        mag * sign,
        rng.uniform(-lim, lim, n),
        rng.uniform(-2, 2, n),
        np.exp2(rng.uniform(-60, 10, n)) * sign,
        1 + np.exp2(rng.uniform(-60, 0, n)) * sign,  # log near 1
    ]
    return np.concatenate([p.astype(dtype) for p in parts])


def evaluate(x):
    out = np.empty((len(NAMES), x.shape[0]), dtype=x.dtype)
    _eval_all(x, out)
    return out


def ulp_errors(name, x, y):
    """Error of y = f(x) in ulps of y's dtype; inf where a special value is wrong."""
    dtype = x.dtype
    with np.errstate(all="ignore"):
        ref = REFERENCE[name](x.astype(LD))
        ref_d = ref.astype(dtype)
        special = np.isnan(ref) | np.isinf(ref) | (ref == 0)
        exact = (np.isnan(y) & np.isnan(ref)) | ((y == ref) & (np.signbit(y) == np.signbit(ref)))
        ulp = np.spacing(np.abs(ref_d)).astype(LD)
        err = np.abs(y.astype(LD) - ref) / ulp
        err = np.where(np.isinf(ref_d) & ~special, np.where(y == ref_d, 0, np.inf), err)
        err = np.where(np.isnan(err) & ~special, np.inf, err)
    return np.where(special, np.where(exact, 0.0, np.inf), err).astype(np.float64)


def _max_errors(dtype, n=10_000, seed=0):
    x = np.concatenate([_edge_values(dtype), _random_values(dtype, n, seed)])
    y = evaluate(x)
    result = {}
    for j, name in enumerate(NAMES):
        err = ulp_errors(name, x, y[j])
        k = int(np.argmax(err))
        result[name] = (float(err[k]), x[k], y[j, k])
    return result


@pytest.fixture(scope="module", params=[np.float64, np.float32], ids=["f64", "f32"])
def errors(request):
    return request.param, _max_errors(request.param, n=100_000)


@pytest.mark.skipif(not HAVE_EXTENDED, reason="needs x87 extended long double for the reference")
@pytest.mark.parametrize("name", NAMES)
def test_max_ulp_error(errors, name):
    dtype, result = errors
    bound = BOUND[name][0 if dtype == np.float64 else 1]
    err, x, y = result[name]
    assert err <= bound, f"{name}({x!r}) = {y!r}: {err} ulp"


SPECIAL = {
    # name: [(x, expected), ...]; "big" is the dtype's largest finite value
    "exp": [(0.0, 1.0), (-0.0, 1.0), ("inf", "inf"), ("-inf", 0.0), (1000.0, "inf"), (-1000.0, 0.0)],
    "log": [(0.0, "-inf"), (-0.0, "-inf"), (1.0, 0.0), ("inf", "inf"), (-1.0, "nan"), ("-inf", "nan"),
            (-0.5, "nan")],
    "log1p": [(0.0, 0.0), (-0.0, -0.0), (-1.0, "-inf"), (-2.0, "nan"), ("inf", "inf"), ("-inf", "nan")],
    "expm1": [(0.0, 0.0), (-0.0, -0.0), ("inf", "inf"), ("-inf", -1.0), (1000.0, "inf"), (-1000.0, -1.0)],
    "tanh": [(0.0, 0.0), (-0.0, -0.0), ("inf", 1.0), ("-inf", -1.0), ("big", 1.0), ("-big", -1.0)],
    "sigmoid": [(0.0, 0.5), (-0.0, 0.5), ("inf", 1.0), ("-inf", 0.0), ("big", 1.0), ("-big", 0.0)],
    "softplus": [("inf", "inf"), ("-inf", 0.0), ("big", "big"), ("-big", 0.0), (1000.0, 1000.0)],
    "sinh": [(0.0, 0.0), (-0.0, -0.0), ("inf", "inf"), ("-inf", "-inf"), (1000.0, "inf"),
             (-1000.0, "-inf")],
    "cosh": [(0.0, 1.0), (-0.0, 1.0), ("inf", "inf"), ("-inf", "inf"), (-1000.0, "inf")],
}


def _value(v, dtype):
    if isinstance(v, str):
        sign = -1 if v.startswith("-") else 1
        return sign * (np.finfo(dtype).max if v.lstrip("-") == "big" else dtype(v.lstrip("-")))
    return v


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_special_values(dtype):
    for name, pairs in SPECIAL.items():
        x = np.array([_value(p[0], dtype) for p in pairs] + [np.nan], dtype=dtype)
        want = np.array([_value(p[1], dtype) for p in pairs] + [np.nan], dtype=dtype)
        y = evaluate(x)
        for fname in [name, "libm_" + name]:
            if fname not in NAMES:
                continue
            got = y[NAMES.index(fname)]
            assert got.dtype == dtype
            same = ((got == want) & (np.signbit(got) == np.signbit(want))) | (np.isnan(got) & np.isnan(want))
            assert same.all(), f"{fname}: x={x[~same]} got {got[~same]} want {want[~same]}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_overflow_underflow_thresholds_match_numpy(dtype):
    fi = np.finfo(dtype)
    if dtype == np.float64:
        x = np.array([709.782712893384, 709.7827128933841, -745.1332191019411, -745.1332191019412,
                      710.4758600739439, 710.475860073944, -708.3964185322641], dtype)
    else:
        x = np.array([88.72283, 88.72284, -103.97207, -103.97208, 89.41598, 89.41599, -87.33655], dtype)
    x = np.concatenate([x, -x])
    y = evaluate(x)
    with np.errstate(over="ignore", under="ignore"):
        for name, ref in [("exp", np.exp), ("expm1", np.expm1), ("sinh", np.sinh), ("cosh", np.cosh)]:
            got, want = y[NAMES.index(name)], ref(x)
            assert np.array_equal(np.isinf(got), np.isinf(want)), (name, x, got, want)
            assert np.array_equal(got == 0, want == 0), (name, x, got, want)
            assert np.array_equal(np.abs(got) < fi.smallest_normal, np.abs(want) < fi.smallest_normal)


def test_independent_of_caller_flags():
    """The functions are inlined by LLVM with their own flags, so a kernel
    compiled with fastmath=True or error_model="numpy" gets identical bits
    (including nan/inf handling, which fastmath would otherwise drop)."""
    for flags in [{"fastmath": True}, {"error_model": "numpy"}]:
        kernel = njit(**flags)(_eval_all_py)
        for dtype, bits in [(np.float64, np.uint64), (np.float32, np.uint32)]:
            x = np.concatenate([_edge_values(dtype), _random_values(dtype, 200, 3)])
            base = evaluate(x)
            out = np.empty_like(base)
            kernel(x, out)
            assert np.array_equal(base.view(bits), out.view(bits)), (flags, dtype)


def test_scalar_calls_and_dtypes():
    assert fast_exp(1.0) == pytest.approx(math.e, rel=1e-15)
    assert fast_log(np.float32(2.0)) == pytest.approx(math.log(2), rel=1e-7)

    @njit
    def kinds(v):
        return fast_tanh(np.float32(v)), fast_tanh(v), fast_exp(1), libm_sigmoid(np.float32(v))

    result = kinds(0.5)
    types_ = kinds.nopython_signatures[0].return_type.types
    assert [str(t) for t in types_] == ["float32", "float64", "float64", "float32"]
    assert result[0] == pytest.approx(math.tanh(0.5), rel=1e-7)
    assert result[2] == pytest.approx(math.e, rel=1e-15)


def test_name_tables():
    ops = {"exp", "log", "log1p", "expm1", "tanh", "sigmoid", "softplus", "sinh", "cosh"}
    assert set(fm.FAST) == ops and set(fm.LIBM) == ops
    ns = {}
    exec("import math\nfrom symdiff.codegen.fastmath import *", ns)
    for table in (fm.FAST, fm.LIBM):
        for op, name in table.items():
            assert callable(eval(name, ns)), (op, name)


if __name__ == "__main__":
    import sys

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    for dtype in (np.float64, np.float32):
        for name, (err, x, y) in _max_errors(dtype, n=n, seed=seed).items():
            print(f"{np.dtype(dtype).name:8s} {name:14s} max {err:6.3f} ulp  at x={x!r}")
