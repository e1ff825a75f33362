"""``sd.function``: outputs, shared variables and simultaneous updates, givens, float32,
constants and scalars, second derivatives, the caller's arrays, the generated source
and the disk cache."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import symdiff as sd
from seed_network import build_network


# ---------------------------------------------------------------- outputs
@pytest.fixture(scope="module")
def outputs_fn():
    x = sd.vector("x")
    one = sd.function([x], sd.exp(x) * 2)
    many = sd.function([x], [sd.exp(x) * 2, sd.sum(x * x), x[0]])
    single_list = sd.function([x], [sd.sum(x)])
    return one, many, single_list


def test_one_output_gives_an_array(outputs_fn):
    one, _, _ = outputs_fn
    xd = np.array([0.0, 1.0, -2.0])
    out = one(xd)
    assert isinstance(out, np.ndarray) and out.shape == (3,) and out.dtype == np.float64
    np.testing.assert_allclose(out, 2 * np.exp(xd), rtol=1e-14)


def test_a_list_of_outputs_gives_a_list(outputs_fn):
    _, many, single_list = outputs_fn
    xd = np.array([0.5, 1.0, -2.0])
    out = many(xd)
    assert isinstance(out, list) and len(out) == 3
    np.testing.assert_allclose(out[0], 2 * np.exp(xd), rtol=1e-14)
    assert isinstance(out[1], np.ndarray) and out[1].shape == () and float(out[1]) == 5.25  # 0-d outputs
    assert out[2].shape == () and float(out[2]) == 0.5
    one_item = single_list(xd)
    assert isinstance(one_item, list) and len(one_item) == 1 and float(one_item[0]) == -0.5


def test_generated_source_is_shown(outputs_fn):
    one, _, _ = outputs_fn
    assert "def kernel" in one.source
    compile(one.source, "<kernel>", "exec")  # it is real Python
    assert "numba" in one.source


# ---------------------------------------------------------------- shared variables and updates
def test_updates_are_simultaneous_rotation():
    a = sd.shared(np.array([1.0, 2.0]), name="a")
    b = sd.shared(np.array([3.0, 4.0]), name="b")
    c = sd.shared(np.array([5.0, 6.0]), name="c")
    f = sd.function([], sd.sum(a * 100 + b * 10 + c), updates=[(a, b), (b, c), (c, a)])
    assert float(f()) == 100 * 3 + 10 * 7 + 11  # outputs see the old values
    np.testing.assert_array_equal(a.get_value(), [3.0, 4.0])
    np.testing.assert_array_equal(b.get_value(), [5.0, 6.0])
    np.testing.assert_array_equal(c.get_value(), [1.0, 2.0])
    f()
    np.testing.assert_array_equal(a.get_value(), [5.0, 6.0])
    np.testing.assert_array_equal(b.get_value(), [1.0, 2.0])
    np.testing.assert_array_equal(c.get_value(), [3.0, 4.0])


def test_an_update_reading_an_updated_variable_sees_its_old_value():
    x = sd.vector("x")
    w = sd.shared(np.array([[1.0, 2.0], [3.0, 4.0]]), name="w")
    v = sd.shared(np.array([1.0, -1.0]), name="v")
    n = sd.shared(np.array(0.0), name="n")
    # w's new value is listed first; v's and n's read w, and must see the old w
    f = sd.function([x], w @ x, updates={w: w * 2 + 1, v: w @ v + x, n: n + sd.sum(w)})
    got = f(np.array([1.0, 1.0]))
    W = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(got, W @ [1.0, 1.0])
    np.testing.assert_array_equal(w.get_value(), W * 2 + 1)
    np.testing.assert_array_equal(v.get_value(), W @ [1.0, -1.0] + 1.0)
    assert float(n.get_value()) == 10.0


def test_shared_values_are_private_copies():
    value = np.array([1.0, 2.0])
    w = sd.shared(value, name="w")
    value[0] = 100.0  # the caller's array is not the variable's storage
    got = w.get_value()
    got[1] = 50.0  # nor is the copy get_value returns
    np.testing.assert_array_equal(w.get_value(), [1.0, 2.0])
    f = sd.function([], sd.sum(w * 3))
    assert float(f()) == 9.0
    new = np.array([5.0, 5.0])
    w.set_value(new)
    new[0] = -1.0  # set_value copies too
    assert float(f()) == 30.0
    w.set_value(np.array([5.0, 5.0, 5.0]))  # a size declared None may change
    assert float(f()) == 45.0


def test_set_value_is_seen_by_updates_and_results_are_not_aliased():
    w = sd.shared(np.zeros(3), name="w")
    step = sd.function([], w * 1.5 + 0.0, updates=[(w, w + 1)])
    first = step()
    w.set_value(np.array([10.0, 20.0, 30.0]))
    second = step()
    np.testing.assert_array_equal(first, [0.0, 0.0, 0.0])  # not overwritten by the later call
    np.testing.assert_array_equal(second, [15.0, 30.0, 45.0])
    np.testing.assert_array_equal(w.get_value(), [11.0, 21.0, 31.0])


def test_set_value_checks_shape_and_dtype():
    fixed = sd.shared(np.zeros(2), name="fixed", shape=(2,))
    with pytest.raises(ValueError, match=r"'fixed': expected shape \(2,\), got \(3,\)"):
        fixed.set_value(np.zeros(3))
    with pytest.raises(TypeError, match="'fixed': expected dtype float64, got complex128"):
        fixed.set_value(np.zeros(2, dtype=complex))


# ---------------------------------------------------------------- givens, constants, scalars
def test_givens_substitute_expressions_for_variables():
    x, t = sd.vector("x"), sd.scalar("t")
    f = sd.function([t], sd.sum(x**2), givens={x: sd.stack([t, 2 * t])})
    assert float(f(3.0)) == 9.0 + 36.0
    w = sd.shared(np.array([1.0, 2.0, 3.0]), name="w")
    u = sd.vector("u")
    g = sd.function([u], sd.sum(w * u), givens={w: u + 1.0})  # a shared variable replaced by an input's expression
    assert float(g(np.array([1.0, 2.0, 3.0]))) == 2.0 + 6.0 + 12.0
    np.testing.assert_array_equal(w.get_value(), [1.0, 2.0, 3.0])  # the variable itself untouched


def test_constants_scalars_and_zero_d_outputs():
    s = sd.scalar("s")
    data = np.array([1.0, 2.0, 3.0])
    c = sd.constant(data)
    data[0] = 100.0  # the constant holds its own copy
    k = sd.constant(2.5)
    cost = sd.sum(c * s) * k
    f = sd.function([s], [cost, sd.grad(cost**2, s), s * s])
    total, ds, sq = f(2.0)
    for out in (total, ds, sq):
        assert isinstance(out, np.ndarray) and out.shape == () and out.dtype == np.float64
    assert float(total) == 30.0
    assert float(ds) == 2 * 30.0 * 6.0 * 2.5  # d(cost^2)/ds = 2 cost * sum(c) * k
    assert float(sq) == 4.0
    for arg in (np.float64(2.0), np.array(2.0), 2):  # a scalar input takes numbers and 0-d arrays
        assert float(f(arg)[0]) == 30.0


def test_second_derivatives_compile():
    s = sd.scalar("s")
    d2 = sd.grad(sd.grad(sd.sin(s) * s**3, s), s)
    f = sd.function([s], d2)
    v = 0.7
    want = -np.sin(v) * v**3 + 6 * np.cos(v) * v**2 + 6 * np.sin(v) * v
    np.testing.assert_allclose(f(v), want, rtol=1e-13)
    # a Hessian-vector product of a vector function
    x, u = sd.vector("x"), sd.vector("u")
    g = sd.grad(sd.sum(sd.exp(x) * x**2) + sd.sum(x) ** 2, x)
    hv = sd.grad(sd.sum(g * u), x)
    h = sd.function([x, u], hv)
    xd, ud = np.array([0.3, -1.0, 2.0]), np.array([1.0, 2.0, -0.5])
    hess = np.diag(np.exp(xd) * (xd**2 + 4 * xd + 2)) + 2 * np.ones((3, 3))
    np.testing.assert_allclose(h(xd, ud), hess @ ud, rtol=1e-12)


# ---------------------------------------------------------------- float32
def _training_step(dtype):
    """The two-layer network in ``dtype`` (with an L2 penalty): loss, prediction and gradients, one SGD update."""
    X, y, params, yp, loss = build_network(dtype=dtype)
    params[1].set_value(np.full(20, 0.1, dtype=dtype))  # non-zero biases
    loss = loss + 1e-3 * sd.sum(params[0] ** 2)
    grads = sd.grad(loss, params)
    f = sd.function([X, y], [loss, yp] + grads, updates=[(p, p - 0.1 * g) for p, g in zip(params, grads)])
    return f, params


@pytest.fixture(scope="module")
def nets32_64():
    return _training_step("float32"), _training_step("float64")


def test_float32_end_to_end(nets32_64):
    (f32, p32), (f64, p64) = nets32_64
    rng = np.random.default_rng(1)
    Xd = rng.standard_normal((50, 4))
    yd = (rng.random((50, 1)) > 0.5).astype(np.float64)
    out32 = f32(Xd.astype(np.float32), yd.astype(np.float32))
    out64 = f64(Xd, yd)
    for a, b in zip(out32, out64):
        assert a.dtype == np.float32
        assert b.dtype == np.float64
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * np.abs(b).max())
        assert np.abs(b).max() > 1e-4  # the gradients are not trivially zero
    for a, b in zip(p32, p64):  # the updated shared values stay float32 and track float64
        assert a.get_value().dtype == np.float32
        np.testing.assert_allclose(a.get_value(), b.get_value(), rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------- the caller's arrays
def test_input_arrays_are_never_modified():
    X = sd.matrix("X", shape=(None, 4))
    y = sd.vector("y")
    w = sd.shared(np.array([0.5, -1.0, 2.0, 0.25]), name="w")
    residual = X @ w - y
    loss = sd.mean(residual**2)
    f = sd.function([X, y], [loss, X.T, X[:, ::2], sd.exp(X) * 2, X.reshape(-1)],
                    updates=[(w, w - 0.1 * sd.grad(loss, w))])
    rng = np.random.default_rng(2)
    big = rng.standard_normal((4, 10))
    cases = [
        (big.T[::2], rng.standard_normal((5, 2))[:, 1]),  # strided rows, strided column
        (np.asfortranarray(rng.standard_normal((6, 4))), rng.standard_normal(12)[::2]),
        (rng.standard_normal((3, 4)), rng.standard_normal(3)),
    ]
    for Xd, yd in cases:
        Xc, yc, wc = Xd.copy(), yd.copy(), w.get_value()
        base_before = big.copy()
        loss_v, Xt, Xs, ex, flat = f(Xd, yd)
        np.testing.assert_array_equal(Xd, Xc)
        np.testing.assert_array_equal(yd, yc)
        np.testing.assert_array_equal(big, base_before)
        r = Xc @ wc - yc
        np.testing.assert_allclose(loss_v, np.mean(r**2), rtol=1e-13)
        np.testing.assert_allclose(w.get_value(), wc - 0.1 * 2 * Xc.T @ r / len(yc), rtol=1e-13, atol=1e-15)
        np.testing.assert_array_equal(Xt, Xc.T)
        np.testing.assert_array_equal(Xs, Xc[:, ::2])
        np.testing.assert_allclose(ex, np.exp(Xc) * 2, rtol=1e-14)
        np.testing.assert_array_equal(flat, Xc.reshape(-1))
        for out in (Xt, Xs, flat):  # outputs that are views of an input are the caller's to change
            out[...] = -7.0
        np.testing.assert_array_equal(Xd, Xc)
        np.testing.assert_array_equal(big, base_before)


def test_shared_output_is_a_copy():
    w = sd.shared(np.array([1.0, 2.0]), name="w")
    f = sd.function([], [w, w.T])
    out, out_t = f()
    out[0] = 99.0
    out_t[1] = 99.0
    np.testing.assert_array_equal(w.get_value(), [1.0, 2.0])


# ---------------------------------------------------------------- updates that read views of themselves, dtypes of folded ops
def test_output_of_an_updated_shared_variable_is_its_old_value():
    w = sd.shared(np.array([1.0, 2.0]), name="w")
    f = sd.function([], [w, w * 2], updates=[(w, w + 1)])
    value, doubled = f()
    np.testing.assert_array_equal(doubled, [2.0, 4.0])  # computed from the old value
    np.testing.assert_array_equal(value, [1.0, 2.0])  # the old value too, as in Theano
    np.testing.assert_array_equal(w.get_value(), [2.0, 3.0])


def test_update_with_the_transpose_of_itself():
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    M = sd.shared(A, name="M")
    f = sd.function([], [], updates=[(M, M.T)])
    f()
    np.testing.assert_array_equal(M.get_value(), A.T)


def test_in_place_update_reading_a_transposed_view():
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    W = sd.shared(A, name="W")
    f = sd.function([], [], updates=[(W, 0.5 * (W + W.T))])
    f()
    np.testing.assert_array_equal(W.get_value(), 0.5 * (A + A.T))


def test_in_place_update_reading_a_reversed_slice():
    v = sd.shared(np.arange(4.0), name="v", shape=(4,))
    f = sd.function([], [], updates=[(v, v[::-1] * 10)])
    f()
    np.testing.assert_array_equal(v.get_value(), [30.0, 20.0, 10.0, 0.0])


def test_multiplying_by_one_keeps_the_float_dtype():
    x = sd.vector("x")
    y = x * 1
    assert y.dtype == "float64" and (x + 0).dtype == "float64"
    out = sd.function([x], [y, x + 0])(np.array([0.5, 0.0]))
    for o in out:
        assert o.dtype == np.float64
        np.testing.assert_array_equal(o, [0.5, 0.0])


# ---------------------------------------------------------------- disk cache
_CACHE_SCRIPT = textwrap.dedent("""
    import json, numpy as np, symdiff as sd
    x = sd.vector("x")
    f = sd.function([x], sd.grad(sd.sum(sd.sin(x) * sd.exp(x) * 1.25), x))
    out = f(np.array([0.0, 0.5, 1.0]))
    stats = f._kernel.stats  # numba's dispatcher: did it load from or save to the cache?
    print(json.dumps({"out": out.tolist(), "hits": sum(stats.cache_hits.values()),
                      "misses": sum(stats.cache_misses.values())}))
