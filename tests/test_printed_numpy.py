"""Printed formulas are NumPy: the text of each README example's gradient, with
its where-list, evaluated on NumPy arrays by ``sd.printing.evaluate`` equals the
compiled gradient; LaTeX keeps the axes of reductions."""
from __future__ import annotations

import numpy as np
import pytest

import symdiff as sd
from seed_network import build_network

RNG = np.random.default_rng(11)


def _network():
    """The README's two-layer network (the one definition the tests share): its loss,
    parameters, symbols and data."""
    X, y, params, yp, loss = build_network()
    data = {"X": RNG.standard_normal((30, 4)), "y": RNG.uniform(size=(30, 1))}
    return loss, params, (X, y, yp), data


def _assert_printed_matches_compiled(gradient, inputs: list, data: dict, shared=()):
    values = {**data, **{s.node.name: s.get_value() for s in shared}}
    compiled = sd.function(inputs, gradient)(*(data[i.node.name] for i in inputs))
    printed = sd.printing.evaluate(sd.pprint(gradient), values)
    np.testing.assert_allclose(np.broadcast_to(printed, np.shape(compiled)), compiled, rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("k", range(4))
def test_network_gradients_evaluate_as_printed(k):
    loss, params, (X, y, _), data = _network()
    _assert_printed_matches_compiled(sd.grad(loss, params)[k], [X, y], data, shared=params)


def test_network_output_gradient_evaluates_as_printed():
    loss, params, (X, y, yp), data = _network()
    g = sd.grad(0.5 * sd.sum((yp - y) ** 2), yp)
    assert sd.pprint(g).splitlines()[0] == "yp - y"
    _assert_printed_matches_compiled(g, [X, y], data, shared=params)


def test_square_example_evaluates_as_printed():
    x = sd.vector("x")
    g = sd.grad(sd.sum(x**2), x)
    assert sd.pprint(g) == "2*x"
    _assert_printed_matches_compiled(g, [x], {"x": RNG.normal(size=5)})


def _softmax_regression(targets: str):
    X, W, b = sd.matrix("X"), sd.matrix("W"), sd.vector("b")
    Z = X @ W + b
    data = {"X": RNG.normal(size=(8, 4)), "W": RNG.normal(size=(4, 3)), "b": RNG.normal(size=3)}
    if targets == "dense":
        T = sd.matrix("T")
        data["T"] = RNG.uniform(size=(8, 3))
        return -sd.mean(sd.sum(T * sd.log_softmax(Z, axis=1), axis=1)), [X, W, b, T], data
    labels = sd.vector("labels", dtype="int64")
    data["labels"] = RNG.integers(0, 3, size=8)
    if targets == "onehot":
        return -sd.mean(sd.sum(sd.onehot(labels, 3) * sd.log_softmax(Z, axis=1), axis=1)), [X, W, b, labels], data
    return -sd.mean(sd.log(sd.softmax(Z, axis=1))[sd.arange(X.shape[0]), labels]), [X, W, b, labels], data


@pytest.mark.parametrize("targets", ["dense", "onehot", "gathered"])
@pytest.mark.parametrize("wrt", [1, 2])
def test_softmax_regression_gradients_evaluate_as_printed(targets, wrt):
    cost, inputs, data = _softmax_regression(targets)
    g = sd.grad(cost, inputs[wrt])
    text = sd.pprint(g)
    assert text.count("X @ W + b") == 1
    _assert_printed_matches_compiled(g, inputs, data)


def test_logistic_regression_with_l2_evaluates_as_printed():
    X, w, y, lam = sd.matrix("X"), sd.vector("w"), sd.vector("y"), sd.scalar("lam")
    p = sd.sigmoid(X @ w)
    cost = -sd.mean(y * sd.log(p) + (1 - y) * sd.log(1 - p)) + lam * sd.sum(w**2) / 2
    g = sd.grad(cost, w)
    assert sd.pprint(g) == "lam*w + X.T @ ((sigmoid(X @ w) - y)/N)\nwhere\n  N = y.shape[0]"
    data = {"X": RNG.normal(size=(10, 3)), "w": RNG.normal(size=3), "y": RNG.integers(0, 2, 10).astype(float),
            "lam": np.float64(0.1)}
    _assert_printed_matches_compiled(g, [X, w, y, lam], data)


def test_relu_network_with_clip_and_where_evaluates_as_printed():
    X, W, v = sd.matrix("X"), sd.matrix("W"), sd.vector("v")
    hidden = sd.relu(X @ W, name="hidden")
    out = sd.clip(hidden @ v, -2, 2)
    cost = sd.mean(sd.where(out > 0, out**2, -out)) + sd.sum(sd.maximum(W, 0.1 * W))
    data = {"X": RNG.normal(size=(7, 3)), "W": RNG.normal(size=(3, 4)), "v": RNG.normal(size=4)}
    for wrt in (W, v):
        _assert_printed_matches_compiled(sd.grad(cost, wrt), [X, W, v], data)


def test_reductions_over_axes_evaluate_as_printed_and_latex_keeps_the_axes():
    M = sd.matrix("M")
    cost = sd.sum(sd.logsumexp(M, axis=0) * sd.max(M, axis=0)) + sd.sum(sd.prod(M, axis=1) ** 2) + sd.sum(
        sd.mean(M, axis=1, keepdims=True) * M)
    g = sd.grad(cost, M)
    _assert_printed_matches_compiled(g, [M], {"M": RNG.normal(size=(4, 3))})
    latex = sd.latex(cost)
    assert r"\operatorname{logsumexp}_{\text{axis}=0}" in latex and r"\max_{\text{axis}=0}" in latex
    assert r"\prod_{\text{axis}=1}" in latex and r"\sum_{\text{axis}=1}" in latex


def test_cross_entropy_gradient_latex_keeps_the_axis():
    Z, T = sd.matrix("Z"), sd.matrix("T")
    g = sd.grad(-sd.mean(sd.sum(T * sd.log_softmax(Z, axis=0), axis=0)), Z)
    assert sd.pprint(g).startswith("(softmax(Z, axis=0)*sum(T, axis=0, keepdims=True) - T)/N")
    assert r"\operatorname{softmax}_{\text{axis}=0}\left(Z\right) \odot \sum_{\text{axis}=0}\left(T\right)" in sd.latex(g)
    _assert_printed_matches_compiled(g, [Z, T], {"Z": RNG.normal(size=(3, 5)), "T": RNG.uniform(size=(3, 5))})


def test_readme_second_derivatives_evaluate_as_printed():
    """The Hessians, hvp and softmax Jacobian the README prints are NumPy too."""
    X, y, w, v = sd.matrix("X"), sd.vector("y"), sd.vector("w"), sd.vector("v")
    x, A = sd.vector("x"), sd.matrix("A")
    z = X @ w
    loss = sd.mean(sd.softplus(z) - y * z)
    data = {"X": RNG.standard_normal((7, 3)), "y": RNG.integers(0, 2, 7).astype(float), "w": RNG.standard_normal(3),
            "v": RNG.standard_normal(3), "x": RNG.standard_normal(4), "A": RNG.standard_normal((4, 4))}
    cases = [(sd.hessian(loss, w), [X, y, w]), (sd.hvp(loss, w, v), [X, y, w, v]),
             (sd.hessian(x @ A @ x, x), [x, A]), (sd.hessian(sd.sum((X @ w - y) ** 2), w), [X, y, w]),
             (sd.jacobian(sd.softmax(x), x), [x])]
    for derivative, inputs in cases:
        _assert_printed_matches_compiled(derivative, inputs, data)
