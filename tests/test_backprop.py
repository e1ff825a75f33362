"""Numeric reverse mode (``sd.backprop``): every case of ``cases.py`` against central
finite differences of its plain NumPy version (no symdiff code in the oracle), the
tape's forward values against NumPy, plus the tape's shapes, dtypes, structure and
errors, on the two-layer network of ``examples/seed_network.py``."""
from __future__ import annotations

import numpy as np
import pytest

import symdiff as sd
from cases import CASES, ids
from oracles import network_backprop
from seed_network import build_network, make_data
from symdiff.checking.backprop import Tape, unbroadcast
from symdiff.graph.node import Node
from symdiff.graph.types import TensorType


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_backprop_matches_finite_differences(case):
    values, expected = case.values(), case.expected()
    xs = case.inputs()
    out = case.build(*xs)
    env = dict(zip(xs, values))

    forward = Tape([out.node], env).value(out.node)
    assert forward.shape == expected.shape and forward.dtype == expected.dtype, case.name
    np.testing.assert_allclose(forward, expected, rtol=case.rtol, atol=1e-14, err_msg=f"{case.name}: tape value")
    if not case.differentiable:
        return
    weights = case.weights(expected.shape)
    cost = sd.sum(sd.constant(weights) * out)
    grads = sd.backprop(cost, [xs[k] for k in case.float_args], env)
    for k, g, fd in zip(case.float_args, grads, case.finite_differences()):
        assert g.shape == values[k].shape and g.dtype == values[k].dtype, f"{case.name}: d/d a{k}"
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8, err_msg=f"{case.name}: d/d a{k}")


def test_product_rule_is_exact_at_zero():
    x = sd.vector("x")
    g = sd.backprop(sd.prod(x), x, {x: np.array([2.0, 0.0, 3.0, 0.0])})
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0, 0.0])
    g = sd.backprop(sd.prod(x), x, {x: np.array([2.0, 0.0, 3.0])})
    np.testing.assert_array_equal(g, [0.0, 6.0, 0.0])


def test_max_splits_ties_equally_as_grad_does():
    x = sd.vector("x")
    np.testing.assert_allclose(sd.backprop(sd.max(x), x, {x: np.array([1.0, 3.0, 3.0, 0.0])}), [0.0, 0.5, 0.5, 0.0])


def test_unbroadcast():
    g = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(unbroadcast(g, (3, 1)), g.sum(axis=(0, 2)).reshape(3, 1))
    np.testing.assert_array_equal(unbroadcast(g, ()), g.sum())
    np.testing.assert_array_equal(unbroadcast(g, (2, 3, 4)), g)


# --------------------------------------------------------------------------- on the two-layer network


@pytest.fixture
def network():
    """A fresh network (its parameters at their initial values) and 7 rows of data."""
    X, y, params, yp, loss = build_network()
    Xd, yd = make_data(n=7)
    return loss, X, y, params, yp, {X: Xd, y: yd}


def test_shared_variables_default_to_their_value_and_can_be_overridden(network):
    loss, X, y, params, _, data = network
    got = sd.backprop(loss, params, data)
    _, want, _ = network_backprop(data[X], data[y], *(p.get_value() for p in params))
    for g, e in zip(got, want):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-15)
    other = np.full((4, 20), 0.1)
    got = sd.backprop(loss, params[0], {**data, params[0]: other})
    values = [other] + [p.get_value() for p in params[1:]]
    np.testing.assert_allclose(got, network_backprop(data[X], data[y], *values)[1][0], rtol=1e-12)


def test_result_structure_follows_wrt(network):
    loss, X, y, (w0, b0, w1, b1), _, data = network
    assert isinstance(sd.backprop(loss, w0, data), np.ndarray)
    assert isinstance(sd.backprop(loss, [w0], data), list)
    pair = sd.backprop(loss, (w0, b0), data)
    assert isinstance(pair, tuple) and [a.shape for a in pair] == [(4, 20), (20,)]
    # a plain variable node works as a key as well as its tensor
    np.testing.assert_array_equal(sd.backprop(loss, w0, {X.node: data[X], y.node: data[y]}), sd.backprop(loss, w0, data))


