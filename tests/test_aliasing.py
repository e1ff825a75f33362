"""Updates are simultaneous, always (issue 8, point 3).

Every new value is computed from the values before the call, whatever views
(transpose, reverse, slice, reshape) or swaps connect the variables; outputs
that are updated variables (or views of them) return the values from before
the call, as in Theano and PyTensor; a failed call leaves every shared
variable exactly as it was.  The oracle is NumPy on copies of the old values.
``f.plan.in_place`` shows which update values are written straight into
their variable: a plain SGD step is, a value read through a view is not.
"""
import numpy as np
import pytest

import symdiff as sd


SERIAL = {"parallel_threshold": 0}  # where prange is beside the point: Numba's parallel passes cost seconds


def _matrix(seed: int, shape: tuple) -> np.ndarray:
    """Distinct, non-symmetric entries (a swap or transpose that went wrong shows)."""
    return np.random.default_rng(seed).permutation(np.prod(shape)).reshape(shape) + 1.0


def _in_place(f) -> set:
    return {var.name for var in f.plan.in_place.values()}


def test_transpose_of_itself_with_outputs_from_before_the_call():
    M = sd.shared(_matrix(811, (4, 4)), name="M")
    old = M.get_value()
    f = sd.function([], [M, M.T], updates=[(M, M.T)])
    out_m, out_t = f()
    np.testing.assert_array_equal(M.get_value(), old.T)
    np.testing.assert_array_equal(out_m, old)
    np.testing.assert_array_equal(out_t, old.T)
    f()
    np.testing.assert_array_equal(M.get_value(), old)
    assert _in_place(f) == set()


def test_symmetrising_a_matrix_reads_only_old_values():
    W = sd.shared(_matrix(812, (5, 5)), name="W")
    old = W.get_value()
    f = sd.function([], [], updates=[(W, (W + W.T) / 2)])
    f()
    np.testing.assert_array_equal(W.get_value(), (old + old.T) / 2)
    assert _in_place(f) == set()


def test_a_reversed_view_of_itself_in_one_call_and_in_a_loop():
    v = sd.shared(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), name="v")
    old = v.get_value()
    f = sd.function([], sd.sum(v * np.arange(1.0, 6.0)), updates=[(v, v[::-1] * 10)])
    assert float(f()) == float(np.sum(old * np.arange(1.0, 6.0)))
    np.testing.assert_array_equal(v.get_value(), old[::-1] * 10)
    assert _in_place(f) == set()
    v.set_value(old)
    sums = f.loop(3)
    expected, value = [], old.copy()
    for _ in range(3):
        expected.append(np.sum(value * np.arange(1.0, 6.0)))
        value = value[::-1] * 10
    np.testing.assert_array_equal(sums, expected)
    np.testing.assert_array_equal(v.get_value(), value)


def test_shifted_slices_of_themselves():
    p = sd.shared(np.arange(1.0, 7.0) ** 2, name="p")
    q = sd.shared(np.arange(1.0, 7.0) ** 3, name="q")
    r = sd.shared(np.arange(1.0, 7.0) * 3, name="r")
    t = sd.shared(np.arange(1.0, 7.0) ** 0.5, name="t")
    p0, q0, r0, t0 = p.get_value(), q.get_value(), r.get_value(), t.get_value()
    f = sd.function([], [], updates=[
        (p, sd.concatenate([p[1:], p[:1]])),  # rotate left by one
        (q, sd.concatenate([q[:1], q[1:] - q[:-1]])),  # first differences
        (r, sd.concatenate([r[:-1] * r[1:], r[-1:]])),  # neighbour products
        (t, sd.concatenate([t[1:], t[:1]]) * 2 - t),  # reads a copy of itself: may go in place
    ])
    f()
    np.testing.assert_array_equal(p.get_value(), np.roll(p0, -1))
    np.testing.assert_array_equal(q.get_value(), np.concatenate([q0[:1], q0[1:] - q0[:-1]]))
    np.testing.assert_array_equal(r.get_value(), np.concatenate([r0[:-1] * r0[1:], r0[-1:]]))
    np.testing.assert_array_equal(t.get_value(), np.roll(t0, -1) * 2 - t0)
    assert _in_place(f) <= {"t"}


def test_reshaped_views_of_themselves():
    R = sd.shared(_matrix(813, (2, 3)), name="R")
    S = sd.shared(_matrix(814, (2, 3)), name="S")
    r0, s0 = R.get_value(), S.get_value()
    f = sd.function([], R.reshape((-1,)), updates=[
        (R, R.reshape((3, 2)).T * 2),
        (S, S.reshape((-1,))[::-1].reshape((2, 3)) + S),
    ])
    np.testing.assert_array_equal(f(), r0.reshape(-1))
    np.testing.assert_array_equal(R.get_value(), r0.reshape(3, 2).T * 2)
    np.testing.assert_array_equal(S.get_value(), s0.reshape(-1)[::-1].reshape(2, 3) + s0)
    assert _in_place(f) == set()


