"""Classify handwritten digits with a 64-32-10 tanh network trained by minibatch SGD.

The data are scikit-learn's bundled 8x8 digits (1,797 images, no download).
Labels stay integers: the loss is softmax cross-entropy on ``sd.onehot(labels, 10)``
and accuracy compares ``sd.argmax`` with the labels, both compiled.  Training runs
inside compiled code (``Function.loop`` with ``batch_size``) with a progress bar;
the script prints the output layer's gradient formula, the held-out accuracy and
saves the loss curve as a PNG.

Needs the ``examples`` extra:  pip install -e '.[examples]'
Run:  python examples/mlp_digits.py [--quick] [--plot loss.png]
"""
import argparse
import time

import matplotlib

matplotlib.use("Agg")  # headless: write files, open no window
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

import symdiff as sd

N_IN, N_HIDDEN, N_CLASSES = 64, 32, 10


def load_data(test_fraction: float = 0.2, seed: int = 0):
    """Digits scaled to [0, 1], shuffled once, split into train and held-out parts."""
    digits = load_digits()
    X = digits.data / 16.0
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(labels))
    X, labels = X[order], labels[order]
    n_test = int(round(test_fraction * len(labels)))
    return (X[n_test:], labels[n_test:]), (X[:n_test], labels[:n_test])


def build_model(seed: int = 0):
    """Inputs ``X``, ``labels``, parameters ``[W1, b1, W2, b2]``, logits ``Z`` and the mean loss."""
    X = sd.matrix("X")
    labels = sd.vector("labels", dtype="int64")
    rng = np.random.default_rng(seed)
    W1 = sd.shared(rng.standard_normal((N_IN, N_HIDDEN)) / np.sqrt(N_IN), name="W1")
    b1 = sd.shared(np.zeros(N_HIDDEN), name="b1")
    W2 = sd.shared(rng.standard_normal((N_HIDDEN, N_CLASSES)) / np.sqrt(N_HIDDEN), name="W2")
    b2 = sd.shared(np.zeros(N_CLASSES), name="b2")
    H = sd.tanh(X @ W1 + b1, name="H")
    Z = (H @ W2 + b2).named("Z")
    loss = -sd.mean(sd.sum(sd.onehot(labels, N_CLASSES) * sd.log_softmax(Z, axis=1), axis=1))
    return X, labels, [W1, b1, W2, b2], Z, loss


def save_loss_curve(losses: np.ndarray, steps_per_epoch: int, path: str) -> None:
    """Minibatch losses and their mean over each epoch, on a log scale."""
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(np.arange(1, len(losses) + 1), losses, lw=0.5, alpha=0.4, label="minibatch loss")
    n_epochs = len(losses) // steps_per_epoch
    if n_epochs:
        epoch_means = losses[: n_epochs * steps_per_epoch].reshape(n_epochs, steps_per_epoch).mean(axis=1)
        ax.plot(steps_per_epoch * np.arange(1, n_epochs + 1), epoch_means, lw=2, label="mean over each epoch")
    ax.set_yscale("log")
    ax.set_xlabel("SGD step")
    ax.set_ylabel("cross-entropy")
    ax.set_title("64-32-10 tanh MLP on scikit-learn's digits")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a short run (fewer steps), as the tests use")
    ap.add_argument("--steps", type=int, help="SGD steps (default 3000; --quick: 600)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.2, help="learning rate")
    ap.add_argument("--plot", default="mlp_digits_loss.png", help="where to save the loss curve (PNG)")
    args = ap.parse_args(argv)
    n_steps = args.steps or (600 if args.quick else 3000)

    (X_train, y_train), (X_test, y_test) = load_data()
    X, labels, params, Z, loss = build_model()
    grads = sd.grad(loss, params)
    print("d loss / d W2 =")
    print(sd.pprint(grads[2]), end="\n\n")

    start = time.perf_counter()
    train = sd.function([X, labels], loss, updates=[(p, p - args.lr * g) for p, g in zip(params, grads)])
    accuracy = sd.function([X, labels], sd.mean(sd.argmax(Z, axis=1) == labels))
    print(f"compiled the training step and the accuracy in {time.perf_counter() - start:.2f} s")
    print(f"held-out accuracy before training: {float(accuracy(X_test, y_test)):.3f}\n")

    steps_per_epoch = -(-len(y_train) // args.batch_size)
    print(f"training: {n_steps} steps of {args.batch_size} rows ({n_steps / steps_per_epoch:.1f} epochs "
          f"of {len(y_train)} images)")
    start = time.perf_counter()
    losses = train.loop(n_steps, X_train, y_train, batch_size=args.batch_size, progress=True)
    elapsed = time.perf_counter() - start
    print(f"{n_steps} steps in {elapsed:.2f} s, including compiling the loop on its first use")
    print(f"loss over the first epoch {losses[:steps_per_epoch].mean():.4f}, "
          f"over the last {losses[-steps_per_epoch:].mean():.4f}")

    print(f"train accuracy:    {float(accuracy(X_train, y_train)):.4f}")
    print(f"held-out accuracy: {float(accuracy(X_test, y_test)):.4f} ({len(y_test)} images)")
    save_loss_curve(losses, steps_per_epoch, args.plot)
    print(f"loss curve saved to {args.plot}")


if __name__ == "__main__":
    main()
