"""Per-sample loss on the GPU, differentiated with an adjoint kernel.

A tiny model pred = p2 * tanh(p0 * x + p1) + p3 * x is fitted to samples (x[i], y[i]); one
thread computes the loss of one sample. `grad_kernel` turns the kernel into its adjoint: each
thread adds its own sample's derivative into x_bar[i] (a plain add: nobody else touches that
element) and its share of the parameters' gradient into params_bar with cuda.atomic.add (all
threads share the parameters). The result is checked against the CPU gradient of the same
loss written as a loop over the samples, computed by autodiff_compiler too.

Run it with a GPU:             python examples/cuda_per_sample_loss.py
Without a GPU (CPU simulator): NUMBA_ENABLE_CUDASIM=1 python examples/cuda_per_sample_loss.py
(The simulator runs each thread in Python, so it uses N = 256 samples instead of 10^6;
`--n N` sets N either way.)
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


def per_sample_loss(x, y, params, loss):
    i = cuda.grid(1)
    if i < x.shape[0]:
        pred = params[2] * math.tanh(params[0] * x[i] + params[1]) + params[3] * x[i]
        r = pred - y[i]
        loss[i] = 0.5 * r * r


def total_loss_cpu(x, y, params):
    """The same loss summed over the samples, for the CPU gradient."""
    s = 0.0
    for i in range(x.shape[0]):
        pred = params[2] * math.tanh(params[0] * x[i] + params[1]) + params[3] * x[i]
        r = pred - y[i]
        s += 0.5 * r * r
    return s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256 if SIMULATOR else 1_000_000)
    n = parser.parse_args().n
    if not SIMULATOR and not cuda.is_available():
        print("no CUDA GPU found: run with NUMBA_ENABLE_CUDASIM=1 to use Numba's simulator")
        return 2

    rng = np.random.default_rng(0)
    x = rng.uniform(-2.0, 2.0, n)
    y = 0.8 * np.tanh(1.5 * x - 0.3) + 0.1 * x + 0.05 * rng.standard_normal(n)
    params = np.array([1.0, 0.0, 0.5, 0.0])

    threads = 128
    blocks = (n + threads - 1) // threads
    d_x, d_y, d_params = cuda.to_device(x), cuda.to_device(y), cuda.to_device(params)
    d_loss = cuda.device_array(n)
    d_loss_bar = cuda.to_device(np.ones(n))  # d(sum of losses) / d(loss[i]) = 1
    d_x_bar = cuda.to_device(np.zeros(n))  # the adjoint kernel adds into these: zero them
    d_params_bar = cuda.to_device(np.zeros(4))

    adjoint = grad_kernel(per_sample_loss, wrt=("x", "params"))
    print(adjoint.source(d_x, d_y, d_params, d_loss))
    adjoint[blocks, threads](d_x, d_y, d_params, d_loss, d_loss_bar, d_x_bar, d_params_bar)
    cuda.synchronize()
    loss, x_bar, params_bar = (d_loss.copy_to_host(), d_x_bar.copy_to_host(),
                               d_params_bar.copy_to_host())

    cpu_x_bar, cpu_params_bar = grad(total_loss_cpu, argnums=(0, 2))(x, y, params)
    total = total_loss_cpu(x, y, params) if n <= 10_000 else float(np.sum(loss))

    def rel(a, b):
        return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))

    print(f"{'simulator' if SIMULATOR else 'GPU'}: N = {n} samples, total loss "
          f"{float(np.sum(loss)):.6f} (CPU {total:.6f})")
    print(f"{'':12} {'GPU adjoint kernel':>28} {'CPU gradient':>28}")
    for k in range(4):
        print(f"params[{k}]   {params_bar[k]:28.16e} {cpu_params_bar[k]:28.16e}")
    err_params, err_x = rel(params_bar, cpu_params_bar), rel(x_bar, cpu_x_bar)
    print(f"max relative difference: params {err_params:.2e}, x {err_x:.2e}")
    ok = err_params < 1e-9 and err_x < 1e-12
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
