"""ADBench benchmark: GMM, bundle adjustment and LSTM objectives against their derivatives.

Run with `python -m benchmarks.adbench` (`--quick` for fewer repeats, `--cache-dir DIR` to keep
the generated modules and Numba's cache). The inputs are ADBench's (microsoft/ADBench, MIT
licence), read from ../shared/data/adbench relative to the repository root (or $ADBENCH_DATA);
without that directory the benchmark prints SKIP and exits 0.

GMM   gmm/1k/gmm_d10_K25 (N = 1000, D = 10, K = 25): the objective (Numba njit of the plain
      loop-level function, examples/adbench/gmm.py) against our value_and_grad w.r.t.
      (alphas, means, icf), 25 (1 + 10 + 55) = 1650 entries. Target: gradient <= 3x objective.
BA    ba/ba1 (49 cameras, 7776 points, 31843 observations): the objective (all reprojection
      and weight residuals, Numba) against the sparse Jacobian (a 2 x 15 block per
      observation, one entry per weight error), computed as two seeded adjoint sweeps of the
      batched residual (grad of ba_block_vjp with cotangent e_0 / e_1 on every observation:
      observations are independent once their camera and point rows are gathered) plus the
      gradient of the weight errors. The COO pattern depends only on the observation list
      and is built once, as is the storage of the values and of the gathered rows (ADBench
      prepares its outputs once too); the timed Jacobian call includes the gather, the sweeps
      and filling the values. Target: Jacobian <= 10x objective.
LSTM  lstm/lstm_l2_c1024 (2 layers, 1024 characters, b = 14): the loss (Numba) against our
      value_and_grad w.r.t. (main_params, extra_params), 8lb + 3b = 266 entries.
      Target: gradient <= 3.5x objective.

Before timing, each derivative is checked: the value against an independent vectorised NumPy
implementation (relative 1e-12), and a few random entries (BA: whole blocks of a few
observations) against fourth-order central differences of the Numba primal (relative 1e-6
per entry, entries below 1e-4 of the largest compared at that scale).

`--keep-freed-memory` (diagnostic) raises glibc's mmap/trim thresholds first, so the tapes that
every derivative call allocates reuse pages instead of faulting in fresh ones; the difference
to a plain run is the page-fault cost of those allocations.

Times are medians over repeated calls after warm-up (benchmarks.spine.blocked_medians: blocks
of consecutive calls, candidates taking turns in rounds). Exit status 1 means a wrong
derivative or a crash; a missed performance target only prints MISS.
"""

from __future__ import annotations

import argparse
import inspect
import shutil
import sys
import tempfile
import time
import types

import numpy as np

from benchmarks.spine import blocked_medians, machine_info, verdict
from examples.adbench import central_difference, data_dir, entry_errors, random_indices

GMM_FILE = "gmm/1k/gmm_d10_K25.txt"
BA_FILE = "ba/ba1_n49_m7776_p31843.txt"
LSTM_FILE = "lstm/lstm_l2_c1024.txt"
TARGETS = {"GMM": 3.0, "BA": 10.0, "LSTM": 3.5}
VALUE_RTOL = 1e-12
ENTRY_RTOL = 1e-6
FLOOR = 1e-4          # entries below FLOOR * max|gradient| are compared at that scale


def njit_tree(fn, _memo=None):
    """numba.njit of fn and, recursively, of the plain Python helper functions it calls (Numba
    cannot call interpreted functions): each is recompiled with its helpers rebound to their
    njit versions in a copy of its globals; fn itself is left untouched."""
    import numba

    memo = {} if _memo is None else _memo
    if fn in memo:
        return memo[fn]
    namespace = dict(fn.__globals__)
    copy = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__,
                              fn.__closure__)
    jitted = numba.njit(copy)
    memo[fn] = jitted
    for name in fn.__code__.co_names:
        obj = fn.__globals__.get(name)
        if inspect.isfunction(obj):
            namespace[name] = njit_tree(obj, memo)
    return jitted


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def check_entries(grads, objective, args, argnums, count, rng, step=1e-4):
    """Worst per-entry relative error of `count` random entries of each gradient."""
    worst, checked = 0.0, 0
    scale = max(float(np.max(np.abs(g))) for g in grads)
    for g, k in zip(grads, argnums):
        idx = random_indices(g.shape, count, rng)
        ours = np.array([g[i] for i in idx])
        numeric = np.array([central_difference(objective, args, k, i, step) for i in idx])
        worst = max(worst, float(np.max(entry_errors(ours, numeric, FLOOR * scale))))
        checked += len(idx)
    return worst, checked


