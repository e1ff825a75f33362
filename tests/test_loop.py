"""``f.loop``: many training steps inside one compiled call, with minibatches."""
import numpy as np
import pytest

import symdiff as sd
from benchmarks import scale


@pytest.fixture(scope="module")
def compiled():
    """Linear least squares trained by SGD: params (w, b), inputs (X, y); one compiled step for all tests."""
    X, y = sd.matrix("X"), sd.vector("y")
    w = sd.shared(np.zeros(3), name="w")
    b = sd.shared(np.zeros(()), name="b")
    loss = sd.mean((X @ w + b - y) ** 2)
    gw, gb = sd.grad(loss, [w, b])
    step = sd.function([X, y], [loss, gw], updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)])
    return step, w, b


@pytest.fixture
def regression(compiled):
    """The compiled step with its parameters back at zero."""
    step, w, b = compiled
    w.set_value(np.zeros(3))
    b.set_value(np.zeros(()))
    return compiled


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((10, 3))
    return X, X @ np.array([1.0, -2.0, 0.5]) + 0.3


def test_loop_equals_repeated_calls(data, regression):
    X, y = data
    step, w, b = regression
    losses, grads = step.loop(25, X, y)
    final = (w.get_value(), b.get_value())
    w.set_value(np.zeros(3))
    b.set_value(np.zeros(()))
    expected = [step(X, y) for _ in range(25)]
    np.testing.assert_allclose(losses, [e[0] for e in expected], rtol=1e-12)
    np.testing.assert_allclose(grads, np.stack([e[1] for e in expected]), rtol=1e-12)
    np.testing.assert_allclose(final[0], w.get_value(), rtol=1e-12)
    assert losses.shape == (25,) and grads.shape == (25, 3)
    assert losses[-1] < 0.1 * losses[0]


def test_minibatches_are_taken_in_order_and_wrap_around(data, regression):
    X, y = data
    step, w, b = regression
    losses, _ = step.loop(7, X, y, batch_size=4)
    w.set_value(np.zeros(3))
    b.set_value(np.zeros(()))
    expected = []
    for k in range(7):
        rows = [(4 * k + r) % 10 for r in range(4)]
        expected.append(float(step(X[rows], y[rows])[0]))
    np.testing.assert_allclose(losses, expected, rtol=1e-12)


def test_progress_bar_runs_in_chunks(data, regression, capsys):
    X, y = data
    step, _, _ = regression
    losses, _ = step.loop(80, X, y, batch_size=5, progress=True)
    assert losses.shape == (80,)
    err = capsys.readouterr().err
    assert "80/80 steps" in err and err.count("steps") > 2


def test_loop_errors(data, regression):
    X, y = data
    step, w, b = regression
    with pytest.raises(ValueError, match="n_steps"):
        step.loop(0, X, y)
    with pytest.raises(ValueError, match="fewer than batch_size"):
        step.loop(3, X, y, batch_size=11)
    with pytest.raises(ValueError, match=r"X\.shape\[0\] = 10 but y\.shape\[0\] = 8|y\.shape\[0\] = 8 but X\.shape\[0\] = 10"):
        step.loop(3, X, y[:8], batch_size=2)
    np.testing.assert_array_equal(w.get_value(), np.zeros(3))  # a refused loop changes nothing
    np.testing.assert_array_equal(b.get_value(), np.zeros(()))


def test_loop_stacks_outputs_of_any_dtype_and_layout():
    """Integer and boolean scalars, a transposed (non-contiguous) matrix, 3-D input rows
    wrapping around: the loop's stacks equal the calls one by one."""
    X = sd.tensor("X", (None, 2, 2))
    v = sd.shared(np.zeros(2), name="v")
    count = sd.sum((X > 0).astype("int64"))
    flat = X.reshape((X.shape[0], 4))
    step = sd.function([X], [count, sd.sum(X) > 0, flat.T, v + 0.0], updates=[(v, v + sd.sum(flat, axis=0)[:2])])
    data = np.random.default_rng(5).standard_normal((5, 2, 2))
    stacked = step.loop(4, data, batch_size=3)
    v.set_value(np.zeros(2))
    calls = [step(data[[(3 * k + r) % 5 for r in range(3)]]) for k in range(4)]
    for got, want in zip(stacked, zip(*calls)):
        np.testing.assert_array_equal(got, np.stack(want))
    assert stacked[0].dtype == np.int64 and stacked[1].dtype == np.bool_ and stacked[2].shape == (4, 4, 3)


def test_loop_of_a_split_kernel():
    """A deep model's kernel is split into pieces run by a Python driver; its loop
    (minibatches wrapping around, an array output, updates) equals the calls one by one."""
    cost, weights = scale.residual_mlp(sd, 30)
    (X,) = [v for v in scale._inputs_of(cost) if v.node.role == "input"]
    grads = sd.grad(cost, weights)
    step = sd.function([X], [cost, grads[0]], updates=[(w, w - 0.01 * g) for w, g in zip(weights, grads)])
    assert "load_piece(" in step.source
    data = np.random.default_rng(0).standard_normal((7, 4))
    start = [w.get_value() for w in weights]
    losses, first_grads = step.loop(5, data, batch_size=3)
    after_loop = [w.get_value() for w in weights]
    for w, value in zip(weights, start):
        w.set_value(value)
    calls = [step(data[[(3 * k + r) % 7 for r in range(3)]]) for k in range(5)]
    np.testing.assert_allclose(losses, [c[0] for c in calls], rtol=1e-12)
    np.testing.assert_allclose(first_grads, np.stack([c[1] for c in calls]), rtol=1e-12)
    for w, value in zip(weights, after_loop):
        np.testing.assert_allclose(w.get_value(), value, rtol=1e-12)
