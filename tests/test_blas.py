"""Tests for symdiff.codegen.blas: matmul / matmul_into against np.matmul."""

import ctypes
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from symdiff.codegen import blas
from symdiff.codegen.blas import matmul, matmul_into

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOL = {np.float64: {"rtol": 1e-13, "atol": 1e-13}, np.float32: {"rtol": 1e-5, "atol": 1e-5}}
M, K, N = 5, 4, 3

# Layout kinds; g(shape) draws a fresh array.  Each kind takes another path
# of the stride analysis (and Numba types them as C, F or A layout).
KINDS_2D = {
    "C": lambda r, c, g: g((r, c)),
    "T": lambda r, c, g: g((c, r)).T,  # transposed contiguous
    "rows": lambda r, c, g: g((r, c + 3))[:, :c],  # leading dimension > cols
    "Tcols": lambda r, c, g: g((c, r + 2))[:, :r].T,  # transposed, leading dim > rows
    "strided": lambda r, c, g: g((2 * r, 3 * c))[::2, ::3],  # needs a copy
    "neg": lambda r, c, g: g((r, c))[::-1],  # negative stride, needs a copy
}
KINDS_1D = {
    "C": lambda k, g: g((k,)),
    "strided": lambda k, g: g((3 * k,))[::3],
    "neg": lambda k, g: g((k,))[::-1],
}
OPERANDS = [(2, k) for k in KINDS_2D] + [(1, k) for k in KINDS_1D]
# float32 runs the same stride logic; a subset (C, A-layout and 1-D) bounds compile time.
OPERANDS_F32 = [(2, "C"), (2, "Tcols"), (2, "strided"), (1, "C")]


def make(ndim, kind, shape, dtype, seed):
    """Array of the given kind, logical shape and dtype."""
    rng = np.random.default_rng(seed)

    def g(s):
        return rng.standard_normal(s).astype(dtype)

    return KINDS_2D[kind](*shape, g) if ndim == 2 else KINDS_1D[kind](shape[-1], g)


def operand_cases():
    cases = [(np.float64, a, b) for a in OPERANDS for b in OPERANDS]
    cases += [(np.float32, a, b) for a in OPERANDS_F32 for b in OPERANDS_F32]
    return [pytest.param(*c, id=f"{c[0].__name__}-{c[1][1]}{c[1][0]}d-{c[2][1]}{c[2][0]}d")
            for c in cases]


@pytest.mark.parametrize("dtype, a_spec, b_spec", operand_cases())
def test_matmul_matches_numpy(dtype, a_spec, b_spec):
    a = make(*a_spec, (M, K), dtype, seed=1)
    b = make(*b_spec, (K, N) if b_spec[0] == 2 else (K,), dtype, seed=2)
    a0, b0 = a.copy(), b.copy()
    got, want = matmul(a, b), np.matmul(a, b)
    if want.ndim:
        assert got.shape == want.shape and got.dtype == dtype and got.flags.c_contiguous
    else:  # Numba returns the scalar product as a Python float
        assert isinstance(got, float)
    np.testing.assert_allclose(got, want, **TOL[dtype])
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)


@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (1, 7, 1), (6, 1, 2), (0, 3, 4), (3, 0, 4),
                                     (3, 4, 0), (128, 784, 256)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matmul_edge_and_large_shapes(m, k, n, dtype):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    large = {np.float64: {"rtol": 1e-12, "atol": 1e-12}, np.float32: {"rtol": 1e-4, "atol": 1e-4}}
    tol = TOL[dtype] if k < 100 else large[dtype]
    np.testing.assert_allclose(matmul(a, b), a @ b, **tol)
    np.testing.assert_allclose(matmul(a.T.copy().T, b.T.copy().T), a @ b, **tol)


def test_matmul_readonly_and_broadcast_operands():
    a = np.broadcast_to(np.arange(4.0), (3, 4))  # read-only, zero row stride
    b = np.arange(8.0).reshape(4, 2)
    b.flags.writeable = False
    np.testing.assert_allclose(matmul(a, b), a @ b, **TOL[np.float64])


def test_matmul_empty_vectors():
    assert matmul(np.zeros(0), np.zeros(0)) == 0.0
    np.testing.assert_array_equal(matmul(np.zeros(0), np.zeros((0, 3))), np.zeros(3))


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="not aligned"):
        matmul(np.ones((3, 4)), np.ones((3, 4)))
    with pytest.raises(ValueError, match="not aligned") as info:
        matmul(np.ones(3), np.ones((4, 2)))
    assert (3,) in info.value.args and (4, 2) in info.value.args


