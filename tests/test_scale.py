"""Linear in the size of the model: graphs are the user's operations, gradients stay within
a small constant of their function, printed formulas grow linearly, and deep models
compute the right numbers.  (Times are measured in benchmarks/scale.py, never here.)"""
import numpy as np
import pytest

import symdiff as sd
from symdiff.graph.walk import count_nodes, postorder
from symdiff.ops import elementwise as ew

from benchmarks import scale
from oracles import central_differences


def _family(name):
    return lambda n: getattr(scale, name)(sd, n)


def residual_mlp(n):
    cost, weights = scale.residual_mlp(sd, n)
    (X,) = [v for v in scale._inputs_of(cost) if v.node.role == "input"]
    return cost, weights, X


FAMILIES = {name: (_family(build.__name__), sizes) for name, (build, sizes) in scale.FAMILIES.items()}
logistic_map, product_chain = _family("logistic_map"), _family("product_chain")


def _sizes(build, n):
    cost, wrt = build(n)
    grads = sd.grad(cost, wrt)
    return count_nodes([cost.node]), count_nodes([g.node for g in grads]), len(sd.pprint(grads))


@pytest.mark.parametrize("family", FAMILIES)
def test_gradient_size_and_printed_length_grow_linearly(family):
    build, sizes = FAMILIES[family]
    measured = [_sizes(build, n) for n in sizes]
    for nodes, grad_nodes, _ in measured:
        assert grad_nodes <= 5 * nodes, (family, nodes, grad_nodes)  # the cheap-gradient principle
    for (n1, (_, g1, p1)), (n2, (_, g2, p2)) in zip(zip(sizes, measured), zip(sizes[1:], measured[1:])):
        assert n2 == 2 * n1
        assert g2 <= 2.5 * g1 and p2 <= 2.5 * p1, (family, g1, g2, p1, p2)


def test_the_graph_is_the_users_operations():
    l, _ = logistic_map(30)
    ops = [n for n in postorder([l.node]) if n.inputs]
    assert len(ops) == 3 * 30  # 4*l, 1 - l, their product: one node each, per step
    assert {type(n) for n in ops} == {ew.Mul, ew.Sub}
    p, xs = product_chain(40)
    products = [n for n in postorder([p.node]) if n.inputs]
    assert len(products) == 39 and all(len(n.inputs) == 2 for n in products)  # never flattened into one product
    x = sd.vector("x")
    assert type((x * 1).node) is ew.Mul and type((x - x).node) is ew.Sub  # nothing folded behind the user's back


def test_logistic_map_matches_a_float64_recurrence():
    l, (x,) = logistic_map(20)
    f = sd.function([x], [l, sd.grad(l, x)])
    for start in (0.1, 0.3, 0.7123):
        value, slope = f(start)
        ref, dref = start, 1.0
        for _ in range(20):
            dref = 4 * (1 - 2 * ref) * dref
            ref = 4 * ref * (1 - ref)
        assert float(value) == pytest.approx(ref, rel=1e-12, abs=1e-15)
        assert float(slope) == pytest.approx(dref, rel=1e-9)


def test_residual_mlp_gradient_at_depth_50():
    cost, weights, X = residual_mlp(50)
    grads = sd.grad(cost, weights)
    f = sd.function([X], [cost] + grads)
    Xd = np.random.default_rng(7).standard_normal((6, 4))
    out = f(Xd)
    reference = sd.backprop(cost, weights, {X: Xd})
    for got, want in zip(out[1:], reference):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)
    # finite differences on two layers, through a NumPy forward pass of the same network
    values = [w.get_value() for w in weights]

    def forward(*params):
        h = Xd
        for k in range(50):
            h = h + np.tanh(h @ params[2 * k] + params[2 * k + 1])
        return float(np.mean(h**2))

    for k in (0, 98):
        fd = central_differences(forward, values, k)
        np.testing.assert_allclose(out[1 + k], fd, rtol=1e-5, atol=1e-7 * np.abs(fd).max())
