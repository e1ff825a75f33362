"""Every graph compiles, and errors say what the user did (issue 8, points 4 and 6).

The issue's graphs over ``A`` (4x3), ``v`` and ``s`` that crashed the code
generator compile, and their values and gradients match a NumPy forward
pass written here, central finite differences of it, and ``sd.backprop``.
Errors name what the user wrote: a non-tensor ``wrt``, truth values of
symbolic comparisons, and size mismatches quoted in the user's expression,
not in a rewrite of it.
"""
import numpy as np
import pytest

import symdiff as sd
from oracles import central_differences

A = sd.matrix("A")
v = sd.vector("v")
s = sd.scalar("s")


def _np_softmax_rows(a):
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _np_sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


GRAPHS = {
    # the issue's example, verbatim
    "issue": (
        lambda A, v, s, m: (m.sum(m.sum((A + s) / (1 + A ** 2 * v ** 2), axis=0) ** 2 / 16)
                            + m.sum(m.softmax(m.sin(m.sin(A)), axis=1)[:, 0]) + m.sum(m.sin(m.sin(A)))),
    ),
    # the same class: A @ outer(v, v), mean(axis=0), softmax(axis=1)[:, 0], and the elementwise ops
    "outer": (
        lambda A, v, s, m: (m.sum(m.tanh(A @ m.outer(v, v)) * m.sigmoid(A))
                            + m.sum(m.mean(m.softplus(A - s), axis=0) ** 2)
                            + m.sum(m.maximum(A, s) / (1 + m.exp(A)))),
    ),
    "softmax-mean": (
        lambda A, v, s, m: (m.sum(m.log(1 + A ** 2) * m.sqrt(1 + v ** 2))
                            - m.sum(m.softmax(A * s, axis=1)[:, 0]) * m.sum(m.mean(m.sin(A), axis=0) * v)
                            + m.sum(m.minimum(m.tanh(A), m.sigmoid(v)) ** 2)),
    ),
}


class _NumPyOps:
    """The functions the graphs call, as NumPy."""

    sum = staticmethod(np.sum)
    mean = staticmethod(np.mean)
    sin, tanh, exp, log, sqrt = np.sin, np.tanh, np.exp, np.log, np.sqrt
    maximum, minimum, outer = np.maximum, np.minimum, np.outer
    sigmoid = staticmethod(_np_sigmoid)

    @staticmethod
    def softplus(a):
        return np.logaddexp(0.0, a)

    @staticmethod
    def softmax(a, axis):
        assert axis == 1
        return _np_softmax_rows(a)


def _values(name: str) -> list:
    rng = np.random.default_rng(871 + list(GRAPHS).index(name))
    return [rng.standard_normal((4, 3)), rng.standard_normal(3), np.array(rng.uniform(0.3, 1.2))]


def _numpy_cost(name: str):
    build = GRAPHS[name][0]
    return lambda a, b, c: float(build(a, b, float(c), _NumPyOps))


@pytest.fixture(scope="module", params=list(GRAPHS))
def compiled(request):
    name = request.param
    cost = GRAPHS[name][0](A, v, s, sd)
    f = sd.function([A, v, s], [cost] + sd.grad(cost, [A, v, s]))
    return name, cost, f


def test_the_issues_graphs_compile_and_compute_the_numpy_value(compiled):
    name, _, f = compiled
    values = _values(name)
    np.testing.assert_allclose(f(*values)[0], _numpy_cost(name)(*values), rtol=1e-13)


def test_their_gradients_match_finite_differences(compiled):
    name, _, f = compiled
    values = _values(name)
    for k, got in enumerate(f(*values)[1:]):
        want = central_differences(_numpy_cost(name), values, k)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_their_gradients_match_backprop(compiled):
    name, cost, f = compiled
    values = _values(name)
    reference = sd.backprop(cost, [A, v, s], dict(zip([A, v, s], values)))
    for got, want in zip(f(*values)[1:], reference):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-13)


# ----------------------------------------------------------------- errors in the user's terms


def test_grad_with_a_number_for_wrt_says_what_wrt_must_be():
    x = sd.vector("x")
    cost = sd.sum(x ** 2)
    with pytest.raises(TypeError, match="wrt must be a symbolic tensor"):
        sd.grad(cost, 3.0)
    with pytest.raises(TypeError, match=r"wrt\[1\] must be a symbolic tensor"):
        sd.grad(cost, [x, 3.0])
    with pytest.raises(ValueError, match="scalar"):
        sd.grad(x * 2, x)


def test_a_comparison_is_a_symbolic_tensor_without_a_truth_value():
    x = sd.vector("x")
    eq = x == 0
    assert isinstance(eq, sd.Tensor) and eq.dtype == "bool" and sd.pprint(eq) == "x == 0"
    assert isinstance(x != 0, sd.Tensor)
    with pytest.raises(TypeError, match="sd.where"):
        bool(eq)
    with pytest.raises(TypeError, match="sd.where"):
        if x > 0:
            pass


@pytest.mark.parametrize("build, args, quoted, rewritten", [
    (lambda w, x, M: w * 0 + x, (np.ones(2), np.ones(3), np.ones((2, 2))), "w*0 + x", "0*w"),
    (lambda w, x, M: M @ (x * 1 + 0), (np.ones(2), np.ones(3), np.ones((2, 2))), "M @ (x*1 + 0)", "M @ x)"),
], ids=["w*0 + x", "M @ (x*1 + 0)"])
def test_a_size_mismatch_quotes_the_expression_as_written(build, args, quoted, rewritten):
    w, x, M = sd.vector("w"), sd.vector("x"), sd.matrix("M")
    f = sd.function([w, x, M], build(w, x, M), parallel_threshold=0)
    with pytest.raises(ValueError) as info:
        f(*args)
    assert f"(in {quoted})" in str(info.value)
    assert rewritten not in str(info.value)


def test_an_input_missing_from_the_inputs_list_is_named():
    x, y = sd.vector("x"), sd.vector("y")
    with pytest.raises(ValueError, match="'y'"):
        sd.function([x], x * y)


def test_formulas_print_for_graphs_that_used_to_crash():
    x = sd.vector("x")
    assert sd.latex(sd.sigmoid(x) ** 2)
    assert sd.pprint(sd.sigmoid(x) ** 2) == "sigmoid(x)**2"
