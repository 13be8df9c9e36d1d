"""CUDA benchmark: a per-sample loss kernel and its adjoint kernel on a real GPU.

Run on a machine with an NVIDIA GPU (needs numba and numba-cuda, nothing from the network):

    python benchmarks/cuda_bench.py            # or: python -m benchmarks.cuda_bench

It does, in a few minutes (well under 10):
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
   same for the loop kernels of tests/cuda_fixtures.py (tapes in the thread's
   cuda.local.array, parameter adjoints summed per block), N threads each: a per-sample ODE
   (a constant loop), a per-element Newton iteration to a tolerance (a while loop), Monte-Carlo
   paths of 0..8 steps (range(steps[i])), both bounded by the fixtures' max_trip, a loss
   summed per block in shared memory (the tree the compiler recognises, one atomic per
   block), and a 2-D grid (16 x 16 blocks) whose while loop holds a constant loop.
3. Compares the GPU gradient with the CPU gradient of the same loss written as a loop over the
   samples (autodiff_compiler, Numba on the CPU), for random cotangents: the max relative
   difference max|gpu - cpu| / max|cpu| per array (must be <= 1e-9); likewise for each loop
   kernel, whose bounded tapes must also not have overflowed.

`--simulate` runs the same logic on Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1) with
N = 64, to check the script itself without a GPU (the times are then meaningless).

Exit status 1 means failing tests, a wrong gradient or a crash; a missed performance target
only prints MISS.
"""

from __future__ import annotations

import argparse
import inspect
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
sys.path.insert(0, str(ROOT / "tests"))  # the tests' kernels, as pytest imports them

import numpy as np
from cuda_fixtures import KERNELS, MAX_TRIP, block_loss_cpu  # and the loop kernels
from numba import cuda, float64

from autodiff_compiler import grad
from autodiff_compiler.kernels import grad_kernel
from examples.cuda_per_sample_loss import per_sample_loss  # the kernel timed here

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
              "tests/test_cuda_kernel_source.py", "tests/test_cuda_run_time_loops.py",
              "tests/test_cuda_block_sums.py"]


def run_tests(simulate: bool) -> tuple[bool, str]:
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1" if simulate else "0")
    cmd = [sys.executable, "-m", "pytest", *CUDA_TESTS, "-q", "-p", "no:cacheprovider",
           "-m", "numba or not numba"]
    print(f"$ NUMBA_ENABLE_CUDASIM={env['NUMBA_ENABLE_CUDASIM']} python {' '.join(cmd[1:])}",
          flush=True)
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, check=False, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=420)
    except subprocess.TimeoutExpired:
        return False, "timed out after 420 s"
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


def block_loss_256(x, p, total):
    """block_loss of tests/cuda_fixtures.py with a buffer for blocks of up to 256 threads."""
    buf = cuda.shared.array(256, float64)
    t = cuda.threadIdx.x
    i = cuda.grid(1)
    v = 0.0
    if i < x.shape[0]:
        v = (p[0] * math.sin(x[i]) - p[1]) ** 2
    buf[t] = v
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if t < s:
            buf[t] += buf[t + s]
        cuda.syncthreads()
        s //= 2
    if t == 0:
        cuda.atomic.add(total, 0, buf[0])


# (kernel, CPU sum, -, -, outputs, wrt, -) as in tests/cuda_fixtures.KERNELS
BENCH_KERNELS = dict(KERNELS, block_loss_256=(block_loss_256, block_loss_cpu, None, None,
                                              ("total",), ("x", "p"), None))

# the loop kernels of tests/cuda_fixtures.py at benchmark size: (title, arguments for n
# threads, block shape); their adjoints take the fixtures' wrt and max_trip
LOOP_PROBLEMS = {
    "ode_per_sample": ("per-sample ODE, 8 midpoint steps (constant loop)",
                       lambda r, n: [r.uniform(-1.0, 1.0, n), np.array([0.8, 0.5]), np.zeros(n)],
                       1),
    "newton_while": ("per-element Newton, while |residual| > 1e-12",
                     lambda r, n: [r.uniform(0.5, 3.0, n), np.array([1.5, 0.7]), np.zeros(n)],
                     1),
    "mc_steps": ("Monte-Carlo paths of 0..8 steps, range(steps[i])",
                 lambda r, n: [r.standard_normal((n, 8)), r.integers(0, 9, n),
                               np.array([0.02, 0.2]), np.zeros(n)],
                 1),
    "block_loss_256": ("block sum in shared memory (tree, one atomic per block)",
                       lambda r, n: [r.uniform(-1.5, 1.5, n), np.array([1.3, 0.2]), np.zeros(1)],
                       1),
    "relax_2d": ("2-D grid, while k < m (4) around range(2)",
                 lambda r, n: [r.uniform(-1, 1, (math.isqrt(n), math.isqrt(n))),
                               np.array([1.2, 0.3]), np.array([4]),
                               np.zeros((math.isqrt(n), math.isqrt(n)))],
                 2),
}


