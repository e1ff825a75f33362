"""dtypes follow NumPy's promotion rules (issue 8, point 6).

Each case is one expression written once and evaluated twice: on symbolic
tensors (its dtype when built, and the dtype and value of the compiled
result) and on NumPy arrays of the same dtypes (the oracle).  NumPy 2's
rules apply: Python numbers are weak (``float32 * 2.5`` stays float32),
NumPy scalars and arrays are strong (``float32 * np.float64(2.5)`` is
float64); float32 data, constants and shared values stay float32.
"""
from types import SimpleNamespace

import numpy as np
import pytest

import symdiff as sd


def _np_softmax(a):
    e = np.exp(a - np.max(a))
    return e / np.sum(e)


def _np_logsumexp(a):
    return np.max(a) + np.log(np.sum(np.exp(a - np.max(a))))


DATA = {
    "z": np.array([0.5, -1.25, 2.0, 0.75], dtype=np.float32),
    "f": np.array([1.5, 0.25, -0.5, 3.0]),
    "i": np.array([3, -1, 4, 2], dtype=np.int64),
    "j": np.array([1, 2, -3, 5], dtype=np.int32),
    "c": np.array([2.0, 0.5, -1.0, 4.0], dtype=np.float32),
    "s": np.array(1.5, dtype=np.float32),
}

SYMBOLIC = SimpleNamespace(
    z=sd.vector("z", dtype="float32"), f=sd.vector("f"), i=sd.vector("i", dtype="int64"), j=sd.vector("j", dtype="int32"),
    c=sd.constant(DATA["c"]), s=sd.shared(DATA["s"], name="s32"),
    exp=sd.exp, sqrt=sd.sqrt, sum=sd.sum, mean=sd.mean, maximum=sd.maximum, where=sd.where, dot=sd.dot,
    softmax=sd.softmax, logsumexp=sd.logsumexp, abs=sd.abs, max=sd.max,
)
NUMERIC = SimpleNamespace(
    **DATA, exp=np.exp, sqrt=np.sqrt, sum=np.sum, mean=np.mean, maximum=np.maximum, where=np.where, dot=np.dot,
    softmax=_np_softmax, logsumexp=_np_logsumexp, abs=np.abs, max=np.max,
)

