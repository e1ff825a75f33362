"""Every op's compiled gradient against central finite differences and against SymPy
``diff`` of the same function written element by element (see ``oracles.py``)."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symdiff as sd
from oracles import central_differences, elementwise, sympy_gradients

E = elementwise
sig = lambda v: 1 / (1 + sp.exp(-v))  # noqa: E731


def _softmax_rows(a, axis):
    e = E(sp.exp)(a)
    return e / e.sum(axis=axis, keepdims=True)


# name, symdiff function, element-wise SymPy version, input shapes, input sampler
POS = "pos"
CASES = [
    ("add", lambda a, b: a + b, lambda a, b: a + b, [(2, 3), (3,)], None),
    ("sub", lambda a, b: a - b, lambda a, b: a - b, [(2, 3), (2, 1)], None),
    ("mul", lambda a, b: a * b, lambda a, b: a * b, [(2, 3), (3,)], None),
    ("div", lambda a, b: a / b, lambda a, b: a / b, [(2, 3), (2, 3)], POS),
    ("pow", lambda a, b: a**b, lambda a, b: E(sp.Pow)(a, b), [(2, 3), (2, 3)], POS),
    ("pow_const", lambda a: a**3 - 2 * a ** (-2), lambda a: E(lambda v: v**3 - 2 * v ** (-2))(a), [(2, 3)], POS),
    ("neg", lambda a: -a, lambda a: -a, [(4,)], None),
    ("exp", sd.exp, E(sp.exp), [(2, 3)], None),
    ("log", sd.log, E(sp.log), [(2, 3)], POS),
    ("log1p", sd.log1p, E(lambda v: sp.log(1 + v)), [(2, 3)], POS),
    ("expm1", sd.expm1, E(lambda v: sp.exp(v) - 1), [(2, 3)], None),
    ("sqrt", sd.sqrt, E(sp.sqrt), [(2, 3)], POS),
    ("square", sd.square, E(lambda v: v * v), [(2, 3)], None),
    ("abs", sd.abs, E(sp.Abs), [(2, 3)], None),
    ("sin", sd.sin, E(sp.sin), [(2, 3)], None),
    ("cos", sd.cos, E(sp.cos), [(2, 3)], None),
    ("tan", sd.tan, E(sp.tan), [(2, 3)], None),
    ("tanh", sd.tanh, E(sp.tanh), [(2, 3)], None),
    ("sinh", sd.sinh, E(sp.sinh), [(2, 3)], None),
    ("cosh", sd.cosh, E(sp.cosh), [(2, 3)], None),
    ("arcsin", sd.arcsin, E(sp.asin), [(2, 3)], "unit"),
    ("arctan", sd.arctan, E(sp.atan), [(2, 3)], None),
    ("sigmoid", sd.sigmoid, E(sig), [(2, 3)], None),
    ("softplus", sd.softplus, E(lambda v: sp.log(1 + sp.exp(v))), [(2, 3)], None),
    ("relu", sd.relu, E(lambda v: sp.Piecewise((v, v > 0), (0, True))), [(2, 3)], None),
    ("maximum", sd.maximum, E(lambda u, v: sp.Piecewise((u, u >= v), (v, True))), [(2, 3), (3,)], None),
    ("minimum", sd.minimum, E(lambda u, v: sp.Piecewise((u, u <= v), (v, True))), [(2, 3), (2, 3)], None),
    ("where", lambda a, b: sd.where(a > b, a * b, a - b), E(lambda u, v: sp.Piecewise((u * v, u > v), (u - v, True))), [(2, 3), (3,)], None),
    ("clip", lambda a: sd.clip(a, -0.5, 0.5), E(lambda v: sp.Piecewise((-0.5, v < -0.5), (0.5, v > 0.5), (v, True))), [(3, 4)], None),
    ("sum_all", lambda a: sd.sum(a), lambda a: a.sum(), [(2, 3)], None),
    ("sum_axis0", lambda a: sd.sum(a, axis=0), lambda a: a.sum(axis=0), [(2, 3)], None),
    ("sum_keepdims", lambda a: sd.exp(a) / sd.sum(a * a, axis=1, keepdims=True), lambda a: E(sp.exp)(a) / (a * a).sum(axis=1, keepdims=True), [(2, 3)], POS),
    ("mean_axis1", lambda a: sd.mean(a, axis=1), lambda a: a.sum(axis=1) / 3, [(2, 3)], None),
    ("mean_all", lambda a: a.mean(), lambda a: a.sum() / 6, [(2, 3)], None),
    ("prod", lambda a: sd.prod(a, axis=1), lambda a: a.prod(axis=1), [(2, 3)], POS),
    ("matmul_mm", lambda a, b: a @ b, lambda a, b: a.dot(b), [(2, 3), (3, 4)], None),
    ("matmul_mv", lambda a, b: a @ b, lambda a, b: a.dot(b), [(2, 3), (3,)], None),
    ("matmul_vm", lambda a, b: sd.dot(a, b), lambda a, b: a.dot(b), [(3,), (3, 2)], None),
    ("matmul_vv", lambda a, b: a @ b, lambda a, b: a.dot(b), [(3,), (3,)], None),
    ("outer", sd.outer, lambda a, b: np.outer(a, b), [(3,), (2,)], None),
    ("transpose", lambda a: a.T * sd.exp(a.T), lambda a: a.T * E(sp.exp)(a.T), [(2, 3)], None),
    ("transpose_3d", lambda a: sd.transpose(a, (1, 2, 0)) ** 2, lambda a: np.transpose(a, (1, 2, 0)) ** 2, [(2, 3, 2)], None),
    ("reshape", lambda a: sd.reshape(a, (3, -1)) * sd.reshape(a, (3, 2)), lambda a: a.reshape(3, 2) * a.reshape(3, 2), [(2, 3)], None),
    ("index", lambda a: a[1, :2] * a[0, 1:], lambda a: a[1, :2] * a[0, 1:], [(2, 3)], None),
    ("slice_neg", lambda a: a[:, -2:] ** 2, lambda a: a[:, -2:] ** 2, [(2, 3)], None),
    ("concatenate", lambda a, b: sd.concatenate([a, b * b], axis=1), lambda a, b: np.concatenate([a, b * b], axis=1), [(2, 3), (2, 2)], None),
    ("stack", lambda a, b: sd.stack([a, sd.exp(b)], axis=1), lambda a, b: np.stack([a, E(sp.exp)(b)], axis=1), [(3,), (3,)], None),
    ("softmax", lambda a: sd.softmax(a, axis=1), lambda a: _softmax_rows(a, 1), [(2, 3)], None),
    ("log_softmax", lambda a: sd.log_softmax(a, axis=0), lambda a: E(sp.log)(_softmax_rows(a, 0)), [(2, 3)], None),
    ("logsumexp", lambda a: sd.logsumexp(a, axis=1), lambda a: E(sp.log)(E(sp.exp)(a).sum(axis=1)), [(2, 3)], None),
    ("logsumexp_all", lambda a: sd.logsumexp(a), lambda a: sp.log(E(sp.exp)(a).sum()), [(2, 3)], None),
    ("chain", lambda a, b: sd.tanh(a @ b) * sd.log1p(sd.square(a @ b)), lambda a, b: E(lambda v: sp.tanh(v) * sp.log(1 + v * v))(a.dot(b)), [(2, 3), (3, 2)], None),
]

# name, symdiff function, input shapes, output shape
NUMERIC_ONLY = [
    ("max_axis", lambda a: sd.max(a, axis=1), [(3, 4)], (3,)),
    ("min_all", lambda a: sd.min(a), [(3, 4)], ()),
    ("max_keepdims", lambda a: a - sd.max(a, axis=0, keepdims=True), [(3, 4)], (3, 4)),
]


def _sample(rng, shape, kind):
    if kind == POS:
        return rng.uniform(0.5, 2.0, size=shape)
    if kind == "unit":
        return rng.uniform(-0.8, 0.8, size=shape)
    return rng.uniform(-1.5, 1.5, size=shape) + 0.05  # avoid kinks exactly at 0


def _compile(build, shapes):
    """Symbolic inputs with run-time sizes, a weighted scalar cost and its gradients."""
    xs = [sd.tensor(f"a{k}", shape=tuple(1 if n == 1 else None for n in s)) for k, s in enumerate(shapes)]
    out = build(*xs)
    weights = sd.tensor("w", shape=(None,) * out.ndim)
    cost = sd.sum(weights * out)
    f = sd.function(xs + [weights], [cost] + list(sd.grad(cost, xs)))
    return f, out


@pytest.mark.parametrize("name,build,sym_build,shapes,kind", CASES, ids=[c[0] for c in CASES])
def test_gradient_matches_sympy_and_finite_differences(name, build, sym_build, shapes, kind):
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    values = [_sample(rng, s, kind) for s in shapes]
    f, out = _compile(build, shapes)
    out_shape = np.asarray(sym_build(*[np.zeros(s, dtype=object) + sp.S.One for s in shapes]), dtype=object).shape
    weights = rng.uniform(0.5, 1.5, size=out_shape)
    cost, *grads = f(*values, weights)
    expected = sympy_gradients(sym_build, values, weights)
    for k, (g, e) in enumerate(zip(grads, expected)):
        np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-11, err_msg=f"{name}: d/d a{k} vs SymPy")
        fd = central_differences(lambda *a: float(f(*a, weights)[0]), values, k)
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8, err_msg=f"{name}: d/d a{k} vs finite differences")


@pytest.mark.parametrize("name,build,shapes,out_shape", NUMERIC_ONLY, ids=[c[0] for c in NUMERIC_ONLY])
def test_gradient_matches_finite_differences(name, build, shapes, out_shape):
    rng = np.random.default_rng(7)
    values = [rng.permutation(np.prod(s)).reshape(s) / 3.0 for s in shapes]  # distinct: no ties
    f, _ = _compile(build, shapes)
    weights = rng.uniform(0.5, 1.5, size=out_shape)
    cost, *grads = f(*values, weights)
    for k, g in enumerate(grads):
        fd = central_differences(lambda *a: float(f(*a, weights)[0]), values, k)
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8, err_msg=f"{name}: d/d a{k}")


def test_max_gradient_splits_ties_equally():
    x = sd.vector("x")
    f = sd.function([x], sd.grad(sd.max(x), x))
    np.testing.assert_allclose(f(np.array([1.0, 3.0, 3.0, 0.0])), [0.0, 0.5, 0.5, 0.0])


def test_second_derivative():
    x = sd.vector("x")
    g = sd.grad(sd.sum(sd.sin(x) * x), x)
    h = sd.grad(sd.sum(g), x)
    f = sd.function([x], h)
    v = np.array([0.3, -1.2, 2.0])
    np.testing.assert_allclose(f(v), 2 * np.cos(v) - v * np.sin(v), rtol=1e-12)


def test_gradient_size_stays_linear_in_graph_size():
    """The cheap-gradient principle: the gradient of a deep chain is a constant
    times the size of the chain, never exponential in its depth."""
    from symdiff.graph.walk import postorder

    x = sd.vector("x")
    y = x
    for _ in range(40):
        y = sd.tanh(y) * y + sd.sin(y)  # y used twice per layer: 2**40 paths
    cost = sd.sum(y)
    g = sd.grad(cost, x)
    n_f = len(postorder([cost.expr]))
    n_g = len(postorder([g.expr]))
    assert n_g <= 5 * n_f
    f = sd.function([x], g)
    f_cost = sd.function([x], cost)
    v = np.array([0.1, -0.2])
    fd = central_differences(lambda a: float(f_cost(a)), [v], 0)
    np.testing.assert_allclose(f(v), fd, rtol=1e-5, atol=1e-9)
