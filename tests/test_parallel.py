"""Large elementwise loops and full reductions run with prange; results match the serial path,
NumPy and finite differences (for a subset of the shared case table, with prange on every loop)."""
import numpy as np
import pytest

import symdiff as sd
from cases import BY_NAME, check_compiled, compile_case


def test_large_loops_use_prange_and_agree_with_numpy():
    x = sd.vector("x")
    cost = sd.sum(sd.tanh(x) * sd.exp(-x**2) + sd.log1p(x**2))
    f = sd.function([x], [cost, sd.grad(cost, x)])
    assert "numba.prange" in f.source and "parallel=True" in f.source
    v = np.random.default_rng(0).standard_normal(300_000) * 2
    total, g = f(v)
    t, e = np.tanh(v), np.exp(-v * v)
    np.testing.assert_allclose(total, np.sum(t * e + np.log1p(v * v)), rtol=1e-10)
    np.testing.assert_allclose(g, (1 - t * t) * e - 2 * v * t * e + 2 * v / (1 + v * v), rtol=1e-12, atol=1e-15)
    small = v[:1000]  # below the threshold: the serial branch of the same kernel
    np.testing.assert_allclose(f(small)[1], (1 - t[:1000] ** 2) * e[:1000] - 2 * small * t[:1000] * e[:1000] + 2 * small / (1 + small**2), rtol=1e-12, atol=1e-15)


def test_threshold_zero_turns_prange_off():
    x = sd.vector("x")
    f = sd.function([x], sd.exp(x) * 2, parallel_threshold=0)  # for one function
    assert "prange" not in f.source and "parallel=True" not in f.source
    np.testing.assert_allclose(f(np.array([0.0, 1.0])), [2.0, 2 * np.e])
    old = sd.config.parallel_threshold
    sd.config.parallel_threshold = 0  # the default for every function
    try:
        g = sd.function([x], sd.exp(x) * 3)
    finally:
        sd.config.parallel_threshold = old
    assert "prange" not in g.source and "parallel=True" not in g.source
    assert "numba.prange" in sd.function([x], sd.exp(x) * 4).source  # and back


def test_kernels_with_many_loops_stay_serial():
    """A whole training step has many loop nests; Numba's parallel passes would
    cost seconds of compile time for them, so the kernel stays serial."""
    X = sd.matrix("X")
    ws = [sd.shared(np.ones((3, 3)), name=f"w{k}") for k in range(3)]
    h = X
    for w in ws:
        h = sd.tanh(h @ w)
    loss = sd.mean(h**2)
    f = sd.function([X], loss, updates=[(w, w - 0.1 * g) for w, g in zip(ws, sd.grad(loss, ws))])
    assert "prange" not in f.source.split("def loop")[0]


# Cases of the shared table whose kernels have prange loops of each kind (elementwise with
# broadcasting in "where", reductions closing a nest, slices and scatters, row helpers, products);
# parallel_threshold=1 runs every prange branch, even on these small inputs.
PRANGE_CASES = ["div", "where_all_comparisons", "sum_keepdims", "mean_all", "max_ties", "slice_run_time",
                "slice_negative_step_2d", "concatenate", "grad_of_index", "softmax", "chain", "transpose"]


@pytest.mark.parametrize("name", PRANGE_CASES)
def test_prange_kernels_of_the_case_table(name):
    case = BY_NAME[name]
    f = compile_case(case, parallel_threshold=1)
    assert "numba.prange" in f.source, f"{name}: no prange loop, so this case tests nothing here"
    check_compiled(case, f, sympy=False)  # against NumPy and finite differences (SymPy: test_op_gradients)