# --------------------------------------------------------------------------------------------
# The three problems. Each returns a row: label, calls to time, checks, compile times.
# --------------------------------------------------------------------------------------------


def gmm_problem(root, quick, rng) -> dict:
    from autodiff_compiler import value_and_grad
    from examples.adbench.gmm import gmm_args, gmm_objective, gmm_objective_numpy
    from examples.adbench.io import read_gmm

    inp = read_gmm(root / GMM_FILE)
    d, k, n = inp.shape
    args = gmm_args(inp)
    row = {"label": f"GMM d={d} K={k} N={n}", "what": "gradient",
           "size": f"{k * (1 + d + d * (d + 1) // 2)} entries"}
    primal = njit_tree(gmm_objective)
    t0 = time.perf_counter()
    value = primal(*args)
    row["primal_compile"] = time.perf_counter() - t0
    ours = value_and_grad(gmm_objective, argnums=(0, 1, 2), jit=True)
    t0 = time.perf_counter()
    our_value, grads = ours(*args)
    row["ours_compile"] = time.perf_counter() - t0
    reference = gmm_objective_numpy(inp.alphas, inp.means, inp.icf, inp.x, inp.gamma, inp.m)
    row["value_rel"] = max(rel(our_value, reference), rel(value, reference))
    row["entry_err"], row["entries"] = check_entries(grads, primal, args, (0, 1, 2),
                                                     3 if quick else 8, rng)
    row["calls"] = {"objective": lambda: primal(*args), "ours": lambda: ours(*args)}
    return row


def ba_problem(root, quick, rng) -> dict:
    from examples.adbench.ba import (
        BAJacobian,
        ba_objective,
        ba_residuals_numpy,
        block_numerical,
        blocks_by_vjp,
    )
    from examples.adbench.io import read_ba

    inp = read_ba(root / BA_FILE)
    n, m, p = inp.cams.shape[0], inp.points.shape[0], inp.weights.shape[0]
    row = {"label": f"BA n={n} m={m} p={p}", "what": "Jacobian",
           "size": f"{30 * p + p} nonzeros"}
    reproj, w_err = np.zeros((p, 2)), np.zeros(p)
    args = (inp.cams, inp.points, inp.weights, inp.features, inp.obs, reproj, w_err)
    primal = njit_tree(ba_objective)
    t0 = time.perf_counter()
    primal(*args)
    row["primal_compile"] = time.perf_counter() - t0
    jacobian = BAJacobian(inp, jit=True)
    t0 = time.perf_counter()
    vals = jacobian()
    row["ours_compile"] = time.perf_counter() - t0
    ref_reproj, ref_w = ba_residuals_numpy(inp.cams, inp.points, inp.weights, inp.features,
                                           inp.obs)
    row["value_rel"] = max(float(np.max(np.abs(reproj - ref_reproj))) / float(np.max(np.abs(
        ref_reproj))), float(np.max(np.abs(w_err - ref_w))))
    blocks = vals[:30 * p].reshape(p, 2, 15)
    worst, count = 0.0, 0
    for j in random_indices((p,), 2 if quick else 6, rng):
        numeric = block_numerical(inp, j[0])
        scale = float(np.max(np.abs(numeric)))
        worst = max(worst, float(np.max(entry_errors(blocks[j[0]], numeric, FLOOR * scale))))
        count += numeric.size
    worst = max(worst, float(np.max(np.abs(vals[30 * p:] + 2.0 * inp.weights))))
    row["entry_err"], row["entries"] = worst, count
    # the same blocks by autodiff_compiler.vjp (two pullbacks of ba_residuals_gathered)
    by_vjp = blocks_by_vjp(inp, jit=True)          # compiles
    t0 = time.perf_counter()
    by_vjp = blocks_by_vjp(inp, jit=True)
    row["vjp_seconds"] = time.perf_counter() - t0
    row["vjp_rel"] = float(np.max(np.abs(by_vjp - blocks))) / float(np.max(np.abs(blocks)))
    buffer = np.empty_like(vals)      # ADBench prepares the output storage once, too
    row["calls"] = {"objective": lambda: primal(*args), "ours": lambda: jacobian(out=buffer)}
    row["pattern"] = (jacobian.rows, jacobian.cols, jacobian.shape)
    return row