@pytest.mark.parametrize("a, b", [
    (np.ones((2, 2)), np.ones((2, 2), np.float32)),
    (np.ones((2, 2), np.int64), np.ones((2, 2), np.int64)),
    (np.ones((2, 2, 2)), np.ones((2, 2))),
])
def test_bad_operand_types_rejected(a, b):
    with pytest.raises(TypingError, match="matmul"):
        matmul(a, b)


@pytest.mark.parametrize("out_kind", ["C", "rows", "strided"])
@pytest.mark.parametrize("alpha, beta", [(1.0, 0.0), (-2.0, 0.5)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matmul_into_2d(out_kind, alpha, beta, dtype):
    a = make(2, "T", (M, K), dtype, seed=4)
    b = make(2, "C", (K, N), dtype, seed=5)
    out = make(2, out_kind, (M, N), dtype, seed=6)
    if beta == 0:
        out[...] = np.nan  # must not be read
    want = alpha * (a @ b) + (beta * out if beta else 0)
    matmul_into(a, b, out, alpha, beta)
    np.testing.assert_allclose(out, want, **TOL[dtype])


@pytest.mark.parametrize("vector_side", ["left", "right"])
def test_matmul_into_1d_out(vector_side):
    rng = np.random.default_rng(7)
    mat = rng.standard_normal((K, K + 1)) if vector_side == "left" else rng.standard_normal((M, K))
    vec = rng.standard_normal(2 * K)[::2]
    a, b = (vec, mat) if vector_side == "left" else (mat, vec)
    out = np.zeros(2 * max(K + 1, M))[::2][: (K + 1 if vector_side == "left" else M)]
    matmul_into(a, b, out, 1.0, 1.0)
    matmul_into(a, b, out, 1.0, 1.0)
    np.testing.assert_allclose(out, 2 * (a @ b), **TOL[np.float64])


def test_matmul_into_defaults_and_aliasing():
    rng = np.random.default_rng(8)
    buf = rng.standard_normal((M, K + 2))
    a = buf[:, :K]
    b = rng.standard_normal((K, K))
    want = a @ b
    matmul_into(a, b, buf[:, 1:K + 1])  # out overlaps a, shifted by one column
    np.testing.assert_allclose(buf[:, 1:K + 1], want, **TOL[np.float64])
    sq = rng.standard_normal((K, K))
    want = sq @ sq
    matmul_into(sq, sq, sq)
    np.testing.assert_allclose(sq, want, **TOL[np.float64])


def test_matmul_into_rejects_bad_out():
    a, b = np.ones((3, 4)), np.ones((4, 2))
    with pytest.raises(ValueError, match="out shape"):
        matmul_into(a, b, np.empty((3, 3)))
    with pytest.raises(TypingError, match="out must be"):
        matmul_into(a, b, np.empty(6))
    readonly = np.empty((3, 2))
    readonly.flags.writeable = False
    with pytest.raises(TypingError, match="writable"):
        matmul_into(a, b, readonly)
    out = np.empty(1)
    matmul_into(np.ones(3), np.arange(3.0), out)  # two 1-D operands: out has shape (1,)
    assert out[0] == 3.0


def test_callable_from_njit_kernel():
    @njit
    def mlp(x, w1, w2, out):
        h = np.tanh(matmul(x, w1))
        matmul_into(h, w2.T, out, 1.0, 0.0)
        return matmul(h[0], w1.T), matmul(x[0], x[1])

    rng = np.random.default_rng(9)
    x, w1, w2 = (rng.standard_normal(s) for s in ((6, 4), (4, 5), (3, 5)))
    out = np.empty((6, 3))
    v, s = mlp(x, w1, w2, out)
    h = np.tanh(x @ w1)
    np.testing.assert_allclose(out, h @ w2.T, **TOL[np.float64])
    np.testing.assert_allclose(v, h[0] @ w1.T, **TOL[np.float64])
    assert s == pytest.approx(x[0] @ x[1], rel=1e-13)


def test_concurrent_calls_from_threads():
    rng = np.random.default_rng(10)
    pairs = [(rng.standard_normal((64, 48)), rng.standard_normal((48, 32))) for _ in range(16)]
    matmul(*pairs[0])  # compile outside the threads
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda p: [matmul(*p) for _ in range(20)], pairs))
    for (a, b), res in zip(pairs, results):
        for r in res:
            np.testing.assert_allclose(r, a @ b, **TOL[np.float64])


