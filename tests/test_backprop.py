"""Numeric reverse mode (``sd.backprop``): every op against central finite differences of
a plain NumPy version of the same function (no symdiff code in the oracle), plus the
tape's forward values, shapes, dtypes, structure and errors."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symdiff as sd
from oracles import central_differences
from symdiff.checking.backprop import RULES, Tape, unbroadcast
from symdiff.graph.nodes import BroadcastTo
from symdiff.tensor import Tensor, elementwise


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def _softmax(v, axis):
    e = np.exp(v - v.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _lse(v, axis=None):
    return np.log(np.exp(v).sum(axis=axis))


def _scatter(shape, index, values):
    out = np.zeros(shape)
    out[index] = values
    return out


POS, UNIT = "pos", "unit"
# name, symdiff function, NumPy function, input shapes, input sampler
CASES = [
    ("add", lambda a, b: a + b, lambda a, b: a + b, [(2, 3), (3,)], None),
    ("sub", lambda a, b: a - b, lambda a, b: a - b, [(2, 3), (2, 1)], None),
    ("mul", lambda a, b: a * b, lambda a, b: a * b, [(2, 3), (1, 3)], None),
    ("mul3", lambda a, b, c: a * b * c, lambda a, b, c: a * b * c, [(2, 3), (3,), (2, 1)], None),
    ("div", lambda a, b: a / b, lambda a, b: a / b, [(2, 3), (2, 3)], POS),
    ("pow", lambda a, b: a**b, lambda a, b: a**b, [(2, 3), (3,)], POS),
    ("pow_const", lambda a: a**3 - 2 * a ** (-2) + a**0.5, lambda a: a**3 - 2 * a ** (-2.0) + a**0.5, [(2, 3)], POS),
    ("neg", lambda a: -a, lambda a: -a, [(4,)], None),
    ("scalar_broadcast", lambda a, s: a * s + s, lambda a, s: a * s + s, [(2, 3), ()], None),
    ("exp", sd.exp, np.exp, [(2, 3)], None),
    ("log", sd.log, np.log, [(2, 3)], POS),
    ("log1p", sd.log1p, np.log1p, [(2, 3)], POS),
    ("expm1", sd.expm1, np.expm1, [(2, 3)], None),
    ("sqrt", sd.sqrt, np.sqrt, [(2, 3)], POS),
    ("square", sd.square, np.square, [(2, 3)], None),
    ("abs", sd.abs, np.abs, [(2, 3)], None),
    ("sin", sd.sin, np.sin, [(2, 3)], None),
    ("cos", sd.cos, np.cos, [(2, 3)], None),
    ("tan", sd.tan, np.tan, [(2, 3)], None),
    ("tanh", sd.tanh, np.tanh, [(2, 3)], None),
    ("sinh", sd.sinh, np.sinh, [(2, 3)], None),
    ("cosh", sd.cosh, np.cosh, [(2, 3)], None),
    ("arcsin", sd.arcsin, np.arcsin, [(2, 3)], UNIT),
    ("arctan", sd.arctan, np.arctan, [(2, 3)], None),
    ("sigmoid", sd.sigmoid, _sigmoid, [(2, 3)], None),
    ("softplus", sd.softplus, lambda a: np.log1p(np.exp(a)), [(2, 3)], None),
    ("relu", sd.relu, lambda a: np.maximum(a, 0), [(2, 3)], None),
    ("maximum", sd.maximum, np.maximum, [(2, 3), (3,)], None),
    ("minimum", sd.minimum, np.minimum, [(2, 3), (2, 3)], None),
    ("where", lambda a, b: sd.where(a > b, a * b, a - b), lambda a, b: np.where(a > b, a * b, a - b), [(2, 3), (3,)], None),
    ("where_and_or", lambda a, b: sd.where(elementwise(lambda p, q: sp.And(p, sp.Not(q)), a > 0, b > 0.5), a, sd.where(elementwise(sp.Or, a < -1, b < -1), b, b * b)),
     lambda a, b: np.where((a > 0) & ~(b > 0.5), a, np.where((a < -1) | (b < -1), b, b * b)), [(3, 4), (3, 4)], None),
    ("clip", lambda a: sd.clip(a, -0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5), [(3, 4)], None),
    ("sum_all", sd.sum, np.sum, [(2, 3)], None),
    ("sum_axis0", lambda a: sd.sum(a, axis=0), lambda a: a.sum(axis=0), [(2, 3)], None),
    ("sum_keepdims", lambda a: sd.exp(a) / sd.sum(a * a, axis=1, keepdims=True), lambda a: np.exp(a) / (a * a).sum(axis=1, keepdims=True), [(2, 3)], POS),
    ("mean_axis1", lambda a: sd.mean(a, axis=1), lambda a: a.mean(axis=1), [(2, 3)], None),
    ("mean_all", lambda a: a.mean(), np.mean, [(2, 3)], None),
    ("prod", lambda a: sd.prod(a, axis=1), lambda a: a.prod(axis=1), [(2, 3)], POS),
    ("prod_3d", lambda a: sd.prod(a, axis=(0, 2), keepdims=True), lambda a: a.prod(axis=(0, 2), keepdims=True), [(2, 3, 2)], None),
    ("max_axis", lambda a: sd.max(a, axis=1), lambda a: a.max(axis=1), [(3, 4)], None),
    ("min_all", sd.min, np.min, [(3, 4)], None),
    ("max_keepdims", lambda a: a - sd.max(a, axis=0, keepdims=True), lambda a: a - a.max(axis=0, keepdims=True), [(3, 4)], None),
    ("matmul_mm", lambda a, b: a @ b, lambda a, b: a @ b, [(2, 3), (3, 4)], None),
    ("matmul_mv", lambda a, b: a @ b, lambda a, b: a @ b, [(2, 3), (3,)], None),
    ("matmul_vm", lambda a, b: sd.dot(a, b), lambda a, b: a @ b, [(3,), (3, 2)], None),
    ("matmul_vv", lambda a, b: a @ b, lambda a, b: a @ b, [(3,), (3,)], None),
    ("matmul_self", lambda a: a @ a, lambda a: a @ a, [(3, 3)], None),
    ("outer", sd.outer, np.outer, [(3,), (2,)], None),
    ("transpose", lambda a: a.T * sd.exp(a.T), lambda a: a.T * np.exp(a.T), [(2, 3)], None),
    ("transpose_3d", lambda a: sd.transpose(a, (1, 2, 0)) ** 2, lambda a: np.transpose(a, (1, 2, 0)) ** 2, [(2, 3, 2)], None),
    ("reshape", lambda a: sd.reshape(a, (3, -1)) * sd.reshape(a, (3, 2)), lambda a: a.reshape(3, 2) ** 2, [(2, 3)], None),
    ("index", lambda a: a[1, :2] * a[0, 1:], lambda a: a[1, :2] * a[0, 1:], [(2, 3)], None),
    ("slice_neg", lambda a: a[:, -2:] ** 2, lambda a: a[:, -2:] ** 2, [(2, 3)], None),
    ("concatenate", lambda a, b: sd.concatenate([a, b * b], axis=1), lambda a, b: np.concatenate([a, b * b], axis=1), [(2, 3), (2, 2)], None),
    ("stack", lambda a, b: sd.stack([a, sd.exp(b)], axis=1), lambda a, b: np.stack([a, np.exp(b)], axis=1), [(3,), (3,)], None),
    ("softmax", lambda a: sd.softmax(a, axis=1), lambda a: _softmax(a, 1), [(2, 3)], None),
    ("log_softmax", lambda a: sd.log_softmax(a, axis=0), lambda a: np.log(_softmax(a, 0)), [(2, 3)], None),
    ("logsumexp", lambda a: sd.logsumexp(a, axis=1), lambda a: _lse(a, 1), [(2, 3)], None),
    ("logsumexp_all", sd.logsumexp, _lse, [(2, 3)], None),
    ("broadcast_new_axes", lambda a: Tensor(BroadcastTo.make(a.expr, (2, 3, 4), new_axes=(1,))) * 2,
     lambda a: np.broadcast_to(a[:, None, :], (2, 3, 4)) * 2, [(2, 4)], None),
    # gradient graphs (second derivatives): their own ops (scatter, part of a concatenation, step, sign, ==)
    ("grad_of_index", lambda a: sd.grad(sd.sum(a[1:, :2] ** 3), a), lambda a: _scatter(a.shape, (slice(1, None), slice(None, 2)), 3 * a[1:, :2] ** 2), [(3, 3)], None),
    ("grad_of_concatenate", lambda a, b: sd.grad(sd.sum(sd.concatenate([a, b], axis=1) ** 3), a), lambda a, b: 3 * a**2, [(2, 3), (2, 2)], None),
    ("grad_of_abs", lambda a: sd.grad(sd.sum(sd.abs(a) * a), a), lambda a: 2 * np.abs(a), [(2, 3)], None),
    ("grad_of_relu", lambda a: sd.grad(sd.sum(sd.relu(a) * a), a), lambda a: 2 * np.maximum(a, 0), [(2, 3)], None),
    ("grad_of_max", lambda a: sd.grad(sd.sum(sd.max(a, axis=1) * a[:, 0]), a),
     lambda a: (a == a.max(axis=1, keepdims=True)) * a[:, :1] + _scatter(a.shape, (slice(None), 0), a.max(axis=1)), [(3, 4)], None),
    ("chain", lambda a, b: sd.tanh(a @ b) * sd.log1p(sd.square(a @ b)), lambda a, b: np.tanh(a @ b) * np.log1p((a @ b) ** 2), [(2, 3), (3, 2)], None),
]


def _sample(rng, shape, kind):
    if kind == POS:
        return rng.uniform(0.5, 2.0, size=shape)
    if kind == UNIT:
        return rng.uniform(-0.8, 0.8, size=shape)
    grid = (rng.permutation(int(np.prod(shape))) - 2.3) / 2.7  # distinct entries, away from the kinks at 0
    return np.array(grid.reshape(shape) + rng.uniform(0, 0.05, size=shape))  # and no ties between inputs


@pytest.mark.parametrize("name,build,reference,shapes,kind", CASES, ids=[c[0] for c in CASES])
def test_backprop_matches_finite_differences(name, build, reference, shapes, kind):
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    values = [_sample(rng, s, kind) for s in shapes]
    # run-time sizes except where broadcasting needs a literal 1 (and where a static size is needed)
    static = name in ("reshape", "broadcast_new_axes", "grad_of_index")
    xs = [sd.tensor(f"a{k}", shape=s if static else tuple(1 if n == 1 else None for n in s)) for k, s in enumerate(shapes)]
    out = build(*xs)
    expected = reference(*values)
    weights = rng.uniform(0.5, 1.5, size=np.shape(expected))
    cost = sd.sum(sd.constant(weights) * out)
    env = dict(zip(xs, values))

    np.testing.assert_allclose(Tape([out.expr], env).values[out.expr], expected, rtol=1e-12, atol=1e-14)
    grads = sd.backprop(cost, xs, env)
    for k, g in enumerate(grads):
        fd = central_differences(lambda *a: float(np.sum(weights * reference(*a))), values, k)
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8, err_msg=f"{name}: d/d a{k}")


def test_every_op_class_has_a_rule():
    from symdiff.graph.functions import ELEMENTWISE_FUNCTIONS
    from symdiff.graph.nodes import TENSOR_OPS

    for op in TENSOR_OPS + ELEMENTWISE_FUNCTIONS:
        assert any(cls in RULES for cls in op.__mro__), op


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


def _network():
    X, y = sd.matrix("X"), sd.matrix("y")
    rng = np.random.default_rng(0)
    w0 = sd.shared(rng.standard_normal((4, 5)), name="w0")
    b0 = sd.shared(np.zeros(5), name="b0")
    w1 = sd.shared(rng.standard_normal((5, 1)), name="w1")
    h = sd.sigmoid(X @ w0 + b0, name="h")
    yp = sd.sigmoid(h @ w1, name="yp")
    loss = sd.mean(0.5 * (yp - y) ** 2)
    data = {X: rng.standard_normal((7, 4)), y: rng.uniform(size=(7, 1))}
    return loss, (X, y, w0, b0, w1, h, yp), data


def _numpy_network_grads(Xd, yd, w0, b0, w1):
    """The two-layer network's gradients derived by hand."""
    h = _sigmoid(Xd @ w0 + b0)
    yp = _sigmoid(h @ w1)
    d_yp = (yp - yd) / yd.size
    d_z1 = d_yp * yp * (1 - yp)
    d_z0 = (d_z1 @ w1.T) * h * (1 - h)
    return Xd.T @ d_z0, d_z0.sum(axis=0), h.T @ d_z1


