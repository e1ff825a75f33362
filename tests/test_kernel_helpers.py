"""The helpers generated kernels call: allocation and ``gemm`` intrinsics, minibatch rows,
stacked loop outputs; checked against NumPy."""
import numba
import numpy as np
import pytest

from symdiff.codegen.blas import gemm
from symdiff.codegen.support import empty_array, filled_array, rows_of, store_step


@numba.njit
def _allocate(n, m):
    return (empty_array((n, m), np.float32), filled_array((n,), 0.5, np.float64),
            filled_array((m, 2, n), True, np.bool_), filled_array((n,), -np.inf, np.float32),
            filled_array((n,), 3, np.int64), empty_array((n,), np.arange(2).dtype))


def test_allocation_intrinsics():
    a, b, c, d, e, f = _allocate(3, 4)
    assert a.shape == (3, 4) and a.dtype == np.float32 and a.flags.c_contiguous
    np.testing.assert_array_equal(b, np.full(3, 0.5))
    assert c.dtype == np.bool_ and c.shape == (4, 2, 3) and c.all()
    np.testing.assert_array_equal(d, np.full(3, -np.inf, np.float32))
    assert e.dtype == np.int64 and list(e) == [3, 3, 3] and f.dtype == np.int64
    assert _allocate(0, 2)[0].shape == (0, 2)
    with pytest.raises(ValueError, match="negative dimensions"):
        _allocate(-1, 2)


@numba.njit
def _product(a, b, out, alpha, beta):
    gemm(a, b, out, alpha, beta)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gemm_any_strides(dtype):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((6, 8)).astype(dtype)
    b = rng.standard_normal((5, 8)).astype(dtype)
    out = rng.standard_normal((10, 5)).astype(dtype)
    start = out.copy()
    view = out[::2]  # a strided output: gemm writes through it
    _product(a[:, ::-1][1:6], b.T[::-1], view, 2.0, 0.5)
    want = 2.0 * a[:, ::-1][1:6] @ b.T[::-1] + 0.5 * start[::2]
    np.testing.assert_allclose(out[::2], want, rtol=1e-5 if dtype == np.float32 else 1e-13)
    np.testing.assert_array_equal(out[1::2], start[1::2])  # the rows between untouched


def test_rows_and_stacked_steps():
    x = np.arange(24.0).reshape(4, 3, 2)
    np.testing.assert_array_equal(rows_of(x, 3, 3), x[[3, 0, 1]])  # wraps around
    np.testing.assert_array_equal(rows_of(x[:, 0], 1, 2), x[1:3, 0])
    out = np.zeros((2, 2, 3))
    store_step(out, 1, x[0].T)  # a transposed (non-contiguous) value
    np.testing.assert_array_equal(out[1], x[0].T)
    assert not out[0].any()
