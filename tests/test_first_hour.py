"""What a PyTensor or NumPy user types in the first hour, tried as they would:
integer data (inputs, gathers with their scatter-add gradients, onehot, arange,
argmax, accuracy), the first-hour op set, NumPy functions on symbolic tensors,
keyword arguments in compiled calls and pickling.  Values are compared with
NumPy on the same data, gradients with central finite differences."""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import symdiff as sd
from oracles import central_differences

RNG = np.random.default_rng(20261201)


def _fd(cost_fn, arrays, k):
    return central_differences(lambda *a: float(cost_fn(*a)), [np.array(a, dtype=float) for a in arrays], k)


def test_a_cast_to_integers_passes_no_gradient():
    """``x.astype(int)`` is piecewise constant: its gradient is zero, not one."""
    X = sd.matrix("X")
    Xv = RNG.uniform(0.1, 0.9, size=(3, 4)) + np.arange(4)  # away from the integers, where trunc jumps
    cost = sd.sum(X * X) + sd.sum(X.astype("int32") * 1.5)
    got = sd.function([X], sd.grad(cost, X))(Xv)
    want = _fd(lambda a: np.sum(a * a) + np.sum(a.astype(np.int32) * 1.5), [Xv], 0)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got, 2 * Xv, rtol=1e-12)
    with pytest.raises(ValueError, match=r"only through operations without a derivative \(X.astype\(.int64.\)\)"):
        sd.grad(sd.sum(X.astype("int64") * 1.0), X)
    assert sd.pprint(sd.grad(sd.sum(X.astype("float32") * 2.0), X)) == "broadcast_to(2, X.shape)"


def test_argmax_and_argmin_have_no_gradient_and_grad_says_so():
    X = sd.matrix("X")
    picked = sd.sum(sd.argmax(X, axis=1) * 1.0) + sd.sum(sd.argmin(X, axis=0) == 1)
    with pytest.raises(ValueError, match=r"only through operations without a derivative \(argmax\(X, axis=1\)"):
        sd.grad(picked, X)
    zero = sd.grad(picked, X, disconnected="ignore")
    np.testing.assert_array_equal(sd.function([X], zero)(np.ones((2, 3))), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="not part of the cost's graph"):
        sd.grad(sd.sum(sd.vector("v")), X)
    with pytest.raises(TypeError, match="cost must be a float"):
        sd.grad(sd.sum(sd.argmax(X, axis=1)), X)


