"""Every case of ``cases.py`` compiled: the forward value against the NumPy reference,
and the compiled ``sd.grad`` against SymPy ``diff`` of the same function written
element by element and against central finite differences of the NumPy reference
(``oracles.py``); plus second derivatives, and the size of gradient graphs."""
from __future__ import annotations

import numpy as np
import pytest

import symdiff as sd
from cases import CASES, DIFFERENTIABLE, ids
from oracles import central_differences, sympy_gradients
from symdiff.graph.walk import postorder


def _check_forward(case, got, expected):
    assert got.shape == expected.shape, f"{case.name}: shape {got.shape}, NumPy gives {expected.shape}"
    assert got.dtype == expected.dtype, f"{case.name}: dtype {got.dtype}, NumPy gives {expected.dtype}"
    if expected.dtype.kind in "biu":
        np.testing.assert_array_equal(got, expected, err_msg=f"{case.name}: forward value")
    else:
        np.testing.assert_allclose(got, expected, rtol=case.rtol, atol=1e-14, err_msg=f"{case.name}: forward value")


@pytest.mark.parametrize("case", [c for c in CASES if not c.differentiable], ids=ids(c for c in CASES if not c.differentiable))
def test_compiled_value(case):
    xs = case.inputs()
    f = sd.function(xs, case.build(*xs))
    _check_forward(case, f(*case.values()), case.expected())


@pytest.mark.parametrize("case", DIFFERENTIABLE, ids=ids(DIFFERENTIABLE))
def test_compiled_value_and_gradient(case):
    values, expected = case.values(), case.expected()
    xs = case.inputs()
    out = case.build(*xs)
    weights = case.weights(expected.shape)
    w = sd.tensor("w", shape=(None,) * out.ndim)
    cost = sd.sum(w * out)
    wrt = [xs[k] for k in case.float_args]
    f = sd.function(xs + [w], [out] + list(sd.grad(cost, wrt)))
    got, *grads = f(*values, weights)
    _check_forward(case, got, expected)

    for k, g in zip(case.float_args, grads):
        assert g.shape == values[k].shape and g.dtype == values[k].dtype, f"{case.name}: d/d a{k}"
    if case.sympy_build is not None:
        differentiable = [a.is_float for a in case.args]
        for k, g, e in zip(case.float_args, grads, sympy_gradients(case.sympy_build, values, weights, differentiable)):
            np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-11, err_msg=f"{case.name}: d/d a{k} vs SymPy")
    for k, g, fd in zip(case.float_args, grads, case.finite_differences()):
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8, err_msg=f"{case.name}: d/d a{k} vs finite differences")


def test_max_gradient_splits_ties_equally():
    x = sd.vector("x")
    f = sd.function([x], sd.grad(sd.max(x), x))
    np.testing.assert_allclose(f(np.array([1.0, 3.0, 3.0, 0.0])), [0.0, 0.5, 0.5, 0.0])
    np.testing.assert_allclose(f(np.array([3.0, 3.0, 3.0, 0.0])), [1 / 3, 1 / 3, 1 / 3, 0.0])


def test_prod_gradient_is_exact_at_zeros():
    x = sd.vector("x")
    f = sd.function([x], sd.grad(sd.prod(x), x))
    np.testing.assert_array_equal(f(np.array([0.0, 2.0, 3.0])), [6.0, 0.0, 0.0])
    np.testing.assert_array_equal(f(np.array([2.0, 0.0, 3.0, 0.0])), [0.0, 0.0, 0.0, 0.0])


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
    x = sd.vector("x")
    y = x
    for _ in range(40):
        y = sd.tanh(y) * y + sd.sin(y)  # y used twice per layer: 2**40 paths
    cost = sd.sum(y)
    g = sd.grad(cost, x)
    n_f = len(postorder([cost.node]))
    n_g = len(postorder([g.node]))
    assert n_g <= 5 * n_f
    f = sd.function([x], g)
    v = np.array([0.1, -0.2])

    def numpy_cost(a):
        for _ in range(40):
            a = np.tanh(a) * a + np.sin(a)
        return float(np.sum(a))

    np.testing.assert_allclose(f(v), central_differences(numpy_cost, [v], 0), rtol=1e-5, atol=1e-9)
