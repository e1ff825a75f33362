"""``sd.explain``: the backward pass step by step, on the two-layer network of issue 2."""
from __future__ import annotations

import numpy as np
import pytest

import symdiff as sd
from symdiff.ops.shape import SizeCheck
from seed_network import build_network
from symdiff.graph.cse import merge_equal
from symdiff.graph.walk import postorder
from symdiff.ops import elementwise as ew


@pytest.fixture(scope="module")
def network():
    """The two-layer network of examples/seed_network.py and its explanation."""
    X, y, params, yp, loss = build_network()
    return loss, params, (X, y, yp), sd.explain(loss, params)


def _step(explanation, text: str):
    """The step whose node prints as ``text`` (its user name, or its formula)."""
    for s in explanation:
        if s.name == text or sd.pprint(s.node).split("\n")[0] == text:
            return s
    raise KeyError(text)


def test_each_step_of_the_blackboard_derivation(network):
    loss, params, _, explanation = network
    text = str(explanation)
    assert "g_loss = d loss/d loss = 1" in text  # the start
    assert "g2 = g_loss/N = 1/N" in text  # through mean: the division by N, then the sum
    assert "= (yp - y)/N" in text  # d loss/d yp
    assert "g_yp = g5 = (yp - y)/N" in text
    assert "-> [7]  g_yp*yp*(1 - yp)" in text  # the sigmoid's rule
    assert "g7 = g_yp*yp*(1 - yp) = (yp - y)*yp*(1 - yp)/N" in text  # through the sigmoid
    assert "-> [10]  h.T @ g9" in text  # the rule of @ for its right operand
    assert "g_w1 = h.T @ g9 = h.T @ ((yp - y)*yp*(1 - yp)/N)" in text  # through @ to w1
    assert "g_h = g9 @ w1.T = ((yp - y)*yp*(1 - yp)/N) @ w1.T" in text  # and on, to h
    assert "g_w0 = X.T @ g14 = X.T @ ((((yp - y)*yp*(1 - yp)/N) @ w1.T)*h*(1 - h))" in text  # to w0
    for name in ("w0", "b0", "w1", "b1"):
        assert f"the gradient d loss/d {name}" in text
    assert "N  = X.shape[0]*w1.shape[1]" in text and "h  = sigmoid(X @ w0 + b0)" in text


def test_steps_run_from_the_cost_back_to_the_variables(network):
    loss, params, _, explanation = network
    names = [s.name for s in explanation if s.name]
    assert names == ["loss", "yp", "b1", "w1", "h", "b0", "w0"]
    assert [s.number for s in explanation] == list(range(1, len(explanation) + 1))
    assert len({s.node for s in explanation}) == len(explanation)  # each distinct node once
    # exactly the nodes on a path from the cost to a parameter (y and N are not)
    on_path = [n for n in postorder([loss.node]) if any(p.node in postorder([n]) for p in params)]
    assert {s.node for s in explanation} == set(on_path)
    assert [s.is_target for s in explanation].count(True) == 4


def test_adjoints_are_what_grad_computes(network):
    loss, params, _, explanation = network
    for p, g in zip(params, sd.grad(loss, params)):
        adjoint = _step(explanation, p.name).adjoint
        node = g.node.inputs[0] if isinstance(g.node, SizeCheck) else g.node  # typed as p, the same value
        same, other = merge_equal([adjoint, node])  # structurally equal graphs merge into one node
        assert same is other, (sd.pprint(adjoint), sd.pprint(g))


def test_shared_subexpression_shows_once_with_adjoints_summed():
    x = sd.vector("x")
    w = sd.shared(np.ones(3), name="w")
    u = sd.tanh(x * w, name="u")
    cost = sd.sum(u**2) + sd.sum(sd.exp(u))  # two paths meet at u
    explanation = sd.explain(cost, w)
    steps = [s for s in explanation if s.name == "u"]
    assert len(steps) == 1
    received = steps[0].received
    assert isinstance(received, ew.Add) and len(received.inputs) == 2
    assert "g_u = " in str(explanation) and " + " in sd.pprint(received)
    assert str(explanation).startswith("Backward pass of d cost/d w:")  # an unnamed cost is "cost"
    values = {x: np.array([0.1, -0.4, 0.9])}
    report = sd.check_grad(cost, w, values)
    assert report.ok, str(report)


def test_latex_and_markdown_documents(network):
    *_, explanation = network
    tex = explanation.latex()
    assert tex.startswith("\\begin{align*}") and tex.rstrip().endswith("\\end{align*}")
    assert "g_{w1} = h^{\\top} g_{9}" in tex  # a matrix product by juxtaposition
    assert "\\frac{\\partial loss}{\\partial loss}" not in tex and "\\partial loss/\\partial loss = 1" in tex
    md = explanation.markdown()
    assert md.startswith("**Backward pass**")
    assert "\n10. $w_{1}$" in md and "$\\to [10]:\\ h^{\\top} g_{9}$" in md
    assert explanation._repr_markdown_() == md
    assert md.count("$") % 2 == 0


def test_intermediate_target():
    x = sd.vector("x")
    h = sd.exp(x, name="e")
    explanation = sd.explain(sd.sum(h * sd.sin(h)), h)
    assert [s.name for s in explanation] == ["cost", None, None, "e"]
    assert "g_e = g2*sin(e) + g3*cos(e) = sin(e) + e*cos(e)" in str(explanation)  # two paths meet at e


def test_disconnected_target_is_an_error():
    x, z = sd.vector("x"), sd.vector("z")
    with pytest.raises(ValueError, match="does not depend on 'z'"):
        sd.explain(sd.sum(x * x), [x, z])


def test_a_non_scalar_cost_explains_its_jacobian():
    x = sd.vector("x")
    explanation = sd.explain(x * 2, x)  # issue 11: the sweep of the Jacobian
    assert explanation.jacobian and "g_x = 2*g_y = 2*eye(x.shape[0])" in str(explanation)
    with pytest.raises(TypeError, match="must be a float"):
        sd.explain(sd.vector("k", dtype="int64") * 2, x)
