"""Indexing you can rely on (issue 8, point 6).

Every index and slice is checked against the run-time size (an IndexError
naming the tensor, the axis, the index and the size), gradients through
indices included; negative indices and negative or strided steps work on
run-time axes; any combination of views of one tensor builds and computes;
``givens`` substitute into sizes; a tensor of run-time length is not
iterable; ``==``/``!=`` are symbolic; ``X.shape[0]`` is a symbolic size.
Values are compared with NumPy on the same data, gradients with central
finite differences of the NumPy expression.
"""
import numpy as np
import pytest

import symdiff as sd
from oracles import central_differences

x = sd.vector("x")
M = sd.matrix("M")
SERIAL = {"parallel_threshold": 0}  # Numba's parallel passes cost seconds per kernel; prange is tested below


# ----------------------------------------------------------------- bounds are checked


A, B, C, u = sd.matrix("A"), sd.matrix("B"), sd.matrix("C"), sd.vector("u")
GOOD = {"A": (7, 2), "B": (4, 2), "C": (3, 5), "u": (6,)}
BAD = {  # one input too small at a time: (its shape, the message)
    "A": ((2, 2), "index 5 is out of bounds for axis 0 of 'A' with size 2"),
    "B": ((2, 2), "slice :3 is out of bounds for axis 0 of 'B' with size 2"),
    "C": ((3, 3), "index -4 is out of bounds for axis 1 of 'C' with size 3"),
    "u": ((3,), "index -5 is out of bounds for axis 0 of 'u' with size 3"),
}


def _bounded_numpy(a, b, c, v):
    return [a[5] * 1.5, b[:3] * 1.5, c[:, -4] * 1.5, v[-5] * 1.5]


def _bounded_cost(a, b, c, v):
    return float(np.sum(a[5] ** 2) + np.sum(b[:3] ** 2) + np.sum(c[:, -4] ** 2) + v[-5] * 1.5)


@pytest.fixture(scope="module")
def bounded():
    """``A[5]``, ``B[:3]``, ``C[:, -4]``, ``u[-5]`` and the gradient of a cost through them."""
    ins = [A, B, C, u]
    cost = sd.sum(A[5] ** 2) + sd.sum(B[:3] ** 2) + sd.sum(C[:, -4] ** 2) + u[-5] * 1.5
    return {"value": sd.function(ins, _bounded_numpy(A, B, C, u), **SERIAL),
            "gradient": sd.function(ins, sd.grad(cost, ins), **SERIAL)}


def _bounded_inputs(bad: str | None) -> list:
    rng = np.random.default_rng(821)
    return [rng.standard_normal(BAD[name][0] if name == bad else GOOD[name]) for name in GOOD]


@pytest.mark.parametrize("kind", ["value", "gradient"])
@pytest.mark.parametrize("bad", list(BAD))
def test_an_index_out_of_the_run_time_size_raises_naming_tensor_axis_index_and_size(bounded, kind, bad):
    with pytest.raises(IndexError) as info:
        bounded[kind](*_bounded_inputs(bad))
    assert BAD[bad][1] in str(info.value)


def test_indices_inside_the_run_time_size_compute_as_numpy(bounded):
    values = _bounded_inputs(None)
    for got, want in zip(bounded["value"](*values), _bounded_numpy(*values)):
        np.testing.assert_allclose(got, want, rtol=1e-14)
    for k, got in enumerate(bounded["gradient"](*values)):
        np.testing.assert_allclose(got, central_differences(_bounded_cost, values, k), rtol=1e-7, atol=1e-8)


def test_an_index_out_of_a_static_size_raises_when_the_graph_is_built():
    v3 = sd.vector("v3", shape=(3,))
    with pytest.raises(IndexError, match="index -5 is out of bounds for axis 0 of 'v3' with size 3"):
        v3[-5]
    with pytest.raises(IndexError, match="index 3 is out of bounds for axis 0 of 'v3' with size 3"):
        v3[3]


# ----------------------------------------------------------------- negative indices and steps


def _views_numpy(v, m):
    return [v[-1], v[-3], v[::-1], v[::-2], v[-2:0:-2], v[1:-1:2], v[-4:], v[:-2],
            m[-1, ::-1], m[::-2, 1], m[1:, -2], m[-2:, ::2]]


def _views(v, m):
    return [v[-1], v[-3], v[::-1], v[::-2], v[-2:0:-2], v[1:-1:2], v[-4:], v[:-2],
            m[-1, ::-1], m[::-2, 1], m[1:, -2], m[-2:, ::2]]


DIFFERENTIATED = [1, 3, 4, 5, 6, 8, 9, 11]  # the views the gradient test goes through (each scatter costs compile time)
WEIGHTS = np.linspace(0.5, 1.2, len(DIFFERENTIATED))  # a gradient sent through the wrong view gets a wrong factor


