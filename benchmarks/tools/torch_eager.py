"""PyTorch eager mode (no torch.compile), float64 CPU tensors, torch.autograd.grad."""

import torch

from benchmarks import workloads as wl
from benchmarks.tools import Case

COMPILES = False
VERSION = torch.__version__


def _sgd(loss_fn, params, inputs, lr):
    params = [torch.tensor(p, requires_grad=True) for p in params]
    inputs = [torch.from_numpy(a) for a in inputs]

    def run():
        loss = loss_fn(params, *inputs)
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.sub_(lr * g)
        return loss.item()

    return Case(run=run, state=lambda: [p.detach() for p in params])


def _w1_loss(params, X, y):
    w0, b0, w1, b1 = params
    h = torch.sigmoid(X @ w0 + b0)
    yp = torch.sigmoid(h @ w1 + b1)
    return torch.mean(0.5 * (yp - y) ** 2)


def _w2_loss(params, X, T):
    W1, b1, W2, b2 = params
    logits = torch.tanh(X @ W1 + b1) @ W2 + b2
    return torch.mean(-torch.sum(T * torch.log_softmax(logits, dim=1), dim=1))


def w1(d):
    return _sgd(_w1_loss, d["params"], [d["X"], d["y"]], wl.LR_W1)


def w2(d):
    return _sgd(_w2_loss, d["params"], [d["X"], d["T"]], wl.LR_W2)


def _w3_loss(X, y):
    def loss(w):
        s = torch.sigmoid(X @ w)
        return torch.mean(-y * torch.log(s) - (1 - y) * torch.log(1 - s))

    return loss


def w3(d):
    X, y, w = (torch.from_numpy(d[k]) for k in ("X", "y", "w"))
    loss = _w3_loss(X, y)
    return Case(run=lambda: torch.autograd.functional.hessian(loss, w, vectorize=True))


def w3_hvp(d):
    X, y, w, v = (torch.from_numpy(d[k]) for k in ("X", "y", "w", "v"))
    loss = _w3_loss(X, y)
    return Case(run=lambda: torch.autograd.functional.hvp(loss, w, v)[1])


def w4(d):
    x = torch.tensor(d["x"], requires_grad=True)

    def run():
        f = torch.sum(torch.tanh(x) * torch.exp(-(x**2)) + torch.log1p(x**2))
        return torch.autograd.grad(f, x)[0]

    return Case(run=run)
