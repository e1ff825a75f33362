"""Notebooks and pictures: LaTeX display of tensors, a readable ``repr`` of compiled
functions, Graphviz DOT source of graphs (shared nodes drawn once), ``sd.draw``
with and without Graphviz, and the Markdown form of ``sd.explain``."""
from __future__ import annotations

import json
import re
import shutil
import sys

import numpy as np
import pytest

import symdiff as sd


def _dot_nodes(text: str) -> dict:
    """``{node id: label}`` of the node statements of DOT source."""
    return dict(re.findall(r'^\s*(n\d+) \[label="((?:[^"\\]|\\.)*)"', text, flags=re.M))


def _dot_edges(text: str) -> list:
    return re.findall(r"^\s*(n\d+) -> (n\d+)", text, flags=re.M)


def test_dot_of_one_argument_is_the_graph_and_of_two_the_product():
    A, v = sd.matrix("A"), sd.vector("v")
    assert sd.pprint(sd.dot(A, v)) == "A @ v"
    source = sd.dot(sd.exp(v))
    assert isinstance(source, str) and source.startswith("digraph symdiff {")
    with pytest.raises(TypeError, match="name="):
        sd.dot(v, name="h")


def _balanced(tex: str) -> bool:
    """Braces nest, every \\left has its \\right and every \\begin{env} its \\end{env}."""
    depth = 0
    for ch in re.sub(r"\\[{}]", "", tex):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    begins = re.findall(r"\\begin\{(\w+\*?)\}", tex)
    ends = re.findall(r"\\end\{(\w+\*?)\}", tex)
    return depth == 0 and len(re.findall(r"\\left\b", tex)) == len(re.findall(r"\\right\b", tex)) and begins == ends[::-1]


@pytest.fixture(scope="module")
def network():
    X, y = sd.matrix("X"), sd.vector("y")
    W = sd.shared(np.full((3, 4), 0.1), name="W")
    w = sd.shared(np.full(4, 0.2), name="w")
    h = sd.tanh(X @ W).named("h")
    yp = sd.sigmoid(h @ w).named("yp")
    loss = sd.mean((yp - y) ** 2)
    return X, y, W, w, h, yp, loss


# --------------------------------------------------------------------------- LaTeX in Jupyter


def test_tensors_show_as_latex_in_jupyter(network):
    X, y, W, w, h, yp, loss = network
    assert sd.sigmoid(sd.vector("z"))._repr_latex_() == r"$\displaystyle \sigma\left(z\right)$"
    for t in (loss, yp, W, sd.grad(loss, W), sd.grad(loss, [W, w])[1], X[:, 0] / X.shape[0]):
        shown = t._repr_latex_()
        assert shown == rf"$\displaystyle {sd.latex(t)}$"
        assert shown.count("$") == 2 and _balanced(shown)
    gradient = sd.grad(loss, W)._repr_latex_()
    assert r"\text{where}" in gradient and "h &=" in gradient and "yp &=" in gradient


# --------------------------------------------------------------------------- repr of a compiled function


def test_a_compiled_function_has_a_readable_repr(network):
    X, y, W, w, h, yp, loss = network
    gW, gw = sd.grad(loss, [W, w])
    f = sd.function([X, y], [loss, yp], updates=[(W, W - 0.5 * gW), (w, w - 0.5 * gw)])
    lines = repr(f).splitlines()
    assert lines[0] == "<symdiff.Function"
    assert lines[1] == "  inputs:  X float64(None, None), y float64(None,)"
    assert lines[2] == "  outputs: sum((yp - y)**2)/X.shape[0]"
    assert lines[3] == "           yp = sigmoid(h @ w)"
    assert lines[4].startswith("  updates: W <- W - 1/2*(") and lines[5].startswith("           w <- w - 1/2*(")
    assert lines[6] == "  shared:  W float64(None, None), w float64(None,)"
    n = f.source.count("\n") + 1
    assert lines[7] == f"  kernel:  {n} lines of Numba code in .source>"
    assert "def kernel" in f.source or "def loop" in f.source
    plain = repr(sd.function([], sd.sum(w)))
    assert "inputs:  none" in plain and "updates" not in plain


# --------------------------------------------------------------------------- Graphviz DOT source and pictures


def _distinct_nodes(roots) -> list:
    """The distinct nodes below ``roots``, found by following ``inputs`` (not symdiff's walk)."""
    seen, stack, out = set(), [r.node for r in roots], []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        out.append(node)
        stack.extend(node.inputs)
    return out


def test_dot_draws_each_distinct_node_once(network):
    X, y, W, w, h, yp, loss = network
    grads = sd.grad(loss, [W, w])
    for roots in ([loss], grads, [loss, *grads]):
        source = sd.dot(roots if len(roots) > 1 else roots[0])
        nodes, edges = _dot_nodes(source), _dot_edges(source)
        distinct = _distinct_nodes(roots)
        assert len(nodes) == len(distinct)
        assert len(edges) == sum(len(n.inputs) for n in distinct)
        assert all(a in nodes and b in nodes for a, b in edges)
        assert source.count("style=\"bold\"") == len(roots)


