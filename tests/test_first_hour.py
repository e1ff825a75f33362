"""What a PyTensor or NumPy user types in the first hour, tried as they would:
integer data (inputs, gathers with their scatter-add gradients, onehot, arange,
argmax, accuracy), the first-hour op set, NumPy functions on symbolic tensors,
keyword arguments in compiled calls and pickling.  Values are compared with
NumPy on the same data, gradients with central finite differences."""
from __future__ import annotations

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
    for bad in ([0, 4], [-1, 0]):
        with pytest.raises(IndexError, match=r"outside \[0, k\)"):
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