@pytest.mark.parametrize("trans_a", [blas.NO_TRANS, blas.TRANS])
@pytest.mark.parametrize("trans_b", [blas.NO_TRANS, blas.TRANS])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fallback_gemm_direct(trans_a, trans_b, dtype):
    """Call the loop cfunc directly, with padded leading dimensions and beta != 0."""
    rng = np.random.default_rng(11)
    m, k, n, pad = 4, 3, 5, 2
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    c = rng.standard_normal((m, n + pad)).astype(dtype)
    # Stored matrices in row-major with leading dimension (row length) ld.
    a_st = a.T if trans_a == blas.TRANS else a
    b_st = b.T if trans_b == blas.TRANS else b
    a_buf = np.zeros((a_st.shape[0], a_st.shape[1] + pad), dtype)
    b_buf = np.zeros((b_st.shape[0], b_st.shape[1] + pad), dtype)
    a_buf[:, :a_st.shape[1]], b_buf[:, :b_st.shape[1]] = a_st, b_st
    want = 2.0 * (a @ b) + 0.5 * c[:, :n]
    ptr = ctypes.POINTER(ctypes.c_double if dtype == np.float64 else ctypes.c_float)
    blas.fallback_gemm(dtype).ctypes(
        blas.ROW_MAJOR, trans_a, trans_b, m, n, k, 2.0,
        a_buf.ctypes.data_as(ptr), a_buf.shape[1], b_buf.ctypes.data_as(ptr), b_buf.shape[1],
        0.5, c.ctypes.data_as(ptr), c.shape[1])
    np.testing.assert_allclose(c[:, :n], want, **TOL[dtype])


def run_python(code, cwd, **env):
    """Run code in a fresh interpreter with symdiff importable; return its stdout."""
    path = os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, **env}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_fallback_is_used_when_blas_disabled(tmp_path):
    """With SYMDIFF_DISABLE_BLAS=1 the loop cfuncs back matmul end to end."""
    out = run_python("""
        import numpy as np
        from symdiff.codegen import blas
        assert not blas.HAVE_BLAS and blas.BLAS_LIBRARY is None
        rng = np.random.default_rng(0)
        a, b = rng.standard_normal((5, 4)), rng.standard_normal((6, 4))
        np.testing.assert_allclose(blas.matmul(a, b.T), a @ b.T, rtol=1e-13)
        np.testing.assert_allclose(blas.matmul(a[::2, ::2], b[0, ::2]), a[::2, ::2] @ b[0, ::2])
        out = np.ones((5, 6), np.float32)
        blas.matmul_into(a.astype(np.float32), b.T.astype(np.float32), out, 1.0, 1.0)
        np.testing.assert_allclose(out, a @ b.T + 1, rtol=1e-5, atol=1e-5)
        print("ok")
    """, tmp_path, SYMDIFF_DISABLE_BLAS="1")
    assert out.strip() == "ok"


def test_second_process_loads_everything_from_cache(tmp_path):
    """A cached kernel calling matmul/matmul_into, run in two fresh processes:
    the second must compile nothing (no dispatcher compile events, cfuncs loaded
    from cache) and give the same result.  The kernel's cache lives beside it in
    tmp_path, so it starts empty; blas.py uses its usual cache."""
    (tmp_path / "kern.py").write_text(textwrap.dedent("""
        import numpy as np
        from numba import njit
        from symdiff.codegen.blas import matmul, matmul_into

        @njit(cache=True)
        def kernel(x, w, out):
            matmul_into(x, w, out, 1.0, 0.0)
            return matmul(np.tanh(out), w.T)
    """))
    code = """
        from numba.core import event
        with event.install_recorder("numba:compile") as rec:
            import numpy as np
            from symdiff.codegen import blas
            import kern
            x = np.arange(12.0).reshape(3, 4) / 10
            w = np.linspace(-1, 1, 20).reshape(4, 5)
            r = kern.kernel(x, w, np.empty((3, 5)))
            np.testing.assert_allclose(r, np.tanh(x @ w) @ w.T, rtol=1e-13)
            np.testing.assert_allclose(blas.matmul(x[0], w), x[0] @ w, rtol=1e-13)
        hits = [f.cache_hits for f in blas._DRIVERS.values()]
        print(len(rec.buffer) // 2, sum(kern.kernel.stats.cache_hits.values()), min(hits))
    """
    first = run_python(code, tmp_path).split()
    second = run_python(code, tmp_path).split()
    assert int(first[0]) > 0 and first[1] == "0", first  # the kernel was compiled
    assert second == ["0", "1", "1"], second  # nothing compiled, all loaded from cache
