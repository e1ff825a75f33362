"""Benchmark workloads: seeded data and the hand-derived NumPy reference.

Every tool gets the same data (fixed seeds, float64) and is checked against
the NumPy functions below, whose gradients are derived by hand.

W1  two-layer sigmoid network, X (1000, 4) -> 20 -> 1, squared-error loss,
    SGD with lr 0.5 on w0, b0, w1, b1.
W2  784-256-10 tanh MLP, softmax cross-entropy on one-hot labels, batch 128,
    SGD with lr 0.1 on W1, b1, W2, b2.
W3  the full 200x200 Hessian of logistic regression (mean log-loss
    -y*log(s) - (1 - y)*log(1 - s), s = sigmoid(X @ w)) on N = 2000 rows, and a
    Hessian-vector product on the same problem.
W4  gradient of sum(tanh(x) * exp(-x**2) + log1p(x**2)) for 10**6 values.
"""

import numpy as np

LR_W1 = 0.5
LR_W2 = 0.1
LOOP_STEPS = 1000
RTOL, ATOL = 1e-7, 1e-9


def w1_data():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((1000, 4))
    y = (X[:, :1] * X[:, 1:2] > 0).astype(np.float64)
    params = [
        rng.standard_normal((4, 20)) * 0.5,
        rng.standard_normal(20) * 0.1,
        rng.standard_normal((20, 1)) * 0.5,
        rng.standard_normal(1) * 0.1,
    ]
    return {"X": X, "y": y, "params": params}


def w2_data():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((128, 784))
    T = np.eye(10)[rng.integers(0, 10, 128)]
    params = [
        rng.standard_normal((784, 256)) * 0.05,
        rng.standard_normal(256) * 0.01,
        rng.standard_normal((256, 10)) * 0.1,
        rng.standard_normal(10) * 0.01,
    ]
    return {"X": X, "T": T, "params": params}


def w3_data():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((2000, 200)) / np.sqrt(200)
    y = (rng.random(2000) < 0.5).astype(np.float64)
    return {"X": X, "y": y, "w": rng.standard_normal(200), "v": rng.standard_normal(200)}


def w4_data():
    return {"x": np.random.default_rng(4).standard_normal(10**6) * 2.0}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def w1_step(X, y, params, lr=LR_W1):
    """One SGD step, updating params in place; returns the loss before it."""
    w0, b0, w1, b1 = params
    h = sigmoid(X @ w0 + b0)
    yp = sigmoid(h @ w1 + b1)
    r = yp - y
    loss = 0.5 * np.mean(r**2)
    dz1 = r * yp * (1 - yp) / r.size
    dz0 = (dz1 @ w1.T) * h * (1 - h)
    grads = [X.T @ dz0, dz0.sum(0), h.T @ dz1, dz1.sum(0)]
    for p, g in zip(params, grads):
        p -= lr * g
    return loss


def w2_step(X, T, params, lr=LR_W2):
    """One SGD step, updating params in place; returns the loss before it."""
    W1, b1, W2, b2 = params
    a = np.tanh(X @ W1 + b1)
    logits = a @ W2 + b2
    shifted = logits - logits.max(1, keepdims=True)
    log_sm = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    n = X.shape[0]
    loss = -(T * log_sm).sum() / n
    dlogits = (np.exp(log_sm) * T.sum(1, keepdims=True) - T) / n
    dz = (dlogits @ W2.T) * (1 - a * a)
    grads = [X.T @ dz, dz.sum(0), a.T @ dlogits, dlogits.sum(0)]
    for p, g in zip(params, grads):
        p -= lr * g
    return loss


def w3_weights(X, w):
    """The per-row weights s*(1 - s)/N of the log-loss Hessian."""
    s = sigmoid(X @ w)
    return s * (1 - s) / X.shape[0]


def w3_hessian(X, w):
    """The closed form X.T @ (X * d[:, None]) with d = s*(1 - s)/N."""
    return X.T @ (X * w3_weights(X, w)[:, None])


def w3_hvp(X, w, v):
    """The Hessian times v without forming it: X.T @ (d * (X @ v))."""
    return X.T @ (w3_weights(X, w) * (X @ v))


def w4_grad(x):
    t = np.tanh(x)
    e = np.exp(-x * x)
    return (1 - t * t) * e - 2 * x * t * e + 2 * x / (1 + x * x)


def expected(workload, data):
    """Reference outputs: {case: list of arrays} for the cases a workload has.

    Step cases list [loss, *params after one step]; the W1 loop case lists the
    params after one step followed by LOOP_STEPS more (the order the worker
    runs them in).
    """
    if workload == "W4":
        return {"grad": [w4_grad(data["x"])]}
    if workload == "W3":
        return {"hessian": [w3_hessian(data["X"], data["w"])],
                "hvp": [w3_hvp(data["X"], data["w"], data["v"])]}
    params = [p.copy() for p in data["params"]]
    if workload == "W2":
        return {"step": [w2_step(data["X"], data["T"], params), *params]}
    out = {"step": [w1_step(data["X"], data["y"], params), *[p.copy() for p in params]]}
    for _ in range(LOOP_STEPS):
        w1_step(data["X"], data["y"], params)
    out["loop"] = params
    return out


DATA = {"W1": w1_data, "W2": w2_data, "W3": w3_data, "W4": w4_data}