def test_swaps_and_rotations():
    a = sd.shared(np.array([1.0, 2.0]), name="a")
    b = sd.shared(np.array([3.0, 4.0]), name="b")
    c = sd.shared(np.array([5.0, 6.0, 7.0]), name="c")
    d = sd.shared(np.array([8.0, 9.0, 10.0]), name="d")
    e = sd.shared(np.array([11.0, 12.0, 13.0]), name="e")
    f = sd.function([], [a, b, sd.sum(a * b)], updates=[(a, b), (b, a), (c, d), (d, e), (e, c)])
    out_a, out_b, dot = f()
    np.testing.assert_array_equal(out_a, [1.0, 2.0])
    np.testing.assert_array_equal(out_b, [3.0, 4.0])
    assert float(dot) == 11.0
    np.testing.assert_array_equal(a.get_value(), [3.0, 4.0])
    np.testing.assert_array_equal(b.get_value(), [1.0, 2.0])
    np.testing.assert_array_equal(c.get_value(), [8.0, 9.0, 10.0])
    np.testing.assert_array_equal(d.get_value(), [11.0, 12.0, 13.0])
    np.testing.assert_array_equal(e.get_value(), [5.0, 6.0, 7.0])
    f()
    f()
    np.testing.assert_array_equal(c.get_value(), [5.0, 6.0, 7.0])  # a rotation of three, three times
    np.testing.assert_array_equal(a.get_value(), [3.0, 4.0])  # a swap, three times


def test_an_update_reads_another_updated_variable_through_a_view():
    P = sd.shared(_matrix(815, (2, 3)), name="P")
    Q = sd.shared(_matrix(816, (3, 2)) + 20, name="Q")
    A = sd.shared(np.arange(1.0, 5.0), name="A")
    B = sd.shared(_matrix(817, (2, 2)) + 10, name="B")
    p0, q0, a0, b0 = P.get_value(), Q.get_value(), A.get_value(), B.get_value()
    f = sd.function([], [P.T, Q[0]], updates=[
        (P, Q.T + 1),
        (Q, P.T * 2),
        (A, B.reshape((-1,)) + A),
        (B, A.reshape((2, 2)) * 3 - B[::-1]),
    ])
    out_pt, out_q0 = f()
    np.testing.assert_array_equal(out_pt, p0.T)
    np.testing.assert_array_equal(out_q0, q0[0])
    np.testing.assert_array_equal(P.get_value(), q0.T + 1)
    np.testing.assert_array_equal(Q.get_value(), p0.T * 2)
    np.testing.assert_array_equal(A.get_value(), b0.reshape(-1) + a0)
    np.testing.assert_array_equal(B.get_value(), a0.reshape(2, 2) * 3 - b0[::-1])


def test_outputs_that_are_updated_variables_or_views_return_the_old_value():
    M = sd.shared(_matrix(818, (3, 4)), name="M")
    old = M.get_value()
    new = M * 2
    f = sd.function([], [M, M.T, M[0], M[:, ::-1], M.reshape((-1,)), M * 1, M + 0, new], updates=[(M, new)])
    outs = f()
    expected = [old, old.T, old[0], old[:, ::-1], old.reshape(-1), old, old, old * 2]
    for got, want in zip(outs, expected):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(M.get_value(), old * 2)
    outs[0][0, 0] = -1.0  # an output is the caller's array, not the variable's storage
    np.testing.assert_array_equal(M.get_value(), old * 2)
    assert _in_place(f) == set()


def test_a_plain_sgd_step_is_written_in_place_and_right():
    X = sd.matrix("X")
    y = sd.vector("y")
    w = sd.shared(np.array([0.5, -1.0, 2.0]), name="w")
    loss = sd.mean((X @ w - y) ** 2)
    step = sd.function([X, y], loss, updates=[(w, w - 0.1 * sd.grad(loss, w))])
    assert _in_place(step) == {"w"}
    rng = np.random.default_rng(819)
    Xv, yv = rng.standard_normal((6, 3)), rng.standard_normal(6)
    wv = w.get_value()
    for _ in range(3):
        residual = Xv @ wv - yv
        np.testing.assert_allclose(step(Xv, yv), np.mean(residual ** 2), rtol=1e-13)
        wv = wv - 0.1 * 2 * Xv.T @ residual / len(yv)
        np.testing.assert_allclose(w.get_value(), wv, rtol=1e-13)


