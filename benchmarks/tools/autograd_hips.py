"""HIPS autograd (autograd.numpy, value_and_grad), parameters updated in place."""

import importlib.metadata

import autograd
import autograd.numpy as anp
from autograd.scipy.special import logsumexp

from benchmarks import workloads as wl
from benchmarks.tools import Case

COMPILES = False
VERSION = importlib.metadata.version("autograd")


def _sgd(loss_fn, params, inputs, lr):
    params = [p.copy() for p in params]
    value_and_grad = autograd.value_and_grad(loss_fn)

    def run():
        loss, grads = value_and_grad(params, *inputs)
        for p, g in zip(params, grads):
            p -= lr * g
        return loss

    return Case(run=run, state=lambda: params)


def _sigmoid(z):
    return 1.0 / (1.0 + anp.exp(-z))


def _w1_loss(params, X, y):
    w0, b0, w1, b1 = params
    yp = _sigmoid(anp.dot(_sigmoid(anp.dot(X, w0) + b0), w1) + b1)
    return anp.mean(0.5 * (yp - y) ** 2)


def _w2_loss(params, X, T):
    W1, b1, W2, b2 = params
    logits = anp.dot(anp.tanh(anp.dot(X, W1) + b1), W2) + b2
    log_sm = logits - logsumexp(logits, axis=1, keepdims=True)
    return anp.mean(-anp.sum(T * log_sm, axis=1))


def w1(d):
    return _sgd(_w1_loss, d["params"], [d["X"], d["y"]], wl.LR_W1)


def w2(d):
    return _sgd(_w2_loss, d["params"], [d["X"], d["T"]], wl.LR_W2)


def _w3_loss(X, y):
    def loss(w):
        s = _sigmoid(anp.dot(X, w))
        return anp.mean(-y * anp.log(s) - (1 - y) * anp.log(1 - s))

    return loss


def w3(d):
    hessian = autograd.hessian(_w3_loss(d["X"], d["y"]))
    return Case(run=lambda: hessian(d["w"]))


def w3_hvp(d):
    hvp = autograd.hessian_vector_product(_w3_loss(d["X"], d["y"]))
    return Case(run=lambda: hvp(d["w"], d["v"]))


def w4(d):
    grad = autograd.grad(lambda x: anp.sum(anp.tanh(x) * anp.exp(-x**2) + anp.log1p(x**2)))
    return Case(run=lambda: grad(d["x"]))
