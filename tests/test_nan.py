"""NaN and inf in the data flow through values and gradients where NumPy puts
them: compiled results against the NumPy tape of ``sd.backprop`` (its own
forward and VJP rules, no code shared with the compiler); and the
``nan_guard`` mode that names the node where a NaN is made."""
from __future__ import annotations

import numpy as np
import pytest

import symdiff as sd
from symdiff.checking.backprop import Tape
from symdiff.checking.nan_guard import NaNError

SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, 1.5, -2.0, 800.0, -800.0])

UNARY = {
    "exp": sd.exp, "expm1": sd.expm1, "log": sd.log, "log1p": sd.log1p, "sqrt": sd.sqrt, "abs": sd.abs,
    "sign": sd.sign, "sin": sd.sin, "cos": sd.cos, "tanh": sd.tanh, "sinh": sd.sinh, "cosh": sd.cosh,
    "arctan": sd.arctan, "arcsinh": sd.arcsinh, "sigmoid": sd.sigmoid, "softplus": sd.softplus, "relu": sd.relu,
    "floor": sd.floor, "square": sd.square, "cube": lambda a: a**3, "reciprocal": lambda a: 1 / a,
    "product": lambda a: a * a, "maximum": lambda a: sd.maximum(a, 0.0), "minimum": lambda a: sd.minimum(a, 1.0),
    "clip": lambda a: sd.clip(a, -1, 1), "where": lambda a: sd.where(a > 0, a, 2 * a),
}


def assert_same_with_nan(got, expected, rtol):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(expected))
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(expected))
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=0, equal_nan=True)


@pytest.fixture(scope="module", params=["float64", "float32"])
def unary_results(request):
    """Every unary case compiled into one function per dtype: values and gradients."""
    dtype = request.param
    x = sd.vector("x", dtype=dtype)
    xv = SPECIAL.astype(dtype)
    outputs, oracles = [], {}
    for name, op in UNARY.items():
        y = op(x)
        cost = sd.sum(y)
        outputs += [y, sd.grad(cost, x)]
        oracles[name] = (Tape([y.node], {x: xv}).value(y.node), sd.backprop(cost, x, {x: xv}))
    results = sd.function([x], outputs)(xv)
    got = {name: (results[2 * k], results[2 * k + 1]) for k, name in enumerate(UNARY)}
    return dtype, got, oracles


@pytest.mark.parametrize("name", list(UNARY))
def test_special_values_propagate_as_in_numpy(unary_results, name):
    dtype, got, oracles = unary_results
    rtol = 4 * np.finfo(dtype).eps
    assert_same_with_nan(got[name][0], oracles[name][0], rtol)
    assert_same_with_nan(got[name][1], oracles[name][1], rtol)


def _rows_with_nan(softmax_family: bool):
    rng = np.random.default_rng(3)
    m = rng.normal(size=(4, 3))
    m[1, 2] = np.nan
    m[3, 0] = -np.inf
    m[0, 1] = np.inf if not softmax_family else 0.0
    return m


ROW_OPS = {
    "softmax": lambda Z: sd.softmax(Z, axis=1),
    "log_softmax": lambda Z: sd.log_softmax(Z, axis=1),
    "logsumexp": lambda Z: sd.logsumexp(Z, axis=1),
    "max": lambda Z: sd.max(Z, axis=1),
    "min": lambda Z: sd.min(Z, axis=0),
    "prod": lambda Z: sd.prod(Z, axis=1),
    "mean": lambda Z: sd.mean(Z, axis=0),
    "matmul": lambda Z: Z @ np.array([[1.0, -1.0], [0.5, 2.0], [0.0, 1.0]]),
}


@pytest.mark.parametrize("name", list(ROW_OPS))
def test_nan_and_inf_stay_in_their_rows(name):
    Z = sd.matrix("Z")
    zv = _rows_with_nan(name in ("softmax", "log_softmax", "logsumexp"))
    y = ROW_OPS[name](Z)
    weights = np.random.default_rng(5).uniform(0.5, 1.5, size=Tape([y.node], {Z: zv}).value(y.node).shape)
    cost = sd.sum(sd.constant(weights) * y)
    value, gradient = sd.function([Z], [y, sd.grad(cost, Z)])(zv)
    assert_same_with_nan(value, Tape([y.node], {Z: zv}).value(y.node), 1e-12)
    assert_same_with_nan(gradient, sd.backprop(cost, Z, {Z: zv}), 1e-12)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_a_plus_inf_logit_makes_its_row_nan(name):
    """``exp(x - max(x))`` is NaN at a +inf logit and the row's sum with it: the
    whole row of a softmax (as in NumPy and JAX) and of the gradients built
    from it is NaN; the other rows are untouched."""
    Z = sd.matrix("Z")
    zv = np.array([[np.inf, 1.0, 2.0], [0.5, -1.0, 2.0]])
    y = ROW_OPS[name](Z)
    value, gradient = sd.function([Z], [y, sd.grad(sd.sum(y * y), Z)])(zv)
    assert np.all(np.isnan(gradient[0])) and np.all(np.isfinite(gradient[1]))
    ok = sd.backprop(sd.sum(y * y), Z, {Z: zv})
    np.testing.assert_allclose(gradient[1], ok[1], rtol=1e-12)


