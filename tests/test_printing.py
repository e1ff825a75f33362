"""Formulas: the user's names and operand order, where-lists, sizes that grow with
the graph, LaTeX (matrix products by juxtaposition, Hadamard products with \\odot),
debugprint (class names) and notebook display."""
import re

import numpy as np
import pytest

import symdiff as sd
from seed_network import build_network


@pytest.fixture(scope="module")
def network():
    """The two-layer network of examples/seed_network.py (values do not matter for printing)."""
    X, y, params, yp, loss = build_network()
    return y, yp, loss, params


def _split(text):
    """(main formula, {name: definition}) of a pprint result; each name defined once."""
    main, _, where = text.partition("\nwhere\n")
    defs = {}
    for line in where.splitlines():
        name, _, definition = line.strip().partition(" = ")
        assert name.strip() not in defs, f"{name} defined twice in:\n{text}"
        defs[name.strip()] = definition.strip()
    return main, defs


# ---------------------------------------------------------------- formulas
def test_gradient_wrt_the_prediction_is_the_residual(network):
    y, yp, _, _ = network
    text = sd.pprint(sd.grad(0.5 * sd.sum((yp - y) ** 2), yp))
    assert text.splitlines()[0] in ("yp - y", "-y + yp")
    plain_y, plain_yp = sd.matrix("y"), sd.matrix("yp")
    assert sd.pprint(sd.grad(0.5 * sd.sum((plain_yp - plain_y) ** 2), plain_yp)) in ("yp - y", "-y + yp")


def test_mean_shows_the_division_by_the_element_count():
    y, yp = sd.matrix("y"), sd.matrix("yp")
    main, defs = _split(sd.pprint(sd.grad(sd.mean(0.5 * (yp - y) ** 2), yp)))
    assert main in ("(yp - y)/N", "(-y + yp)/N")
    assert set(defs) == {"N"}
    assert re.fullmatch(r"(y|yp)\.shape\[0\]\*(y|yp)\.shape\[1\]", defs["N"]), defs["N"]
    v = sd.vector("v")
    main, defs = _split(sd.pprint(sd.mean(v)))
    assert main == "sum(v)/N" and defs == {"N": "v.shape[0]"}


def test_network_gradient_stops_at_named_intermediates(network):
    _, _, loss, params = network
    main, defs = _split(sd.pprint(sd.grad(loss, params[2])))
    assert main == "h.T @ ((yp - y)*yp*(1 - yp)/N)"
    assert defs["h"] == "sigmoid(X @ w0 + b0)"
    assert defs["yp"] == "sigmoid(h @ w1 + b1)"  # refers to h by name, not expanded
    assert defs["N"] == "X.shape[0]*w1.shape[1]"  # the rows of X times the columns of yp
    main0, defs0 = _split(sd.pprint(sd.grad(loss, params[0])))
    assert main0.startswith("X.T @ (") and "@ w1.T" in main0
    assert "sigmoid" not in main0  # named intermediates are not expanded in the formula
    assert set(defs0) == {"h", "yp", "N"}


def test_names_from_name_argument_and_named_method():
    a = sd.matrix("A")
    b = sd.vector("b")
    z = (a.T @ b).named("z")
    assert z.name == "z"
    out = sd.sum(sd.relu(z) ** 2 + sd.exp(z, name="ez"), name="cost")
    assert out.name == "cost"
    main, defs = _split(sd.pprint(out))
    assert main in ("sum(relu(z)**2 + ez)", "sum(ez + relu(z)**2)")  # the printed expression's own name is not a stop
    assert defs == {"z": "A.T @ b", "ez": "exp(z)"}
    assert sd.pprint(z) == "A.T @ b"


def test_a_subexpression_used_twice_prints_once():
    x = sd.vector("x")
    e = sd.exp(x * 3 + 1)
    text = sd.pprint(e * sd.sin(e) + e)
    main, defs = _split(text)
    assert text.count("exp(") == 1
    assert defs == {"t1": "exp(x*3 + 1)"}  # the user's operand order
    assert main == "t1*sin(t1) + t1"


def test_printed_size_grows_linearly_for_a_deep_shared_chain():
    x = sd.vector("x")
    sizes = {}
    for depth in (15, 30):
        y = x
        for _ in range(depth):
            y = sd.tanh(y) * y + sd.sin(y)
        text = sd.pprint(y)
        sizes[depth] = len(text)
        _, defs = _split(text)
        assert len(defs) == depth - 1  # one definition per shared layer
    assert sizes[30] < 3000
    assert sizes[30] < 2.3 * sizes[15]  # linear, not exponential (2**30 paths)
    grad_text = sd.pprint(sd.grad(sd.sum(y), x))  # the gradient's formula stays linear too
    assert len(grad_text) < 10000


