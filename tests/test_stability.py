"""Stable gradients by construction: the compiled gradient of each stable form
against mpmath (50 digits) at 0, +-1e-8, +-17, +-40, +-1e3, in float64 and
float32, to a few ulp of the dtype; plus the exact cases (prod with zeros,
sqrt and abs at 0)."""
from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

import symdiff as sd

mp.mp.dps = 50
POINTS = [0.0, 1e-8, -1e-8, 17.0, -17.0, 40.0, -40.0, 1e3, -1e3]
MAX_ULPS = 4.0
DTYPES = ("float64", "float32")


def sig(x):
    return 1 / (1 + mp.exp(-x))


def softmax_row(row):
    m = max(row)
    e = [mp.exp(v - m) for v in row]
    total = mp.fsum(e)
    return [v / total for v in e]


def ulp_error(got, reference, dtype: str) -> float:
    """The largest ``|got - ref|`` in units of ``eps*|ref|`` (``ref``, the mpmath value
    rounded to ``dtype``; below the smallest normal number, in units of it)."""
    info = np.finfo(dtype)
    got = np.asarray(got, dtype=np.float64).ravel()
    ref = np.array([float(r) for r in np.ravel(np.asarray(reference, dtype=object))], dtype=dtype).astype(np.float64)
    assert got.shape == ref.shape
    scale = np.maximum(np.abs(ref), float(info.tiny)) * float(info.eps)
    return float(np.max(np.abs(got - ref) / scale))


# --------------------------------------------------------------------------- cases
# each case: (inputs, cost, wrt, point values, mpmath reference of the gradient)


def _elementwise(build, derivative):
    def case(dtype):
        x = sd.vector("x", dtype=dtype)
        xv = np.array(POINTS, dtype=dtype)
        ref = [derivative(mp.mpf(float(v))) for v in xv]
        return [x], sd.sum(build(x)), x, [xv], ref
    return case


def _rows(build, gradient_of_row):
    """A cost over rows ``(p, 0, 1)`` of a matrix, one row per point ``p``."""
    def case(dtype):
        Z = sd.matrix("Z", dtype=dtype)
        zv = np.array([[p, 0.0, 1.0] for p in POINTS], dtype=dtype)
        ref = [gradient_of_row([mp.mpf(float(v)) for v in row]) for row in zv]
        return [Z], build(Z), Z, [zv], ref
    return case


def _lse_gradient(row):
    return softmax_row(row)


def _first_log_softmax_gradient(row):
    s = softmax_row(row)
    return [(1 if k == 0 else 0) - s[k] for k in range(len(row))]


def _binary_data(dtype):
    """Logits at every point with labels 1 and 0 and 0.25."""
    z = np.array(POINTS * 3, dtype=dtype)
    y = np.array([1.0] * len(POINTS) + [0.0] * len(POINTS) + [0.25] * len(POINTS), dtype=dtype)
    return z, y


def _bce(build):
    def case(dtype):
        z, y = sd.vector("z", dtype=dtype), sd.vector("y", dtype=dtype)
        zv, yv = _binary_data(dtype)
        n = len(zv)
        ref = [(sig(mp.mpf(float(a))) - mp.mpf(float(t))) / n for a, t in zip(zv, yv)]
        return [z, y], build(z, y), z, [zv, yv], ref
    return case


def _bce_probabilities(z, y):
    p = sd.sigmoid(z)
    return -sd.mean(y * sd.log(p) + (1 - y) * sd.log(1 - p))


def _bce_logits_softplus(z, y):
    return sd.mean(sd.softplus(z) - y * z)


def _bce_logits_log_sigmoid(z, y):
    return -sd.mean(y * sd.log(sd.sigmoid(z)) + (1 - y) * sd.log(sd.sigmoid(-z)))