def lstm_problem(root, quick, rng) -> dict:
    from autodiff_compiler import value_and_grad
    from examples.adbench.io import read_lstm
    from examples.adbench.lstm import lstm_objective, lstm_objective_numpy

    inp = read_lstm(root / LSTM_FILE)
    layers, c, b = inp.shape
    args = (inp.main_params, inp.extra_params, inp.state, inp.sequence)
    row = {"label": f"LSTM l={layers} c={c} b={b}", "what": "gradient",
           "size": f"{8 * layers * b + 3 * b} entries"}
    jitted = njit_tree(lstm_objective)

    def primal(main, extra, state, sequence):
        return jitted(main, extra, state.copy(), sequence)   # the objective updates state

    t0 = time.perf_counter()
    value = primal(*args)
    row["primal_compile"] = time.perf_counter() - t0
    ours = value_and_grad(lstm_objective, argnums=(0, 1), jit=True)
    t0 = time.perf_counter()
    our_value, grads = ours(*args)
    row["ours_compile"] = time.perf_counter() - t0
    reference = lstm_objective_numpy(*args)
    row["value_rel"] = max(rel(our_value, reference), rel(value, reference))
    row["entry_err"], row["entries"] = check_entries(grads, primal, args, (0, 1),
                                                     3 if quick else 8, rng, step=1e-3)
    row["calls"] = {"objective": lambda: primal(*args), "ours": lambda: ours(*args)}
    return row


# --------------------------------------------------------------------------------------------


