"""Facts belong to a graph (issue 8, point 1).

Size equalities come from the graph being compiled, never from other graphs
built in the same process; a size two inputs must share is checked at call
time with an error naming both; naming one expression never changes how
another prints; a shared variable's value lives with the variable, so a
graph keeps working after the user's last handle on it is gone.
"""
import gc
import weakref

import numpy as np
import pytest

import symdiff as sd
from symdiff.codegen.plan import make_plan


def test_an_unrelated_expression_teaches_the_compiler_nothing():
    x = sd.vector("x")
    y = sd.vector("y")
    _ = x + y  # says x and y have one length, but only inside this unused expression
    f = sd.function([x, y], [sd.exp(x) * 2, sd.exp(y) * 3])
    rng = np.random.default_rng(801)
    for n_x, n_y in [(3, 5), (5, 3)]:
        xv, yv = rng.standard_normal(n_x), rng.standard_normal(n_y)
        out_x, out_y = f(xv, yv)
        assert out_x.shape == (n_x,) and out_y.shape == (n_y,)
        np.testing.assert_allclose(out_x, np.exp(xv) * 2, rtol=1e-14)
        np.testing.assert_allclose(out_y, np.exp(yv) * 3, rtol=1e-14)
    assert not f.plan.facts.same(x.node.shape[0], y.node.shape[0])


def test_the_facts_of_a_plan_come_from_its_own_graph():
    x = sd.vector("x")
    y = sd.vector("y")
    twin = sd.vector("x")  # same name, another variable
    _ = x + y, x * twin
    alone = make_plan([(sd.exp(x) * 2).node, (sd.exp(y) * 3).node, (twin * 1.5).node], [], [x.node, y.node, twin.node])
    sizes = [v.node.shape[0] for v in (x, y, twin)]
    assert not any(alone.facts.same(a, b) for a, b in [(sizes[0], sizes[1]), (sizes[0], sizes[2]), (sizes[1], sizes[2])])
    joined = make_plan([(x * y).node, (twin * 1.5).node], [], [x.node, y.node, twin.node])
    assert joined.facts.same(sizes[0], sizes[1])
    assert not joined.facts.same(sizes[0], sizes[2])


@pytest.fixture(scope="module")
def must_share():
    """One compiled graph whose inputs must share sizes: ``x*y`` and ``A @ y``."""
    x, y, A = sd.vector("x"), sd.vector("y"), sd.matrix("A")
    return sd.function([x, y, A], [x * y, A @ y], parallel_threshold=0)


def test_a_shared_size_is_checked_at_call_time_naming_both_inputs(must_share):
    with pytest.raises(ValueError) as info:
        must_share(np.ones(3), np.ones(5), np.ones((2, 5)))
    message = str(info.value)
    assert "x.shape[0] = 3" in message and "y.shape[0] = 5" in message
    with pytest.raises(ValueError) as info:
        must_share(np.ones(5), np.ones(5), np.ones((2, 4)))
    message = str(info.value)
    assert "A.shape[1] = 4" in message and "y.shape[0] = 5" in message


def test_a_graph_that_needs_equal_sizes_computes_right_when_they_are(must_share):
    rng = np.random.default_rng(802)
    for n in (1, 4, 9):
        xv, yv, Av = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal((3, n))
        prod, mv = must_share(xv, yv, Av)
        np.testing.assert_allclose(prod, xv * yv, rtol=1e-14)
        np.testing.assert_allclose(mv, Av @ yv, rtol=1e-12)


def test_naming_an_expression_never_renames_an_equal_one():
    x = sd.vector("x")
    plain = sd.exp(x)
    before = (sd.pprint(plain), sd.pprint(plain * 2), sd.latex(plain * 2))
    named = sd.exp(x, name="h")
    assert (sd.pprint(plain), sd.pprint(plain * 2), sd.latex(plain * 2)) == before
    assert before[:2] == ("exp(x)", "exp(x)*2")
    assert plain.name is None and named.name == "h"
    assert "h = exp(x)" in sd.pprint(named + 1)
    twice = x * 2
    other = (x * 2).named("k")
    assert sd.pprint(twice + 1) == "x*2 + 1"
    assert "k" in sd.pprint(other + 1)


def test_a_shared_value_lives_with_the_variable_not_with_its_python_name():
    x = sd.vector("x")
    w = sd.shared(np.array([1.0, -2.0, 0.5]), name="w")
    handle = weakref.ref(w)
    scaled = w * x
    del w
    gc.collect()
    assert handle() is None  # the user's handle is gone; the graph still holds the value
    cost = sd.sum(scaled ** 2)  # build more graph on it
    f = sd.function([x], [cost, sd.grad(cost, x)], parallel_threshold=0)  # compile
    xv = np.array([0.3, 0.1, -2.0])
    value, gradient = f(xv)  # call
    wv = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(value, np.sum((wv * xv) ** 2), rtol=1e-14)
    np.testing.assert_allclose(gradient, 2 * wv ** 2 * xv, rtol=1e-14)


def test_a_function_keeps_the_shared_variables_it_updates():
    def make_counter():
        count = sd.shared(np.array(0.0), name="count")
        return sd.function([], count * 1.0, updates=[(count, count + 1)])

    counter = make_counter()
    gc.collect()
    assert [float(counter()) for _ in range(3)] == [0.0, 1.0, 2.0]


@pytest.mark.parametrize("derivative", ["grad", "jacobian"])
def test_a_derivative_checks_the_sizes_its_function_required(derivative):
    """``x.T @ ones`` is the gradient of ``sum(x @ w)`` only when ``x.shape[1] == w.shape[0]``;
    the gradient's own graph has no ``x @ w``, so it carries that fact, and a call that
    breaks it raises instead of returning a gradient of the wrong length."""
    x, w = sd.matrix("x"), sd.vector("w")
    cost = sd.sum(x @ w)
    g = sd.grad(cost, w) if derivative == "grad" else sd.jacobian(x @ w, w)
    f = sd.function([x, w], g)
    xv = np.arange(6.0).reshape(2, 3)
    expected = xv.sum(axis=0) if derivative == "grad" else xv
    np.testing.assert_allclose(f(xv, np.ones(3)), expected, rtol=1e-15)
    with pytest.raises(ValueError, match=r"x.shape\[1\] = 3 but w.shape\[0\] = 5.*in x @ w"):
        f(xv, np.ones(5))
    assert g.static_shape == ((None,) if derivative == "grad" else (None, None))


def test_a_gradient_reads_as_its_formula_when_its_shape_follows_from_the_graph():
    """``h.T @ g`` has the shape of ``w`` by the facts of ``h @ w``: no reshape in print."""
    X, w = sd.matrix("X"), sd.shared(np.ones((3, 2)), name="w")
    h = sd.tanh(X @ w, name="h")
    assert sd.pprint(sd.grad(sd.sum(h), w)).splitlines()[0] == "X.T @ (1 - h**2)"
