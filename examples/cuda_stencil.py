"""One explicit heat-equation step on the GPU and its adjoint kernel.

    u_new[i] = u[i] + r * (u[i-1] - 2 u[i] + u[i+1]) - k * u[i]^3     (periodic grid)

is one thread per grid point; coef = [r, k] is passed as a 2-element array so that its
gradient can be accumulated too. Every point is read by three threads, so the adjoint kernel
adds into u_bar and coef_bar with cuda.atomic.add. The gradient of J = sum(w * u_new) for
random weights w is compared with the CPU gradient of the same step written as a loop over
the grid points (autodiff_compiler on the CPU) and with a closed-form adjoint in NumPy.

Run it with a GPU:             python examples/cuda_stencil.py
Without a GPU (CPU simulator): NUMBA_ENABLE_CUDASIM=1 python examples/cuda_stencil.py
(The simulator runs each thread in Python, so it uses 256 points instead of 2^20;
`--n N` sets the size either way.)
"""

import argparse
import math
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from numba import cuda

from autodiff_compiler import grad
from autodiff_compiler.kernels import grad_kernel

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"


def heat_step(u, coef, u_new):
    i = cuda.grid(1)
    n = u.shape[0]
    if i < n:
        left = u[(i + n - 1) % n]
        right = u[(i + 1) % n]
        u_new[i] = u[i] + coef[0] * (left - 2.0 * u[i] + right) - coef[1] * u[i] ** 3


def weighted_step_cpu(u, coef, w):
    """J = sum_i w[i] * u_new[i], one grid point per iteration (the CPU reference)."""
    n = u.shape[0]
    s = 0.0
    for i in range(n):
        left = u[(i + n - 1) % n]
        right = u[(i + 1) % n]
        s += w[i] * (u[i] + coef[0] * (left - 2.0 * u[i] + right) - coef[1] * u[i] ** 3)
    return s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256 if SIMULATOR else 1 << 20)
    n = parser.parse_args().n
    if not SIMULATOR and not cuda.is_available():
        print("no CUDA GPU found: run with NUMBA_ENABLE_CUDASIM=1 to use Numba's simulator")
        return 2

    rng = np.random.default_rng(1)
    grid = np.linspace(0.0, 2.0 * math.pi, n, endpoint=False)
    u = np.sin(grid) + 0.3 * np.cos(5.0 * grid) + 0.05 * rng.standard_normal(n)
    coef = np.array([0.2, 0.05])  # r = dt / dx^2 (stable below 0.5), cubic damping k
    w = rng.standard_normal(n)

    threads = 128
    blocks = (n + threads - 1) // threads
    d_u, d_coef, d_w = cuda.to_device(u), cuda.to_device(coef), cuda.to_device(w)
    d_u_new = cuda.device_array(n)
    d_u_bar, d_coef_bar = cuda.to_device(np.zeros(n)), cuda.to_device(np.zeros(2))

    adjoint = grad_kernel(heat_step, wrt=("u", "coef"))
    print(adjoint.source(d_u, d_coef, d_u_new))
    adjoint[blocks, threads](d_u, d_coef, d_u_new, d_w, d_u_bar, d_coef_bar)
    cuda.synchronize()
    u_bar, coef_bar = d_u_bar.copy_to_host(), d_coef_bar.copy_to_host()

    cpu_u_bar, cpu_coef_bar = grad(weighted_step_cpu, argnums=(0, 1))(u, coef, w)
    # closed form: u_bar[j] = w[j] (1 - 2r - 3k u[j]^2) + r (w[j-1] + w[j+1])
    r, k = coef
    closed = w * (1.0 - 2.0 * r - 3.0 * k * u * u) + r * (np.roll(w, 1) + np.roll(w, -1))

    def rel(a, b):
        return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))

    print(f"{'simulator' if SIMULATOR else 'GPU'}: heat step on {n} points")
    print(f"{'':10} {'GPU adjoint kernel':>26} {'CPU gradient':>26}")
    for name, a, b in (("d/dr", coef_bar[0], cpu_coef_bar[0]),
                       ("d/dk", coef_bar[1], cpu_coef_bar[1]),
                       ("d/du[0]", u_bar[0], cpu_u_bar[0]),
                       (f"d/du[{n // 2}]", u_bar[n // 2], cpu_u_bar[n // 2])):
        print(f"{name:10} {a:26.16e} {b:26.16e}")
    errors = {"u vs CPU": rel(u_bar, cpu_u_bar), "coef vs CPU": rel(coef_bar, cpu_coef_bar),
              "u vs closed form": rel(u_bar, closed)}
    print("max relative difference: " + ", ".join(f"{k} {v:.2e}" for k, v in errors.items()))
    ok = max(errors.values()) < 1e-9
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
