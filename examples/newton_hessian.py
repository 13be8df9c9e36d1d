"""Newton's method with exact second derivatives: `hessian` and Hessian-vector products.

1. The Rosenbrock function f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 from the textbook start
   (-1.2, 1): each Newton step solves H p = -g with the gradient from `grad` and the 2x2
   Hessian from `hessian` (forward mode over the reverse-mode gradient). The iterations
   show the quadratic convergence at the end (the gradient's norm squares each step).
2. L2-regularised logistic regression with 20 weights, by Newton-CG: the Newton system is
   solved by conjugate gradients, which need only products H v, given by `hvp` without
   forming H. The result is checked against Newton with the full `hessian`.

Run it:  python examples/newton_hessian.py        (--small: a smaller regression, for CI)
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from autodiff_compiler import grad, hessian, hvp


def rosenbrock(p):
    return (1.0 - p[0]) ** 2 + 100.0 * (p[1] - p[0] ** 2) ** 2


def logistic_loss(w, X, y, lam):
    """Mean logistic loss of the labels y in {0, 1} plus lam/2 |w|^2."""
    n = X.shape[0]
    loss = 0.0
    for i in range(n):
        z = np.dot(X[i], w)
        loss += np.logaddexp(0.0, z) - y[i] * z
    return loss / n + 0.5 * lam * np.dot(w, w)


def newton(f, df, d2f, x, tol=1e-10, max_steps=50):
    """Newton steps x -= H^-1 g until |g| < tol; prints each iterate."""
    print(f"{'step':>4} {'f':>12} {'|gradient|':>11}  x")
    for k in range(max_steps + 1):
        g = df(x)
        print(f"{k:4d} {f(x):12.4e} {np.linalg.norm(g):11.3e}  "
              f"{np.array2string(x, precision=8)}")
        if np.linalg.norm(g) < tol:
            return x, k
        x = x - np.linalg.solve(d2f(x), g)
    return x, max_steps


def conjugate_gradients(product, b, tol=1e-12, max_steps=100):
    """Solve A p = b for symmetric positive definite A given as p -> A p; (p, steps)."""
    p, r = np.zeros_like(b), b.copy()
    d, rr = r.copy(), float(r @ r)
    for k in range(1, max_steps + 1):
        Ad = product(d)
        alpha = rr / float(d @ Ad)
        p, r = p + alpha * d, r - alpha * Ad
        rr, previous = float(r @ r), rr
        if math.sqrt(rr) < tol * np.linalg.norm(b):
            return p, k
        d = r + (rr / previous) * d
    return p, max_steps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a quick run (CI)")
    options = parser.parse_args(argv)

    print("1. Rosenbrock from (-1.2, 1): Newton's method with grad and hessian")
    df, d2f = grad(rosenbrock), hessian(rosenbrock)
    x, steps = newton(rosenbrock, df, d2f, np.array([-1.2, 1.0]))
    exact = np.array([[802.0, -400.0], [-400.0, 200.0]])  # the Hessian at the minimum (1, 1)
    print(f"minimum {x} after {steps} steps; Hessian there {d2f(x).tolist()} "
          f"(exact {exact.tolist()})")
    ok = np.allclose(x, 1.0, atol=1e-8) and np.allclose(d2f(x), exact, rtol=1e-9)

    n, d, lam = (100, 20, 0.1) if options.small else (2000, 20, 0.01)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(n, d))
    w_true = rng.normal(size=d)
    y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-X @ w_true))).astype(np.float64)
    print(f"\n2. logistic regression, {n} samples, {d} weights: Newton-CG with hvp")
    g_w = grad(logistic_loss)
    zeros = (np.zeros_like(X), np.zeros_like(y), 0.0)  # tangents of the data: none
    w = np.zeros(d)
    print(f"{'step':>4} {'loss':>12} {'|gradient|':>11} {'CG steps':>9}")
    for k in range(20):
        g = g_w(w, X, y, lam)
        print(f"{k:4d} {logistic_loss(w, X, y, lam):12.8f} {np.linalg.norm(g):11.3e}", end="")
        if np.linalg.norm(g) < 1e-10:
            print()
            break
        def product(v, w=w):  # H v at the current w, by one forward-over-reverse sweep
            return hvp(logistic_loss, (w, X, y, lam), (v, *zeros))[0]

        p, cg_steps = conjugate_gradients(product, -g)
        print(f" {cg_steps:9d}")
        w = w + p
    H = hessian(logistic_loss)(w, X, y, lam)
    w_full = np.zeros(d)
    for _ in range(20):
        w_full = w_full - np.linalg.solve(hessian(logistic_loss)(w_full, X, y, lam),
                                          g_w(w_full, X, y, lam))
    v = rng.normal(size=d)
    product_error = float(np.max(np.abs(hvp(logistic_loss, (w, X, y, lam), (v, *zeros))[0]
                                        - H @ v)))
    difference = float(np.max(np.abs(w - w_full)))
    print(f"max |hvp(v) - hessian @ v| = {product_error:.1e}; Newton-CG and Newton with the "
          f"full Hessian agree to {difference:.1e}")
    ok = ok and product_error < 1e-10 and difference < 1e-8
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