def _categorical(form):
    """Softmax cross-entropy over rows ``(p, 0, 1)``, labels 0 and then 1."""
    def case(dtype):
        Z = sd.matrix("Z", dtype=dtype)
        labels = sd.vector("labels", dtype="int64")
        rows = [[p, 0.0, 1.0] for p in POINTS] * 2
        lv = np.array([0] * len(POINTS) + [1] * len(POINTS))
        zv = np.array(rows, dtype=dtype)
        n = len(rows)
        ref = []
        for row, label in zip(zv, lv):
            s = softmax_row([mp.mpf(float(v)) for v in row])
            ref.append([(s[k] - (1 if k == label else 0)) / n for k in range(3)])
        if form == "dense":
            T = sd.matrix("T", dtype=dtype)
            cost = -sd.mean(sd.sum(T * sd.log_softmax(Z, axis=1), axis=1))
            tv = np.eye(3, dtype=dtype)[lv]
            return [Z, T], cost, Z, [zv, tv], ref
        if form == "indexed":
            cost = -sd.mean(sd.log(sd.softmax(Z, axis=1))[sd.arange(Z.shape[0]), labels])
        else:
            cost = -sd.mean(sd.sum(sd.onehot(labels, 3, dtype=dtype) * sd.log_softmax(Z, axis=1), axis=1))
        return [Z, labels], cost, Z, [zv, lv], ref
    return case


CASES = {
    "log(sigmoid(x))": _elementwise(lambda x: sd.log(sd.sigmoid(x)), lambda v: sig(-v)),
    "log(1 - sigmoid(x))": _elementwise(lambda x: sd.log(1 - sd.sigmoid(x)), lambda v: -sig(v)),
    "log(1 + exp(x))": _elementwise(lambda x: sd.log(1 + sd.exp(x)), sig),
    "log(exp(x) + 1)": _elementwise(lambda x: sd.log(sd.exp(x) + 1), sig),
    "log1p(exp(x))": _elementwise(lambda x: sd.log1p(sd.exp(x)), sig),
    "softplus(x)": _elementwise(sd.softplus, sig),
    "log(sum(exp(Z), axis=1))": _rows(lambda Z: sd.sum(sd.log(sd.sum(sd.exp(Z), axis=1))), _lse_gradient),
    "logsumexp(Z, axis=1)": _rows(lambda Z: sd.sum(sd.logsumexp(Z, axis=1)), _lse_gradient),
    "log_softmax(Z)[:, 0]": _rows(lambda Z: sd.sum(sd.log_softmax(Z, axis=1)[:, 0]), _first_log_softmax_gradient),
    "log(softmax(Z))[:, 0]": _rows(lambda Z: sd.sum(sd.log(sd.softmax(Z, axis=1))[:, 0]), _first_log_softmax_gradient),
    "BCE on sigmoid(z)": _bce(_bce_probabilities),
    "BCE on logits (softplus)": _bce(_bce_logits_softplus),
    "BCE on logits (log sigmoid)": _bce(_bce_logits_log_sigmoid),
    "CE, dense targets": _categorical("dense"),
    "CE, log(softmax)[arange(N), labels]": _categorical("indexed"),
    "CE, onehot(labels)": _categorical("onehot"),
}


@pytest.fixture(scope="module", params=DTYPES)
def compiled(request):
    """Every case's gradient compiled at once per dtype: ``{name: (gradient, reference)}``."""
    dtype = request.param
    results = {}
    for name, make in CASES.items():
        inputs, cost, wrt, values, ref = make(dtype)
        f = sd.function(inputs, sd.grad(cost, wrt))
        results[name] = (f(*values), ref)
    return dtype, results


@pytest.mark.parametrize("name", list(CASES))
def test_gradient_is_accurate_to_a_few_ulp(compiled, name):
    dtype, results = compiled
    got, ref = results[name]
    assert got.dtype == np.dtype(dtype)
    assert np.all(np.isfinite(got))
    assert ulp_error(got, ref, dtype) <= MAX_ULPS


