"""Every error of issue 2 has a clear message naming the variable, what was expected and
what was received; graph-building errors are raised where the graph is built."""
import re
import warnings

import numpy as np
import pytest

import symdiff as sd


@pytest.fixture(scope="module")
def regression():
    X = sd.matrix("X")
    y = sd.matrix("y")
    w = sd.shared(np.ones((3, 1)), name="w")
    return sd.function([X, y], sd.mean((X @ w - y) ** 2))


@pytest.fixture(scope="module")
def f32():
    x32 = sd.vector("x32", dtype="float32")
    return sd.function([x32], x32 * 2)


# ---------------------------------------------------------------- calls
def test_wrong_number_of_arguments(regression):
    with pytest.raises(TypeError, match=r"takes 2 input\(s\) \('X', 'y'\), got 1"):
        regression(np.ones((4, 3)))
    with pytest.raises(TypeError, match=r"takes 2 input\(s\) \('X', 'y'\), got 3"):
        regression(np.ones((4, 3)), np.ones((4, 1)), np.ones(1))


def test_wrong_dtype_names_the_input_and_both_dtypes(f32):
    with pytest.raises(TypeError, match=r"input 'x32': expected dtype float32, got float64"):
        f32(np.ones(3))
    with pytest.raises(TypeError, match=r"input 'x32': expected dtype float32, got complex128"):
        f32(np.ones(3, dtype=complex))
    out = f32(np.arange(3, dtype=np.int16))  # exact casts are accepted
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [0.0, 2.0, 4.0])


def test_wrong_ndim_names_the_input_and_both_shapes(regression):
    with pytest.raises(ValueError, match=r"input 'y': expected shape \(None, None\), got \(4,\)"):
        regression(np.ones((4, 3)), np.ones(4))
    with pytest.raises(ValueError, match=r"input 'X': expected shape \(None, None\), got \(2, 2, 2\)"):
        regression(np.ones((2, 2, 2)), np.ones((2, 1)))


def test_wrong_static_size_names_the_input_and_both_shapes():
    t = sd.tensor("t", shape=(None, 2))
    f = sd.function([t], t + 1)
    with pytest.raises(ValueError, match=r"input 't': expected shape \(None, 2\), got \(3, 5\)"):
        f(np.ones((3, 5)))
    np.testing.assert_array_equal(f(np.zeros((3, 2))), np.ones((3, 2)))  # any number of rows is fine


def test_run_time_size_mismatch_between_inputs(regression):
    with pytest.raises(ValueError) as info:
        regression(np.ones((4, 3)), np.ones((5, 1)))  # X has 4 rows, y has 5
    message = str(info.value)
    assert re.search(r"y\.shape\[0\] = 5 but X\.shape\[0\] = 4|X\.shape\[0\] = 4 but y\.shape\[0\] = 5", message), message
    with pytest.raises(ValueError) as info:
        regression(np.ones((4, 2)), np.ones((4, 1)))  # X has 2 columns, w has 3 rows
    message = str(info.value)
    assert re.search(r"X\.shape\[1\] = 2 but w\.shape\[0\] = 3|w\.shape\[0\] = 3 but X\.shape\[1\] = 2", message), message


def test_run_time_size_mismatch_of_an_update():
    x = sd.vector("x")
    w = sd.shared(np.zeros(3), name="w")
    f = sd.function([x], sd.sum(x), updates=[(w, x * 2)])
    with pytest.raises(ValueError) as info:
        f(np.ones(5))
    message = str(info.value)
    assert "w.shape[0] = 3" in message and "x.shape[0] = 5" in message, message
    np.testing.assert_array_equal(w.get_value(), np.zeros(3))  # nothing was written


# ---------------------------------------------------------------- grad
def test_grad_of_a_non_scalar_cost():
    x = sd.vector("x")
    with pytest.raises(ValueError, match=r"cost must be a scalar, got shape \(None,\)"):
        sd.grad(x * 2, x)
    m = sd.tensor("m", shape=(2, 3))
    with pytest.raises(ValueError, match=r"cost must be a scalar, got shape \(2, 3\)"):
        sd.grad(sd.exp(m), m)


def test_wrt_not_in_the_graph_raises_by_default():
    x, z = sd.vector("x"), sd.vector("z")
    cost = sd.sum(x**2)
    with pytest.raises(ValueError, match="does not depend on 'z'"):
        sd.grad(cost, z)
    with pytest.raises(ValueError, match="does not depend on 'z'"):
        sd.grad(cost, [x, z], disconnected="raise")
    with pytest.raises(ValueError, match="disconnected must be 'raise', 'warn' or 'ignore', got 'maybe'"):
        sd.grad(cost, x, disconnected="maybe")


