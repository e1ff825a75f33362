"""``sd.check_grad``: the three-way report, planted wrong rules it must flag, and a
property test: random expression trees over the op set, with random broadcast-compatible
shapes, on which compiled ``grad``, ``backprop`` and finite differences must agree
(derandomized: the same trees in every run)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symdiff as sd
from seed_network import build_network, make_data
from symdiff.checking.backprop import VJPS, elementwise
from symdiff.ops import build as b
from symdiff.ops import elementwise as ew


def _network():
    """The two-layer network of examples/seed_network.py with 30 rows of its data."""
    X, y, params, yp, loss = build_network()
    Xd, yd = make_data(n=30)
    return loss, params, {X: Xd, y: yd}, (X, y, yp)


@pytest.fixture(scope="module")
def network_report():
    loss, params, data, _ = _network()
    return sd.check_grad(loss, params, data, sample=30)


def test_report_on_the_two_layer_network(network_report):
    report = network_report
    assert report.ok, str(report)
    assert [c.name for c in report] == ["w0", "b0", "w1", "b1"]
    assert [c.shape for c in report] == [(4, 20), (20,), (20, 1), (1,)]
    for c in report:
        assert c.grad.shape == c.backprop.shape == c.fd.shape == c.shape
        assert set(c.errors) == {("grad", "backprop"), ("grad", "fd"), ("backprop", "fd")}
        assert c.errors[("grad", "backprop")].abs < 1e-12
        assert c.precision == "float64" and (c.rtol, c.atol) == (1e-5, 1e-8)
    text = str(report)
    for word in ("variable", "shape", "gradient", "grad~backprop", "grad~fd", "backprop~fd", "w0", "(4, 20)", "pass"):
        assert word in text
    assert "h.T @ ((yp - y)*yp*(1 - yp)/N)" in text  # the short formula of d loss/d w1
    assert "FAIL" not in text


def test_large_variables_sample_finite_differences(network_report):
    w0 = network_report["w0"]
    assert w0.sampled is not None and len(w0.sampled) == 30 and len(set(w0.sampled)) == 30
    assert np.isnan(w0.fd).sum() == 80 - 30
    assert not np.isnan(w0.fd.reshape(-1)[w0.sampled]).any()
    assert network_report["b0"].sampled is None and np.isfinite(network_report["b0"].fd).all()  # 20 <= 30: all
    assert "random sample of 30 of 80 entries of the variable (seed 0)" in str(network_report)


def test_sampling_is_seeded():
    loss, params, data, _ = _network()
    a = sd.check_grad(loss, params[:1], data, sample=10, seed=3)["w0"].sampled
    b = sd.check_grad(loss, params[:1], data, sample=10, seed=3)["w0"].sampled
    c = sd.check_grad(loss, params[:1], data, sample=10, seed=4)["w0"].sampled
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_nothing_of_the_callers_is_changed():
    loss, params, data, _ = _network()
    w0 = params[0]
    before = {k: v.copy() for k, v in data.items()}
    storage, value = w0.storage, w0.get_value()
    given = np.full((4, 20), 0.1)
    report = sd.check_grad(loss, [w0], {**data, w0: given}, sample=None)
    assert report.ok, str(report)
    np.testing.assert_array_equal(given, np.full((4, 20), 0.1))
    for k in data:
        np.testing.assert_array_equal(data[k], before[k])
    assert w0.storage is storage
    np.testing.assert_array_equal(w0.get_value(), value)
    # the given value, not the shared one, is what was differentiated at
    expected = sd.backprop(loss, w0, {**data, w0: given})
    np.testing.assert_allclose(report["w0"].grad, expected, rtol=1e-12)


def test_gradient_with_respect_to_an_intermediate():
    loss, params, data, (X, y, yp) = _network()
    report = sd.check_grad(loss, yp, data)
    assert report.ok, str(report)
    assert report["yp"].shape == (30, 1)


def test_float32_tolerances():
    x = sd.vector("x", dtype="float32")
    w = sd.shared(np.linspace(-1, 1, 6).astype(np.float32), name="w")
    cost = sd.sum(sd.tanh(x * w) ** 2) + sd.mean(sd.exp(w))
    report = sd.check_grad(cost, [x, w], {x: np.linspace(0.5, 2, 6).astype(np.float32)})
    assert report.ok, str(report)
    assert report["x"].precision == "float32" and report["x"].rtol == 1e-3
    assert report["x"].grad.dtype == np.float32


def test_finite_differences_of_a_float32_model_run_in_float64():
    """The cost is evaluated in float64 for finite differences, whatever the model's dtype:
    a step of 1e-6 on float32 arithmetic would be mostly rounding noise."""
    x = sd.vector("x", dtype="float32")
    report = sd.check_grad(sd.sum(x**2), x, {x: np.array([0.5, 1.1, 2.3], np.float32)})
    np.testing.assert_allclose(report["x"].fd, [1.0, 2.2, 4.6], rtol=1e-7)
    assert report.ok, str(report)


def test_step_and_tolerances_can_be_chosen():
    x = sd.vector("x")
    cost = sd.sum(sd.exp(x) * sd.sin(x))
    values = {x: np.array([0.3, 1.1, -0.7])}
    coarse = sd.check_grad(cost, x, values, eps=0.1)
    assert not coarse.ok and coarse["x"].suspect == "fd"  # a big step: truncation error ~ eps**2
    assert "FAIL (fd is off)" in str(coarse)
    assert sd.check_grad(cost, x, values, eps=0.1, rtol=0.1).ok
    with pytest.raises(ValueError, match="rtol > 0"):
        sd.check_grad(cost, x, {x: np.ones(3)}, rtol=0.0)


def test_missing_value_is_reported_by_name():
    loss, params, data, (X, y, yp) = _network()
    with pytest.raises(ValueError, match="'y'"):
        sd.check_grad(loss, params, {X: data[X]})


# --------------------------------------------------------------------------- planted wrong rules


class WrongSin(ew.Sin):
    """sin whose symbolic derivative has the wrong sign (a planted bug in a grad rule;
    backprop uses Sin's own NumPy rule)."""

    def vjp(self, g):
        return [b.neg(b.mul(g, ew.Cos((self.x,))))]


class Sin2(ew.Sin):
    """sin with a correct symbolic derivative, for a planted bug in a backprop rule."""


def _weighted(op):
    x = sd.vector("x")
    w = sd.constant(np.array([0.5, 1.0, 1.5, 2.0]), name="c")
    return sd.sum(w * ew.apply(op, x)), x, {x: np.array([0.1, 0.7, -1.2, 2.0])}


def test_a_wrong_symbolic_rule_fails_the_report():
    cost, x, values = _weighted(WrongSin)
    report = sd.check_grad(cost, x, values)
    assert not report.ok
    check = report["x"]
    assert not check.errors[("grad", "backprop")].ok and not check.errors[("grad", "fd")].ok
    assert check.errors[("backprop", "fd")].ok
    assert check.suspect == "grad"
    assert "FAIL (grad is off)" in str(report)


def test_a_wrong_numeric_rule_fails_the_report(monkeypatch):
    monkeypatch.setitem(VJPS, Sin2, elementwise(lambda out, x: 2 * np.cos(x)))
    cost, x, values = _weighted(Sin2)
    report = sd.check_grad(cost, x, values)
    assert not report.ok and report["x"].suspect == "backprop"
    assert "FAIL (backprop is off)" in str(report)


# --------------------------------------------------------------------------- property test

UNARY = {
    "tanh": sd.tanh,
    "sin": sd.sin,
    "cos": sd.cos,
    "sigmoid": sd.sigmoid,
    "softplus": sd.softplus,
    "arctan": sd.arctan,
    "exp_sin": lambda a: sd.exp(sd.sin(a)),
    "log": lambda a: sd.log(1 + a * a),
    "log1p": lambda a: sd.log1p(a * a),
    "expm1": lambda a: sd.expm1(sd.tanh(a)),
    "sqrt": lambda a: sd.sqrt(1 + a * a),
    "square": sd.square,
    "abs": sd.abs,
    "relu": sd.relu,
    "sinh": lambda a: sd.sinh(sd.tanh(a)),
    "cosh": lambda a: sd.cosh(sd.tanh(a)),
    "arcsin": lambda a: sd.arcsin(0.5 * sd.tanh(a)),
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (1 + b * b),
    "pow": lambda a, b: (1 + a * a) ** sd.tanh(b),
    "maximum": sd.maximum,
    "minimum": sd.minimum,
    "where": lambda a, b: sd.where(sd.sin(a) > b, a * b, a - b),  # not a > b: a > a gives a kink on every entry
}
# no max/min: broadcast leaves make ties, where finite differences do not give the equal split
REDUCTIONS = {"sum": sd.sum, "mean": sd.mean, "prod": sd.prod, "logsumexp": sd.logsumexp}


def _shapes(m: int, n: int) -> list:
    """The shapes that broadcast against (m, n)."""
    return [(m, n), (1, n), (m, 1), (n,), (1,), ()]


@st.composite
def expressions(draw, m: int, n: int, leaves: list, depth: int):
    """A random tensor expression over new or existing leaves; its shape broadcasts against (m, n)."""

    def leaf():
        reusable = [v for v in leaves if v.static_shape in _shapes(m, n)]  # not the matrices of matmul
        if reusable and draw(st.booleans()):
            return draw(st.sampled_from(reusable))
        shape = draw(st.sampled_from(_shapes(m, n)))
        var = sd.tensor(f"x{len(leaves)}", shape=shape)
        leaves.append(var)
        return var

    if depth == 0:
        return leaf()
    sub = lambda: draw(expressions(m, n, leaves, depth - 1))  # noqa: E731
    kind = draw(st.sampled_from(["leaf", "unary", "binary", "binary", "reduce", "matmul", "shape", "concatenate"]))
    if kind == "leaf":
        return leaf()
    if kind == "unary":
        return UNARY[draw(st.sampled_from(sorted(UNARY)))](sub())
    if kind == "binary":
        op, left, right = draw(st.sampled_from(sorted(BINARY))), sub(), sub()
        return BINARY[op](left, right)
    a = sub()
    if kind == "reduce":
        op = REDUCTIONS[draw(st.sampled_from(sorted(REDUCTIONS)))]
        return a if a.ndim == 0 else op(a, axis=draw(st.integers(0, a.ndim - 1)), keepdims=True)
    if a.ndim < 2:
        return a
    r, c = a.static_shape
    if kind == "matmul":  # (r, c) @ (c, n), or through transposes: ((r, c).T @ (r, m)).T
        if draw(st.booleans()):
            return _matmul_leaf(a, (c, n), leaves)
        return _matmul_leaf(a.T, (r, m), leaves).T
    if kind == "shape":  # reshape and transpose back: same shape, values moved around twice
        return sd.reshape(a, (c, r)).T * 1.5
    if c < 2:
        return a
    return sd.concatenate([a[:, 1:], 2 * a[:, :1]], axis=1)  # index, slice and concatenate: a rotation


def _matmul_leaf(a, shape: tuple, leaves: list):
    w = sd.tensor(f"x{len(leaves)}", shape=shape)
    leaves.append(w)
    return a @ w


@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), m=st.integers(2, 3), n=st.integers(2, 3))
def test_grad_backprop_and_finite_differences_agree(data, m, n):
    leaves: list = []
    out = data.draw(expressions(m, n, leaves, depth=3))
    weights = np.random.default_rng(m * 10 + n).uniform(0.5, 1.5, size=(m, n))
    cost = sd.sum(sd.constant(weights, name="c") * out)
    rng = np.random.default_rng(len(leaves))
    values = {v: rng.uniform(-1.5, 1.5, size=v.static_shape) for v in leaves}
    report = sd.check_grad(cost, leaves, values, sample=None)
    assert report.ok, f"{sd.pprint(cost)}\n{report}"


# --------------------------------------------------------------------------- regressions of engine bugs found here


def test_nested_maximum():
    """A maximum of a maximum: the inner one's tie test sits inside the outer one's."""
    a, b, c = sd.vector("a"), sd.vector("b"), sd.vector("c")
    values = {a: np.array([1.0, 2.0]), b: np.array([0.0, 3.0]), c: np.array([2.5, 0.5])}
    np.testing.assert_array_equal(sd.backprop(sd.sum(sd.maximum(sd.maximum(a, b), c)), c, values), [1.0, 0.0])
    assert sd.check_grad(sd.sum(sd.maximum(sd.maximum(a, b), c)), [a, b, c], values).ok


def test_min_of_a_scaled_input():
    """The tie test of min must compare the values themselves (not x with m/1.5,
    which is inexact in floats and gives 0/0 gradients)."""
    x = sd.matrix("x")
    cost = sd.sum(sd.min(1.5 * x, axis=0))
    values = {x: np.array([[1.3021], [0.2829], [-0.8185]])}
    np.testing.assert_array_equal(sd.backprop(cost, x, values), [[0.0], [0.0], [1.5]])
    report = sd.check_grad(cost, x, values)
    assert report.ok, str(report)
