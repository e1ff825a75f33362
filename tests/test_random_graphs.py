"""A seeded subset of the differential random-graph tests (tests/random_graphs.py): each
random program's compiled value and gradient must match NumPy, ``sd.backprop`` and
central finite differences; updates must match NumPy's simultaneous assignment.

The full run: ``python tests/random_graphs.py --count 2000 --seed 0``.
"""
import numpy as np
import pytest

import symdiff as sd

import random_graphs as rg

SEED = 20261127
BATCH = 8
N_BATCHES = 4  # 32 programs


def _report(cases, outcome) -> str:
    parts = []
    for case in cases:
        kind, detail = outcome[case.ident]
        if not rg.passed(kind):
            parts.append(f"--- case {case.ident}: {kind}\n{detail}\n\n{case.source()}")
    return "\n\n".join(parts)


@pytest.mark.parametrize("index", range(N_BATCHES))
def test_random_programs_match_numpy(index):
    cases = rg.generate(SEED, index, "full", BATCH)
    outcome = rg.run_cases(sd, cases)
    assert all(rg.passed(kind) for kind, _ in outcome.values()), _report(cases, outcome)


def test_generation_is_reproducible():
    first = [c.source() for c in rg.generate(SEED, 0, "full", BATCH)]
    again = [c.source() for c in rg.generate(SEED, 0, "full", BATCH)]
    assert first == again
    assert len(set(first)) == BATCH


class _DoubledGradients:
    """symdiff with every gradient doubled: the checker must catch it."""

    def __getattr__(self, name):
        return getattr(sd, name)

    @staticmethod
    def grad(cost, wrt, disconnected="raise"):
        return [g * 2 for g in sd.grad(cost, wrt, disconnected=disconnected)]


def test_the_checker_catches_a_wrong_gradient():
    cases = [c for c in rg.generate(SEED, 0, "full", BATCH) if not c.updates][:2]
    outcome = rg.run_cases(_DoubledGradients(), cases)
    assert [kind for kind, _ in outcome.values()] == ["wrong grad"] * len(cases)
    detail = next(iter(outcome.values()))[1]
    assert "finite differences" in detail or "sd.backprop" in detail


def test_numpy_reference_softmax_family():
    ops = rg.NumpyOps()
    x = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 5.0]])
    np.testing.assert_allclose(ops.softmax(x, axis=1).sum(axis=1), 1.0, rtol=1e-15)
    np.testing.assert_allclose(ops.logsumexp(x, axis=0), np.log(np.exp(x).sum(axis=0)), rtol=1e-15)
    np.testing.assert_allclose(ops.log_softmax(x), np.log(np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)),
                               rtol=0, atol=1e-15)
    np.testing.assert_array_equal(ops.onehot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
