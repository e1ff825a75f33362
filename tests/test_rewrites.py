"""Stable-form rewrites: values where the naive formula overflows, and unchanged
values where it does not."""
import numpy as np
import pytest

import symdiff as sd


@pytest.fixture(scope="module")
def x():
    return sd.vector("x")


def test_log_sigmoid_is_stable(x):
    f = sd.function([x], [sd.log(sd.sigmoid(x)), sd.log(1 - sd.sigmoid(x)), sd.grad(sd.sum(sd.log(sd.sigmoid(x))), x)])
    v = np.array([-800.0, -3.0, 0.0, 2.0, 800.0])
    log_sig, log_one_minus, grad = f(v)
    np.testing.assert_allclose(log_sig, -np.logaddexp(0, -v), rtol=1e-14)
    np.testing.assert_allclose(log_one_minus, -np.logaddexp(0, v), rtol=1e-14)
    np.testing.assert_allclose(grad, np.exp(-np.logaddexp(0, v)), rtol=1e-12)  # 1/(1 + e^x)


def test_log_one_plus_exp_is_softplus(x):
    f = sd.function([x], [sd.log(1 + sd.exp(x)), sd.log(sd.exp(x) + 1)])
    v = np.array([-50.0, 0.5, 1000.0])
    for out in f(v):
        np.testing.assert_allclose(out, np.logaddexp(0, v), rtol=1e-14)


def test_log_sum_exp_is_logsumexp():
    m = sd.matrix("m")
    f = sd.function([m], sd.log(sd.sum(sd.exp(m), axis=1)))
    v = np.array([[1000.0, 1001.0, 999.0], [-2.0, 0.0, 1.0]])
    expected = v.max(axis=1) + np.log(np.exp(v - v.max(axis=1, keepdims=True)).sum(axis=1))
    np.testing.assert_allclose(f(v), expected, rtol=1e-14)


def test_softmax_cross_entropy_gradient_is_softmax_minus_onehot():
    z, t = sd.matrix("z"), sd.matrix("t")
    loss = -sd.sum(t * sd.log_softmax(z, axis=1))
    f = sd.function([z, t], sd.grad(loss, z))
    v = np.array([[800.0, 0.0, -800.0], [1.0, 2.0, 3.0]])
    onehot = np.eye(3)[[2, 0]]
    e = np.exp(v - v.max(axis=1, keepdims=True))
    np.testing.assert_allclose(f(v, onehot), e / e.sum(axis=1, keepdims=True) - onehot, rtol=1e-12, atol=1e-300)