def test_shared_variables_default_to_their_value_and_can_be_overridden():
    loss, (X, y, w0, b0, w1, h, yp), data = _network()
    Xd, yd = data[X], data[y]
    got = sd.backprop(loss, [w0, b0, w1], data)
    for g, e in zip(got, _numpy_network_grads(Xd, yd, w0.get_value(), b0.get_value(), w1.get_value())):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-15)
    other = np.ones((4, 5)) * 0.1
    got = sd.backprop(loss, w0, {**data, w0: other})
    np.testing.assert_allclose(got, _numpy_network_grads(Xd, yd, other, b0.get_value(), w1.get_value())[0], rtol=1e-12)


def test_result_structure_follows_wrt():
    loss, (X, y, w0, b0, w1, h, yp), data = _network()
    assert isinstance(sd.backprop(loss, w0, data), np.ndarray)
    assert isinstance(sd.backprop(loss, [w0], data), list)
    single = sd.backprop(loss, (w0, b0), data)
    assert isinstance(single, tuple) and [a.shape for a in single] == [(4, 5), (5,)]
    # a symbol works as well as its variable
    np.testing.assert_array_equal(sd.backprop(loss, w0.expr, {X.expr: data[X], y.expr: data[y]}), sd.backprop(loss, w0, data))


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