def _assert_same(got, want, rtol=1e-12):
    """Same dtype and (for floats, nearly) the same values as NumPy's result."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-300)
    else:
        np.testing.assert_array_equal(got, want)


# --------------------------------------------------------------------------- integer data


@pytest.mark.parametrize("dtype", ["int64", "int32"])
def test_integer_inputs_compute_with_numpys_dtypes(dtype):
    x, i = sd.vector("x"), sd.vector("i", dtype=dtype)
    xv, iv = RNG.normal(size=5), np.array([4, 0, 0, -1, 2], dtype=dtype)
    f = sd.function([x, i], [x[i], i * 2 + 1, sd.sum(i), i / 2, sd.mean(i), sd.max(i), -i, abs(i)])
    want = [xv[iv], iv * 2 + 1, np.sum(iv), iv / 2, np.mean(iv), np.max(iv), -iv, abs(iv)]
    for got, ref in zip(f(xv, iv), want):
        _assert_same(got, ref)
    assert i.dtype == dtype
    _assert_same(f(xv, [4, 0, 0, -1, 2])[0], xv[iv])  # Python ints take the input's dtype
    with pytest.raises(TypeError, match=f"input 'i': expected dtype {dtype}, got float64"):
        f(xv, iv.astype(float))
    if dtype == "int32":
        with pytest.raises(TypeError, match="expected dtype int32, got int64"):
            f(xv, iv.astype(np.int64))  # an int64 array is not narrowed silently
        with pytest.raises(OverflowError, match="do not fit in int32"):
            f(xv, [2**31, 0, 0, 0, 0])


def test_python_numbers_take_the_dtype_of_float32_inputs():
    x, s = sd.vector("x", dtype="float32"), sd.scalar("s", dtype="float32")
    f = sd.function([x, s], x * s)
    _assert_same(f([1.0, 2.0], 0.1), np.array([1.0, 2.0], dtype=np.float32) * np.float32(0.1))
    with pytest.raises(TypeError, match="expected dtype float32, got float64"):
        f(np.ones(2), 0.1)  # a float64 array is not narrowed silently


def _gathers():
    """(description, symdiff expression builder, NumPy version, index arrays)."""
    idx = np.array([3, 0, 3, 1])  # a repeated index: its gradient entries add up
    rows, cols = np.array([2, 0, 2]), np.array([4, 1, 4])
    return [
        ("x[idx]", lambda X, a, b: X[a], lambda X, a, b: X[a], (idx, cols)),
        ("x[:, idx]", lambda X, a, b: X[:, a], lambda X, a, b: X[:, a], (idx, cols)),
        ("take(axis=1)", lambda X, a, b: sd.take(X, a, axis=1), lambda X, a, b: np.take(X, a, axis=1), (idx, cols)),
        ("take(axis=-2)", lambda X, a, b: sd.take(X, a, axis=-2), lambda X, a, b: np.take(X, a, axis=-2), (idx, cols)),
        ("take() of the flat array", lambda X, a, b: sd.take(X, a), lambda X, a, b: np.take(X, a), (idx + 7, cols)),
        ("x[rows, cols]", lambda X, a, b: X[a, b], lambda X, a, b: X[a, b], (rows, cols)),
        ("x[idx, 2]", lambda X, a, b: X[a, 2], lambda X, a, b: X[a, 2], (idx, cols)),
        ("x[1:, idx]", lambda X, a, b: X[1:, b], lambda X, a, b: X[1:, b], (idx, cols)),
        ("x[-idx]", lambda X, a, b: X[-a - 1], lambda X, a, b: X[-a - 1], (idx, cols)),
        ("x[idx as a 2-D table]", lambda X, a, b: X[a.reshape((2, 2))], lambda X, a, b: X[a.reshape(2, 2)], (idx, cols)),
    ]


@pytest.mark.parametrize("case", _gathers(), ids=lambda c: c[0])
def test_gathers_along_any_axis_and_their_gradients(case):
    _, build, numpy_version, (av, bv) = case
    X = sd.matrix("X")
    a, b = sd.vector("a", dtype="int64"), sd.vector("b", dtype="int64")
    Xv = RNG.normal(size=(4, 5))
    picked = build(X, a, b)
    weights = RNG.normal(size=numpy_version(Xv, av, bv).shape)
    cost = sd.sum(picked * weights)
    f = sd.function([X, a, b], [picked, sd.grad(cost, X)])
    value, grad = f(Xv, av, bv)
    _assert_same(value, numpy_version(Xv, av, bv))
    fd = _fd(lambda M: np.sum(numpy_version(M, av, bv) * weights), [Xv], 0)
    np.testing.assert_allclose(grad, fd, rtol=1e-7, atol=1e-9)
    scattered = np.zeros_like(Xv)  # the adjoint as NumPy's unbuffered scatter-add
    positions = numpy_version(np.arange(Xv.size).reshape(Xv.shape), av, bv)
    np.add.at(scattered.reshape(-1), positions.reshape(-1), weights.reshape(-1))
    np.testing.assert_allclose(grad, scattered, rtol=1e-13)


def test_gathers_on_non_adjacent_axes_put_the_index_axes_first_as_numpy_does():
    T, i = sd.tensor("T", (None, None, None)), sd.vector("i", dtype="int64")
    Tv, iv = RNG.normal(size=(3, 2, 4)), np.array([2, 0, 2])
    weights = RNG.normal(size=Tv[iv, :, iv].shape)
    f = sd.function([T, i], [T[i, :, i], T[..., i], sd.grad(sd.sum(T[i, :, i] * weights), T)])
    picked, last, grad = f(Tv, iv)
    _assert_same(picked, Tv[iv, :, iv])
    _assert_same(last, Tv[..., iv])
    np.testing.assert_allclose(grad, _fd(lambda M: np.sum(M[iv, :, iv] * weights), [Tv], 0), rtol=1e-7, atol=1e-9)


def test_an_index_out_of_range_raises_and_names_axis_and_size():
    X, i = sd.matrix("X"), sd.vector("i", dtype="int64")
    f = sd.function([X, i], X[:, i])
    with pytest.raises(IndexError, match="index 5 is out of bounds for axis 1 of 'X' with size 5"):
        f(np.zeros((2, 5)), np.array([0, 5]))


def test_cross_entropy_on_integer_labels_by_gather_and_by_onehot():
    """``logp[sd.arange(N), labels]`` and ``onehot(labels, k)`` give the same cost and
    gradients, equal to NumPy and to finite differences."""
    X, labels = sd.matrix("X"), sd.vector("labels", dtype="int64")
    W = sd.matrix("W")
    Xv, Wv, lv = RNG.normal(size=(6, 4)), RNG.normal(size=(4, 3)), np.array([2, 0, 1, 1, 2, 0])
    logp = sd.log_softmax(X @ W, axis=1)
    gathered = -sd.mean(logp[sd.arange(X.shape[0]), labels])
    hot = -sd.mean(sd.sum(sd.onehot(labels, 3) * logp, axis=1))
    f = sd.function([X, W, labels], [gathered, hot, sd.grad(gathered, W), sd.grad(hot, W)])
    c1, c2, g1, g2 = f(Xv, Wv, lv)

    def numpy_cost(Xa, Wa):
        z = Xa @ Wa
        z = z - z.max(axis=1, keepdims=True)
        lp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return -np.mean(lp[np.arange(len(lv)), lv])

    np.testing.assert_allclose([c1, c2], numpy_cost(Xv, Wv), rtol=1e-13)
    fd = _fd(numpy_cost, [Xv, Wv], 1)
    np.testing.assert_allclose(g1, fd, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(g2, g1, rtol=1e-13, atol=1e-15)


def test_onehot_matches_numpy_for_int64_int32_and_run_time_sizes():
    X = sd.matrix("X")
    l64, l32 = sd.vector("l64", dtype="int64"), sd.vector("l32", dtype="int32")
    v64, v32 = np.array([0, 3, 1, 3]), np.array([[2, 0], [1, 1]], dtype=np.int32)
    L32 = sd.tensor("L32", (None, None), dtype="int32")
    f = sd.function([X, l64, L32], [sd.onehot(l64, 4), sd.onehot(L32, X.shape[1], dtype="float32"),
                                     sd.onehot(l64, 4, dtype="int64")])
    hot, hot32, hot_int = f(np.zeros((1, 3)), v64, v32)
    _assert_same(hot, np.eye(4)[v64])
    _assert_same(hot32, np.eye(3, dtype=np.float32)[v32])
    _assert_same(hot_int, np.eye(4, dtype=np.int64)[v64])
    _assert_same(f(np.zeros((1, 3)), np.array([-1, 0, -4]), v32)[0], np.eye(4)[[-1, 0, -4]])  # as NumPy indexes
    for bad in ([0, 4], [-5, 0]):
        with pytest.raises(IndexError, match=r"outside \[-k, k\)"):
            f(np.zeros((1, 3)), np.array(bad), v32)
    with pytest.raises(TypeError, match="labels must be integers"):
        sd.onehot(sd.vector("float_labels"), 3)
    assert l32.dtype == "int32"


def test_arange_with_static_and_run_time_sizes():
    X = sd.matrix("X")
    f = sd.function([X], [sd.arange(X.shape[0]), sd.arange(X.shape[0] * X.shape[1] - 1), sd.arange(3) * 0.5,
                          X[sd.arange(X.shape[0]), sd.arange(X.shape[0])]])
    Xv = RNG.normal(size=(4, 5))
    r, r2, half, diag = f(Xv)
    _assert_same(r, np.arange(4))
    _assert_same(r2, np.arange(19))
    _assert_same(half, np.arange(3) * 0.5)
    _assert_same(diag, np.diagonal(Xv))
    assert sd.pprint(sd.arange(X.shape[0])) == "arange(X.shape[0])"
    with pytest.raises(ValueError, match="non-negative"):
        sd.arange(-1)


def test_argmax_and_argmin_match_numpy_including_ties():
    X = sd.matrix("X")
    Xv = np.array([[1.0, 3.0, 3.0, -2.0], [0.5, 0.5, 0.5, 0.5], [-1.0, -4.0, 2.0, -4.0]])  # ties: first wins
    outs = [sd.argmax(X), sd.argmax(X, axis=1), sd.argmin(X, axis=0), sd.argmin(X, axis=-1, keepdims=True),
            X.argmax(axis=0), X.argmin()]
    want = [np.argmax(Xv), np.argmax(Xv, axis=1), np.argmin(Xv, axis=0), np.argmin(Xv, axis=-1, keepdims=True),
            Xv.argmax(axis=0), Xv.argmin()]
    for got, ref in zip(sd.function([X], outs)(Xv), want):
        _assert_same(got, ref)


def test_accuracy_by_comparing_argmax_with_labels():
    X, labels = sd.matrix("X"), sd.vector("labels", dtype="int64")
    W, b = sd.shared(RNG.normal(size=(4, 3)), name="W"), sd.shared(np.zeros(3), name="b")
    Z = X @ W + b
    correct = sd.argmax(Z, axis=1) == labels
    assert correct.dtype == "bool"
    f = sd.function([X, labels], [sd.mean(correct), sd.mean(sd.argmax(Z, axis=1) != labels), sd.sum(correct)])
    Xv = RNG.normal(size=(50, 4))
    lv = RNG.integers(0, 3, size=50)
    pred = np.argmax(Xv @ W.get_value(), axis=1)
    accuracy, error, count = f(Xv, lv)
    _assert_same(accuracy, np.mean(pred == lv))
    _assert_same(error, np.mean(pred != lv))
    _assert_same(count, np.sum(pred == lv))
    assert 0 < accuracy < 1


# --------------------------------------------------------------------------- the first-hour op set


def test_var_and_std_with_axis_ddof_and_keepdims_match_numpy():
    X = sd.matrix("X")
    Xv = RNG.normal(size=(4, 5))
    cases = [({}, {}), ({"axis": 0}, {"axis": 0}), ({"axis": 1, "ddof": 1}, {"axis": 1, "ddof": 1}),
             ({"axis": (0, 1), "ddof": 2, "keepdims": True}, {"axis": (0, 1), "ddof": 2, "keepdims": True}),
             ({"axis": -1, "keepdims": True}, {"axis": -1, "keepdims": True})]
    outs, want = [], []
    for kw, np_kw in cases:
        outs += [sd.var(X, **kw), sd.std(X, **kw)]
        want += [np.var(Xv, **np_kw), np.std(Xv, **np_kw)]
    outs += [X.var(axis=0, ddof=1), X.std(ddof=1)]
    want += [Xv.var(axis=0, ddof=1), Xv.std(ddof=1)]
    for got, ref in zip(sd.function([X], outs)(Xv), want):
        _assert_same(got, ref, rtol=1e-12)


@pytest.mark.parametrize("kind", ["var", "std"])
def test_gradients_of_var_and_std_match_finite_differences(kind):
    X = sd.matrix("X")
    Xv = RNG.normal(size=(4, 3))
    weights = RNG.normal(size=3)
    sym, num = getattr(sd, kind), getattr(np, kind)
    cost = sd.sum(sym(X, axis=0, ddof=1) * weights) + sym(X)
    got = sd.function([X], sd.grad(cost, X))(Xv)
    want = _fd(lambda M: np.sum(num(M, axis=0, ddof=1) * weights) + num(M), [Xv], 0)
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)


def test_sign_floor_ceil_log2_log10_match_numpy():
    x = sd.vector("x")
    xv = np.array([-2.5, -1.0, -0.5, 0.0, 0.25, 1.0, 3.75, 1024.0])
    pos = np.abs(xv) + 0.5
    f = sd.function([x], [sd.sign(x), sd.floor(x), sd.ceil(x), sd.log2(abs(x) + 0.5), sd.log10(abs(x) + 0.5),
                          np.sign(x), np.floor(x), np.ceil(x), np.log2(abs(x) + 0.5), np.log10(abs(x) + 0.5)])
    want = [np.sign(xv), np.floor(xv), np.ceil(xv), np.log2(pos), np.log10(pos)]
    for got, ref in zip(f(xv), want * 2):
        _assert_same(got, ref, rtol=1e-15)


def test_gradients_of_sign_floor_ceil_log2_log10_match_finite_differences():
    x = sd.vector("x")
    xv = np.array([-2.3, -0.6, 0.4, 1.7, 3.2])  # away from the jumps of sign, floor and ceil
    cost = sd.sum(sd.sign(x) * x ** 2 + sd.floor(x) * x + sd.ceil(x) + sd.log2(x * x) + sd.log10(abs(x)))
    got = sd.function([x], sd.grad(cost, x))(xv)
    want = _fd(lambda a: np.sum(np.sign(a) * a ** 2 + np.floor(a) * a + np.ceil(a) + np.log2(a * a)
                                + np.log10(np.abs(a))), [xv], 0)
    np.testing.assert_allclose(got, want, rtol=1e-7)


def test_new_axes_ellipsis_flatten_and_astype():
    T = sd.tensor("T", (None, None, None))
    Tv = RNG.normal(size=(2, 3, 4)) * 3
    outs = [T[None], T[np.newaxis, ..., None], T[..., 0], T[:, None, 1], T[..., 1:, None], T.flatten(), T.ravel(),
            T.astype("float32"), T.astype(np.int32), T.astype("int64"), (T > 0).astype("float64"), T[0].T[None]]
    want = [Tv[None], Tv[np.newaxis, ..., None], Tv[..., 0], Tv[:, None, 1], Tv[..., 1:, None], Tv.flatten(),
            Tv.ravel(), Tv.astype("float32"), Tv.astype(np.int32), Tv.astype("int64"), (Tv > 0).astype("float64"),
            Tv[0].T[None]]
    for got, ref in zip(sd.function([T], outs)(Tv), want):
        _assert_same(got, ref)
    assert T[None].static_shape == (1, None, None, None)
    assert T.flatten().ndim == 1 and T.astype("int32").dtype == "int32"


def test_gradients_through_new_axes_ellipsis_flatten_and_astype():
    T = sd.tensor("T", (None, None, None))
    Tv = RNG.normal(size=(2, 3, 4))
    w = RNG.normal(size=24)
    cost = (sd.sum(T[..., 0][None] ** 2) + sd.sum(T.flatten() * w) + sd.sum(T[:, None, 1].astype("float32") ** 3)
            + sd.sum(sd.exp(T[None, ..., 2:, None])))

    def numpy_cost(a):
        return (np.sum(a[..., 0][None] ** 2) + np.sum(a.flatten() * w)
                + np.sum(a[:, None, 1].astype(np.float64) ** 3) + np.sum(np.exp(a[None, ..., 2:, None])))

    got = sd.function([T], sd.grad(cost, T))(Tv)
    np.testing.assert_allclose(got, _fd(numpy_cost, [Tv], 0), rtol=2e-6, atol=1e-6)


_BATCHED = [
    ("stack @ matrix", (None, None, None), (None, None), (2, 3, 4), (4, 5)),
    ("stack @ stack", (None, None, None), (None, None, None), (2, 3, 4), (2, 4, 5)),
    ("broadcast leading axes", (1, None, None, None), (3, 1, None, None), (1, 2, 4, 3), (3, 1, 3, 2)),
    ("matrix @ stack", (None, None), (None, None, None, None), (3, 4), (2, 2, 4, 5)),
    ("stack @ vector", (None, None, None), (None,), (2, 3, 4), (4,)),
    ("vector @ stack", (None,), (None, None, None), (3,), (2, 3, 4)),
]


@pytest.mark.parametrize("case", _BATCHED, ids=lambda c: c[0])
def test_batched_matmul_values_and_gradients(case):
    _, sa, sb, va, vb = case
    A, B = sd.tensor("A", sa), sd.tensor("B", sb)
    Av, Bv = RNG.normal(size=va), RNG.normal(size=vb)
    weights = RNG.normal(size=(Av @ Bv).shape)
    f = sd.function([A, B], [A @ B, *sd.grad(sd.sum((A @ B) * weights), [A, B])])
    value, ga, gb = f(Av, Bv)
    _assert_same(value, Av @ Bv, rtol=1e-13)
    np.testing.assert_allclose(ga, _fd(lambda a, b: np.sum((a @ b) * weights), [Av, Bv], 0), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(gb, _fd(lambda a, b: np.sum((a @ b) * weights), [Av, Bv], 1), rtol=1e-7, atol=1e-9)


def test_python_abs_and_its_gradient():
    x = sd.vector("x")
    xv = np.array([-1.5, -0.2, 0.7, 2.0])
    value, grad = sd.function([x], [abs(x), sd.grad(sd.sum(abs(x) ** 3), x)])(xv)
    _assert_same(value, np.abs(xv))
    np.testing.assert_allclose(grad, 3 * xv * np.abs(xv), rtol=1e-14)
    assert sd.pprint(abs(x)) == "abs(x)"


# --------------------------------------------------------------------------- NumPy functions on symbolic tensors


def test_numpy_functions_on_symbolic_tensors_build_symdiff_graphs():
    X, v = sd.matrix("X"), sd.vector("v")
    Xv, vv = RNG.uniform(0.5, 2.0, size=(3, 4)), RNG.normal(size=4)
    built = [np.exp(X), np.sum(X, axis=0), np.mean(X), np.var(X, axis=1, ddof=1), np.std(X), np.sqrt(X),
             np.log(X), np.tanh(v), np.abs(v), np.maximum(v, 0.0), np.where(v > 0, v, 0.0), np.dot(X, v),
             np.matmul(X, v), np.argmax(X, axis=1), np.take(v, [3, 3]), np.ravel(X), np.transpose(X),
             np.reshape(X, (2, 6)), np.concatenate([v, v]), np.clip(v, -0.5, 0.5), v + np.ones(4), np.ones(4) + v,
             np.ones(4) * v, np.float64(2.0) * v, np.ones(4) < v, np.arange(4.0) @ v, np.outer(v, v)]
    assert all(isinstance(t, sd.Tensor) for t in built)
    want = [np.exp(Xv), np.sum(Xv, axis=0), np.mean(Xv), np.var(Xv, axis=1, ddof=1), np.std(Xv), np.sqrt(Xv),
            np.log(Xv), np.tanh(vv), np.abs(vv), np.maximum(vv, 0.0), np.where(vv > 0, vv, 0.0), np.dot(Xv, vv),
            np.matmul(Xv, vv), np.argmax(Xv, axis=1), np.take(vv, [3, 3]), np.ravel(Xv), np.transpose(Xv),
            np.reshape(Xv, (2, 6)), np.concatenate([vv, vv]), np.clip(vv, -0.5, 0.5), vv + np.ones(4),
            np.ones(4) + vv, np.ones(4) * vv, np.float64(2.0) * vv, np.ones(4) < vv, np.arange(4.0) @ vv,
            np.outer(vv, vv)]
    for got, ref in zip(sd.function([X, v], built)(Xv, vv), want):
        _assert_same(got, ref, rtol=1e-13)
    assert sd.pprint(np.exp(X)) == "exp(X)"


@pytest.mark.parametrize("call, message", [
    (lambda v: np.cumsum(v), "numpy.cumsum has no symbolic counterpart"),
    (lambda v: np.linalg.norm(v), "numpy.linalg.norm has no symbolic counterpart"),
    (lambda v: np.arctan2(v, v), "numpy.arctan2 has no symbolic counterpart"),
    (lambda v: np.exp(v, where=np.ones(3, bool)), r"numpy.exp on symbolic tensors takes no keyword arguments, got \['where'\]"),
    (lambda v: np.exp(v, dtype=np.float32), r"takes no keyword arguments, got \['dtype'\]"),
    (lambda v: np.exp(v, out=np.zeros(3)), r"got \['out'\]"),
    (lambda v: np.add.reduce(v), "numpy.add.reduce is not supported"),
    (lambda v: np.sum(v, dtype=np.float32), "numpy.sum on symbolic tensors: .*'dtype' .*it accepts x, axis=None"),
    (lambda v: np.asarray(v), "no value to convert to a NumPy array"),
])
def test_numpy_functions_without_a_counterpart_raise_type_error_naming_them(call, message):
    with pytest.raises(TypeError, match=message):
        call(sd.vector("v"))


# --------------------------------------------------------------------------- calling and pickling


@pytest.fixture(scope="module")
def regression():
    X, y = sd.matrix("X"), sd.vector("y")
    w = sd.shared(np.zeros(3), name="w")
    cost = sd.mean((X @ w - y) ** 2)
    return sd.function([X, y], cost), X, y, w


def test_keyword_arguments_in_compiled_calls(regression):
    f, *_ = regression
    Xv, yv = RNG.normal(size=(5, 3)), RNG.normal(size=5)
    want = np.mean(yv ** 2)
    for call in (lambda: f(Xv, yv), lambda: f(X=Xv, y=yv), lambda: f(y=yv, X=Xv), lambda: f(Xv, y=yv)):
        _assert_same(call(), want)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'Y'; inputs are \['X', 'y'\]"):
        f(Xv, Y=yv)
    with pytest.raises(TypeError, match=r"missing input\(s\) \['y'\]"):
        f(X=Xv)
    with pytest.raises(TypeError, match="multiple values for input 'X'"):
        f(Xv, X=Xv)
    with pytest.raises(TypeError, match=r"takes 2 input\(s\) \('X', 'y'\), got 3"):
        f(Xv, yv, yv)
    with pytest.raises(TypeError, match=r"takes 2 input\(s\) \('X', 'y'\), got 1"):
        f(Xv)


@pytest.mark.parametrize("value", [np.arange(6, dtype=np.float32).reshape(2, 3), np.array([3, -1], dtype=np.int32),
                                   np.array(2.5), np.array([True, False])])
def test_a_pickled_shared_variable_keeps_its_value_dtype_shape_and_name(value):
    W = sd.shared(value, name="W", shape=value.shape[:1] + (None,) * (value.ndim - 1))
    W2 = pickle.loads(pickle.dumps(W))
    assert isinstance(W2, sd.SharedVariable)
    assert W2.name == "W" and W2.dtype == value.dtype.name and W2.static_shape == W.static_shape
    _assert_same(W2.get_value(), value)
    W2.set_value(np.zeros_like(value))  # the copy has its own storage
    _assert_same(W.get_value(), value)


def test_a_pickled_symbolic_tensor_prints_and_compiles_the_same():
    X, labels = sd.matrix("X"), sd.vector("labels", dtype="int64")
    h = sd.tanh(X @ np.arange(12.0).reshape(3, 4) / 10).named("h")
    e = sd.onehot(labels, X.shape[1] + 1) * sd.mean(h, axis=1, keepdims=True) + sd.arange(X.shape[1] + 1) + h[:, :1]
    X2, labels2, e2 = pickle.loads(pickle.dumps((X, labels, e)))
    assert sd.pprint(e2) == sd.pprint(e)
    assert sd.latex(e2) == sd.latex(e)
    assert repr(e2) == repr(e)
    Xv, lv = RNG.normal(size=(2, 3)), np.array([3, 0])
    _assert_same(sd.function([X2, labels2], e2)(Xv, lv), sd.function([X, labels], e)(Xv, lv), rtol=0)
    g, g2 = sd.grad(sd.sum(e), X), sd.grad(sd.sum(e2), X2)
    assert sd.pprint(g2) == sd.pprint(g)


def test_a_pickled_function_computes_the_same_with_its_shared_variables():
    X, y = sd.matrix("X"), sd.vector("y")
    w = sd.shared(np.zeros(3), name="w")
    cost = sd.mean((X @ w - y) ** 2)
    step = sd.function([X, y], cost, updates=[(w, w - 0.1 * sd.grad(cost, w))])
    step2, w2 = pickle.loads(pickle.dumps((step, w)))
    Xv, yv = RNG.normal(size=(5, 3)), RNG.normal(size=5)
    for _ in range(3):
        _assert_same(step2(Xv, yv), step(Xv, yv), rtol=0)
    _assert_same(w2.get_value(), w.get_value(), rtol=0)
    assert np.any(w.get_value() != 0)
    assert repr(step2) == repr(step)


_BUILD_AND_PICKLE = """
import pickle, sys
import numpy as np
import symdiff as sd
X, labels = sd.matrix("X"), sd.vector("labels", dtype="int64")
W = sd.shared(np.linspace(-1, 1, 12).reshape(4, 3), name="W")
Z = X @ W
cost = -sd.mean(sd.log_softmax(Z, axis=1)[sd.arange(X.shape[0]), labels])
f = sd.function([X, labels], [cost, sd.mean(sd.argmax(Z, axis=1) == labels)],
                updates=[(W, W - 0.5 * sd.grad(cost, W))])