def test_a_shared_node_is_drawn_once_however_many_paths_reach_it():
    x = sd.vector("x")
    h = sd.tanh(x).named("h")
    e = h * h + sd.sin(h)
    source = sd.dot(e)
    labels = _dot_nodes(source)
    (tanh_id,) = [k for k, label in labels.items() if label.startswith("h = Tanh")]
    assert sorted(b for a, b in _dot_edges(source) if a == tanh_id).__len__() == 3  # h*h (twice) and sin(h)
    doubled = x
    for _ in range(40):  # 2**40 paths from the top to x, 41 distinct nodes
        doubled = doubled + doubled
    source = sd.dot(doubled)
    assert len(_dot_nodes(source)) == 41 and len(_dot_edges(source)) == 80


def test_dot_labels_show_names_ops_shapes_and_kinds(network):
    X, y, W, w, h, yp, loss = network
    source = sd.dot(loss)
    labels = _dot_nodes(source)
    assert r"X\n(None, None) float64" in labels.values()
    assert any(label.startswith(r"h = Tanh\n") for label in labels.values())
    assert re.search(r'label="W\\n\(None, None\) float64", shape=doublecircle', source)
    assert re.search(r'label="X\\n\(None, None\) float64", shape=ellipse', source)
    tricky = (sd.vector("v") * 2).named('say "hi"')
    assert r'say \"hi\" = Mul' in sd.dot(tricky)


def test_draw_without_graphviz_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(RuntimeError, match=r"Graphviz.*apt-get install graphviz.*sd\.dot\(x\)"):
        sd.draw(sd.exp(sd.vector("x")), tmp_path / "graph.svg")
    assert not (tmp_path / "graph.svg").exists()


def test_draw_runs_graphviz_dot_on_the_dot_source(monkeypatch, tmp_path):
    """A stand-in ``dot`` program records its arguments and input: ``sd.draw`` runs
    ``dot -T<suffix> -o <path>`` on ``sd.dot(x)``."""
    fake = tmp_path / "dot"
    fake.write_text(f"#!{sys.executable}\nimport sys, json\n"
                    "out = sys.argv[sys.argv.index('-o') + 1]\n"
                    "open(out, 'w').write(json.dumps({'args': sys.argv[1:], 'input': sys.stdin.read()}))\n")
    fake.chmod(0o755)
    monkeypatch.setattr("shutil.which", lambda name: str(fake) if name == "dot" else None)
    e = sd.sigmoid(sd.vector("x")) * 2
    for name, fmt in (("graph.svg", "-Tsvg"), ("graph.png", "-Tpng")):
        path = sd.draw(e, str(tmp_path / name))
        assert path == tmp_path / name
        recorded = json.loads(path.read_text())
        assert recorded == {"args": [fmt, "-o", str(path)], "input": sd.dot(e)}


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_draw_renders_svg_and_png_with_graphviz(network, tmp_path):
    X, y, W, w, h, yp, loss = network
    svg = sd.draw(sd.grad(loss, W), tmp_path / "grad.svg")
    text = svg.read_text()
    assert "<svg" in text and ">h = Tanh<" in text and ">W<" in text
    png = sd.draw(loss, tmp_path / "loss.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- explain as Markdown


def test_explain_renders_as_markdown_with_balanced_inline_latex(network):
    X, y, W, w, h, yp, loss = network
    explanation = sd.explain(loss, [W, w])
    md = explanation.markdown()
    assert explanation._repr_markdown_() == md
    assert md.startswith("**Backward pass** of $\\partial")
    numbered = re.findall(r"^(\d+)\. \$", md, flags=re.M)
    assert [int(k) for k in numbered] == list(range(1, len(explanation) + 1))
    for line in md.splitlines():
        assert line.count("$") % 2 == 0, line
        for math in re.findall(r"\$([^$]*)\$", line):
            assert _balanced(math), math


def _local_names_are_defined(text: str) -> list:
    """Steps of a text explanation that use a ``t1``-style name they do not define (or define twice)."""
    bad = []
    for block in text.split("\n\n")[1:]:
        defined = re.findall(r"where (t\d+) = ", block)
        used = set(re.findall(r"\bt\d+\b", block))
        if used - set(defined) or len(defined) != len(set(defined)):
            bad.append(block)
    return bad


def test_every_name_a_step_of_explain_uses_is_defined(network):
    X, y, W, w, h, yp, loss = network
    x, v = sd.vector("x"), sd.vector("v")
    hv = sd.tanh(x * v).named("hv")
    Z = X @ W
    cases = [(loss, [W, w]), (sd.sum(hv * hv + sd.sin(hv)), v),
             (sd.sum(sd.softmax(Z, axis=1) * sd.log_softmax(Z, axis=1)), W),
             (sd.sum(sd.sigmoid(X @ w) * (1 - sd.sigmoid(X @ w))), w)]
    for cost, wrt in cases:
        explanation = sd.explain(cost, wrt)
        assert _local_names_are_defined(str(explanation)) == []
        for line in explanation.markdown().splitlines():
            used = set(re.findall(r"\bt_\{(\d+)\}", line))
            assert not used or "where" in line or any(f"t_{{{k}}} =" in explanation.markdown() for k in used)