CASES = {
    "z32 * c32": lambda t: t.z * t.c,
    "z32 * 2.5": lambda t: t.z * 2.5,
    "z32 * np.float64(2.5)": lambda t: t.z * np.float64(2.5),
    "z32 * np.float32(2.5)": lambda t: t.z * np.float32(2.5),
    "np.int64(2) * z32": lambda t: np.int64(2) * t.z,
    "z32 + 1": lambda t: t.z + 1,
    "z32 * shared32": lambda t: t.z * t.s,
    "z32 * f64": lambda t: t.z * t.f,
    "z32 * 1": lambda t: t.z * 1,
    "z32 + 0": lambda t: t.z + 0,
    "f64 * 1": lambda t: t.f * 1,
    "f64 + 0": lambda t: t.f + 0,
    "i32 * z32": lambda t: t.j * t.z,
    "i64 * z32": lambda t: t.i * t.z,
    "i32 * 2": lambda t: t.j * 2,
    "i64 * 1": lambda t: t.i * 1,
    "i32 + i64": lambda t: t.j + t.i,
    "i32 / 2": lambda t: t.j / 2,
    "i32 * 2.5": lambda t: t.j * 2.5,
    "i32 ** 2": lambda t: t.j ** 2,
    "2.0 ** z32": lambda t: 2.0 ** t.z,
    "-z32": lambda t: -t.z,
    "abs(i32)": lambda t: t.abs(t.j),
    "exp(z32)": lambda t: t.exp(t.z),
    "exp(i32)": lambda t: t.exp(t.j),
    "sqrt(abs(i64))": lambda t: t.sqrt(t.abs(t.i)),
    "sum(z32)": lambda t: t.sum(t.z),
    "sum(i32)": lambda t: t.sum(t.j),
    "mean(z32)": lambda t: t.mean(t.z),
    "mean(i32)": lambda t: t.mean(t.j),
    "max(i32)": lambda t: t.max(t.j),
    "dot(z32, c32)": lambda t: t.dot(t.z, t.c),
    "maximum(z32, 0.0)": lambda t: t.maximum(t.z, 0.0),
    "where(z32 > 0, z32, 0.0)": lambda t: t.where(t.z > 0, t.z, 0.0),
    "where(z32 > 0, z32, f64)": lambda t: t.where(t.z > 0, t.z, t.f),
    "where(z32 > 0, 1, 0)": lambda t: t.where(t.z > 0, 1, 0),
    "z32 > 0.5": lambda t: t.z > 0.5,
    "i32 < 1.5": lambda t: t.j < 1.5,
    "softmax(z32)": lambda t: t.softmax(t.z),
    "logsumexp(z32)": lambda t: t.logsumexp(t.z),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_built_dtype_is_numpys(case):
    expr = CASES[case]
    assert expr(SYMBOLIC).dtype == np.asarray(expr(NUMERIC)).dtype.name


@pytest.fixture(scope="module")
def compiled_cases():
    t = SYMBOLIC
    f = sd.function([t.z, t.f, t.i, t.j], [expr(t) for expr in CASES.values()], parallel_threshold=0)
    return dict(zip(CASES, f(DATA["z"], DATA["f"], DATA["i"], DATA["j"])))


@pytest.mark.parametrize("case", list(CASES))
def test_the_compiled_dtype_and_value_are_numpys(compiled_cases, case):
    got, want = compiled_cases[case], np.asarray(CASES[case](NUMERIC))
    assert got.dtype == want.dtype and got.shape == want.shape
    if want.dtype == np.float32:
        np.testing.assert_allclose(got, want, rtol=2e-6)
    elif want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=1e-13)
    else:
        np.testing.assert_array_equal(got, want)


def test_float32_shared_values_and_constants_stay_float32():
    assert sd.shared(np.float32(0)).dtype == "float32"
    assert sd.shared(np.zeros((2, 2), np.float32)).dtype == "float32"
    assert sd.constant(np.ones(3, np.float32)).dtype == "float32"
    assert sd.constant(np.float32(2.0)).dtype == "float32"
    assert sd.shared(0.0).dtype == "float64" and sd.constant(np.ones(3)).dtype == "float64"
    z = sd.vector("z", dtype="float32")
    assert sd.grad(sd.sum(z ** 2 * sd.constant(np.ones(3, np.float32))), z).dtype == "float32"


def test_a_float32_training_step_stays_float32():
    x = sd.vector("x", dtype="float32")
    w = sd.shared(np.array([1.0, -2.0, 0.5], dtype=np.float32), name="w32")
    loss = sd.sum((w * x - 1.0) ** 2)
    step = sd.function([x], [loss, sd.grad(loss, w)], updates=[(w, w - 0.125 * sd.grad(loss, w))])
    xv = np.array([0.5, 1.0, -2.0], dtype=np.float32)
    wv = w.get_value()
    value, gradient = step(xv)
    want_grad = 2 * (wv * xv - np.float32(1.0)) * xv
    assert value.dtype == np.float32 and gradient.dtype == np.float32 and w.get_value().dtype == np.float32
    np.testing.assert_allclose(value, np.sum((wv * xv - np.float32(1.0)) ** 2), rtol=2e-6)
    np.testing.assert_allclose(gradient, want_grad, rtol=2e-6)
    np.testing.assert_allclose(w.get_value(), wv - np.float32(0.125) * want_grad, rtol=2e-6)
    with pytest.raises(TypeError, match="float32"):  # safe casts only: float64 data for a float32 input
        step(xv.astype(np.float64))


def test_an_update_that_would_widen_a_float32_variable_is_refused():
    w = sd.shared(np.ones(3, np.float32), name="w32")
    with pytest.raises(TypeError, match="astype"):
        sd.function([], [], updates=[(w, w * np.float64(0.5))])