def _cost_numpy(v, m):
    views = _views_numpy(v, m)
    return float(sum(w * np.sum(np.sin(views[k])) for w, k in zip(WEIGHTS, DIFFERENTIATED)))


@pytest.fixture(scope="module")
def views_fn():
    views = _views(x, M)
    cost = sum(float(w) * sd.sum(sd.sin(views[k])) for w, k in zip(WEIGHTS, DIFFERENTIATED))
    return sd.function([x, M], views, **SERIAL), sd.function([x, M], sd.grad(cost, [x, M]), **SERIAL)


@pytest.mark.parametrize("n, rows, cols", [(7, 5, 3), (8, 4, 4)])
def test_negative_indices_and_steps_on_run_time_axes(views_fn, n, rows, cols):
    values, _ = views_fn
    rng = np.random.default_rng(822 + n)
    v, m = rng.standard_normal(n), rng.standard_normal((rows, cols))
    for got, want in zip(values(v, m), _views_numpy(v, m)):
        assert np.shape(got) == np.shape(want)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("n, rows, cols", [(7, 5, 3), (8, 4, 4)])
def test_gradients_through_negative_indices_and_steps(views_fn, n, rows, cols):
    _, gradient = views_fn
    rng = np.random.default_rng(824 + n)
    v, m = rng.standard_normal(n), rng.standard_normal((rows, cols))
    gv, gm = gradient(v, m)
    np.testing.assert_allclose(gv, central_differences(_cost_numpy, [v, m], 0), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(gm, central_differences(_cost_numpy, [v, m], 1), rtol=1e-7, atol=1e-8)


# ----------------------------------------------------------------- views of one tensor together


@pytest.fixture(scope="module")
def combined():
    v = sd.vector("v")
    v5 = sd.vector("v5", shape=(5,))
    outs = [sd.sum(M[1]) + sd.sum(M[:, 2]), v[1:] - v[:-1], v[::2] * v[1::2], x[None] * 2.0, M[..., 0] * 2.0,
            v5[1:] - v5[:-1], M[1:, :-1] * M[:-1, 1:], x[..., 0] * 2.0]
    cost = sd.sum(sd.sin(outs[0] + sd.sum(outs[1] * outs[2][:1]) + sd.sum(outs[6] ** 2)))
    values = sd.function([M, v, x, v5], outs)
    grads = sd.function([M, v], sd.grad(cost, [M, v]), **SERIAL)
    return values, grads


def _combined_numpy(m, v, xv, v5):
    return [np.sum(m[1]) + np.sum(m[:, 2]), v[1:] - v[:-1], v[::2] * v[1::2], xv[None] * 2.0, m[..., 0] * 2.0,
            v5[1:] - v5[:-1], m[1:, :-1] * m[:-1, 1:], xv[..., 0] * 2.0]


def _combined_cost(m, v):
    outs = _combined_numpy(m, v, v, v[:5])
    return float(np.sum(np.sin(outs[0] + np.sum(outs[1] * outs[2][:1]) + np.sum(outs[6] ** 2))))


def test_views_of_one_tensor_combine(combined):
    values, _ = combined
    rng = np.random.default_rng(826)
    m, v, xv, v5 = rng.standard_normal((3, 4)), rng.standard_normal(6), rng.standard_normal(3), rng.standard_normal(5)
    for got, want in zip(values(m, v, xv, v5), _combined_numpy(m, v, xv, v5)):
        assert np.shape(got) == np.shape(want)
        np.testing.assert_allclose(got, want, rtol=1e-14)


def test_gradients_through_views_of_one_tensor(combined):
    _, grads = combined
    rng = np.random.default_rng(827)
    m, v = rng.standard_normal((3, 4)), rng.standard_normal(6)
    gm, gv = grads(m, v)
    np.testing.assert_allclose(gm, central_differences(_combined_cost, [m, v], 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gv, central_differences(_combined_cost, [m, v], 1), rtol=1e-6, atol=1e-8)


def test_interleaved_halves_of_an_odd_length_do_not_broadcast(combined):
    values, _ = combined
    with pytest.raises(ValueError, match="v.shape"):  # as NumPy: (3,) and (2,) do not broadcast
        values(np.ones((3, 4)), np.ones(5), np.ones(3), np.ones(5))


# ----------------------------------------------------------------- slicing in compiled loops


def test_ridge_regression_that_skips_the_intercept():
    X, y, w = sd.matrix("X"), sd.vector("y"), sd.vector("w")
    lam = 0.3
    loss = sd.mean((X @ w - y) ** 2) + lam * sd.sum(w[1:] ** 2)
    f = sd.function([X, y, w], [loss, sd.grad(loss, w)])
    rng = np.random.default_rng(828)
    Xv, yv, wv = rng.standard_normal((9, 4)), rng.standard_normal(9), rng.standard_normal(4)
    value, gradient = f(Xv, yv, wv)
    residual = Xv @ wv - yv
    np.testing.assert_allclose(value, np.mean(residual ** 2) + lam * np.sum(wv[1:] ** 2), rtol=1e-13)
    expected = 2 * Xv.T @ residual / len(yv) + 2 * lam * np.concatenate([[0.0], wv[1:]])
    np.testing.assert_allclose(gradient, expected, rtol=1e-12)


def test_slices_inside_parallel_loops():
    w = sd.vector("w")
    f = sd.function([x, w], [x[1:] * 2, sd.grad(sd.sum(w[1:] ** 2) + sd.sum(x[::-1] * w), w)], parallel_threshold=1)
    assert "prange" in f.source
    xv, wv = np.arange(1.0, 6.0), np.array([3.0, -1.0, 2.0, 0.5, 4.0])
    doubled, gradient = f(xv, wv)
    np.testing.assert_array_equal(doubled, xv[1:] * 2)
    np.testing.assert_allclose(gradient, np.concatenate([[0.0], 2 * wv[1:]]) + xv[::-1], rtol=1e-15)


# ----------------------------------------------------------------- sizes as symbolic values


def test_givens_substitute_into_sizes_too():
    X, y, D = sd.matrix("X"), sd.vector("y"), sd.matrix("D")
    w = sd.shared(np.array([0.5, -1.0]), name="w_givens")
    loss = sd.mean((X @ w - y) ** 2)
    column_means = sd.sum(X, axis=0) / X.shape[0]
    f = sd.function([D, y], [loss, sd.grad(loss, w), column_means], givens={X: D * 2.0}, **SERIAL)
    rng = np.random.default_rng(829)
    Dv, yv = rng.standard_normal((7, 2)), rng.standard_normal(7)
    value, gradient, means = f(Dv, yv)
    residual = (2 * Dv) @ w.get_value() - yv
    np.testing.assert_allclose(value, np.mean(residual ** 2), rtol=1e-13)
    np.testing.assert_allclose(gradient, 2 * (2 * Dv).T @ residual / 7, rtol=1e-13)
    np.testing.assert_allclose(means, np.mean(2 * Dv, axis=0), rtol=1e-14)


def test_the_shape_of_a_tensor_is_a_symbolic_size():
    X = sd.matrix("X")
    n = X.shape[0]
    assert isinstance(n, sd.Tensor) and n.dtype == "int64" and sd.pprint(n) == "X.shape[0]"
    assert sd.vector("v4", shape=(4,)).shape == (4,)
    f = sd.function([X], [sd.sum(X ** 2) / X.shape[0], sd.arange(X.shape[0]) * 1.5,
                          X.reshape((X.shape[0] * X.shape[1],)), X.reshape((X.shape[1], X.shape[0])),
                          X.shape[0] * X.shape[1]], **SERIAL)
    Xv = np.arange(12.0).reshape(4, 3)
    mean_sq, ramp, flat, swapped, count = f(Xv)
    np.testing.assert_allclose(mean_sq, np.sum(Xv ** 2) / 4, rtol=1e-15)
    np.testing.assert_array_equal(ramp, np.arange(4) * 1.5)
    np.testing.assert_array_equal(flat, Xv.reshape(12))
    np.testing.assert_array_equal(swapped, Xv.reshape(3, 4))
    assert int(count) == 12


def test_a_tensor_of_run_time_length_is_not_iterable():
    with pytest.raises(TypeError, match="run time"):
        sum(x)
    with pytest.raises(TypeError, match="run time"):
        list(x)
    with pytest.raises(TypeError, match="run time"):
        len(x)


def test_a_tensor_of_static_length_is_iterable():
    v5 = sd.vector("v5", shape=(5,))
    parts = list(v5)
    assert len(parts) == 5 and sd.pprint(parts[3]) == "v5[3]"
    f = sd.function([v5], [sum(v5), parts[-1] * 2], **SERIAL)
    values = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    total, last = f(values)
    assert float(total) == 31.0 and float(last) == 32.0


def test_equality_is_symbolic_and_feeds_where():
    y = sd.vector("y")
    same, differ = x == y, x != y
    assert isinstance(same, sd.Tensor) and same.dtype == "bool" and differ.dtype == "bool"
    assert isinstance(x == 0, sd.Tensor)
    f = sd.function([x, y], [sd.where(same, x * 10, y), sd.where(differ, x - y, 0.0), sd.where(x == 0, 1.0, x)], **SERIAL)
    xv, yv = np.array([1.0, 2.0, 0.0, -4.0]), np.array([1.0, 0.0, 0.0, 4.0])
    a, b, c = f(xv, yv)
    np.testing.assert_array_equal(a, np.where(xv == yv, xv * 10, yv))
    np.testing.assert_array_equal(b, np.where(xv != yv, xv - yv, 0.0))
    np.testing.assert_array_equal(c, np.where(xv == 0, 1.0, xv))