def test_losses_keep_nan_in_the_bad_sample_only():
    """A NaN logit makes that sample's gradient NaN, in BCE and in softmax
    cross-entropy (stable forms included); the other samples are untouched."""
    z, y = sd.vector("z"), sd.vector("y")
    p = sd.sigmoid(z)
    bce = -sd.mean(y * sd.log(p) + (1 - y) * sd.log(1 - p))
    zv, yv = np.array([0.5, np.nan, -2.0, 40.0]), np.array([1.0, 0.0, 0.0, 1.0])
    loss, g = sd.function([z, y], [bce, sd.grad(bce, z)])(zv, yv)
    assert np.isnan(loss)
    np.testing.assert_array_equal(np.isnan(g), [False, True, False, False])
    s = 1 / (1 + np.exp(-zv))
    np.testing.assert_allclose(g[[0, 2]], (s - yv)[[0, 2]] / 4, rtol=1e-14)

    Z, labels = sd.matrix("Z"), sd.vector("labels", dtype="int64")
    ce = -sd.mean(sd.sum(sd.onehot(labels, 3) * sd.log_softmax(Z, axis=1), axis=1))
    zm = np.array([[1.0, 2.0, 0.5], [np.nan, 0.0, 1.0], [0.0, 0.0, 0.0]])
    gm = sd.function([Z, labels], sd.grad(ce, Z))(zm, np.array([0, 1, 2]))
    np.testing.assert_array_equal(np.isnan(gm).any(axis=1), [False, True, False])
    assert np.all(np.isnan(gm[1]))


def test_network_with_a_nan_input_row_matches_backprop():
    X, y = sd.matrix("X"), sd.matrix("y")
    rng = np.random.default_rng(0)
    w0 = sd.shared(rng.standard_normal((4, 5)), name="w0")
    b0 = sd.shared(np.zeros(5), name="b0")
    w1 = sd.shared(rng.standard_normal((5, 1)), name="w1")
    h = sd.sigmoid(X @ w0 + b0, name="h")
    yp = sd.sigmoid(h @ w1, name="yp")
    loss = sd.mean(0.5 * (yp - y) ** 2)
    xv = rng.standard_normal((6, 4))
    xv[2, 1] = np.nan
    yv = rng.uniform(size=(6, 1))
    params = [w0, b0, w1]
    got = sd.function([X, y], [loss, yp] + sd.grad(loss, params))(xv, yv)
    assert np.isnan(got[0])
    np.testing.assert_array_equal(np.isnan(got[1][:, 0]), [False, False, True, False, False, False])
    for g, expected in zip(got[2:], sd.backprop(loss, params, {X: xv, y: yv})):
        assert_same_with_nan(g, expected, 1e-12)


# --------------------------------------------------------------------------- nan_guard


def test_nan_guard_names_the_node_that_made_the_nan():
    x = sd.vector("x")
    h = sd.log(x - 1, name="h")
    f = sd.function([x], sd.sum(2 * h + sd.sqrt(x)), nan_guard=True)
    assert np.isfinite(f(np.array([2.0, 3.0])))
    with pytest.raises(NaNError, match=r"log\(x - 1\) \(named 'h'\) produced NaN \(1 of 2 entries\)") as info:
        f(np.array([2.0, 0.5]))
    assert info.value.node.name == "h"


def test_nan_guard_reports_inf_minus_inf_with_its_operands():
    x = sd.vector("x")
    f = sd.function([x], sd.exp(x) - sd.exp(2 * x), nan_guard=True)
    with pytest.raises(FloatingPointError, match=r"exp\(x\) - exp\(2\*x\) produced NaN.*1 inf"):
        f(np.array([1000.0]))


def test_nan_guard_lets_nan_in_the_data_through():
    x = sd.vector("x")
    f = sd.function([x], sd.sum(sd.exp(x)), nan_guard=True)
    assert np.isnan(f(np.array([1.0, np.nan])))


def test_nan_guard_finds_a_nan_made_inside_a_gradient():
    w = sd.vector("w")
    cost = sd.sum(sd.sqrt(w) * 3)
    f = sd.function([w], sd.grad(cost, w), nan_guard=True)
    np.testing.assert_allclose(f(np.array([4.0, 0.0])), [0.75, 0.0])
    with pytest.raises(NaNError, match=r"sqrt\(w\)"):
        f(np.array([4.0, -1.0]))


def test_without_the_guard_nan_is_returned_silently():
    x = sd.vector("x")
    f = sd.function([x], sd.log(x - 1))
    assert np.isnan(f(np.array([0.5]))[0])
