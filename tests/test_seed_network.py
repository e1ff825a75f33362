"""The two-layer network of the core issue (issue 2), built by
``examples/seed_network.py`` (the one definition every test uses), checked against
an independent NumPy derivation of backpropagation (``oracles.network_backprop``,
itself checked by finite differences): its four gradients, one SGD step with
``updates=`` and 200 steps of training (the script itself runs in test_examples.py)."""
import numpy as np
import pytest

import symdiff as sd
from oracles import central_differences, network_backprop, network_loss
from seed_network import build_network, make_data
from symdiff.graph.walk import postorder

LR = 0.5
N_ROWS = 1000


def initial_values(seed=0):
    """The parameter values ``build_network(seed)`` starts from."""
    return [p.get_value() for p in build_network(seed)[2]]


@pytest.fixture(scope="module")
def net():
    X, y, params, yp, loss = build_network()
    h = next(n for n in postorder([yp.node]) if n.name == "h")
    grads = sd.grad(loss, params)
    return {"X": X, "y": y, "h": sd.Tensor(h), "yp": yp, "loss": loss, "params": params, "grads": grads}


@pytest.fixture(scope="module")
def data():
    return make_data(N_ROWS)


@pytest.fixture(scope="module")
def grad_fn(net):
    return sd.function([net["X"], net["y"]], sd.grad(net["loss"], net["params"]))


@pytest.fixture(scope="module")
def train_fn(net):
    updates = [(p, p - LR * g) for p, g in zip(net["params"], net["grads"])]
    return sd.function([net["X"], net["y"]], net["loss"], updates=updates)


@pytest.fixture
def reset_params(net):
    """Every test starts from (and leaves) the network's initial parameter values."""
    for p, v in zip(net["params"], initial_values()):
        p.set_value(v)
    yield
    for p, v in zip(net["params"], initial_values()):
        p.set_value(v)


def test_the_oracle_agrees_with_finite_differences(data):
    """The hand derivation itself is checked, so a shared mistake cannot pass unnoticed."""
    Xd, yd = data[0][:50], data[1][:50]
    values = initial_values(seed=3)
    values[1] = values[1] + 0.1  # non-zero biases
    values[3] = values[3] - 0.2
    _, want, _ = network_backprop(Xd, yd, *values)
    for k in range(4):
        fd = central_differences(lambda *ps: network_loss(Xd, yd, *ps), values, k)
        np.testing.assert_allclose(want[k], fd, rtol=1e-5, atol=1e-9)


def test_gradient_shapes_and_structure(net):
    grads = net["grads"]
    assert isinstance(grads, list) and len(grads) == 4
    for g, p in zip(grads, net["params"]):
        assert g.ndim == p.ndim and g.dtype == "float64"


def test_four_gradients_match_network_backprop(net, data, grad_fn, reset_params):
    Xd, yd = data
    assert Xd.shape == (N_ROWS, 4)
    got = grad_fn(Xd, yd)
    assert isinstance(got, list) and len(got) == 4
    _, want, _ = network_backprop(Xd, yd, *initial_values())
    for g, w, p in zip(got, want, net["params"]):
        assert g.shape == w.shape, p.name
        assert g.dtype == np.float64
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-15, err_msg=p.name)
        assert np.abs(w).max() > 1e-6  # a zero gradient would make the comparison vacuous


def test_gradients_at_other_parameter_values(net, data, grad_fn, reset_params):
    """Shared values are read at call time: new values give the new gradients."""
    Xd, yd = data
    values = initial_values(seed=7)
    values[1] = np.linspace(-1.0, 1.0, 20)
    values[3] = np.array([0.3])
    for p, v in zip(net["params"], values):
        p.set_value(v)
    got = grad_fn(Xd[:123], yd[:123])  # a different number of rows, too
    _, want, _ = network_backprop(Xd[:123], yd[:123], *values)
    for g, w, p in zip(got, want, net["params"]):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-15, err_msg=p.name)


def test_gradients_with_respect_to_intermediates(net, data, reset_params):
    """``wrt`` may be a named intermediate: dL/dh and dL/dyp are the backprop adjoints."""
    X, y, h, yp = net["X"], net["y"], net["h"], net["yp"]
    Xd, yd = data
    f = sd.function([X, y], sd.grad(net["loss"], [h, yp]) + [sd.grad(0.5 * sd.sum((yp - y) ** 2), yp)])
    d_h, d_yp, residual = f(Xd, yd)
    _, _, adjoints = network_backprop(Xd, yd, *initial_values())
    np.testing.assert_allclose(d_h, adjoints["h"], rtol=1e-10, atol=1e-16)
    np.testing.assert_allclose(d_yp, adjoints["yp"], rtol=1e-10, atol=1e-16)
    np.testing.assert_allclose(residual, adjoints["yp"] * yd.size, rtol=1e-10, atol=1e-14)  # = yp - y


def test_one_training_step_matches_numpy(net, data, train_fn, reset_params):
    Xd, yd = data
    before = [p.get_value() for p in net["params"]]
    Xcopy, ycopy = Xd.copy(), yd.copy()
    cost = train_fn(Xd, yd)
    want_loss, want, _ = network_backprop(Xcopy, ycopy, *before)
    assert isinstance(cost, np.ndarray) and cost.shape == ()
    np.testing.assert_allclose(cost, want_loss, rtol=1e-12)  # the loss before the update
    for p, b, g in zip(net["params"], before, want):
        new = p.get_value()
        np.testing.assert_allclose(new, b - LR * g, rtol=1e-12, atol=1e-15, err_msg=p.name)
        assert not np.allclose(new, b), p.name  # the step really moved every parameter
    # the next call reports the loss at the updated parameters
    np.testing.assert_allclose(train_fn(Xd, yd), network_loss(Xd, yd, *[b - LR * g for b, g in zip(before, want)]),
                               rtol=1e-12)
    np.testing.assert_array_equal(Xd, Xcopy)
    np.testing.assert_array_equal(yd, ycopy)


def test_loss_falls_over_200_steps_like_numpy_sgd(net, data, train_fn, reset_params):
    Xd, yd = data
    losses = np.array([float(train_fn(Xd, yd)) for _ in range(200)])
    values = initial_values()
    want_losses = []
    for _ in range(200):
        loss, grads, _ = network_backprop(Xd, yd, *values)
        want_losses.append(loss)
        values = [v - LR * g for v, g in zip(values, grads)]
    np.testing.assert_allclose(losses, want_losses, rtol=1e-9)
    for p, v in zip(net["params"], values):
        np.testing.assert_allclose(p.get_value(), v, rtol=1e-8, atol=1e-12, err_msg=p.name)
    assert losses[-1] < 0.5 * losses[0]
    assert np.all(np.diff(losses[::20]) < 0)  # falling along the way, not only at the end