def test_wrt_not_in_the_graph_warn_and_ignore_give_zeros():
    x, z = sd.vector("x"), sd.vector("z")
    cost = sd.sum(x**2)
    with pytest.warns(UserWarning, match="does not depend on 'z'") as caught:
        gx, gz = sd.grad(cost, [x, z], disconnected="warn")
    assert caught[0].filename == __file__  # the warning points at the caller, not inside symdiff
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "ignore" is silent
        gz_quiet = sd.grad(cost, z, disconnected="ignore")
    assert gz.static_shape == gz_quiet.static_shape == (None,)
    f = sd.function([x, z], [gx, gz, gz_quiet])
    got_x, got_z, got_quiet = f(np.array([1.0, -2.0]), np.ones(3))
    np.testing.assert_array_equal(got_x, [2.0, -4.0])  # the connected one is still right
    np.testing.assert_array_equal(got_z, np.zeros(3))  # zeros of z's own run-time shape
    np.testing.assert_array_equal(got_quiet, np.zeros(3))


# ---------------------------------------------------------------- sd.function arguments
def test_shared_variable_passed_as_an_input():
    w = sd.shared(np.ones(2), name="w")
    x = sd.vector("x")
    with pytest.raises(TypeError, match="'w' is a shared variable"):
        sd.function([w], w * 2)
    with pytest.raises(TypeError, match="input #1 'w' is a shared variable"):
        sd.function([x, w], w * x)


def test_update_of_a_non_shared_variable():
    x = sd.vector("x")
    with pytest.raises(TypeError, match=r"only shared variables can be updated, got Tensor\(x,"):
        sd.function([x], x, updates=[(x, x + 1)])


def test_update_of_a_larger_rank_and_a_duplicate_update():
    w = sd.shared(np.ones(2), name="w")
    m = sd.matrix("m")
    with pytest.raises(ValueError, match=r"update of 'w' has shape \(None, None\), the variable has shape \(None,\)"):
        sd.function([m], [], updates=[(w, m)])
    with pytest.raises(ValueError, match="'w' is updated twice"):
        sd.function([], [], updates=[(w, w + 1), (w, w + 2)])


def test_missing_input():
    x, y = sd.vector("x"), sd.vector("y")
    with pytest.raises(ValueError, match=r"input\(s\) 'y' that are not in the inputs list"):
        sd.function([x], x + y)


# ---------------------------------------------------------------- graph building
def test_matmul_of_mismatched_static_shapes():
    a = sd.tensor("a", shape=(2, 3))
    b = sd.tensor("b", shape=(4, 5))
    with pytest.raises(ValueError, match=re.escape("matmul: shapes (2, 3) and (4, 5) not aligned: 3 (dim 1) != 4 (dim 0)")):
        a @ b
    v = sd.tensor("v", shape=(4,))
    with pytest.raises(ValueError, match=re.escape("(2, 3)") + ".*" + re.escape("(4,)")):
        a @ v


def test_broadcasting_mismatch_of_static_shapes():
    a = sd.tensor("a", shape=(2, 3))
    with pytest.raises(ValueError, match=re.escape("shapes (2, 3) and (4, 5) cannot be broadcast")):
        a + sd.tensor("b", shape=(4, 5))
    with pytest.raises(ValueError, match=re.escape("shapes (2, 3) and (2,) cannot be broadcast")):
        a * sd.tensor("c", shape=(2,))
    assert (a * sd.tensor("d", shape=(3,))).shape == (2, 3)  # trailing axes that agree broadcast (static sizes are ints)


def test_reshape_to_an_incompatible_size():
    a = sd.tensor("a", shape=(2, 3))
    with pytest.raises(ValueError, match=re.escape("cannot reshape (2, 3) (6 elements) into (4,) (4 elements)")):
        sd.reshape(a, (4,))
    with pytest.raises(ValueError, match=re.escape("cannot reshape (2, 3) into (-1, 4)")):
        a.reshape(-1, 4)
    assert a.reshape(-1, 2).shape == (3, 2)


@pytest.mark.parametrize("build, axis", [
    (lambda a: sd.sum(a, axis=2), 2),
    (lambda a: sd.mean(a, axis=-3), -3),
    (lambda a: sd.max(a, axis=5), 5),
    (lambda a: sd.softmax(a, axis=2), 2),
    (lambda a: sd.logsumexp(a, axis=3), 3),
])
def test_axis_out_of_range(build, axis):
    a = sd.tensor("a", shape=(2, 3))
    with pytest.raises(ValueError, match=f"axis {axis} is out of bounds for a tensor with 2 dimensions"):
        build(a)
