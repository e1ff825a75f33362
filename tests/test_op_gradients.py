"""Every case of ``cases.py`` compiled: the forward value against the NumPy reference,
and the compiled ``sd.grad`` against SymPy ``diff`` of the same function written
element by element and against central finite differences of the NumPy reference
(``oracles.py``); plus ties, zeros, second derivatives, and the size of gradient graphs."""
from __future__ import annotations

import numpy as np
import pytest

import symdiff as sd
from cases import CASES, check_compiled, compile_case, ids
from oracles import central_differences
from symdiff.graph.walk import postorder


# The default configuration: these small inputs run the serial kernel; test_parallel.py runs
# a subset of the cases with prange on every loop.
@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_compiled_value_and_gradient(case):
    check_compiled(case, compile_case(case))


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