def run_all(root, repeats, warmup, rounds, quick) -> int:
    import autodiff_compiler

    print("autodiff_compiler ADBench benchmark")
    for line in machine_info():
        print("  " + line)
    print(f"  autodiff : {autodiff_compiler.__version__}; data {root}")
    print(f"  timing   : median of {repeats} calls per candidate (perf_counter), taken in "
          f"{rounds} round(s) of consecutive calls, {warmup} warm-up call per round")
    print()
    rng = np.random.default_rng(2024)
    rows, failures = [], 0
    for maker in (gmm_problem, ba_problem, lstm_problem):
        try:
            row = maker(root, quick, rng)
        except Exception as exc:  # noqa: BLE001  (report a crash, go on to the next problem)
            failures += 1
            print(f"{maker.__name__}: FAILED: {type(exc).__name__}: {exc}")
            continue
        times = blocked_medians(row.pop("calls"), repeats, warmup, rounds)
        row["objective"], row["objective_min"], _ = times["objective"]
        row["ours"], row["ours_min"], _ = times["ours"]
        row["ratio"] = row["ours"] / row["objective"]
        row["ratio_min"] = row["ours_min"] / row["objective_min"]
        row["correct"] = row["value_rel"] <= VALUE_RTOL and row["entry_err"] <= ENTRY_RTOL
        if "vjp_rel" in row:
            row["correct"] = row["correct"] and row["vjp_rel"] <= 1e-12
        failures += not row["correct"]
        rows.append(row)

    head = (f"{'problem':24} {'derivative':26} {'objective':>9} {'derivative':>10} "
            f"{'ratio':>7} {'target':>7} {'':4} {'ratio':>6} {'value rel':>9} {'entry rel':>9}")
    print(head)
    print(f"{'':24} {'':26} {'ms':>9} {'ms':>10} {'':7} {'':7} {'':4} {'of min':>6}")
    print("-" * len(head))
    for row in rows:
        name = row["label"].split()[0]
        target = TARGETS[name]
        print(f"{row['label']:24} {row['what'] + ', ' + row['size']:26} "
              f"{1e3 * row['objective']:9.3f} {1e3 * row['ours']:10.3f} "
              f"{row['ratio']:6.2f}x {'<=' + format(target, 'g') + 'x':>7} "
              f"{verdict(row['ratio'] <= target):4} {row['ratio_min']:5.2f}x "
              f"{row['value_rel']:9.1e} "
              f"{row['entry_err']:9.1e}{'' if row['correct'] else '  WRONG DERIVATIVE'}")
    print("  (ratio: of the medians, the verdict; ratio of min: of the fastest calls, less "
          "affected by other load on the machine)")
    print()
    for row in rows:
        print(f"  {row['label']}: min ms objective {1e3 * row['objective_min']:.3f} / "
              f"{row['what']} {1e3 * row['ours_min']:.3f}; first calls (compile) objective "
              f"{row['primal_compile']:.2f} s, {row['what']} {row['ours_compile']:.2f} s; "
              f"{row['entries']} entries checked against central differences")
        if "vjp_rel" in row:
            rows_, _, shape = row["pattern"]
            print(f"    Jacobian {shape[0]} x {shape[1]}, {rows_.size} nonzeros; the same "
                  f"blocks by vjp(ba_residuals_gathered) + 2 pullbacks: rel diff "
                  f"{row['vjp_rel']:.1e}, {1e3 * row['vjp_seconds']:.1f} ms (one call, "
                  "after compiling; vjp also returns the residuals)")
    return failures


def keep_freed_memory() -> str:
    """Raise glibc's mmap and trim thresholds: large blocks (tapes, gradients) then come from
    the heap and stay there when freed, so repeated calls reuse pages instead of faulting in
    fresh ones. Applies to every candidate alike."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        ok = libc.mallopt(m_mmap_threshold, 32 * 1024 * 1024) == 1
        ok = libc.mallopt(m_trim_threshold, 2 ** 30) == 1 and ok
    except (OSError, AttributeError) as exc:
        return f"unavailable ({exc})"
    return "on" if ok else "mallopt refused"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.adbench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and checks")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per candidate")
    parser.add_argument("--keep-freed-memory", action="store_true",
                        help="diagnostic: glibc mallopt so that freed memory stays in the "
                             "process (no fresh pages for the tapes of every call)")
    parser.add_argument("--cache-dir", default=None,
                        help="directory for generated modules (default: a fresh temp dir)")
    opts = parser.parse_args(argv)
    repeats = opts.repeats or (10 if opts.quick else 40)
    warmup = 1
    rounds = 2 if opts.quick else 4
    started = time.perf_counter()
    if opts.keep_freed_memory:
        print(f"keep freed memory (mallopt): {keep_freed_memory()}")
    root = data_dir()
    if not root.is_dir():
        print(f"SKIP: ADBench data directory {root} not found (set ADBENCH_DATA)")
        return 0

    import autodiff_compiler

    cache_dir = opts.cache_dir or tempfile.mkdtemp(prefix="autodiff_adbench_")
    autodiff_compiler.set_cache_dir(cache_dir)
    try:
        failures = run_all(root, repeats, warmup, rounds, opts.quick)
    finally:
        if not opts.cache_dir:
            shutil.rmtree(cache_dir, ignore_errors=True)
    print(f"\ntotal benchmark time {time.perf_counter() - started:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