def test_the_naive_formulas_would_fail_these_checks():
    """The checks above can fail: the textbook gradient of BCE evaluated as written
    loses everything at z = 40, y = 1 (float64), where the result is -sigmoid(-40)/N."""
    z, y = 40.0, 1.0
    naive = 1 / (1 + np.exp(-z)) - y
    assert naive == 0.0
    assert ulp_error([naive], [sig(mp.mpf(40)) - 1], "float64") > 1e10


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_at_saturation_keeps_its_sign_and_size(dtype):
    z, y = sd.vector("z", dtype=dtype), sd.vector("y", dtype=dtype)
    g = sd.function([z, y], sd.grad(_bce_probabilities(z, y), z))(np.array([40.0], dtype), np.array([1.0], dtype))
    np.testing.assert_allclose(g, [-float(sig(mp.mpf(-40)))], rtol=4 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_sigmoid_gradient_at_50(dtype):
    z = sd.vector("z", dtype=dtype)
    g = sd.function([z], sd.grad(sd.sum(sd.log(sd.sigmoid(z))), z))(np.array([50.0], dtype))
    np.testing.assert_allclose(g, [1.9287498479639178e-22], rtol=4 * np.finfo(dtype).eps)


# --------------------------------------------------------------------------- exact cases


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("values,expected", [
    ([0.0, 2.0, 3.0], [6.0, 0.0, 0.0]),
    ([2.0, 0.0, 3.0, 0.0], [0.0, 0.0, 0.0, 0.0]),
    ([2.0, 5.0, 3.0], [15.0, 6.0, 10.0]),
    ([1e-8, 0.0, 1e3], [0.0, 1e-5, 0.0]),
])
def test_prod_gradient_is_exact_with_zeros(dtype, values, expected):
    x = sd.vector("x", dtype=dtype)
    g = sd.function([x], sd.grad(sd.prod(x), x))(np.array(values, dtype))
    np.testing.assert_allclose(g, np.array(expected, dtype), rtol=2 * np.finfo(dtype).eps, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_prod_gradient_along_an_axis_with_zeros(dtype):
    X = sd.matrix("X", dtype=dtype)
    xv = np.array([[0.0, 2.0, 3.0], [4.0, 0.0, 0.0], [1.0, 2.0, 3.0]], dtype)
    g = sd.function([X], sd.grad(sd.sum(sd.prod(X, axis=1)), X))(xv)
    np.testing.assert_array_equal(g, np.array([[6, 0, 0], [0, 0, 0], [6, 3, 2]], dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_sqrt_gradient_is_zero_at_zero_and_nan_below(dtype):
    """The documented subgradient: d sqrt(x)/dx at 0 is 0; below 0 the value and the
    gradient are NaN, as in NumPy."""
    x = sd.vector("x", dtype=dtype)
    xv = np.array([0.0, 1e-8, 17.0, 40.0, 1e3, -1.0], dtype)
    g = sd.function([x], sd.grad(sd.sum(sd.sqrt(x)), x))(xv)
    ref = [0] + [1 / (2 * mp.sqrt(mp.mpf(float(v)))) for v in xv[1:-1]]
    assert ulp_error(g[:-1], ref, dtype) <= MAX_ULPS
    assert np.isnan(g[-1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_norm_gradient_at_the_origin_is_zero(dtype):
    x = sd.vector("x", dtype=dtype)
    f = sd.function([x], sd.grad(sd.sqrt(sd.sum(x**2)), x))
    np.testing.assert_array_equal(f(np.zeros(3, dtype)), np.zeros(3, dtype))
    np.testing.assert_allclose(f(np.array([3.0, 4.0, 0.0], dtype)), [0.6, 0.8, 0.0], rtol=4 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", DTYPES)
def test_abs_gradient_is_sign_with_zero_at_zero(dtype):
    x = sd.vector("x", dtype=dtype)
    g = sd.function([x], sd.grad(sd.sum(sd.abs(x)), x))(np.array(POINTS, dtype))
    np.testing.assert_array_equal(g, np.sign(np.array(POINTS)).astype(dtype))


def test_softmax_minus_rows_matches_the_formula_away_from_saturation():
    """The fused kernel of the cross-entropy gradient equals its formula, with
    general (not one-hot) targets and across rows of mixed signs."""
    Z, T = sd.matrix("Z"), sd.matrix("T")
    cost = -sd.sum(T * sd.log_softmax(Z, axis=1))
    rng = np.random.default_rng(7)
    zv, tv = rng.normal(size=(5, 4)), rng.uniform(-1, 2, size=(5, 4))
    g = sd.function([Z, T], sd.grad(cost, Z))(zv, tv)
    s = np.exp(zv - zv.max(axis=1, keepdims=True))
    s /= s.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(g, s * tv.sum(axis=1, keepdims=True) - tv, rtol=1e-12, atol=1e-14)


def test_softmax_minus_along_axis_0_and_with_nan():
    Z, T = sd.matrix("Z"), sd.matrix("T")
    cost = -sd.sum(T * sd.log_softmax(Z, axis=0))
    zv = np.array([[1.0, np.nan], [2.0, 0.0], [-1.0, 3.0]])
    tv = np.array([[0.2, 1.0], [0.3, 0.0], [0.5, 0.0]])
    g = sd.function([Z, T], sd.grad(cost, Z))(zv, tv)
    col = zv[:, 0]
    s = np.exp(col - col.max()) / np.exp(col - col.max()).sum()
    np.testing.assert_allclose(g[:, 0], s * tv[:, 0].sum() - tv[:, 0], rtol=1e-12)
    assert np.all(np.isnan(g[:, 1]))


def test_second_derivative_through_the_cross_entropy_gradient():
    """The fused cross-entropy gradient differentiates again: a Hessian-vector
    product against central differences of the compiled gradient."""
    from oracles import central_differences

    Z, T, V = sd.matrix("Z"), sd.matrix("T"), sd.matrix("V")
    cost = -sd.mean(sd.sum(T * sd.log_softmax(Z, axis=1), axis=1))
    g = sd.grad(cost, Z)
    hv = sd.grad(sd.sum(g * V), Z)
    rng = np.random.default_rng(4)
    zv, tv, vv = rng.normal(size=(3, 4)), rng.uniform(size=(3, 4)), rng.normal(size=(3, 4))
    f_grad = sd.function([Z, T, V], sd.sum(g * V))
    expected = central_differences(lambda z: float(f_grad(z, tv, vv)), [zv], 0)
    got = sd.function([Z, T, V], hv)(zv, tv, vv)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(sd.backprop(sd.sum(g * V), Z, {Z: zv, T: tv, V: vv}), expected, rtol=1e-6, atol=1e-9)
    gt = sd.function([Z, T, V], sd.grad(sd.sum(g * V), T))(zv, tv, vv)
    expected_t = central_differences(lambda t: float(f_grad(zv, t, vv)), [tv], 0)
    np.testing.assert_allclose(gt, expected_t, rtol=1e-6, atol=1e-9)


def test_float32_logistic_regression_on_breast_cancer_stays_finite():
    """The issue's report: BCE written the textbook way, float32, learning rate 1,
    on scikit-learn's breast-cancer data turned NaN at step 89."""
    datasets = pytest.importorskip("sklearn.datasets")
    data = datasets.load_breast_cancer()
    xv = ((data.data - data.data.mean(0)) / data.data.std(0)).astype(np.float32)
    yv = data.target.astype(np.float32)
    X, y = sd.matrix("X", dtype="float32"), sd.vector("y", dtype="float32")
    w = sd.shared(np.zeros(xv.shape[1], np.float32), name="w")
    b = sd.shared(np.float32(0), name="b")
    p = sd.sigmoid(X @ w + b)
    loss = -sd.mean(y * sd.log(p) + (1 - y) * sd.log(1 - p))
    gw, gb = sd.grad(loss, [w, b])
    train = sd.function([X, y], loss, updates=[(w, w - 1.0 * gw), (b, b - 1.0 * gb)])
    losses = train.loop(1000, xv, yv)
    assert np.all(np.isfinite(losses)) and np.all(np.isfinite(w.get_value()))
    assert losses[-1] < 0.06 < losses[0]
