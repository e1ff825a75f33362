"""Formulas: user names, where-lists, sizes that grow with the graph, LaTeX, debugprint."""
import sys
import time
from pathlib import Path

import numpy as np

import symdiff as sd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
from seed_network import build_network  # noqa: E402


def test_gradient_formulas_of_the_network():
    X, y, params, yp, loss = build_network()
    y2 = sd.matrix("y")
    assert sd.pprint(sd.grad(0.5 * sd.sum((yp - y) ** 2), yp)).splitlines()[0] == "yp - y"
    text = sd.pprint(sd.grad(loss, params[2]))
    main, _, where = text.partition("\nwhere\n")
    assert main == "h.T @ (yp*(1 - yp)*(yp - y)/N)"
    assert "  N  = X.shape[0]*y.shape[1]" in where  # mean shows its division by the count
    assert "  h  = sigmoid(X @ w0 + b0)" in where and "  yp = sigmoid(h @ w1 + b1)" in where
    assert where.count("h  =") == 1
    assert y2 is not y


def test_shared_subexpressions_print_once():
    x = sd.vector("x")
    e = sd.exp(x * 3 + 1)
    text = sd.pprint(e * sd.sin(e) + e)
    assert text.count("exp(") == 1 and "t1 = exp(1 + 3*x)" in text


def test_printed_size_grows_with_the_graph_not_the_paths():
    x = sd.vector("x")
    y = x
    for _ in range(30):
        y = sd.tanh(y) * y + sd.sin(y)
    start = time.perf_counter()
    text = sd.pprint(y)
    assert time.perf_counter() - start < 5
    assert len(text) < 2000 and text.count("\n") == 30


def test_named_intermediates_and_methods():
    a = sd.matrix("A")
    b = sd.vector("b")
    z = (a.T @ b).named("z")
    out = sd.sum(sd.relu(z) ** 2, name="cost")
    text = sd.pprint(out)
    assert text.startswith("sum(relu(z)**2)") and "z = A.T @ b" in text


def test_latex_and_notebook_display():
    a, b = sd.matrix("A"), sd.matrix("B")
    tex = sd.latex(sd.sigmoid(a @ b.T))
    assert r"\mathbin{@}" in tex and r"^{\top}" in tex and r"\sigma" in tex
    assert (a @ b)._repr_latex_().startswith("$") and (a @ b)._repr_latex_().endswith("$")


def test_debugprint_shows_types_and_references():
    x = sd.tensor("x", shape=(None, 3), dtype="float32")
    e = sd.sin(x)
    text = sd.debugprint(sd.sum(sd.cos(e) * e, axis=1))
    assert "(None, 3) float32" in text and "Reduce{sum, (1,), False}  (None,) float32" in text
    assert "(see #" in text


def test_tensor_attributes():
    x = sd.tensor("x", shape=(None, 3))
    assert x.shape == (None, 3) and x.ndim == 2 and x.dtype == "float64"
    assert (x @ np.ones((3, 2))).shape == (None, 2)
