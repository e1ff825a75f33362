"""PyTensor: shared variables + pytensor.function(updates=...), in a given mode.

Modes used: "NUMBA" (this version's default linker) and "CVM" (the C-thunk VM,
Theano's classic FAST_RUN; needs g++). The W1 loop is a Python loop over the
compiled step. Compiled code is cached under PYTENSOR_FLAGS=base_compiledir.
"""

import pytensor
import pytensor.gradient
import pytensor.tensor as pt

from benchmarks import workloads as wl
from benchmarks.tools import Case, Skip

COMPILES = True
# A pip-installed PyTensor usually links no BLAS: C mode then runs dot products in NumPy.
VERSION = pytensor.__version__ + ("" if pytensor.config.blas__ldflags else " (C BLAS: none)")


def _sgd(inputs, loss_fn, params, data_inputs, lr, mode):
    shared = [pytensor.shared(p.copy()) for p in params]
    loss = loss_fn(shared, *inputs)
    grads = pytensor.grad(loss, shared)
    train = pytensor.function(
        inputs, loss, updates=[(p, p - lr * g) for p, g in zip(shared, grads)], mode=mode
    )
    return Case(
        run=lambda: train(*data_inputs), state=lambda: [p.get_value() for p in shared]
    )


def _w1_loss(params, X, y):
    w0, b0, w1, b1 = params
    yp = pt.sigmoid(pt.sigmoid(X @ w0 + b0) @ w1 + b1)
    return pt.mean(0.5 * (yp - y) ** 2)


def _w2_loss(params, X, T):
    W1, b1, W2, b2 = params
    logits = pt.tanh(X @ W1 + b1) @ W2 + b2
    return pt.mean(-pt.sum(T * pt.special.log_softmax(logits, axis=1), axis=1))


def _w3_only(vectorize):
    if vectorize:
        raise Skip("the vectorised jacobian variant runs W3 only")


def w1(d, mode, vectorize=False):
    _w3_only(vectorize)
    return _sgd([pt.dmatrix("X"), pt.dmatrix("y")], _w1_loss, d["params"], [d["X"], d["y"]],
                wl.LR_W1, mode)


def w2(d, mode, vectorize=False):
    _w3_only(vectorize)
    return _sgd([pt.dmatrix("X"), pt.dmatrix("T")], _w2_loss, d["params"], [d["X"], d["T"]],
                wl.LR_W2, mode)


def _w3_loss():
    X, y, w = pt.dmatrix("X"), pt.dvector("y"), pt.dvector("w")
    s = pt.sigmoid(X @ w)
    return [X, y, w], pt.mean(-y * pt.log(s) - (1 - y) * pt.log(1 - s))


def w3(d, mode, vectorize=False):
    (X, y, w), loss = _w3_loss()
    if vectorize:
        hessian = pytensor.gradient.jacobian(pytensor.grad(loss, w), w, vectorize=True)
    else:
        hessian = pytensor.gradient.hessian(loss, w)  # a scan over the rows
    f = pytensor.function([X, y, w], hessian, mode=mode)
    return Case(run=lambda: f(d["X"], d["y"], d["w"]))


def w3_hvp(d, mode, vectorize=False):
    _w3_only(vectorize)
    (X, y, w), loss = _w3_loss()
    v = pt.dvector("v")
    hvp = pytensor.gradient.hessian_vector_product(loss, w, v) if hasattr(
        pytensor.gradient, "hessian_vector_product") else pytensor.grad(pt.sum(pytensor.grad(loss, w) * v), w)
    f = pytensor.function([X, y, w, v], hvp, mode=mode)
    return Case(run=lambda: f(d["X"], d["y"], d["w"], d["v"]))


def w4(d, mode, vectorize=False):
    _w3_only(vectorize)
    x = pt.dvector("x")
    f = pt.sum(pt.tanh(x) * pt.exp(-(x**2)) + pt.log1p(x**2))
    grad = pytensor.function([x], pytensor.grad(f, x), mode=mode)
    return Case(run=lambda: grad(d["x"]))