def test_matmul_and_transpose_notation():
    A, B = sd.matrix("A"), sd.matrix("B")
    v = sd.vector("v")
    assert sd.pprint(A @ B.T) == "A @ B.T"
    assert sd.pprint((A @ B).T) in ("(A @ B).T", "B.T @ A.T")
    assert sd.pprint(sd.transpose(A) @ v) == "A.T @ v"


# ---------------------------------------------------------------- LaTeX
def _assert_balanced(tex):
    depth = 0
    for ch in tex.replace(r"\{", "").replace(r"\}", ""):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0, tex
    assert depth == 0, tex
    assert tex.count(r"\left") == tex.count(r"\right"), tex
    assert tex.count(r"\begin{aligned}") == tex.count(r"\end{aligned}"), tex
    assert "@" not in tex.replace(r"\mathbin{@}", ""), tex


def test_latex_of_matmul_and_transpose():
    a, b = sd.matrix("A"), sd.matrix("B")
    tex = sd.latex(sd.sigmoid(a @ b.T))
    assert tex == r"\sigma\left(A B^{\top}\right)"  # a matrix product by juxtaposition
    _assert_balanced(tex)
    u, v = sd.vector("u"), sd.vector("v")
    assert sd.latex(u * v) == r"u \odot v"  # a Hadamard product
    assert sd.latex(u * 3) == r"u \cdot 3" and sd.latex(3 * u) == "3 u"


def test_latex_of_a_network_gradient(network):
    _, _, loss, params = network
    tex = sd.latex(sd.grad(loss, params[0]))
    _assert_balanced(tex)
    assert tex.startswith(r"X^{\top} \left(") and r"w_{1}^{\top}" in tex and r"\frac" in tex
    assert r"yp \odot \left(1 - yp\right)" in tex
    assert r"\text{where}" in tex and r"\begin{aligned}" in tex
    assert tex.count("&=") == 3  # h, yp and N, once each


def test_repr_latex_for_notebooks():
    a, b = sd.matrix("A"), sd.matrix("B")
    shown = (a @ b)._repr_latex_()
    assert shown.startswith("$") and shown.endswith("$") and shown.count("$") == 2
    assert sd.latex(a @ b) in shown


def test_latex_of_a_power_of_a_symdiff_function():
    x = sd.vector("x")
    assert sd.latex(sd.sigmoid(x) ** 2) == r"\sigma\left(x\right)^{2}"
    for tex in (sd.latex(sd.relu(x) ** 2), sd.latex(sd.softplus(x) ** 3), sd.latex(sd.tanh(x) ** 2)):
        assert tex.endswith(r"\left(x\right)^{2}") or tex.endswith(r"\left(x\right)^{3}"), tex
        _assert_balanced(tex)


# ---------------------------------------------------------------- debugprint
def test_debugprint_shows_shapes_dtypes_and_references():
    x = sd.tensor("x", shape=(None, 3), dtype="float32")
    e = sd.sin(x)
    text = sd.debugprint(sd.sum(sd.cos(e) * e, axis=1))
    lines = text.splitlines()
    assert lines[0].startswith("#1 Reduce{sum, (1,), False}  (None,) float32")
    defined = set()
    refs = 0
    for line in lines:
        m = re.match(r"\s*#(\d+) .*  \((None|\d+)?(, (None|\d+))*,?\) (float32|float64|bool|scalar)$", line)
        if m:
            defined.add(m.group(1))
            continue
        ref = re.match(r"\s*\(see #(\d+)\)", line)
        assert ref, f"neither a typed node nor a reference: {line!r}"
        assert ref.group(1) in defined  # refers back to a node printed above
        refs += 1
    assert refs == 1  # sin(x) is shared: printed once, referenced once
    assert text.count("Sin") == 2  # nodes show their class names
    assert "input x  (None, 3) float32" in text


def test_tensor_attributes_and_repr():
    x = sd.tensor("x", shape=(None, 3))
    assert x.static_shape == (None, 3) and x.ndim == 2 and x.dtype == "float64"
    assert (x @ np.ones((3, 2))).static_shape == (None, 2)
    rows, cols = x.shape  # a run-time size is a symbolic int64 scalar, a static one an int
    assert cols == 3 and isinstance(cols, int)
    assert isinstance(rows, sd.Tensor) and rows.dtype == "int64" and rows.static_shape == () and sd.pprint(rows) == "x.shape[0]"
    assert repr(sd.exp(x)) == "Tensor(exp(x), shape=(None, 3), dtype=float64)"
