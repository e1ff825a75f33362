"""Concurrency and configuration (issue 8, point 5).

A compiled function called from several threads at once gives the results
of sequential calls (updates included); two threads building the same graph
at once share one kernel, compiled once; ``fast_math``, ``parallel_threshold``
and ``nan_guard`` can be given per ``sd.function(...)`` call, with
``sd.config`` as the default.
"""
import threading

import numpy as np
import pytest
from numba.core.dispatcher import Dispatcher

import symdiff as sd

N_THREADS = 4
CALLS = 200
LR = 0.01


def _run_threads(target, n=N_THREADS) -> list:
    """Start ``n`` threads on ``target(k)`` at the same moment; return their results."""
    barrier = threading.Barrier(n)
    results, errors = [None] * n, []

    def run(k):
        try:
            barrier.wait()
            results[k] = target(k)
        except BaseException as e:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(851)
    return rng.standard_normal((16, 3)), rng.standard_normal(16)


def _sequential_sgd(Xv, yv, w, steps: int) -> tuple:
    """Losses and final weights of ``steps`` SGD steps on mean squared error, in NumPy."""
    losses = []
    for _ in range(steps):
        residual = Xv @ w - yv
        losses.append(np.mean(residual ** 2))
        w = w - LR * 2 * Xv.T @ residual / len(yv)
    return np.array(losses), w


def test_calls_with_updates_from_several_threads_give_the_sequential_results(regression):
    Xv, yv = regression
    X, y = sd.matrix("X"), sd.vector("y")
    count = sd.shared(np.array(0), name="count")
    w0 = np.array([1.0, -2.0, 0.5])
    w = sd.shared(w0, name="w")
    loss = sd.mean((X @ w - y) ** 2)
    step = sd.function([X, y], loss, updates=[(count, count + 1), (w, w - LR * sd.grad(loss, w))])

    def work(k):
        if k == 0:  # one thread runs its calls inside one compiled loop
            return list(step.loop(CALLS, Xv, yv))
        return [float(step(Xv, yv)) for _ in range(CALLS)]

    losses = sorted(v for part in _run_threads(work) for v in part)
    assert int(count.get_value()) == N_THREADS * CALLS
    want_losses, want_w = _sequential_sgd(Xv, yv, w0, N_THREADS * CALLS)
    # every call saw a consistent state: the losses are the sequential ones, in some order
    np.testing.assert_allclose(losses, np.sort(want_losses), rtol=1e-12)
    np.testing.assert_allclose(w.get_value(), want_w, rtol=1e-12)


def test_two_functions_sharing_variables_under_threads_see_consistent_states():
    n = sd.shared(np.array(0.0), name="n")
    total = sd.shared(np.array(0.0), name="total")
    bump = sd.function([], [], updates=[(n, n + 1)], parallel_threshold=0)
    collect = sd.function([], n * 1.0, updates=[(total, total + n), (n, n + 1)], parallel_threshold=0)

    def work(k):
        if k % 2:
            return [float(collect()) for _ in range(CALLS)]
        for _ in range(CALLS):
            bump()
        return []

    seen = [v for part in _run_threads(work) for v in part]
    assert float(n.get_value()) == N_THREADS * CALLS
    assert len(set(seen)) == len(seen)  # no two calls saw the same n
    assert float(total.get_value()) == sum(seen)  # each collect added exactly the n it returned


def test_a_pure_function_called_from_several_threads_gives_right_results():
    x = sd.vector("x")
    f = sd.function([x], [sd.tanh(x) * 2 + sd.sum(x ** 2), sd.softmax(x)])
    inputs = [np.random.default_rng(860 + k).standard_normal(1000 + 37 * k) for k in range(N_THREADS)]

    def work(k):
        return [f(inputs[k]) for _ in range(50)]

    for k, results in enumerate(_run_threads(work)):
        v = inputs[k]
        soft = np.exp(v - v.max()) / np.exp(v - v.max()).sum()
        for first, second in results:
            np.testing.assert_allclose(first, np.tanh(v) * 2 + np.sum(v ** 2), rtol=1e-13)
            np.testing.assert_allclose(second, soft, rtol=1e-12)


def test_two_threads_building_the_same_graph_compile_it_once(monkeypatch):
    compiled = []
    original = Dispatcher.compile

    def counting(self, sig):
        compiled.append(self.py_func.__module__)
        return original(self, sig)

    monkeypatch.setattr(Dispatcher, "compile", counting)

    def build(k):
        x = sd.vector("x")  # each thread its own graph, from the same source
        return sd.function([x], sd.arctan(x) * 0.8515625 - 3.0)

    f, g = _run_threads(build, 2)
    assert f._kernel is g._kernel
    assert len(f._kernel.signatures) == 1
    assert compiled.count(f._kernel.py_func.__module__) == 1
    xv = np.linspace(-2.0, 2.0, 5)
    np.testing.assert_allclose(f(xv), np.arctan(xv) * 0.8515625 - 3.0, rtol=1e-14)
    np.testing.assert_allclose(g(xv), f(xv), rtol=0)


# ----------------------------------------------------------------- configuration per function


def _exp_graph():
    x = sd.vector("x")
    return x, sd.exp(x) * 2 + 1


def test_options_given_per_function_override_sd_config():
    x, out = _exp_graph()
    default = sd.function([x], out)
    serial = sd.function([x], out, parallel_threshold=0)
    libm = sd.function([x], out, fast_math=False)
    assert default.config.parallel_threshold == sd.config.parallel_threshold > 0
    assert "prange" in default.source and "prange" not in serial.source
    assert "fast_" in default.source and "fast_" not in libm.source
    assert serial.config.fast_math == sd.config.fast_math and libm.config.parallel_threshold == sd.config.parallel_threshold
    xv = np.linspace(-3.0, 3.0, 11)
    for f in (default, serial, libm):
        np.testing.assert_allclose(f(xv), np.exp(xv) * 2 + 1, rtol=1e-14)


def test_sd_config_is_the_default_and_is_left_alone(monkeypatch):
    monkeypatch.setattr(sd.config, "parallel_threshold", 0)
    monkeypatch.setattr(sd.config, "fast_math", False)
    x, out = _exp_graph()
    f = sd.function([x], out)
    assert "prange" not in f.source and "fast_" not in f.source
    g = sd.function([x], out, parallel_threshold=1000, fast_math=True)
    assert "prange" in g.source and "fast_" in g.source
    assert sd.config.parallel_threshold == 0 and sd.config.fast_math is False  # per-call options changed nothing global
    xv = np.linspace(-3.0, 3.0, 2001)  # above g's threshold: its prange loop runs
    np.testing.assert_allclose(g(xv), np.exp(xv) * 2 + 1, rtol=1e-14)


def test_nan_guard_is_an_option_per_function(monkeypatch):
    x = sd.vector("x")
    guarded = sd.function([x], sd.sqrt(x), nan_guard=True, parallel_threshold=0)
    assert guarded.config.nan_guard is True
    np.testing.assert_array_equal(guarded(np.array([4.0, 9.0])), [2.0, 3.0])  # finite values pass the guard
    monkeypatch.setattr(sd.config, "nan_guard", True)
    assert sd.function([x], sd.sqrt(x), nan_guard=False, parallel_threshold=0).config.nan_guard is False


def test_an_unknown_option_is_refused_by_name():
    x = sd.vector("x")
    with pytest.raises(TypeError, match="fastmath"):
        sd.function([x], x * 2, fastmath=False)
