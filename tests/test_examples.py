"""The example scripts run as a user runs them (subprocesses, reduced sizes where they
have one), and the digits MLP's compiled loss and accuracy agree with NumPy.

examples/mlp_digits.py needs the ``examples`` extra (scikit-learn, matplotlib); the
``test`` extra installs both, so CI runs these tests. Without them the digits tests
skip and say what to install.
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

_missing = [dist for module, dist in (("sklearn", "scikit-learn"), ("matplotlib", "matplotlib"))
            if importlib.util.find_spec(module) is None]
needs_examples_extra = pytest.mark.skipif(
    bool(_missing),
    reason=f"{' and '.join(_missing)} not installed: pip install -e '.[examples]'")


def run_example(name: str, *args: str) -> subprocess.CompletedProcess:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))  # this checkout's symdiff
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True,
                          timeout=600, cwd=ROOT, env=dict(os.environ, PYTHONPATH=path, MPLBACKEND="Agg"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def value_after(prefix: str, text: str) -> float:
    """The number that follows ``prefix`` on its line of ``text``."""
    line = next(ln for ln in text.splitlines() if ln.startswith(prefix))
    return float(line[len(prefix):].split()[0])


# ---------------------------------------------------------------- mlp_digits
def _load_mlp_digits():
    spec = importlib.util.spec_from_file_location("mlp_digits", EXAMPLES / "mlp_digits.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _numpy_logits(X, W1, b1, W2, b2):
    return np.tanh(X @ W1 + b1) @ W2 + b2


def _numpy_cross_entropy(Z, labels):
    shifted = Z - Z.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(labels)), labels].mean()


@needs_examples_extra
def test_mlp_digits_losses_and_accuracy_agree_with_numpy():
    """The compiled minibatch loop reports each step's loss before its update, and
    the compiled accuracy is NumPy's argmax accuracy, at the start and after training."""
    import symdiff as sd

    ex = _load_mlp_digits()
    (X_train, y_train), (X_test, y_test) = ex.load_data()
    assert X_train.shape[1] == ex.N_IN and y_train.dtype == np.int64 and set(y_test) == set(range(10))
    X, labels, params, Z, loss = ex.build_model()
    grads = sd.grad(loss, params)
    lr, batch = 0.2, 32
    train = sd.function([X, labels], loss, updates=[(p, p - lr * g) for p, g in zip(params, grads)])
    accuracy = sd.function([X, labels], sd.mean(sd.argmax(Z, axis=1) == labels))

    start = [p.get_value() for p in params]
    want_acc = np.mean(np.argmax(_numpy_logits(X_test, *start), axis=1) == y_test)
    assert float(accuracy(X_test, y_test)) == pytest.approx(want_acc, abs=1e-12)

    losses = train.loop(3, X_train, y_train, batch_size=batch)
    rows = [slice(k * batch, (k + 1) * batch) for k in range(3)]
    values = start
    for k, r in enumerate(rows):  # plain SGD in NumPy, with the softmax-minus-one-hot gradient
        Zk = _numpy_logits(X_train[r], *values)
        assert losses[k] == pytest.approx(_numpy_cross_entropy(Zk, y_train[r]), rel=1e-10)
        W1, b1, W2, b2 = values
        H = np.tanh(X_train[r] @ W1 + b1)
        P = np.exp(Zk - Zk.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        dZ = (P - np.eye(10)[y_train[r]]) / batch
        dH = (dZ @ W2.T) * (1 - H ** 2)
        values = [W1 - lr * X_train[r].T @ dH, b1 - lr * dH.sum(axis=0), W2 - lr * H.T @ dZ, b2 - lr * dZ.sum(axis=0)]
    for p, v in zip(params, values):
        np.testing.assert_allclose(p.get_value(), v, rtol=1e-10, atol=1e-13, err_msg=p.name)

    train.loop(400, X_train, y_train, batch_size=batch)
    trained = [p.get_value() for p in params]
    want_acc = np.mean(np.argmax(_numpy_logits(X_test, *trained), axis=1) == y_test)
    assert float(accuracy(X_test, y_test)) == pytest.approx(want_acc, abs=1e-12)
    assert want_acc > 0.9


@needs_examples_extra
def test_mlp_digits_script_quick(tmp_path):
    png = tmp_path / "loss.png"
    proc = run_example("mlp_digits.py", "--quick", "--plot", str(png))
    out = proc.stdout
    assert out.splitlines()[:2] == ["d loss / d W2 =", "H.T @ ((softmax(Z, axis=1) - onehot(labels, 10))/N)"]
    assert "  Z = H @ W2 + b2" in out
    assert value_after("held-out accuracy before training:", out) < 0.5
    assert value_after("held-out accuracy:", out) > 0.93
    epochs = next(ln for ln in out.splitlines() if ln.startswith("loss over the first epoch"))
    first, last = (float(x.rstrip(",")) for x in epochs.split()[5::4])  # "... epoch F, over the last L"
    assert last < 0.2 * first
    assert "] 600/600 steps" in proc.stderr  # the progress bar, complete
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


# ---------------------------------------------------------------- seed_network, compare_derivatives
def test_seed_network_script_prints_formulas_and_falling_losses():
    proc = run_example("seed_network.py")
    lines = proc.stdout.splitlines()
    assert "yp - y" in lines[:3]
    for name in ("w0", "b0", "w1", "b1"):
        assert f"d loss / d {name} =" in proc.stdout
    assert "h.T @ ((yp - y)*yp*(1 - yp)/N)" in proc.stdout  # d loss / d w1, as a formula
    losses = [float(line.split()[-1]) for line in lines if line.startswith("step")]
    assert len(losses) >= 5
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.2 * losses[0]
    assert "compiled the training step in" in proc.stdout
    assert "2000 steps in" in proc.stdout and "the first took" in proc.stdout


def test_compare_derivatives_script_agrees_three_ways():
    proc = run_example("compare_derivatives.py")
    out = proc.stdout
    assert "all agree" in out and "MISMATCH" not in out
    assert "d loss / d w0 =" in out
    assert "g_w0 = X.T @ " in out  # explain's last step names the gradient
