"""Gradients print as a textbook writes them: one test per pattern compares the
printed text and LaTeX, and the compiled values against a closed form written
in NumPy here (and against the printed text evaluated by NumPy)."""
from __future__ import annotations

import numpy as np
import pytest

import symdiff as sd

RNG = np.random.default_rng(20260110)
z, y, x, w, yp = (sd.vector(n) for n in ("z", "y", "x", "w", "yp"))
lam = sd.scalar("lam")
Z, T = sd.matrix("Z"), sd.matrix("T")
labels = sd.vector("labels", dtype="int64")


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def _softmax(m):
    e = np.exp(m - m.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _data():
    n, k = 6, 3
    return {
        "z": RNG.normal(size=n) * 3, "y": RNG.integers(0, 2, size=n).astype(float), "x": np.array([-2, -0.5, 0.3, 1.5, 0.0, 4.0]),
        "w": RNG.normal(size=n), "yp": RNG.normal(size=n), "lam": np.float64(0.3),
        "Z": RNG.normal(size=(n, k)) * 2, "T": RNG.uniform(size=(n, k)), "labels": RNG.integers(0, k, size=n),
    }


DATA = _data()
INPUTS = {"z": z, "y": y, "x": x, "w": w, "yp": yp, "lam": lam, "Z": Z, "T": T, "labels": labels}


def _bce():
    p = sd.sigmoid(z)
    return sd.grad(-sd.mean(y * sd.log(p) + (1 - y) * sd.log(1 - p)), z)


def _bce_named():
    p = sd.sigmoid(z, name="p")
    return sd.grad(-sd.mean(y * sd.log(p) + (1 - y) * sd.log(1 - p)), z)


# name: (gradient, text, latex, inputs it reads, closed form on DATA)
PATTERNS = {
    "binary cross-entropy on sigmoid(z)": (
        _bce, "(sigmoid(z) - y)/N\nwhere\n  N = y.shape[0]",
        r"\frac{\sigma\left(z\right) - y}{N} \quad \text{where} \quad \begin{aligned} N &= \operatorname{len}_{0}\left(y\right) \end{aligned}",
        ("z", "y"), lambda d: (_sigmoid(d["z"]) - d["y"]) / 6),
    "binary cross-entropy, the probability named": (
        _bce_named, "(p - y)/N\nwhere\n  p = sigmoid(z)\n  N = y.shape[0]",
        r"\frac{p - y}{N} \quad \text{where} \quad \begin{aligned} p &= \sigma\left(z\right) \\ N &= \operatorname{len}_{0}\left(y\right) \end{aligned}",
        ("z", "y"), lambda d: (_sigmoid(d["z"]) - d["y"]) / 6),
    "softmax cross-entropy, dense targets": (
        lambda: sd.grad(-sd.mean(sd.sum(T * sd.log_softmax(Z, axis=1), axis=1)), Z),
        "(softmax(Z, axis=1)*sum(T, axis=1, keepdims=True) - T)/N\nwhere\n  N = T.shape[0]",
        r"\frac{\operatorname{softmax}_{\text{axis}=1}\left(Z\right) \odot \sum_{\text{axis}=1}\left(T\right) - T}{N}"
        r" \quad \text{where} \quad \begin{aligned} N &= \operatorname{len}_{0}\left(T\right) \end{aligned}",
        ("Z", "T"), lambda d: (_softmax(d["Z"]) * d["T"].sum(axis=1, keepdims=True) - d["T"]) / 6),
    "softmax cross-entropy, one-hot targets": (
        lambda: sd.grad(-sd.mean(sd.sum(sd.onehot(labels, 3) * sd.log_softmax(Z, axis=1), axis=1)), Z),
        "(softmax(Z, axis=1) - onehot(labels, 3))/N\nwhere\n  N = labels.shape[0]",
        r"\frac{\operatorname{softmax}_{\text{axis}=1}\left(Z\right) - \operatorname{onehot}_{3}\left(labels\right)}{N}"
        r" \quad \text{where} \quad \begin{aligned} N &= \operatorname{len}_{0}\left(labels\right) \end{aligned}",
        ("Z", "labels"), lambda d: (_softmax(d["Z"]) - np.eye(3)[d["labels"]]) / 6),
    "log(1 + exp(z))": (
        lambda: sd.grad(sd.sum(sd.log(1 + sd.exp(z))), z), "sigmoid(z)", r"\sigma\left(z\right)",
        ("z",), lambda d: _sigmoid(d["z"])),
    "log(sum(exp(z)))": (
        lambda: sd.grad(sd.log(sd.sum(sd.exp(z))), z), "softmax(z, axis=0)",
        r"\operatorname{softmax}_{\text{axis}=0}\left(z\right)",
        ("z",), lambda d: np.exp(d["z"]) / np.exp(d["z"]).sum()),
    "mean squared error": (
        lambda: sd.grad(sd.mean((yp - y) ** 2), yp), "2*(yp - y)/N\nwhere\n  N = yp.shape[0]",
        r"\frac{2 \left(yp - y\right)}{N} \quad \text{where} \quad \begin{aligned} N &= \operatorname{len}_{0}\left(yp\right) \end{aligned}",
        ("yp", "y"), lambda d: 2 * (d["yp"] - d["y"]) / 6),
    "L2 penalty": (
        lambda: sd.grad(lam * sd.sum(w**2) / 2, w), "lam*w", "lam w",
        ("lam", "w"), lambda d: d["lam"] * d["w"]),
    "relu": (
        lambda: sd.grad(sd.sum(sd.relu(x)), x), "step(x)", r"\operatorname{step}\left(x\right)",
        ("x",), lambda d: (d["x"] > 0).astype(float)),
    "leaky relu as maximum": (
        lambda: sd.grad(sd.sum(sd.maximum(x, 0.1 * x)), x), "where(x >= 1/10*x, 1, 1/10)",
        r"\begin{cases} 1 & \text{if } x \geq \frac{1}{10} x \\ \frac{1}{10} & \text{otherwise} \end{cases}",
        ("x",), lambda d: np.where(d["x"] >= 0, 1.0, 0.1)),
    "leaky relu as where": (
        lambda: sd.grad(sd.sum(sd.where(x > 0, x, x / 10)), x), "where(x > 0, 1, 1/10)",
        r"\begin{cases} 1 & \text{if } x > 0 \\ \frac{1}{10} & \text{otherwise} \end{cases}",
        ("x",), lambda d: np.where(d["x"] > 0, 1.0, 0.1)),
    "minimum": (
        lambda: sd.grad(sd.sum(sd.minimum(x, 1) * w), x), "where(x <= 1, w, 0)",
        r"\begin{cases} w & \text{if } x \leq 1 \\ 0 & \text{otherwise} \end{cases}",
        ("x", "w"), lambda d: np.where(d["x"] <= 1, d["w"], 0.0)),
    "clip": (
        lambda: sd.grad(sd.sum(sd.clip(x, -1, 1)), x), "where((x >= -1) & (x <= 1), 1, 0)",
        r"\begin{cases} 1 & \text{if } \left(x \geq -1\right) \land \left(x \leq 1\right) \\ 0 & \text{otherwise} \end{cases}",
        ("x",), lambda d: ((d["x"] >= -1) & (d["x"] <= 1)).astype(float)),
}


@pytest.mark.parametrize("name", list(PATTERNS))
def test_pattern_prints_as_a_textbook_writes_it(name):
    build, text, latex, _, _ = PATTERNS[name]
    g = build()
    assert sd.pprint(g) == text
    assert sd.latex(g) == latex


@pytest.mark.parametrize("name", list(PATTERNS))
def test_pattern_values_compiled_and_printed(name):
    build, _, _, reads, closed_form = PATTERNS[name]
    g = build()
    values = [DATA[k] for k in reads]
    compiled = sd.function([INPUTS[k] for k in reads], g)(*values)
    expected = closed_form(DATA)
    np.testing.assert_allclose(compiled, expected, rtol=1e-12, atol=1e-15)
    printed = sd.printing.evaluate(sd.pprint(g), {k: DATA[k] for k in reads})
    np.testing.assert_allclose(np.broadcast_to(printed, expected.shape), expected, rtol=1e-12, atol=1e-15)


def test_general_targets_are_not_printed_as_if_they_summed_to_one():
    """With dense targets whose rows do not sum to 1 the gradient keeps the row sum:
    ``softmax(Z) - T`` would be wrong for these inputs."""
    g = PATTERNS["softmax cross-entropy, dense targets"][0]()
    assert "sum(T, axis=1, keepdims=True)" in sd.pprint(g)
    tv = DATA["T"] * 3
    got = sd.function([Z, T], g)(DATA["Z"], tv)
    wrong = (_softmax(DATA["Z"]) - tv) / 6
    assert not np.allclose(got, wrong)


def test_gathered_log_probabilities_give_the_one_hot_gradient():
    """``-mean(log(softmax(Z))[arange(N), labels])``: each row holds one picked entry,
    so the row sums are known and the gradient is ``(softmax(Z) - onehot)/N``."""
    g = sd.grad(-sd.mean(sd.log(sd.softmax(Z, axis=1))[sd.arange(Z.shape[0]), labels]), Z)
    text = sd.pprint(g)
    assert text.splitlines()[0] == "(softmax(Z, axis=1) - onehot(labels, Z.shape[1]))/N"
    f = sd.function([Z, labels], g)
    for picked in (DATA["labels"], DATA["labels"] - 3):  # negative labels count from the end, as in NumPy
        got = f(DATA["Z"], picked)
        np.testing.assert_allclose(got, (_softmax(DATA["Z"]) - np.eye(3)[picked]) / 6, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(sd.printing.evaluate(text, {"Z": DATA["Z"], "labels": picked}), got,
                                   rtol=1e-12, atol=1e-15)
    with pytest.raises(IndexError):
        f(DATA["Z"], DATA["labels"] + 3)


def test_logistic_regression_gradient_reads_as_x_transpose_times_residual():
    X, wv, b = sd.matrix("X"), sd.vector("wv"), sd.scalar("b")
    p = sd.sigmoid(X @ wv + b)
    gw, gb = sd.grad(-sd.mean(y * sd.log(p) + (1 - y) * sd.log(1 - p)), [wv, b])
    assert sd.pprint(gw) == "X.T @ ((sigmoid(X @ wv + b) - y)/N)\nwhere\n  N = y.shape[0]"
    assert sd.pprint(gb) == "sum((sigmoid(X @ wv + b) - y)/N)\nwhere\n  N = y.shape[0]"


def test_weighted_binary_cross_entropy_keeps_the_weight_outside():
    p = sd.sigmoid(z)
    g = sd.grad(-sd.mean(w * (y * sd.log(p) + (1 - y) * sd.log(1 - p))), z)
    assert sd.pprint(g) == "(sigmoid(z) - y)*w/N\nwhere\n  N = w.shape[0]"
    got = sd.function([z, y, w], g)(DATA["z"], DATA["y"], DATA["w"])
    np.testing.assert_allclose(got, (_sigmoid(DATA["z"]) - DATA["y"]) * DATA["w"] / 6, rtol=1e-12)


def test_log_sigmoid_alone_keeps_the_accurate_form():
    """``sigmoid(-z)`` is not traded for ``1 - sigmoid(z)`` when nothing combines with it."""
    assert sd.pprint(sd.grad(sd.sum(sd.log(sd.sigmoid(z))), z)) == "sigmoid(-z)"


def test_sigmoid_derivative_is_not_rewritten_to_an_unstable_form():
    """A region whose result would hold ``2*sigmoid(z)`` (a multiple, which the kernel
    could not evaluate without cancellation) keeps its original form."""
    g = sd.grad(sd.sum(2 * sd.softplus(z) + y * sd.softplus(-z)), z)
    assert "sigmoid(-z)" in sd.pprint(g)


def test_where_of_a_negated_condition_swaps_its_branches():
    g = sd.grad(sd.sum(sd.where(~(x > 0), 3 * x, x)), x)
    assert sd.pprint(g) == "where(x > 0, 1, 3)"
    np.testing.assert_allclose(sd.function([x], g)(DATA["x"]), np.where(DATA["x"] > 0, 1.0, 3.0))


def test_float32_gradients_keep_their_dtype_through_simplification():
    z32, y32 = sd.vector("z", dtype="float32"), sd.vector("y", dtype="float32")
    p = sd.sigmoid(z32)
    g = sd.grad(-sd.mean(y32 * sd.log(p) + (1 - y32) * sd.log(1 - p)), z32)
    assert g.dtype == "float32"
    assert sd.pprint(g).splitlines()[0] == "(sigmoid(z) - y)/N"
    leaky = sd.grad(sd.sum(sd.maximum(z32, z32 / 10)), z32)
    assert leaky.dtype == "float32" and sd.pprint(leaky) == "where(z >= z/10, 1, 1/10)"
    Z32, T32 = sd.matrix("Z", dtype="float32"), sd.matrix("T", dtype="float32")
    ce = sd.grad(-sd.mean(sd.sum(T32 * sd.log_softmax(Z32, axis=1), axis=1)), Z32)
    assert ce.dtype == "float32"
    assert sd.pprint(ce).splitlines()[0] == "(softmax(Z, axis=1)*sum(T, axis=1, keepdims=True) - T)/N"
    hot = sd.grad(-sd.mean(sd.sum(sd.onehot(labels, 3, dtype="float32") * sd.log_softmax(Z32, axis=1), axis=1)), Z32)
    assert sd.pprint(hot).splitlines()[0] == "(softmax(Z, axis=1) - onehot(labels, 3))/N"


# --------------------------------------------------------------------------- bounded


def _unsimplified(cost, wrt):
    from symdiff.grad import gradients

    return gradients(cost.node, [w.node for w in wrt], simplify=False)


@pytest.mark.parametrize("family", ["logistic map, n = 200", "residual tanh MLP, L = 100"])
def test_simplification_never_grows_a_deep_gradient(family):
    """The pass rewrites locally: on deep graphs without any pattern it returns a
    gradient no larger than the raw one (and prints no longer)."""
    from symdiff.graph.walk import count_nodes

    if family.startswith("logistic"):
        s = sd.scalar("s")
        cost = s
        for _ in range(200):
            cost = 4 * cost * (1 - cost)
        wrt = [s]
    else:
        X = sd.matrix("X")
        h, wrt = X, []
        for i in range(100):
            W = sd.matrix(f"W{i}")
            bias = sd.vector(f"b{i}")
            h = h + sd.tanh(h @ W + bias)
            wrt += [W, bias]
        cost = sd.mean(h**2)
    raw = _unsimplified(cost, wrt)
    simplified = [g.node for g in sd.grad(cost, wrt)]
    assert count_nodes(simplified) <= count_nodes(raw)
    assert count_nodes(simplified) <= 5 * count_nodes([cost.node])
    assert len(sd.pprint(simplified[0])) <= len(sd.pprint(raw[0]))


def test_repeated_subtraction_of_one_term_is_collected():
    """d/du sum(s*(1 - s)) with s = sigmoid(u) reads (1 - 2*s)*s*(1 - s), not (1 - s - s)*..."""
    u = sd.vector("u")
    s = sd.sigmoid(u, name="s")
    g = sd.grad(sd.sum(s * (1 - s)), u)
    assert sd.pprint(g).splitlines()[0] == "(1 - 2*s)*s*(1 - s)"
    uv = np.array([0.3, -2.0, 7.0])
    sv = 1 / (1 + np.exp(-uv))
    np.testing.assert_allclose(sd.function([u], g)(uv), (1 - 2 * sv) * sv * (1 - sv), rtol=1e-12)
