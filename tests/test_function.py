"""sd.function: outputs, shared variables, givens, float32, constants, scalars, the disk cache."""
import os
import subprocess
import sys
import textwrap

import numpy as np

import symdiff as sd


def test_one_output_is_an_array_and_a_list_is_a_list():
    x = sd.vector("x")
    f = sd.function([x], x * 2)
    g = sd.function([x], [x * 2, sd.sum(x)])
    assert isinstance(f(np.ones(2)), np.ndarray)
    out = g(np.ones(2))
    assert isinstance(out, list) and len(out) == 2 and out[1].shape == () and float(out[1]) == 2.0
    assert "def kernel" in f.source


def test_shared_values_are_private_copies():
    value = np.array([1.0, 2.0])
    w = sd.shared(value, name="w")
    value[0] = 100.0  # the caller's array is not the variable
    got = w.get_value()
    got[1] = 50.0  # nor is the copy get_value returns
    np.testing.assert_array_equal(w.get_value(), [1.0, 2.0])
    f = sd.function([], sd.sum(w * 3))
    assert float(f()) == 9.0
    w.set_value(np.array([5.0, 5.0, 5.0]))  # None sizes may change
    assert float(f()) == 45.0
    fixed = sd.shared(np.zeros(2), name="fixed", shape=(2,))
    try:
        fixed.set_value(np.zeros(3))
    except ValueError as e:
        assert "'fixed': expected shape (2,), got (3,)" in str(e)
    else:
        raise AssertionError("set_value accepted a wrong shape")


def test_givens_substitute_expressions():
    x, t = sd.vector("x"), sd.scalar("t")
    f = sd.function([t], sd.sum(x**2), givens={x: sd.stack([t, 2 * t])})
    assert float(f(3.0)) == 9.0 + 36.0


def test_float32_end_to_end():
    X = sd.matrix("X", dtype="float32")
    w = sd.shared(np.array([[0.5], [-1.0]], dtype=np.float32), name="w")
    loss = sd.mean(sd.tanh(X @ w) ** 2)
    g = sd.grad(loss, w)
    f = sd.function([X], [loss, g])
    Xd = np.array([[1.0, 2.0], [0.5, -1.0], [3.0, 0.1]], dtype=np.float32)
    value, grad = f(Xd)
    assert value.dtype == np.float32 and grad.dtype == np.float32
    X64, w64 = Xd.astype(np.float64), w.get_value().astype(np.float64)
    t = np.tanh(X64 @ w64)
    np.testing.assert_allclose(grad, X64.T @ (2 * t * (1 - t**2)) / 3, rtol=1e-5)
    np.testing.assert_allclose(value, np.mean(t**2), rtol=1e-6)


def test_constants_and_scalar_inputs():
    s = sd.scalar("s")
    c = sd.constant(np.array([1.0, 2.0, 3.0]))
    f = sd.function([s], [sd.sum(c * s), sd.grad(sd.sum(c * s) ** 2, s)])
    total, ds = f(2.0)
    assert float(total) == 12.0 and float(ds) == 2 * 12.0 * 6.0


def test_second_process_loads_the_kernel_from_the_disk_cache(tmp_path):
    script = textwrap.dedent("""
        import time, numpy as np, symdiff as sd
        x = sd.vector("x")
        f = sd.function([x], sd.grad(sd.sum(sd.sin(x) * sd.exp(x)), x))
        start = time.perf_counter(); f(np.ones(3)); first = time.perf_counter() - start
        print(first, f.kernel.source.count("def kernel"))
    """)
    env = dict(os.environ, SYMDIFF_CACHE_DIR=str(tmp_path))
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True).stdout.split()
            for _ in range(2)]
    kernels = sorted(p.name for p in tmp_path.glob("k*.py"))
    assert len(kernels) == 1  # same graph, same file
    assert list((tmp_path / "__pycache__").glob("*.nbi"))  # Numba's index beside it
    assert float(runs[1][0]) < float(runs[0][0])  # compiled once, loaded the second time
    assert float(runs[1][0]) < 0.5
