"""CUDA benchmark: a per-sample loss kernel and its adjoint kernel on a real GPU.

Run on a machine with an NVIDIA GPU (needs numba and numba-cuda, nothing from the network):

    python benchmarks/cuda_bench.py            # or: python -m benchmarks.cuda_bench

It does, in about a minute or two (well under 5):
1. `pytest tests/test_cuda_*.py` on the hardware (NUMBA_ENABLE_CUDASIM=0): device-function
   gradients, adjoint and tangent kernels against the CPU, refusals; `--skip-tests` skips it.
2. Times, for N = 10^7 samples (`--n`), the kernel
       loss[i] = 0.5 * (p2 * tanh(p0 * x[i] + p1) + p3 * x[i] - y[i])^2
   and its adjoint from `grad_kernel(per_sample_loss, wrt=("x", "params"))`, which adds the
   thread's own x_bar[i] plainly. Times
   are medians of `--repeats` (20) samples after warm-up; each sample is CUDA events around
   `--inner` (10) back-to-back launches, divided by that count (launch overhead hidden).
   Target: adjoint <= 3x primal. The shared params_bar entries are summed over each block
   first (one atomic per block); for reference, the adjoint w.r.t. x alone (no atomics) and
   the adjoint with one same-address atomic per thread (`block_sums=False`) too. Then the
   same for a per-sample ODE kernel (eight midpoint steps in a counted loop whose tape is the
   thread's cuda.local.array), adjoint w.r.t. (y0, p).
3. Compares the GPU gradient with the CPU gradient of the same loss written as a loop over the
   samples (autodiff_compiler, Numba on the CPU), for random cotangents: the max relative
   difference max|gpu - cpu| / max|cpu| per array (must be <= 1e-9).

`--simulate` runs the same logic on Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1) with
N = 64, to check the script itself without a GPU (the times are then meaningless).

Exit status 1 means failing tests, a wrong gradient or a crash; a missed performance target
only prints MISS.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 3.0
GRAD_TOL = 1e-9


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="CUDA adjoint-kernel benchmark")
    parser.add_argument("--simulate", action="store_true",
                        help="run on Numba's CUDA simulator with N = 64 (no GPU needed)")
    parser.add_argument("--n", type=int, default=None, help="samples (default 10^7)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--inner", type=int, default=10)
    parser.add_argument("--threads", type=int, default=256)
    parser.add_argument("--skip-tests", action="store_true")
    args = parser.parse_args(argv)
    if args.n is None:
        args.n = 64 if args.simulate else 10_000_000
    if args.simulate:
        args.repeats, args.inner = min(args.repeats, 3), 1
    return args


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:  # numba picks the simulator or the GPU when first imported: set it before
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1" if ARGS.simulate else "0"
sys.path.insert(0, str(ROOT))

import numpy as np
from numba import cuda

from autodiff_compiler import grad
from autodiff_compiler.kernels import grad_kernel
from examples.cuda_per_sample_loss import per_sample_loss  # the kernel timed here
from tests.cuda_fixtures import ode_per_sample, ode_per_sample_cpu  # and the loop kernel

# --------------------------------------------------------------------------------------------
# The kernel (plain Python: the compiler reads its source) and its CPU equivalent.
# --------------------------------------------------------------------------------------------


def weighted_loss_cpu(x, y, params, loss_bar):
    s = 0.0
    for i in range(x.shape[0]):
        pred = params[2] * math.tanh(params[0] * x[i] + params[1]) + params[3] * x[i]
        r = pred - y[i]
        s += loss_bar[i] * (0.5 * r * r)
    return s


# --------------------------------------------------------------------------------------------


CUDA_TESTS = ["tests/test_cuda_device_functions.py", "tests/test_cuda_kernels.py",
              "tests/test_cuda_kernel_source.py"]


def run_tests(simulate: bool) -> tuple[bool, str]:
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1" if simulate else "0")
    cmd = [sys.executable, "-m", "pytest", *CUDA_TESTS, "-q", "-p", "no:cacheprovider",
           "-m", "numba or not numba"]
    print(f"$ NUMBA_ENABLE_CUDASIM={env['NUMBA_ENABLE_CUDASIM']} python {' '.join(cmd[1:])}",
          flush=True)
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, check=False, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=240)
    except subprocess.TimeoutExpired:
        return False, "timed out after 240 s"
    lines = [ln for ln in done.stdout.splitlines() if ln.strip()]
    if done.returncode != 0:
        print(done.stdout[-6000:], done.stderr[-2000:], sep="\n")
    summary = lines[-1] if lines else done.stderr.strip()[-200:]
    return done.returncode == 0, f"{summary.strip('= ')} ({time.perf_counter() - start:.0f} s)"


def timer(simulate: bool, repeats: int, inner: int):
    """median seconds per launch of `launch()`, after a warm-up launch."""

    def measure(launch) -> float:
        launch()
        cuda.synchronize()
        samples = []
        for _ in range(repeats):
            if simulate:  # the simulator's events do not measure anything
                t0 = time.perf_counter()
                for _ in range(inner):
                    launch()
                cuda.synchronize()
                samples.append((time.perf_counter() - t0) / inner)
                continue
            start, end = cuda.event(), cuda.event()
            start.record()
            for _ in range(inner):
                launch()
            end.record()
            end.synchronize()
            samples.append(cuda.event_elapsed_time(start, end) / 1e3 / inner)
        return statistics.median(samples)

    return measure


def max_rel(a, b) -> float:
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-300))


def ode_problem(args, blocks, threads, measure) -> dict:
    """Times the per-sample ODE kernel and its adjoint; checks the gradient on the CPU."""
    n = args.n
    rng = np.random.default_rng(1)
    y0, p = rng.uniform(-1.0, 1.0, n), np.array([0.8, 0.5])
    out_bar = rng.uniform(0.5, 1.5, n)
    d_y0, d_p, d_out = cuda.to_device(y0), cuda.to_device(p), cuda.device_array(n)
    d_out_bar = cuda.to_device(out_bar)
    d_y0_bar, d_p_bar = cuda.to_device(np.zeros(n)), cuda.to_device(np.zeros(2))
    primal = cuda.jit(ode_per_sample)[blocks, threads]
    adjoint = grad_kernel(ode_per_sample, wrt=("y0", "p"))
    adj = adjoint.specialise((d_y0, d_p, d_out))[1][blocks, threads]
    t_primal = measure(lambda: primal(d_y0, d_p, d_out))
    t_adjoint = measure(lambda: adj(d_y0, d_p, d_out, d_out_bar, d_y0_bar, d_p_bar))
    d_y0_bar, d_p_bar = cuda.to_device(np.zeros(n)), cuda.to_device(np.zeros(2))
    adj(d_y0, d_p, d_out, d_out_bar, d_y0_bar, d_p_bar)
    cuda.synchronize()
    cpu_y0_bar, cpu_p_bar = grad(ode_per_sample_cpu, argnums=(0, 1))(y0, p, out_bar)
    error = max(max_rel(d_y0_bar.copy_to_host(), cpu_y0_bar),
                max_rel(d_p_bar.copy_to_host(), cpu_p_bar))
    return {"primal": t_primal, "adjoint": t_adjoint, "error": error}


def main(args) -> int:
    failures = []
    if not args.simulate and not cuda.is_available():
        print("no CUDA GPU available: run with --simulate to check the script on the CPU")
        return 2
    device = "CUDA simulator" if args.simulate else cuda.get_current_device().name
    device = device.decode() if isinstance(device, bytes) else device
    print(f"device: {device}; N = {args.n}")

    tests = "skipped"
    if not args.skip_tests:
        ok, tests = run_tests(args.simulate)
        if not ok:
            failures.append("tests")
        print(f"tests: {tests}", flush=True)

    n, threads = args.n, args.threads
    blocks = (n + threads - 1) // threads
    rng = np.random.default_rng(0)
    x = rng.uniform(-2.0, 2.0, n)
    y = 0.8 * np.tanh(1.5 * x - 0.3) + 0.1 * x + 0.05 * rng.standard_normal(n)
    params = np.array([1.2, -0.1, 0.7, 0.05])
    loss_bar = rng.uniform(0.5, 1.5, n)
    d_x, d_y, d_params = cuda.to_device(x), cuda.to_device(y), cuda.to_device(params)
    d_loss, d_loss_bar = cuda.device_array(n), cuda.to_device(loss_bar)
    d_x_bar, d_params_bar = cuda.to_device(np.zeros(n)), cuda.to_device(np.zeros(4))
    kernel_args = (d_x, d_y, d_params, d_loss)

    t0 = time.perf_counter()
    primal = cuda.jit(per_sample_loss)[blocks, threads]
    adjoint = grad_kernel(per_sample_loss, wrt=("x", "params"))
    adjoint_x = grad_kernel(per_sample_loss, wrt=("x",))
    adjoint_atomic = grad_kernel(per_sample_loss, wrt=("x", "params"), block_sums=False)
    # the compiled kernels themselves (no Python work of the launcher in the timings)
    adj = adjoint.specialise(kernel_args)[1][blocks, threads]
    adj_x = adjoint_x.specialise(kernel_args)[1][blocks, threads]
    adj_atomic = adjoint_atomic.specialise(kernel_args)[1][blocks, threads]
    primal(*kernel_args)
    adj(*kernel_args, d_loss_bar, d_x_bar, d_params_bar)
    adj_x(*kernel_args, d_loss_bar, d_x_bar)
    adj_atomic(*kernel_args, d_loss_bar, d_x_bar, d_params_bar)
    cuda.synchronize()
    print(f"compiled (primal and two adjoints) in {time.perf_counter() - t0:.1f} s", flush=True)

    measure = timer(args.simulate, args.repeats, args.inner)
    t_primal = measure(lambda: primal(*kernel_args))
    t_adjoint = measure(lambda: adj(*kernel_args, d_loss_bar, d_x_bar, d_params_bar))
    t_adjoint_x = measure(lambda: adj_x(*kernel_args, d_loss_bar, d_x_bar))
    t_atomic = measure(lambda: adj_atomic(*kernel_args, d_loss_bar, d_x_bar, d_params_bar))
    ode = ode_problem(args, blocks, threads, measure)
    if ode["error"] > GRAD_TOL:
        failures.append("ODE gradient")

    # the gradient, from zeroed adjoint arrays, launched through the public launcher
    d_x_bar, d_params_bar = cuda.to_device(np.zeros(n)), cuda.to_device(np.zeros(4))
    adjoint[blocks, threads](*kernel_args, d_loss_bar, d_x_bar, d_params_bar)
    cuda.synchronize()
    x_bar, params_bar = d_x_bar.copy_to_host(), d_params_bar.copy_to_host()
    t0 = time.perf_counter()
    cpu_x_bar, cpu_params_bar = grad(weighted_loss_cpu, argnums=(0, 2))(x, y, params, loss_bar)
    t_cpu = time.perf_counter() - t0
    err_x, err_params = max_rel(x_bar, cpu_x_bar), max_rel(params_bar, cpu_params_bar)
    if not (err_x <= GRAD_TOL and err_params <= GRAD_TOL):
        failures.append("gradient")

    ratio = t_adjoint / t_primal
    unit = 1e3
    print()
    print(f"per-sample loss, N = {n:,}, {blocks} blocks x {threads} threads "
          f"({device}{', times meaningless' if args.simulate else ''})")
    print(f"{'':34} {'ms':>10} {'x primal':>9}")
    print(f"{'primal kernel':34} {t_primal * unit:10.4f} {1.0:9.2f}")
    print(f"{'adjoint kernel wrt (x, params)':34} {t_adjoint * unit:10.4f} {ratio:9.2f}   "
          f"target <= {TARGET_RATIO:g}x: {'ok' if ratio <= TARGET_RATIO else 'MISS'}")
    print(f"{'adjoint kernel wrt x (no atomics)':34} {t_adjoint_x * unit:10.4f} "
          f"{t_adjoint_x / t_primal:9.2f}")
    print(f"{'same, params: one atomic per thread':34} {t_atomic * unit:10.4f} "
          f"{t_atomic / t_primal:9.2f}")
    print("per-sample ODE, 8 midpoint steps (tape in the thread), params summed per block")
    ode_ratio = ode["adjoint"] / ode["primal"]
    print(f"{'primal kernel':34} {ode['primal'] * unit:10.4f} {1.0:9.2f}")
    print(f"{'adjoint kernel wrt (y0, p)':34} {ode['adjoint'] * unit:10.4f} {ode_ratio:9.2f}   "
          f"target <= {TARGET_RATIO:g}x: {'ok' if ode_ratio <= TARGET_RATIO else 'MISS'}")
    print(f"max relative difference vs CPU: {ode['error']:.2e}")
    print(f"{'CPU gradient (Numba, incl. compile)':34} {t_cpu * unit:10.1f}")
    print(f"max relative difference vs CPU: params {err_params:.2e}, x {err_x:.2e}   "
          f"(<= {GRAD_TOL:g}: {'ok' if 'gradient' not in failures else 'FAIL'})")
    print(f"params gradient: GPU {np.array2string(params_bar, precision=10)}")
    print(f"                 CPU {np.array2string(cpu_params_bar, precision=10)}")
    print(f"tests/test_cuda_*.py: {tests}")
    if failures:
        print("FAILED: " + ", ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(ARGS))