def loop_problem(name, args, measure) -> dict:
    """Times a loop kernel of tests/cuda_fixtures.py and its adjoint (parameters summed per
    block, tapes in the thread, bounded by the fixture's max_trip where the trip count is
    known at run time only); checks the gradient against the CPU one and that no thread ran
    past its tape."""
    title, make, ndim = LOOP_PROBLEMS[name]
    kernel, cpu, _, _, outputs, wrt, _ = BENCH_KERNELS[name]
    names = list(inspect.signature(kernel).parameters)
    host = make(np.random.default_rng(1), args.n)
    out_pos = [names.index(o) for o in outputs]
    inputs = [a for k, a in enumerate(host) if k not in out_pos]
    cots = [np.random.default_rng(2).uniform(0.5, 1.5, host[k].shape) for k in out_pos]
    device = [cuda.to_device(a) for a in host]
    d_cots = [cuda.to_device(c) for c in cots]
    shape = host[0].shape[:ndim]
    if ndim == 1:
        threads = args.threads
        blocks = (shape[0] + threads - 1) // threads
    else:
        threads = (16, 16)
        blocks = tuple((s + 15) // 16 for s in shape)
    primal = cuda.jit(kernel)[blocks, threads]
    adjoint = grad_kernel(kernel, wrt=wrt, max_trip=MAX_TRIP.get(name))
    compiled = adjoint.specialise(device)[1][blocks, threads]
    flag = [cuda.to_device(np.zeros(1, np.int64))] if name in MAX_TRIP else []

    def bars():
        return [cuda.to_device(np.zeros_like(host[names.index(w)])) for w in wrt]

    d_bars = bars()
    t_primal = measure(lambda: primal(*device))
    t_adjoint = measure(lambda: compiled(*device, *d_cots, *d_bars, *flag))
    d_bars = bars()
    compiled(*device, *d_cots, *d_bars, *flag)
    cuda.synchronize()
    in_names = [a for k, a in enumerate(names) if k not in out_pos]
    argnums = tuple(in_names.index(w) for w in wrt)
    expected = grad(cpu, argnums=argnums)(*inputs, *cots)
    error = max(max_rel(d.copy_to_host(), e) for d, e in zip(d_bars, expected))
    overflow = int(flag[0].copy_to_host()[0]) if flag else 0
    return {"title": title, "primal": t_primal, "adjoint": t_adjoint, "error": error,
            "overflow": overflow, "shape": shape, "wrt": wrt}


def print_loop_problem(name, result) -> None:
    ratio = result["adjoint"] / result["primal"]
    shape = " x ".join(f"{s:,}" for s in result["shape"])
    print(f"{name}: {result['title']}, {shape} threads (tapes in the thread, params summed "
          "per block)")
    print(f"{'primal kernel':34} {result['primal'] * 1e3:10.4f} {1.0:9.2f}")
    label = f"adjoint kernel wrt ({', '.join(result['wrt'])})"
    print(f"{label:34} {result['adjoint'] * 1e3:10.4f} {ratio:9.2f}   "
          f"target <= {TARGET_RATIO:g}x: {'ok' if ratio <= TARGET_RATIO else 'MISS'}")
    overflow = f", TAPE OVERFLOW at line {result['overflow']}" if result["overflow"] else ""
    print(f"max relative difference vs CPU: {result['error']:.2e}{overflow}")


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
    print(f"compiled (primal and three adjoints) in {time.perf_counter() - t0:.1f} s", flush=True)

    measure = timer(args.simulate, args.repeats, args.inner)
    t_primal = measure(lambda: primal(*kernel_args))
    t_adjoint = measure(lambda: adj(*kernel_args, d_loss_bar, d_x_bar, d_params_bar))
    t_adjoint_x = measure(lambda: adj_x(*kernel_args, d_loss_bar, d_x_bar))
    t_atomic = measure(lambda: adj_atomic(*kernel_args, d_loss_bar, d_x_bar, d_params_bar))
    loops = {name: loop_problem(name, args, measure) for name in LOOP_PROBLEMS}
    for name, result in loops.items():
        if result["error"] > GRAD_TOL or result["overflow"]:
            failures.append(f"{name} gradient")

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
    for name, result in loops.items():
        print_loop_problem(name, result)
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