""")


def _snapshot(directory):
    return {str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in directory.rglob("*") if p.is_file()}


def test_second_process_loads_the_kernel_from_the_disk_cache(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, SYMDIFF_CACHE_DIR=str(tmp_path),
               PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))  # this checkout's symdiff

    def run():
        proc = subprocess.run([sys.executable, "-c", _CACHE_SCRIPT], env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.strip().splitlines()[-1])

    first = run()
    after_first = _snapshot(tmp_path)
    second = run()
    after_second = _snapshot(tmp_path)

    xd = np.array([0.0, 0.5, 1.0])
    want = 1.25 * np.exp(xd) * (np.sin(xd) + np.cos(xd))
    np.testing.assert_allclose(first["out"], want, rtol=1e-13)
    assert second["out"] == first["out"]
    assert len(list(tmp_path.glob("k*.py"))) == 1  # one kernel source, named by the graph's hash
    assert list(tmp_path.rglob("*.nbi")) and list(tmp_path.rglob("*.nbc"))  # numba's index and code beside it
    assert first["misses"] >= 1 and first["hits"] == 0  # compiled the first time
    assert second["hits"] >= 1 and second["misses"] == 0  # loaded, not compiled, the second time
    assert after_second == after_first  # and nothing was written again


def test_tensors_named_like_kernel_helpers():
    """A tensor may be named like anything a generated kernel uses (helpers, imports,
    builtins): its local name in the kernel is changed, its value is not."""
    names = ["fast_sigmoid", "empty_array", "gemm", "matmul", "np", "types", "sum", "store_step"]
    a, b, c, d, e, f, g, h = (sd.matrix(n) for n in names)
    out = sd.sum(sd.sigmoid(a @ b) * c) + sd.sum(d * e) + sd.sum(sd.exp(f) + g - h)
    fn = sd.function([a, b, c, d, e, f, g, h], out)
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal((2, 3)), rng.standard_normal((3, 2))] + [rng.standard_normal((2, 2)) for _ in range(6)]
    want = (np.sum(1 / (1 + np.exp(-(xs[0] @ xs[1]))) * xs[2]) + np.sum(xs[3] * xs[4])
            + np.sum(np.exp(xs[5]) + xs[6] - xs[7]))
    np.testing.assert_allclose(fn(*xs), want, rtol=1e-12)