stats = f._kernel.stats
assert not f.kernel.split and sum(stats.cache_misses.values()) == 1 and not stats.cache_hits, stats
pickle.dump(f, open(sys.argv[1], "wb"))
"""

_LOAD_AND_CALL = """
import json, pickle, sys
import numpy as np
f = pickle.load(open(sys.argv[1], "rb"))
stats = f._kernel.stats
X = np.linspace(-2, 2, 20).reshape(5, 4)
out = [float(v) for v in f(X, np.array([0, 1, 2, 1, 0]))]
print(json.dumps({"hits": sum(stats.cache_hits.values()), "misses": sum(stats.cache_misses.values()), "out": out}))
"""


def test_a_pickled_function_loads_from_the_disk_cache_in_a_fresh_process(tmp_path):
    """The kernel is compiled once, by the process that built the function; a fresh
    process unpickling it loads Numba's cached machine code (a cache hit, no miss)."""
    root = Path(sd.__file__).resolve().parent.parent
    env = {**os.environ, "SYMDIFF_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(root)}
    path = tmp_path / "f.pkl"

    def run(script):
        done = subprocess.run([sys.executable, "-c", script, str(path)], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    run(_BUILD_AND_PICKLE)
    first, second = json.loads(run(_LOAD_AND_CALL)), json.loads(run(_LOAD_AND_CALL))
    assert first["hits"] == 1 and first["misses"] == 0
    assert second == first  # the file holds the weights before any call: same results again

    Wv = np.linspace(-1, 1, 12).reshape(4, 3)
    Xv, lv = np.linspace(-2, 2, 20).reshape(5, 4), np.array([0, 1, 2, 1, 0])
    z = Xv @ Wv
    logp = z - z.max(axis=1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(first["out"], [-np.mean(logp[np.arange(5), lv]), np.mean(z.argmax(axis=1) == lv)],
                               rtol=1e-13)