def test_user_arrays_are_not_modified():
    loss, (X, y, w0, b0, w1, h, yp), data = _network()
    before = {k: v.copy() for k, v in data.items()}
    w0_before = w0.get_value()
    sd.backprop(loss, [X, w0], data)
    for k in data:
        np.testing.assert_array_equal(data[k], before[k])
    np.testing.assert_array_equal(w0.get_value(), w0_before)


def test_missing_value_names_the_variable():
    loss, (X, y, *_), data = _network()
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
    with pytest.raises(ValueError, match="shape mismatch: a.shape\\[0\\] = 3 but b.shape\\[0\\] = 1"):
        sd.backprop(sd.sum(a * b), a, {a: np.ones(3), b: np.ones(1)})  # None sizes never broadcast


def test_wrt_must_be_a_node_of_the_graph():
    x, y = sd.vector("x"), sd.vector("y")
    with pytest.raises(ValueError, match="not a node of the cost's graph"):
        sd.backprop(sd.sum(x * y), sd.exp(x), {x: np.ones(2), y: np.ones(2)})


def test_cost_must_be_a_scalar():
    x = sd.vector("x")
    with pytest.raises(ValueError, match="must be a scalar"):
        sd.backprop(x * 2, x, {x: np.ones(2)})


def test_op_without_rule_is_a_clear_error():
    class mystery(sp.Function):
        pass

    x = sd.vector("x")
    with pytest.raises(TypeError, match="no NumPy rule for mystery"):
        sd.backprop(sd.sum(elementwise(mystery, x)), x, {x: np.ones(2)})