def test_intermediate_wrt_and_total_derivatives():
    x = sd.vector("x")
    h = sd.tanh(x, name="hh")
    cost = sd.sum(h * x)
    v = np.array([0.5, -1.0, 2.0])
    dx, dh = sd.backprop(cost, [x, h], {x: v})
    np.testing.assert_allclose(dh, v)
    np.testing.assert_allclose(dx, np.tanh(v) + v * (1 - np.tanh(v) ** 2))  # through h too


def test_disconnected_variable_gets_zeros():
    x, z = sd.vector("x"), sd.matrix("z")
    g = sd.backprop(sd.sum(x * x), [x, z], {x: np.ones(3), z: np.ones((2, 2))})
    np.testing.assert_array_equal(g[1], np.zeros((2, 2)))


def test_float32_runs_in_float32():
    x = sd.vector("x", dtype="float32")
    v = np.linspace(-1, 1, 5).astype(np.float32)
    g = sd.backprop(sd.sum(sd.tanh(x) * 3.0), x, {x: v})
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, 3 * (1 - np.tanh(v.astype(np.float64)) ** 2), rtol=1e-6)


def test_constants_use_their_value():
    x = sd.vector("x")
    c = sd.constant(np.array([1.0, 2.0, 3.0]), name="c")
    np.testing.assert_allclose(sd.backprop(sd.sum(c * x * x), x, {x: np.ones(3)}), [2.0, 4.0, 6.0])
    with pytest.raises(ValueError, match="'c' is a constant"):
        sd.backprop(sd.sum(c * x), x, {x: np.ones(3), c: np.zeros(3)})


def test_user_arrays_are_not_modified(network):
    loss, X, y, params, _, data = network
    before = {k: v.copy() for k, v in data.items()}
    w0_before = params[0].get_value()
    sd.backprop(loss, [X, params[0]], data)
    for k in data:
        np.testing.assert_array_equal(data[k], before[k])
    np.testing.assert_array_equal(params[0].get_value(), w0_before)


def test_missing_value_names_the_variable(network):
    loss, X, y, _, _, data = network
    with pytest.raises(ValueError, match="no value for input variable 'y'"):
        sd.backprop(loss, X, {X: data[X]})


def test_wrong_static_shape_is_an_error():
    x = sd.tensor("x", shape=(None, 3))
    with pytest.raises(ValueError, match=r"'x': expected shape \(None, 3\), got \(2, 4\)"):
        sd.backprop(sd.sum(x), x, {x: np.ones((2, 4))})
    with pytest.raises(ValueError, match=r"'x': expected shape \(None, 3\), got \(3,\)"):
        sd.backprop(sd.sum(x), x, {x: np.ones(3)})


def test_run_time_sizes_must_agree():
    a, b = sd.vector("a"), sd.vector("b")
    with pytest.raises(ValueError, match=r"shape mismatch: a\.shape\[0\] = 3 but b\.shape\[0\] = 1"):
        sd.backprop(sd.sum(a * b), a, {a: np.ones(3), b: np.ones(1)})  # None sizes never broadcast


def test_wrt_must_be_a_node_of_the_graph():
    x, y = sd.vector("x"), sd.vector("y")
    with pytest.raises(ValueError, match="not a node of the cost's graph"):
        sd.backprop(sd.sum(x * y), sd.exp(x), {x: np.ones(2), y: np.ones(2)})


def test_cost_must_be_a_scalar():
    x = sd.vector("x")
    with pytest.raises(ValueError, match="must be a scalar"):
        sd.backprop(x * 2, x, {x: np.ones(2)})


class Mystery(Node):
    """An op nobody taught backprop."""

    def infer_type(self):
        return TensorType(self.inputs[0].dtype, self.inputs[0].shape), ()


def test_op_without_rule_is_a_clear_error():
    x = sd.vector("x")
    with pytest.raises(TypeError, match="no NumPy forward rule for Mystery"):
        sd.backprop(sd.sum(sd.Tensor(Mystery((x.node,)))), x, {x: np.ones(2)})
