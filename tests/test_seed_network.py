"""The two-layer network of the core issue: gradients and one SGD step against an
independent NumPy derivation of backpropagation, and the example script."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import symdiff as sd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
from seed_network import build_network, make_data  # noqa: E402


def numpy_backprop(X, y, w0, b0, w1, b1):
    """Loss and gradients of mean(0.5*(yp - y)**2), derived by hand."""
    h = 1 / (1 + np.exp(-(X @ w0 + b0)))
    yp = 1 / (1 + np.exp(-(h @ w1 + b1)))
    loss = np.mean(0.5 * (yp - y) ** 2)
    d_yp = (yp - y) / y.size
    d_z1 = d_yp * yp * (1 - yp)
    d_h = d_z1 @ w1.T
    d_z0 = d_h * h * (1 - h)
    return loss, [X.T @ d_z0, d_z0.sum(axis=0), h.T @ d_z1, d_z1.sum(axis=0)]


@pytest.fixture(scope="module")
def net():
    X, y, params, _, loss = build_network()
    grads = sd.grad(loss, params)
    return X, y, params, loss, grads


def test_gradients_match_hand_derivation(net):
    X, y, params, loss, grads = net
    Xd, yd = make_data(n=300, seed=5)
    f = sd.function([X, y], [loss] + list(grads))
    value, *got = f(Xd, yd)
    want_loss, want = numpy_backprop(Xd, yd, *[p.get_value() for p in params])
    np.testing.assert_allclose(value, want_loss, rtol=1e-12)
    for g, w, p in zip(got, want, params):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-14, err_msg=p.name)


def test_one_training_step_and_falling_loss(net):
    X, y, params, loss, grads = net
    Xd, yd = make_data(n=300, seed=6)
    before = [p.get_value() for p in params]
    train = sd.function([X, y], loss, updates=[(p, p - 0.5 * g) for p, g in zip(params, grads)])
    want_loss, want = numpy_backprop(Xd, yd, *before)
    np.testing.assert_allclose(train(Xd, yd), want_loss, rtol=1e-12)
    for p, b, g in zip(params, before, want):
        np.testing.assert_allclose(p.get_value(), b - 0.5 * g, rtol=1e-12, atol=1e-15, err_msg=p.name)
    losses = [float(train(Xd, yd)) for _ in range(200)]
    assert losses[-1] < 0.7 * losses[0]
    for p, b in zip(params, before):
        p.set_value(b)


def test_example_script_prints_formulas_and_a_falling_loss():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "seed_network.py")], capture_output=True,
                         text=True, check=True, timeout=300).stdout
    assert out.splitlines()[1] == "yp - y"
    assert "h.T @ (yp*(1 - yp)*(yp - y)/N)" in out
    losses = [float(line.split()[-1]) for line in out.splitlines() if line.startswith("step")]
    assert len(losses) >= 5 and losses[-1] < 0.2 * losses[0]
