"""Engine bugs found by the random-graph tests (tests/random_graphs.py), each reduced
to a small graph and checked against NumPy written out by hand."""
import numpy as np
import pytest

import symdiff as sd
from oracles import central_differences


def test_integer_array_index_of_a_named_input_compiles():
    # the bounds check quoted the tensor's name inside a quoted string: SyntaxError in the kernel
    B = sd.tensor("B", (3, 4))
    picked = B[:, [-2, 0, -4]]
    f = sd.function([B], [picked, sd.grad(sd.sum(picked ** 2), B)])
    data = np.arange(12.0).reshape(3, 4)
    value, grad = f(data)
    np.testing.assert_array_equal(value, data[:, [2, 0, 0]])
    expected = np.zeros((3, 4))
    expected[:, 2] = 2 * data[:, 2]
    expected[:, 0] = 4 * data[:, 0]  # column 0 is picked twice
    np.testing.assert_allclose(grad, expected, rtol=1e-14)


def test_an_index_computed_in_the_graph_out_of_bounds_names_the_tensor():
    x = sd.vector("x")
    y = sd.vector("y")
    f = sd.function([x, y], x[sd.argmax(y)])
    assert float(f(np.array([1.0, 2.0]), np.array([0.0, 3.0]))) == 2.0
    with pytest.raises(IndexError, match="axis 0 of 'x'"):
        f(np.array([1.0, 2.0]), np.array([0.0, 1.0, 5.0]))


@pytest.mark.parametrize("build, expected, grad", [
    (lambda s: sd.mean(s ** 2), lambda s: s ** 2, lambda s: 2 * s),
    (lambda s: sd.var(s), lambda s: 0.0, lambda s: 0.0),
    (lambda s: sd.mean(s, axis=()), lambda s: s, lambda s: 1.0),
])
def test_mean_and_var_of_a_0d_tensor(build, expected, grad):
    # mean/var built a sum over no axes, which no loop nest could lower ("cannot compute ... as a scalar")
    s = sd.scalar("s")
    out = build(s)
    f = sd.function([s], [out, sd.grad(out, s)])
    value, g = f(1.5)
    assert float(value) == pytest.approx(expected(1.5), abs=1e-15)
    assert float(g) == pytest.approx(grad(1.5), abs=1e-15)


def test_mean_and_var_over_no_axes_keep_the_tensor():
    x = sd.vector("x")
    f = sd.function([x], [sd.mean(x, axis=()), sd.var(x, axis=(), keepdims=True)])
    data = np.array([1.0, -2.0, 4.0])
    mean, var = f(data)
    np.testing.assert_array_equal(mean, np.mean(data, axis=()))
    np.testing.assert_array_equal(var, np.var(data, axis=(), keepdims=True))


@pytest.mark.parametrize("shape_a, shape_b", [
    ((2, 2, 3), (3, 4)),  # a 2-D operand broadcast over the batch axis
    ((3,), (2, 3, 4)),  # a vector against a batch of matrices
    ((1, 2, 3), (2, 3, 4)),  # a size-1 batch axis
    ((2, 2, 3), (3,)),  # a batch of matrices times a vector
])
def test_batched_matmul_gradient_sums_over_broadcast_batch_axes(shape_a, shape_b):
    # the VJP returned adjoints with the broadcast batch axes still there (ShapeError in sd.grad)
    rng = np.random.default_rng(3)
    a_val, b_val = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    a, b = sd.tensor("a", shape_a), sd.tensor("b", shape_b)
    out_shape = np.matmul(a_val, b_val).shape
    w_val = rng.standard_normal(out_shape)
    cost = sd.sum(sd.constant(w_val) * (a @ b))
    f = sd.function([a, b], sd.grad(cost, [a, b]))
    ga, gb = f(a_val, b_val)
    def numpy_cost(a_, b_):
        return float(np.sum(w_val * np.matmul(a_, b_)))

    np.testing.assert_allclose(ga, central_differences(numpy_cost, [a_val, b_val], 0), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(gb, central_differences(numpy_cost, [a_val, b_val], 1), rtol=1e-7, atol=1e-9)


def test_batched_matmul_of_a_transposed_view():
    # the lowering reshaped the operand in place, which Numba refuses for a non-contiguous view
    rng = np.random.default_rng(4)
    x_val, y_val = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 4, 5))
    x, y = sd.tensor("x", (2, 4, 3)), sd.tensor("y", (2, 4, 5))
    f = sd.function([x, y], sd.transpose(x, (0, 2, 1)) @ y)
    np.testing.assert_allclose(f(x_val, y_val), np.transpose(x_val, (0, 2, 1)) @ y_val, rtol=1e-13)