def test_an_elementwise_sgd_step_is_right():
    x = sd.vector("x")
    w = sd.shared(np.array([1.0, -0.5, 0.25]), name="w")
    loss = sd.sum((w * x) ** 2)
    step = sd.function([x], loss, updates=[(w, w - 0.1 * sd.grad(loss, w))])
    xv = np.array([0.5, 2.0, -1.0])
    wv = w.get_value()
    for _ in range(3):
        assert float(step(xv)) == pytest.approx(np.sum((wv * xv) ** 2), rel=1e-14)
        wv = wv - 0.1 * 2 * wv * xv ** 2
        np.testing.assert_allclose(w.get_value(), wv, rtol=1e-14)
    assert _in_place(step) == {"w"}


def test_chained_elementwise_updates_sharing_one_loop():
    a = sd.shared(np.array([1.0, 2.0, 3.0]), name="a")
    b = sd.shared(np.array([10.0, 20.0, 30.0]), name="b")
    f = sd.function([], sd.sum(a * b), updates=[(a, b + 1), (b, a + b), ])
    assert float(f()) == 140.0
    np.testing.assert_array_equal(a.get_value(), [11.0, 21.0, 31.0])
    np.testing.assert_array_equal(b.get_value(), [11.0, 22.0, 33.0])
    assert len(_in_place(f)) <= 1  # each value reads the other variable: one of them needs a copy


# ----------------------------------------------------------------- failed calls change nothing


@pytest.fixture(scope="module")
def guarded():
    """Updates (one of them in place when the call succeeds) next to a gather whose index
    is computed in the graph: ``x[argmax(x) + off]`` fails inside the kernel when out of range."""
    x = sd.vector("x")
    off = sd.scalar("off", dtype="int64")
    w = sd.shared(np.arange(4.0), name="w")
    n = sd.shared(np.array(0.0), name="n")
    z = sd.shared(np.zeros(3), name="z")
    picked = x[sd.argmax(x) + off]
    f = sd.function([x, off], picked * 2, updates=[(w, w * 2 + 1), (z, z + x[:3])], **SERIAL)
    g = sd.function([x, off], [], updates=[(w, w * 2 + 1), (n, n + picked), (z, z + x[:3])], **SERIAL)
    return f, g, (w, n, z)


def _values(variables) -> list:
    return [v.get_value() for v in variables]


@pytest.mark.parametrize("which", ["output", "update"])
@pytest.mark.parametrize("args, error", [
    ((np.ones((2, 2)), 0), ValueError),  # wrong rank
    ((np.array(["a", "b", "c"]), 0), TypeError),  # wrong dtype
    ((np.ones(3, dtype=np.complex128), 0), TypeError),  # unsafe cast
    ((np.ones(2), 0), IndexError),  # x[:3] on two elements, checked before the kernel
    ((np.array([1.0, 3.0, 2.0]), 10), IndexError),  # the gather, inside the kernel
    ((np.array([1.0, 3.0, 2.0]), -10), IndexError),
], ids=["rank", "dtype", "complex", "slice", "gather-high", "gather-low"])
def test_a_failed_call_leaves_every_shared_variable_as_it_was(guarded, which, args, error):
    f, g, variables = guarded
    fn = f if which == "output" else g
    before = _values(variables)
    with pytest.raises(error):
        fn(*args)
    for got, want in zip(_values(variables), before):
        np.testing.assert_array_equal(got, want)


def test_the_guarded_functions_write_in_place(guarded):
    f, g, _ = guarded
    assert {"w", "z"} <= _in_place(f)  # the gather comes first: both writes can go in place
    assert "z" in _in_place(g) and "w" not in _in_place(g)  # w's loop runs before the gather


def test_the_gather_error_names_the_index_the_tensor_and_its_size(guarded):
    f, g, variables = guarded
    with pytest.raises(IndexError) as info:
        g(np.array([1.0, 3.0, 2.0]), 10)
    message = str(info.value)
    assert "index 11" in message and "'x'" in message and "size 3" in message and "axis 0" in message


def test_a_successful_call_after_failures_updates_once(guarded):
    f, g, (w, n, z) = guarded
    w0, n0, z0 = _values((w, n, z))
    xv = np.array([1.0, 3.0, 2.0, -1.0])
    assert float(f(xv, -1)) == 2.0  # x[argmax(x) - 1] = x[0]
    np.testing.assert_array_equal(w.get_value(), w0 * 2 + 1)
    np.testing.assert_array_equal(z.get_value(), z0 + xv[:3])
    g(xv, 2)  # x[argmax(x) + 2] = x[3]
    np.testing.assert_array_equal(w.get_value(), (w0 * 2 + 1) * 2 + 1)
    assert float(n.get_value()) == float(n0) - 1.0
    np.testing.assert_array_equal(z.get_value(), z0 + 2 * xv[:3])
