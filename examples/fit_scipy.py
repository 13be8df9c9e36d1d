"""Maximum likelihood with scipy.optimize and exact gradients: a GARCH(1,1) volatility model.

Daily returns r_t are simulated from a GARCH(1,1) model, whose conditional variance follows
the loop

    sigma2[t+1] = omega + alpha * r[t]**2 + beta * sigma2[t]

and the negative log-likelihood `garch_nll` (plain Python, one loop over the returns) is
minimised over (omega, alpha, beta) with scipy.optimize.minimize(method="L-BFGS-B"):

- with jac=True and `value_and_grad(garch_nll, argnums=(1, 2, 3))`: one compiled call gives
  the likelihood and its exact gradient (reverse mode through the whole recurrence);
- with scipy's own finite differences of a Numba-compiled likelihood (jac=None), for
  comparison: 4 likelihood evaluations per gradient, and approximate gradients.

It prints the iterations, evaluations and time of both fits and the fitted parameters next
to the true ones. Needs scipy (pip install -e ".[examples]").

Run it:  python examples/fit_scipy.py            (--small: fewer returns, for CI)
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from autodiff_compiler import check_grad, value_and_grad

TRUE = (0.05, 0.10, 0.85)  # omega, alpha, beta
START = (0.20, 0.05, 0.50)
BOUNDS = [(1e-6, 10.0), (0.0, 0.999), (0.0, 0.999)]


def garch_nll(r, omega, alpha, beta):
    """Negative log-likelihood of returns r under GARCH(1,1) with Gaussian innovations;
    the variance starts at the sample variance."""
    T = r.shape[0]
    sigma2 = 0.0
    for t in range(T):
        sigma2 += r[t] * r[t]
    sigma2 = sigma2 / T
    nll = 0.0
    for t in range(T):
        nll += 0.5 * (math.log(2.0 * math.pi) + math.log(sigma2) + r[t] * r[t] / sigma2)
        sigma2 = omega + alpha * r[t] * r[t] + beta * sigma2
    return nll


def simulate(T, omega, alpha, beta, rng):
    z = rng.standard_normal(T)
    r = np.empty(T)
    sigma2 = omega / (1.0 - alpha - beta)  # the stationary variance
    for t in range(T):
        r[t] = math.sqrt(sigma2) * z[t]
        sigma2 = omega + alpha * r[t] * r[t] + beta * sigma2
    return r


def fit(objective, jac):
    """minimize's result, its wall time and the time spent inside `objective` (the
    likelihood and gradient evaluations), each the best of three runs."""
    spent = [0.0]

    def timed(theta):
        start = time.perf_counter()
        value = objective(theta)
        spent[0] += time.perf_counter() - start
        return value

    best = (math.inf, math.inf)
    for _ in range(3):
        spent[0] = 0.0
        start = time.perf_counter()
        result = minimize(timed, np.array(START), jac=jac, method="L-BFGS-B", bounds=BOUNDS)
        best = min(best, (time.perf_counter() - start, spent[0]))
    return result, best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a quick run (CI)")
    options = parser.parse_args(argv)
    T = 1000 if options.small else 20000
    r = simulate(T, *TRUE, np.random.default_rng(1))
    print(f"GARCH(1,1): {T} simulated returns, true (omega, alpha, beta) = {TRUE}")

    error = check_grad(garch_nll, r[:200], *START, argnums=(1, 2, 3))
    print(f"gradient check against central differences: relative error {error:.2e}")

    nll_and_grad = value_and_grad(garch_nll, argnums=(1, 2, 3))
    lowered = nll_and_grad.lower(r, *START)  # transform and Numba compile, nothing run
    print(f"compiled the gradient in {lowered.transform_time + lowered.compile_time:.2f} s "
          f"(transform {lowered.transform_time:.2f} s, Numba {lowered.compile_time:.2f} s)")

    def with_gradient(theta):
        value, grads = nll_and_grad(r, *theta)
        return value, np.array(grads)

    import numba

    nll_numba = numba.njit(garch_nll)
    nll_numba(r, *START)  # compile before timing

    def value_only(theta):
        return nll_numba(r, *theta)

    exact, (exact_time, exact_inside) = fit(with_gradient, True)
    approx, (approx_time, approx_inside) = fit(value_only, None)
    print(f"{'L-BFGS-B':30} {'iterations':>10} {'evaluations':>11} {'time':>9} "
          f"{'(objective)':>11}   {'-log L':>11}   omega   alpha    beta")
    rows = (("jac=True, value_and_grad", exact, exact_time, exact_inside),
            ("jac=None, finite differences", approx, approx_time, approx_inside))
    for label, result, seconds, inside in rows:
        print(f"{label:30} {result.nit:10d} {result.nfev:11d} {1e3 * seconds:6.1f} ms "
              f"{1e3 * inside:8.1f} ms   {result.fun:11.4f}   "
              + "  ".join(f"{v:.4f}" for v in result.x))
    print(f"{'true parameters':30} {'':10} {'':11} {'':9} {'':11}   "
          f"{garch_nll(r, *TRUE):11.4f}   " + "  ".join(f"{v:.4f}" for v in TRUE))
    print(f"time: wall time of minimize, best of 3; (objective): the part spent computing the "
          f"likelihood and its gradient (finite differences: {len(START) + 1} likelihoods "
          "per gradient)")
    ok = exact.success and error < 1e-7 and exact.fun <= approx.fun + 1e-6
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


try:
    from scipy.optimize import minimize
except ImportError:  # an optional extra
    minimize = None

if __name__ == "__main__":
    if minimize is None:
        print("this example needs scipy: pip install -e \".[examples]\"")
        sys.exit(2)
    sys.exit(main())
