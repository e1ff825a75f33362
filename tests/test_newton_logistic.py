"""examples/newton_logistic.py on a reduced problem: Newton's method with symdiff's
Hessian converges in a handful of steps and agrees with scikit-learn."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")

ROOT = Path(__file__).resolve().parent.parent


def _example():
    spec = importlib.util.spec_from_file_location("newton_logistic", ROOT / "examples" / "newton_logistic.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_newton_matches_scikit_learn_on_a_reduced_problem():
    ex = _example()
    X, y = ex.load_data()
    X, y = X[::3, :8], y[::3]  # 190 rows, 8 features
    _, _, grads, blocks, step = ex.build_model()
    C = 0.5
    w, b, history = ex.newton(step, X, y, 1.0 / (C * len(y)))
    assert history[-1][1] < 1e-10
    assert len(history) <= 12
    costs = [c for c, _ in history]
    assert all(later <= earlier + 1e-15 for earlier, later in zip(costs, costs[1:]))
    w_ref, b_ref = ex.sklearn_fit(X, y, C)
    np.testing.assert_allclose(w, w_ref, rtol=0, atol=1e-6)
    assert abs(b - b_ref) < 1e-6


def test_printed_hessian_is_the_matrix_formula():
    import symdiff as sd

    ex = _example()
    _, _, _, blocks, _ = ex.build_model()
    text = sd.pprint(blocks[0][0])
    assert text.split("\n")[0] == "((X.T*t1*(1 - t1)) @ X)/N + lam*eye(w.shape[0])"
    assert "t1 = sigmoid(X @ w + b)" in text
    assert sd.pprint(blocks[0][1]).split("\n")[0] == "(X.T @ (t1*(1 - t1)))/N"