@pytest.mark.parametrize("build, numpy_value", [
    (lambda B, u: (B @ u)[:] ** 2, lambda B, u: (B @ u) ** 2),  # printed as B @ u**2
    (lambda B, u: (u * 2)[[0, 2]], lambda B, u: (u * 2)[[0, 2]]),  # printed as u*2[[0, 2]]
    (lambda B, u: sd.outer(u, u)[:, [0, 2]], lambda B, u: np.outer(u, u)[:, [0, 2]]),
])
def test_printed_formula_of_a_whole_view_keeps_its_parentheses(build, numpy_value):
    # x[:] (and the whole-tensor base of x[int_array]) printed its operand without the
    # parentheses the surrounding operator needs, so the printed formula meant something else
    B, u = sd.tensor("B", (3, 4)), sd.tensor("u", (4,))
    rng = np.random.default_rng(5)
    values = {"B": rng.standard_normal((3, 4)), "u": rng.standard_normal(4)}
    text = sd.pprint(build(B, u))
    np.testing.assert_allclose(sd.printing.evaluate(text, values), numpy_value(values["B"], values["u"]), rtol=1e-14)


def test_printed_reshape_to_a_run_time_quotient_is_integer_code():
    # reshape(B, (3, 1, -1)) on a run-time shape printed its last size as B.shape[0]*B.shape[1]/3,
    # a float NumPy refuses as a shape
    B = sd.matrix("B")
    t = sd.reshape(B, (3, 1, -1))
    text = sd.pprint(t)
    assert "//3" in text
    data = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(sd.printing.evaluate(text, {"B": data}), data.reshape(3, 1, 4))
    grad_text = sd.pprint(sd.grad(sd.sum(t ** 2), B))
    np.testing.assert_allclose(sd.printing.evaluate(grad_text, {"B": data}), 2 * data, rtol=1e-15)


def test_printed_strided_slice_of_a_run_time_axis_is_integer_code():
    # B[:1:-2, 0:-3, None] printed its new shape with floor(...) of a float quotient
    B = sd.matrix("B")
    text = sd.pprint(B[:1:-2, 0:-3, None])
    data = np.arange(30.0).reshape(6, 5)
    np.testing.assert_array_equal(sd.printing.evaluate(text, {"B": data}), data[:1:-2, 0:-3, None])


def test_printed_gradient_through_concatenate_of_a_strided_slice_is_integer_code():
    # the piece of the adjoint cut back out of a concatenate printed its bounds as floor(n/2 + 1/2)
    v, u = sd.vector("v"), sd.vector("u")
    text = sd.pprint(sd.grad(sd.sum(sd.concatenate([v[::2], u]) * sd.concatenate([v[::2], u])), v))
    values = {"v": np.array([1.0, 2.0, 3.0]), "u": np.array([4.0, 5.0])}
    np.testing.assert_allclose(sd.printing.evaluate(text, values), [2.0, 0.0, 6.0], rtol=1e-15)


@pytest.mark.parametrize("order", ["value first", "value last"])
@pytest.mark.parametrize("view", ["itself", "reshaped", "reversed"])
def test_an_update_whose_value_is_another_updated_variable_reads_its_old_value(view, order):
    """``b <- p`` with ``p <- 0.9*p + v``: p was written in place before b copied it, so b
    got the new p (found by random graphs, seed 0, case 154:4)."""
    v = sd.vector("v")
    b = sd.shared(np.zeros(3), name="b")
    p = sd.shared(np.array([1.0, 2.0, 3.0]), name="p")
    value = {"itself": p, "reshaped": p.reshape((3,)), "reversed": p[::-1]}[view]
    updates = [(b, value), (p, p * 0.9 + v)]
    f = sd.function([v], sd.sum(v), updates=updates if order == "value first" else updates[::-1],
                    parallel_threshold=1)
    f(np.ones(3))
    np.testing.assert_array_equal(b.get_value(), [1.0, 2.0, 3.0] if view != "reversed" else [3.0, 2.0, 1.0])
    np.testing.assert_allclose(p.get_value(), [1.9, 2.8, 3.7], rtol=1e-15)


def test_finite_difference_oracle_on_transposed_arrays():
    """Seed 7, case 83:7: a shared matrix updated by ``M <- M.T`` is F-ordered afterwards;
    the oracle perturbed a copy of it and reported a zero gradient (symdiff's was right)."""
    M = np.arange(6.0).reshape(2, 3).T
    grad = central_differences(lambda m: float(np.sum(np.sin(m))), [M], 0)
    np.testing.assert_allclose(grad, np.cos(M), rtol=1e-8)
