"""symdiff: sd.function with updates on shared variables; W1 loop via train.loop.

Skipped (Skip at import) while the symdiff API below is not available.
The compile cache lives in SYMDIFF_CACHE_DIR.
"""

from benchmarks import workloads as wl
from benchmarks.tools import Case, Skip

try:
    import symdiff as sd
except ImportError as e:
    raise Skip(f"import symdiff failed: {e}") from e

_API = ["matrix", "vector", "shared", "function", "grad", "sigmoid", "tanh", "exp",
        "log1p", "sum", "mean", "log_softmax", "log"]
_missing = [name for name in _API if not hasattr(sd, name)]
if _missing:
    raise Skip("symdiff lacks " + ", ".join(_missing))

COMPILES = True
VERSION = getattr(sd, "__version__", "dev")


def _sgd(inputs, loss_fn, params, names, data_inputs, lr):
    shared = [sd.shared(p.copy(), name=n) for p, n in zip(params, names)]
    loss = loss_fn(shared, *inputs)
    grads = sd.grad(loss, shared)
    train = sd.function(inputs, loss, updates=[(p, p - lr * g) for p, g in zip(shared, grads)])

    def loop(steps):
        if not hasattr(train, "loop"):
            raise Skip("compiled function has no .loop yet")
        return train.loop(steps, *data_inputs)

    return Case(
        run=lambda: train(*data_inputs),
        state=lambda: [p.get_value() for p in shared],
        loop=loop,
    )


def _w1_loss(params, X, y):
    w0, b0, w1, b1 = params
    yp = sd.sigmoid(sd.sigmoid(X @ w0 + b0) @ w1 + b1)
    return sd.mean(0.5 * (yp - y) ** 2)


def _w2_loss(params, X, T):
    W1, b1, W2, b2 = params
    logits = sd.tanh(X @ W1 + b1) @ W2 + b2
    return sd.mean(-sd.sum(T * sd.log_softmax(logits, axis=1), axis=1))


def w1(d):
    return _sgd([sd.matrix("X"), sd.matrix("y")], _w1_loss, d["params"],
                ["w0", "b0", "w1", "b1"], [d["X"], d["y"]],
                wl.LR_W1)


def w2(d):
    return _sgd([sd.matrix("X"), sd.matrix("T")], _w2_loss, d["params"],
                ["W1", "b1", "W2", "b2"], [d["X"], d["T"]],
                wl.LR_W2)


def _w3_loss(X, y, w):
    s = sd.sigmoid(X @ w)
    return sd.mean(-y * sd.log(s) - (1 - y) * sd.log(1 - s))


def w3(d):
    if not hasattr(sd, "hessian"):
        raise Skip("symdiff lacks hessian")
    X, y, w = sd.matrix("X"), sd.vector("y"), sd.vector("w")
    hessian = sd.function([X, y, w], sd.hessian(_w3_loss(X, y, w), w))
    return Case(run=lambda: hessian(d["X"], d["y"], d["w"]))


def w3_hvp(d):
    X, y, w, v = sd.matrix("X"), sd.vector("y"), sd.vector("w"), sd.vector("v")
    hvp = sd.function([X, y, w, v], sd.hvp(_w3_loss(X, y, w), w, v))
    return Case(run=lambda: hvp(d["X"], d["y"], d["w"], d["v"]))


def w4(d):
    x = sd.vector("x")
    f = sd.sum(sd.tanh(x) * sd.exp(-(x**2)) + sd.log1p(x**2))
    grad = sd.function([x], sd.grad(f, x))
    return Case(run=lambda: grad(d["x"]))
