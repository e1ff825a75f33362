"""Bad input gets an error naming the variable, what was expected and what came."""
import warnings

import numpy as np
import pytest

import symdiff as sd


@pytest.fixture(scope="module")
def regression():
    X, y = sd.matrix("X"), sd.matrix("y")
    w = sd.shared(np.ones((3, 1)), name="w")
    f = sd.function([X, y], sd.mean((X @ w - y) ** 2))
    return f


def test_number_of_arguments(regression):
    with pytest.raises(TypeError, match=r"takes 2 input\(s\) \('X', 'y'\), got 1"):
        regression(np.ones((4, 3)))


def test_dtype(regression):
    x32 = sd.vector("x32", dtype="float32")
    f = sd.function([x32], x32 * 2)
    with pytest.raises(TypeError, match="input 'x32': expected dtype float32, got float64"):
        f(np.ones(3))
    assert f(np.ones(3, dtype=np.int16)).dtype == np.float32  # safe casts are fine


def test_ndim_and_static_shape(regression):
    with pytest.raises(ValueError, match=r"input 'y': expected shape \(None, None\), got \(4,\)"):
        regression(np.ones((4, 3)), np.ones(4))
    t = sd.tensor("t", shape=(None, 2))
    f = sd.function([t], t + 1)
    with pytest.raises(ValueError, match=r"input 't': expected shape \(None, 2\), got \(3, 5\)"):
        f(np.ones((3, 5)))


def test_run_time_size_mismatch_names_both_sizes(regression):
    with pytest.raises(ValueError, match=r"y.shape\[0\] = 5 but X.shape\[0\] = 4"):
        regression(np.ones((4, 3)), np.ones((5, 1)))
    with pytest.raises(ValueError, match=r"X.shape\[1\] = 2 but w.shape\[0\] = 3|w.shape\[0\] = 3 but X.shape\[1\] = 2"):
        regression(np.ones((4, 2)), np.ones((4, 1)))


def test_grad_of_non_scalar_cost():
    x = sd.vector("x")
    with pytest.raises(ValueError, match=r"cost must be a scalar, got shape \(None,\)"):
        sd.grad(x * 2, x)


def test_disconnected_wrt():
    x, z = sd.vector("x"), sd.vector("z")
    cost = sd.sum(x**2)
    with pytest.raises(ValueError, match="does not depend on 'z'"):
        sd.grad(cost, z)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gz = sd.grad(cost, z, disconnected="warn")
    assert any("'z'" in str(w.message) for w in caught)
    f = sd.function([z], sd.grad(cost, z, disconnected="ignore"))
    np.testing.assert_array_equal(f(np.ones(3)), np.zeros(3))
    np.testing.assert_array_equal(sd.function([z], gz)(np.ones(2)), np.zeros(2))


def test_shared_as_input_and_bad_update_target():
    w = sd.shared(np.ones(2), name="w")
    x = sd.vector("x")
    with pytest.raises(TypeError, match="'w' is a shared variable"):
        sd.function([w], w * 2)
    with pytest.raises(TypeError, match="only shared variables can be updated"):
        sd.function([x], x, updates=[(x, x + 1)])


def test_missing_input():
    x, y = sd.vector("x"), sd.vector("y")
    with pytest.raises(ValueError, match="input\\(s\\) 'y' that are not in the inputs list"):
        sd.function([x], x + y)


def test_graph_build_errors_name_the_shapes():
    a = sd.tensor("a", shape=(2, 3))
    b = sd.tensor("b", shape=(4, 5))
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) not aligned"):
        a @ b
    with pytest.raises(ValueError, match=r"shapes \(2, 3\) and \(4, 5\) cannot be broadcast"):
        a + b
    with pytest.raises(ValueError, match=r"cannot reshape \(2, 3\) \(6 elements\) into \(4,\)"):
        sd.reshape(a, (4,))
    with pytest.raises(ValueError, match="axis 2 is out of bounds for a tensor with 2 dimensions"):
        sd.sum(a, axis=2)


def test_inputs_are_never_modified():
    X = sd.matrix("X")
    w = sd.shared(np.ones((2, 2)), name="w")
    f = sd.function([X], sd.sum(sd.exp(X) @ w), updates=[(w, w - 0.1 * sd.grad(sd.sum(sd.exp(X) @ w), w))])
    data = np.arange(6.0).reshape(3, 2)
    view = np.asfortranarray(data).T.T  # non-contiguous-friendly copy
    before = data.copy()
    f(data)
    f(view)
    np.testing.assert_array_equal(data, before)
