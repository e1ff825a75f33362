"""The classic two-layer sigmoid network: derive, print and train.

Run:  python examples/seed_network.py
"""
import time

import numpy as np

import symdiff as sd


def make_data(n: int = 1000, seed: int = 1):
    """A small synthetic task: which side of a tilted plane is the point on?"""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    y = (X @ np.array([1.5, -2.0, 1.0, 0.5]) > 0.3).astype(np.float64).reshape(n, 1)
    return X, y


def build_network(seed: int = 0, dtype: str = "float64"):
    """The issue's network: returns ``(X, y, params, yp, loss)`` with params [w0, b0, w1, b1].

    The tests build it from here too, so there is one definition of it."""
    X = sd.matrix("X", dtype=dtype)
    y = sd.matrix("y", dtype=dtype)
    rng = np.random.default_rng(seed)
    w0 = sd.shared(rng.standard_normal((4, 20)).astype(dtype), name="w0")
    b0 = sd.shared(np.zeros(20, dtype=dtype), name="b0")
    w1 = sd.shared(rng.standard_normal((20, 1)).astype(dtype), name="w1")
    b1 = sd.shared(np.zeros(1, dtype=dtype), name="b1")
    h = sd.sigmoid(X @ w0 + b0, name="h")
    yp = sd.sigmoid(h @ w1 + b1, name="yp")
    loss = sd.mean(0.5 * (yp - y) ** 2, name="loss")
    return X, y, [w0, b0, w1, b1], yp, loss


def main() -> None:
    X, y, params, yp, loss = build_network()
    print("d(0.5*sum((yp - y)**2)) / d yp =")
    print(sd.pprint(sd.grad(0.5 * sd.sum((yp - y) ** 2), yp)), end="\n\n")
    grads = sd.grad(loss, params)
    for p, g in zip(params, grads):
        print(f"d loss / d {p.name} =")
        print(sd.pprint(g), end="\n\n")

    start = time.perf_counter()
    train = sd.function([X, y], loss, updates=[(p, p - 0.5 * g) for p, g in zip(params, grads)])
    print(f"compiled the training step in {time.perf_counter() - start:.2f} s "
          "(sd.function compiles when it is built)\n")

    Xdata, ydata = make_data()
    step_times = []
    for step in range(2000):
        start = time.perf_counter()
        cost = train(Xdata, ydata)
        step_times.append(time.perf_counter() - start)
        if step % 250 == 0 or step == 1999:
            print(f"step {step:5d}  loss {float(cost):.5f}")
    print(f"\n2000 steps in {sum(step_times):.2f} s: the first took {step_times[0] * 1e3:.3f} ms, "
          f"the median {np.median(step_times) * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
