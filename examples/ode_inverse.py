"""Parameter estimation of an ODE: gradients through a hand-written RK4 integrator.

The Lotka-Volterra predator-prey model

    dx/dt = a x - b x y        (prey)
    dy/dt = c x y - d y        (predators)

is integrated by a plain Python RK4 loop (`simulate_loss`: fixed step dt, an observation
every `every` steps), and its four rates (a, b, c, d) are estimated from noisy observations
of both populations by least squares: scipy.optimize.minimize(method="L-BFGS-B") with the
exact gradient of the loss from `value_and_grad`, which runs the RK4 loop backwards.

The gradient is checkpointed (`checkpoint="sqrt"`): instead of taping every step of the
integrator, it stores the state every sqrt(observations) observations and recomputes the
steps in between during the reverse sweep; the script prints the tape memory both ways.
It saves data, initial guess and fit to examples/output/ode_inverse.png when matplotlib is
installed (pip install -e ".[plots]"). Needs scipy (pip install -e ".[examples]").

Run it:  python examples/ode_inverse.py          (--small: a shorter series, for CI;
                                               --plot PATH: where the figure goes)
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

TRUE = np.array([1.0, 0.1, 0.075, 1.5])  # a, b, c, d
GUESS = np.array([0.8, 0.12, 0.06, 1.8])
START = np.array([10.0, 5.0])  # prey, predators at t = 0
DT, EVERY = 0.01, 10  # RK4 step, steps between observations


def lotka_volterra(x, y, a, b, c, d):
    return a * x - b * x * y, c * x * y - d * y


def simulate_loss(theta, u0, obs, dt, every):
    """Sum of squared differences between the RK4 solution and the observations obs[k]
    (prey, predators) taken every `every` steps of length dt."""
    a, b, c, d = theta[0], theta[1], theta[2], theta[3]
    x = u0[0]
    y = u0[1]
    loss = 0.0
    for k in range(obs.shape[0]):
        for s in range(every):
            k1x, k1y = lotka_volterra(x, y, a, b, c, d)
            k2x, k2y = lotka_volterra(x + 0.5 * dt * k1x, y + 0.5 * dt * k1y, a, b, c, d)
            k3x, k3y = lotka_volterra(x + 0.5 * dt * k2x, y + 0.5 * dt * k2y, a, b, c, d)
            k4x, k4y = lotka_volterra(x + dt * k3x, y + dt * k3y, a, b, c, d)
            x = x + dt / 6.0 * (k1x + 2.0 * k2x + 2.0 * k3x + k4x)
            y = y + dt / 6.0 * (k1y + 2.0 * k2y + 2.0 * k3y + k4y)
        loss += (x - obs[k, 0]) ** 2 + (y - obs[k, 1]) ** 2
    return loss


def trajectory(theta, u0, count, dt, every):
    """The RK4 solution at the observation times (NumPy, for the data and the plot)."""
    a, b, c, d = theta
    x, y = u0
    out = np.empty((count, 2))
    for k in range(count):
        for _ in range(every):
            k1x, k1y = lotka_volterra(x, y, a, b, c, d)
            k2x, k2y = lotka_volterra(x + 0.5 * dt * k1x, y + 0.5 * dt * k1y, a, b, c, d)
            k3x, k3y = lotka_volterra(x + 0.5 * dt * k2x, y + 0.5 * dt * k2y, a, b, c, d)
            k4x, k4y = lotka_volterra(x + dt * k3x, y + dt * k3y, a, b, c, d)
            x = x + dt / 6.0 * (k1x + 2.0 * k2x + 2.0 * k3x + k4x)
            y = y + dt / 6.0 * (k1y + 2.0 * k2y + 2.0 * k3y + k4y)
        out[k] = x, y
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a quick run (CI)")
    parser.add_argument("--plot", default=str(default_path("ode_inverse")),
                        help="where to save the figure (PNG)")
    options = parser.parse_args(argv)
    count = 60 if options.small else 200  # observations
    times = DT * EVERY * np.arange(1, count + 1)
    rng = np.random.default_rng(2)
    clean = trajectory(TRUE, START, count, DT, EVERY)
    obs = clean + rng.normal(0.0, 0.5, clean.shape)
    print(f"Lotka-Volterra: {count} noisy observations of (prey, predators) up to "
          f"t = {times[-1]:g}, RK4 with dt = {DT} ({count * EVERY} steps)")

    error = check_grad(simulate_loss, GUESS, START, obs[:20], DT, EVERY)
    print(f"gradient check against central differences: relative error {error:.2e}")

    plain = value_and_grad(simulate_loss)
    checkpointed = value_and_grad(simulate_loss, checkpoint="sqrt")
    for label, g in (("tape every step", plain), ('checkpoint="sqrt"', checkpointed)):
        lowered = g.lower(GUESS, START, obs, DT, EVERY)
        print(f"{label:18} tape {lowered.tape().nbytes:8,} bytes; compiled in "
              f"{lowered.transform_time + lowered.compile_time:.1f} s")
    v1, g1 = plain(GUESS, START, obs, DT, EVERY)
    v2, g2 = checkpointed(GUESS, START, obs, DT, EVERY)
    assert v1 == v2 and np.allclose(g1, g2, rtol=1e-12, atol=0.0)  # the same derivative

    evaluations = [0]

    def objective(theta):
        evaluations[0] += 1
        return checkpointed(theta, START, obs, DT, EVERY)

    start = time.perf_counter()
    result = minimize(objective, GUESS, jac=True, method="L-BFGS-B",
                      bounds=[(1e-3, 10.0)] * 4)
    elapsed = time.perf_counter() - start
    print(f"L-BFGS-B: {result.nit} iterations, {evaluations[0]} loss+gradient evaluations, "
          f"{1e3 * elapsed:.0f} ms; loss {objective(GUESS)[0]:.2f} -> {result.fun:.2f}")
    print(f"{'':9}{'a':>8}{'b':>8}{'c':>8}{'d':>8}")
    for label, theta in (("true", TRUE), ("guess", GUESS), ("fitted", result.x)):
        print(f"{label:9}" + "".join(f"{v:8.4f}" for v in theta))
    worst = float(np.max(np.abs(result.x - TRUE) / TRUE))
    print(f"largest relative error of the fitted rates: {worst:.1%}")

    fitted = trajectory(result.x, START, count, DT, EVERY)
    guessed = trajectory(GUESS, START, count, DT, EVERY)

    def draw(plt):
        for j, (name, color) in enumerate((("prey", "tab:blue"), ("predators", "tab:red"))):
            plt.plot(times, obs[:, j], ".", color=color, alpha=0.5, label=f"{name}: data")
            plt.plot(times, fitted[:, j], "-", color=color, label=f"{name}: fit")
            plt.plot(times, guessed[:, j], ":", color=color, label=f"{name}: initial guess")
        plt.ylim(0.0, 1.4 * max(np.max(obs), np.max(guessed)))  # room for the legend
        plt.xlabel("t")
        plt.ylabel("population")
        plt.title("Lotka-Volterra rates fitted through an RK4 loop")
        plt.legend(fontsize=7, ncol=3, loc="upper center")

    save_plot(draw, options.plot, "data and fit")
    ok = result.success and error < 1e-7 and worst < 0.1
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
