"""How does symdiff know the derivative, and can the printed formula be trusted?

For the two-layer sigmoid network of ``seed_network.py`` this prints each
parameter's gradient formula, a ``check_grad`` table comparing the compiled
gradient with numeric reverse mode and finite differences, and the backward
pass step by step (``explain``).

Run:  python examples/compare_derivatives.py
"""
import symdiff as sd
from seed_network import build_network, make_data


def main() -> None:
    X, y, params, _, loss = build_network()
    for p, g in zip(params, sd.grad(loss, params)):
        print(f"d loss / d {p.name} =")
        print(sd.pprint(g), end="\n\n")

    Xdata, ydata = make_data(n=200)
    report = sd.check_grad(loss, params, {X: Xdata, y: ydata}, sample=40)
    print("The gradient three ways: compiled sd.grad, numeric reverse mode (sd.backprop), finite differences")
    print(report, end="\n\n")
    print("all agree" if report.ok else "MISMATCH", end="\n\n")

    print(sd.explain(loss, params))


if __name__ == "__main__":
    main()
