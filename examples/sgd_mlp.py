"""Backpropagation and SGD, as the textbook teaches them: a small MLP trained on synthetic data.

The network has one hidden layer (2 inputs -> 16 tanh units -> 1 logit); the loss is the mean
binary cross-entropy of a minibatch, written as a loop over its samples in plain NumPy.
`value_and_grad` turns the loss into its backpropagation: one compiled function returning the
loss and its gradient w.r.t. every weight and bias. The script

1. checks that gradient once against central differences (the textbook's gradient check: the
   relative error |a - n| / (|a| + |n|) must be below 1e-7),
2. trains with plain minibatch SGD (params -= learning_rate * gradient), printing the loss
   every few epochs and the accuracy at the end,
3. saves the loss curve to examples/output/sgd_mlp.png when matplotlib is installed
   (pip install -e ".[plots]"), and says so when it is not.

Run it:  python examples/sgd_mlp.py            (--small: fewer samples and epochs, for CI;
                                              --plot PATH: where the loss curve goes)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from autodiff_compiler import check_grad, value_and_grad
from examples.plotting import default_path, save_plot


def mlp_loss(W1, b1, W2, b2, X, y):
    """Mean binary cross-entropy of the MLP's logits z = W2 . tanh(W1 x + b1) + b2."""
    n = X.shape[0]
    loss = 0.0
    for i in range(n):
        h = np.tanh(W1 @ X[i] + b1)
        z = np.dot(W2, h) + b2
        loss += np.logaddexp(0.0, z) - y[i] * z  # -log sigmoid(z) or -log(1 - sigmoid(z))
    return loss / n


def predict(W1, b1, W2, b2, X):
    return (np.tanh(X @ W1.T + b1) @ W2 + b2) > 0.0


def make_data(n, rng):
    """Points in the square [-1, 1]^2, labelled 1 inside the circle of radius 0.7."""
    X = rng.uniform(-1.0, 1.0, (n, 2))
    y = (np.sum(X ** 2, axis=1) < 0.49).astype(np.float64)
    return X, y


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a quick run (CI)")
    parser.add_argument("--plot", default=str(default_path("sgd_mlp")),
                        help="where to save the loss curve (PNG)")
    options = parser.parse_args(argv)
    samples, epochs, every = (128, 12, 4) if options.small else (1024, 60, 10)
    batch, hidden, learning_rate = 32, 16, 1.0

    rng = np.random.default_rng(0)
    X, y = make_data(samples, rng)
    params = [rng.normal(0.0, 1.0, (hidden, 2)), np.zeros(hidden),
              rng.normal(0.0, 1.0 / np.sqrt(hidden), hidden), 0.0]
    count = sum(np.size(p) for p in params)
    print(f"MLP 2 -> {hidden} tanh -> 1, {count} parameters; {samples} points, "
          f"minibatches of {batch}")

    # 1. the gradient check, once, on the first minibatch (CPython, no Numba needed)
    start = time.perf_counter()
    error = check_grad(mlp_loss, *params, X[:batch], y[:batch], argnums=(0, 1, 2, 3))
    verdict = "OK" if error < 1e-7 else "FAILED"
    print(f"gradient check against central differences: relative error {error:.2e} "
          f"(textbook threshold 1e-7: {verdict}, {time.perf_counter() - start:.1f} s)")
    if error >= 1e-7:
        return 1

    # 2. SGD; the first call compiles the backpropagation with Numba
    loss_and_grad = value_and_grad(mlp_loss, argnums=(0, 1, 2, 3))
    start = time.perf_counter()
    loss_and_grad(*params, X[:batch], y[:batch])
    print(f"compiled the gradient with Numba in {time.perf_counter() - start:.1f} s")
    losses, start, steps = [], time.perf_counter(), 0
    for epoch in range(1, epochs + 1):
        order = rng.permutation(samples)
        total = 0.0
        for first in range(0, samples, batch):
            rows = order[first:first + batch]
            loss, grads = loss_and_grad(*params, X[rows], y[rows])
            params = [p - learning_rate * g for p, g in zip(params, grads)]  # the SGD step
            total += loss * len(rows)
            steps += 1
        losses.append(total / samples)
        if epoch % every == 0 or epoch == 1:
            print(f"epoch {epoch:3d}  loss {losses[-1]:.4f}")
    elapsed = time.perf_counter() - start
    accuracy = float(np.mean(predict(*params, X) == (y > 0.5)))
    print(f"{steps} SGD steps in {elapsed:.2f} s ({1e6 * elapsed / steps:.0f} us a step); "
          f"loss {losses[0]:.4f} -> {losses[-1]:.4f}, training accuracy {accuracy:.1%}")

    def draw(plt):
        plt.plot(range(1, epochs + 1), losses, marker="o", markersize=3)
        plt.xlabel("epoch")
        plt.ylabel("mean cross-entropy")
        plt.title("MLP trained by SGD with autodiff_compiler gradients")

    save_plot(draw, options.plot, "loss curve")
    return 0


if __name__ == "__main__":
    sys.exit(main())
