"""How does symdiff know the derivative, and can the printed formula be trusted?

For the two-layer sigmoid network of ``seed_network.py`` this prints each
parameter's gradient formula, a ``check_grad`` table comparing the compiled
gradient with numeric reverse mode and finite differences, and the backward
pass step by step (``explain``).

Run:  python examples/compare_derivatives.py
"""
import numpy as np

import symdiff as sd


def main() -> None:
    X = sd.matrix("X")
    y = sd.matrix("y")
    rng = np.random.default_rng(0)
    w0 = sd.shared(rng.standard_normal((4, 20)), name="w0")
    b0 = sd.shared(np.zeros(20), name="b0")
    w1 = sd.shared(rng.standard_normal((20, 1)), name="w1")
    b1 = sd.shared(np.zeros(1), name="b1")
    h = sd.sigmoid(X @ w0 + b0, name="h")
    yp = sd.sigmoid(h @ w1 + b1, name="yp")
    loss = sd.mean(0.5 * (yp - y) ** 2, name="loss")
    params = [w0, b0, w1, b1]

    for p, g in zip(params, sd.grad(loss, params)):
        print(f"d loss / d {p.name} =")
        print(sd.pprint(g), end="\n\n")

    Xdata = rng.standard_normal((200, 4))
    ydata = (Xdata @ np.array([1.5, -2.0, 1.0, 0.5]) > 0.3).astype(np.float64).reshape(-1, 1)
    report = sd.check_grad(loss, params, {X: Xdata, y: ydata}, sample=40)
    print("The gradient three ways: compiled sd.grad, numeric reverse mode (sd.backprop), finite differences")
    print(report, end="\n\n")
    print("all agree" if report.ok else "MISMATCH", end="\n\n")

    print(sd.explain(loss, params))


if __name__ == "__main__":
    main()
