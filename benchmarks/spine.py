"""Spine benchmark: generated adjoints against Numba primals and hand-written Numba adjoints.

Run with `python -m benchmarks.spine` (`--quick` for fewer repeats, `--cache-dir DIR` to keep
the generated modules and Numba's cache in DIR instead of a fresh temporary directory).

Problem A  a 10^6-step scalar recurrence, gradient w.r.t. (a, b, x0): the adjoint needs a tape.
Problem B  power_sum over a 10^6-element array, gradient w.r.t. the array: branchy, no tape
           needed by a hand-written adjoint.
Transform  time of `compile(parse(fn), types, argnums, load=False)` (source to generated
           source, no disk, no Numba) for a ~50-line numeric function and for the two functions above.

Times are medians over repeated calls after warm-up, measured with time.perf_counter. Each
candidate is timed in blocks of consecutive calls (the steady state of calling it in a loop);
the candidates of one problem take turns block by block, in several rounds, so that drift in
machine load affects them alike.

Exit status 1 means a wrong gradient or a crash; a missed performance target only prints MISS.
"""

from __future__ import annotations

import argparse
import inspect
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

# --------------------------------------------------------------------------------------------
# Functions under test (plain Python: the compiler reads their source).
# --------------------------------------------------------------------------------------------


def recurrence(a, b, x0, n):
    x = x0
    for i in range(n):
        x = a * x + b * math.sin(x)
    return x


def power_sum(x, n):
    s = 0.0
    for i in range(n):
        if x[i] > 0:
            s += math.sin(x[i]) * x[i]
        else:
            s -= x[i] ** 2
    return s


def model_loss(w, xs, ys, lam, n, m):
    total = 0.0
    reg = 0.0
    for j in range(m):
        reg += w[j] ** 2
        if j > 0:
            d = w[j] - w[j - 1]
            reg += 0.5 * d * d
    width = 2.0 / (m - 1)
    for i in range(n):
        x = xs[i]
        pred = w[0]
        for j in range(1, m):
            c = -1.0 + width * j
            r = (x - c) / width
            phi = math.exp(-0.5 * r * r)
            if j % 2 == 0:
                pred += w[j] * phi * math.cos(3.0 * x)
            else:
                pred += w[j] * phi * math.sin(2.0 * x + 0.1 * j)
        pred = math.tanh(pred) + 0.1 * pred
        resid = pred - ys[i]
        a = abs(resid)
        if a < 1.0:
            loss = 0.5 * resid * resid
        elif a < 3.0:
            loss = a - 0.5
        else:
            loss = 2.5 + math.log(a - 2.0)
        weight = 1.0 / (1.0 + math.exp(-x))
        total += weight * loss
        excess = max(pred - 1.5, 0.0)
        total += lam * excess * excess
    smooth = 0.0
    for i in range(1, n):
        dx = xs[i] - xs[i - 1]
        if dx > 1e-12:
            mid = 0.5 * (xs[i] + xs[i - 1])
            slope = 0.0
            for j in range(m):
                c = -1.0 + width * j
                slope += w[j] * math.atan((mid - c) / width) / dx
            smooth += math.sqrt(1.0 + slope * slope) * dx
        else:
            smooth += math.hypot(w[0], w[m - 1]) * 1e-6
    scale = 0.0
    for j in range(m):
        scale = max(scale, abs(w[j]))
    scale = min(scale, 10.0)
    return total / n + lam * reg + 1e-3 * math.log1p(smooth) + 1e-4 * scale ** 2


# --------------------------------------------------------------------------------------------
# Hand-written adjoints, as an expert would write them for Numba.
# --------------------------------------------------------------------------------------------


def recurrence_adjoint(a, b, x0, n):
    """Tape only x (one float per step); recompute sin and cos in the reverse sweep.

    (Also taping sin(x), or a + b cos(x), was measured slower: the reverse sweep is bound by
    memory traffic and the dependency chain, not by the transcendental calls.)"""
    xs = np.empty(n, dtype=np.float64)
    x = x0
    for i in range(n):
        xs[i] = x
        x = a * x + b * math.sin(x)
    x_bar = 1.0
    a_bar = 0.0
    b_bar = 0.0
    for i in range(n - 1, -1, -1):
        xi = xs[i]
        a_bar += x_bar * xi
        b_bar += x_bar * math.sin(xi)
        x_bar = x_bar * (a + b * math.cos(xi))
    return x, a_bar, b_bar, x_bar


def power_sum_adjoint(x, n):
    """Each term depends on its own x[i] only: value and gradient in one pass, no tape."""
    g = np.empty_like(x)
    s = 0.0
    for i in range(n):
        xi = x[i]
        if xi > 0:
            si = math.sin(xi)
            s += si * xi
            g[i] = si + xi * math.cos(xi)
        else:
            s -= xi ** 2
            g[i] = -2.0 * xi
    return s, g


def power_sum_adjoint_two_sweeps(x, n):
    """Diagnostic variant (not the reference): the structure of a generic reverse mode, a
    forward sweep for the value and a reverse sweep that recomputes sin/cos, but no tape,
    no zero-filled gradient and one store per element."""
    s = 0.0
    for i in range(n):
        xi = x[i]
        if xi > 0:
            s += math.sin(xi) * xi
        else:
            s -= xi ** 2
    g = np.empty_like(x)
    for i in range(n - 1, -1, -1):
        xi = x[i]
        if xi > 0:
            g[i] = math.sin(xi) + xi * math.cos(xi)
        else:
            g[i] = -2.0 * xi
    return s, g


# --------------------------------------------------------------------------------------------
# Measurement helpers.
# --------------------------------------------------------------------------------------------

PRIMAL_TARGET = 3.0      # ours <= 3x the Numba primal
HAND_TARGET = 1.3        # ours <= 1.3x the hand-written Numba adjoint
TRANSFORM_TARGET_MS = 50.0
GRAD_RTOL = 1e-10


def _minor_faults() -> int:
    try:
        import resource
    except ImportError:  # not on Unix: fault counts are reported as 0
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def blocked_medians(calls: dict, repeats: int, warmup: int, rounds: int) -> dict:
    """{name: (median s, min s, minor page faults per call)}.

    The candidates take turns in `rounds` rounds; in each round a candidate makes `warmup`
    untimed calls and then repeats/rounds timed calls in a row. Consecutive calls measure the
    steady state of calling one gradient in a loop (allocator state included: a function that
    makes the C allocator return its tapes to the OS pays page faults on every call), and the
    turns spread drift in machine load over all candidates alike."""
    rounds = max(1, min(rounds, repeats))
    per_round = [repeats // rounds + (k < repeats % rounds) for k in range(rounds)]
    samples = {name: [] for name in calls}
    faults = dict.fromkeys(calls, 0)
    for count in per_round:
        for name, fn in calls.items():
            for _ in range(warmup):
                fn()
            before = _minor_faults()
            for _ in range(count):
                t0 = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - t0)
            faults[name] += _minor_faults() - before
    return {name: (statistics.median(s), min(s), faults[name] / len(s))
            for name, s in samples.items()}


def median_time(fn, repeats: int, warmup: int = 1) -> float:
    return blocked_medians({"f": fn}, repeats, warmup, rounds=1)["f"][0]


def flat(values) -> np.ndarray:
    if isinstance(values, tuple):
        return np.concatenate([np.ravel(np.asarray(v, dtype=np.float64)) for v in values])
    return np.ravel(np.asarray(values, dtype=np.float64))


def compare(ours, hand) -> tuple[float, float]:
    """(max |ours - hand|, that divided by max |hand|)."""
    a, b = flat(ours), flat(hand)
    diff = float(np.max(np.abs(a - b)))
    return diff, diff / max(float(np.max(np.abs(b))), 1e-300)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISS"


def machine_info() -> list[str]:
    import llvmlite
    import numba

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    return [
        f"platform : {platform.platform()}",
        f"cpu      : {cpu}; os.cpu_count()={os.cpu_count()}, usable={affinity}",
        f"python   : {platform.python_version()} ({platform.python_implementation()})",
        (f"numpy    : {np.__version__}   numba: {numba.__version__}   "
         f"llvmlite: {llvmlite.__version__}"),
    ]


# --------------------------------------------------------------------------------------------
# The benchmark.
# --------------------------------------------------------------------------------------------


def run_problem(label, fn, args, argnums, hand, repeats, warmup, rounds,
                variants=None) -> dict:
    """Time the Numba primal, our value_and_grad and the hand-written adjoint on args.

    `variants` ({name: plain function}) are further hand-written adjoints, timed alongside
    as diagnostics only."""
    import numba

    from autodiff_compiler import value_and_grad

    row = {"label": label, "error": None}
    primal = numba.njit(fn)
    hand_jit = numba.njit(hand)

    t0 = time.perf_counter()
    primal_value = primal(*args)
    row["primal_compile"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    hand_out = hand_jit(*args)
    row["hand_compile"] = time.perf_counter() - t0
    hand_value, hand_grad = hand_out[0], hand_out[1:]
    if isinstance(argnums, int):
        hand_grad = hand_grad[0]

    try:
        ours = value_and_grad(fn, argnums=argnums, jit=True)
        t0 = time.perf_counter()
        our_value, our_grad = ours(*args)       # transform + write module + Numba compile
        row["ours_compile"] = time.perf_counter() - t0
        row["source_chars"] = len(ours.source)
    except Exception as exc:  # noqa: BLE001  (report any crash and go on to the next problem)
        row["error"] = f"{type(exc).__name__}: {exc}"
        return row

    row["diff"], row["rel"] = compare(our_grad, hand_grad)
    row["value_diff"] = abs(our_value - primal_value) + abs(hand_value - primal_value)
    row["grad_ok"] = row["rel"] <= GRAD_RTOL and row["value_diff"] <= GRAD_RTOL * max(
        1.0, abs(primal_value))

    calls = {
        "primal": lambda: primal(*args),
        "ours": lambda: ours(*args),
        "hand": lambda: hand_jit(*args),
    }
    row["variants"] = list(variants or {})
    for name, variant in (variants or {}).items():
        variant_jit = numba.njit(variant)
        _, rel = compare(variant_jit(*args)[1:], hand_out[1:])
        row[f"{name}_rel"] = rel
        calls[name] = lambda variant_jit=variant_jit: variant_jit(*args)
    times = blocked_medians(calls, repeats, warmup, rounds)
    for name, (med, best, faults) in times.items():
        row[name], row[f"{name}_min"], row[f"{name}_faults"] = med, best, faults
    row["vs_primal"] = row["ours"] / row["primal"]
    row["vs_hand"] = row["ours"] / row["hand"]
    return row


def run_transforms(repeats) -> list[dict]:
    from autodiff_compiler.ir.types import F64, I64, Type
    from autodiff_compiler.pipeline import compile, parse

    array = Type("float", 1)
    cases = [
        ("model_loss", model_loss, [array, array, array, F64, I64, I64], [0, 3]),
        ("recurrence", recurrence, [F64, F64, F64, I64], [0, 1, 2]),
        ("power_sum", power_sum, [array, I64], [0]),
    ]
    rows = []
    for name, fn, types, argnums in cases:
        row = {"name": name, "lines": len(inspect.getsource(fn).splitlines()), "error": None}
        try:
            artifact = compile(parse(fn), types, argnums, load=False)

            def run_once(fn=fn, types=types, argnums=argnums):
                return compile(parse(fn), types, argnums, load=False)

            row["ms"] = 1e3 * median_time(run_once, repeats)
            row["parse_ms"] = 1e3 * median_time(lambda fn=fn: parse(fn), repeats)
            row["chars"] = len(artifact.source)
            row["src_lines"] = len(artifact.source.splitlines())
        except Exception as exc:  # noqa: BLE001  (report any crash, time the other functions)
            row["error"] = f"{type(exc).__name__}: {exc}"
        rows.append(row)
    return rows


def check_model_loss() -> list[str]:
    """The 50-line function's gradient against central differences (interpreted, small n),
    and the Numba-compiled gradient against the interpreted one."""
    from autodiff_compiler import check_grad, value_and_grad

    rng = np.random.default_rng(0)
    n, m = 40, 8
    xs = np.sort(rng.uniform(-1.0, 1.0, n))
    ys = np.sin(3.0 * xs) + rng.normal(0.0, 1.5, n)   # residuals land in all three branches
    w = rng.normal(0.0, 1.0, m)
    args = (w, xs, ys, 0.3, n, m)
    argnums = (0, 1, 2, 3)
    lines = []
    try:
        error = check_grad(model_loss, *args, argnums=argnums)
        lines.append(f"model_loss grad vs central differences (argnums 0-3, n={n}, m={m}, "
                     f"interpreted): relative error {error:.2e} [{verdict(error < 1e-7)}]")
    except Exception as exc:  # noqa: BLE001  (a crash is a result to report)
        lines.append(f"model_loss gradient check crashed [MISS]: {type(exc).__name__}: {exc}")
    try:
        t0 = time.perf_counter()
        jitted = value_and_grad(model_loss, argnums=argnums, jit=True)(*args)
        seconds = time.perf_counter() - t0
        plain = value_and_grad(model_loss, argnums=argnums, jit=False)(*args)
        _, rel = compare((jitted[0], *jitted[1]), (plain[0], *plain[1]))
        lines.append(f"model_loss Numba-compiled vs interpreted value and grad: rel diff "
                     f"{rel:.1e} [{verdict(rel <= GRAD_RTOL)}] (first call {seconds:.2f} s)")
    except Exception as exc:  # noqa: BLE001  (a crash is a result to report)
        lines.append(f"model_loss with jit=True crashed [MISS]: {type(exc).__name__}: {exc}")
    return lines


def run_all(opts, cache_dir, repeats, warmup, rounds) -> int:
    """Print the whole report; returns the number of wrong gradients and crashes."""

    print_header("spine", opts, cache_dir, repeats, warmup, rounds)

    n = opts.n
    x = np.linspace(-1.0, 1.0, n)
    problems = [
        run_problem(f"A recurrence n={n:.0e} d/d(a,b,x0)", recurrence, (0.9, 0.1, 0.5, n),
                    (0, 1, 2), recurrence_adjoint, repeats, warmup, rounds),
        run_problem(f"B power_sum  n={n:.0e} d/dx", power_sum, (x, n), 0,
                    power_sum_adjoint, repeats, warmup, rounds,
                    variants={"hand, two sweeps": power_sum_adjoint_two_sweeps}),
    ]

    failures = 0
    head = (f"{'problem':34} {'primal':>9} {'ours':>9} {'hand':>9} {'ours/primal':>12} "
            f"{'ours/hand':>10} {'max|diff|':>10} {'rel diff':>9}")
    print(head)
    print(f"{'':34} {'ms':>9} {'ms':>9} {'ms':>9} {'(<= 3.0x)':>12} {'(<= 1.3x)':>10}")
    print("-" * len(head))
    for row in problems:
        if row["error"]:
            failures += 1
            print(f"{row['label']:34} ours FAILED: {row['error']}")
            continue
        failures += not row["grad_ok"]
        print(f"{row['label']:34} {1e3 * row['primal']:9.2f} {1e3 * row['ours']:9.2f} "
              f"{1e3 * row['hand']:9.2f} "
              f"{row['vs_primal']:7.2f}x {verdict(row['vs_primal'] <= PRIMAL_TARGET):>3} "
              f"{row['vs_hand']:5.2f}x {verdict(row['vs_hand'] <= HAND_TARGET):>3} "
              f"{row['diff']:10.2e} {row['rel']:9.1e}"
              f"{'' if row['grad_ok'] else '  GRADIENT MISMATCH'}")
    print()
    for row in problems:
        if row["error"]:
            continue
        print(f"  {' '.join(row['label'].split()[:2])}: min ms primal "
              f"{1e3 * row['primal_min']:.2f} / ours {1e3 * row['ours_min']:.2f} / hand "
              f"{1e3 * row['hand_min']:.2f}; minor page faults per call "
              f"{row['primal_faults']:.0f} / {row['ours_faults']:.0f} / "
              f"{row['hand_faults']:.0f}")
        print(f"    first call of ours (transform + write + Numba compile) "
              f"{row['ours_compile']:.2f} s; generated source {row['source_chars']} chars; "
              f"|value - Numba primal value| {row['value_diff']:.1e}")
        for name in row["variants"]:
            print(f"    diagnostic variant '{name}': {1e3 * row[name]:.2f} ms (ours / it "
                  f"{row['ours'] / row[name]:.2f}x; rel diff to hand {row[name + '_rel']:.1e})")
    print()

    transforms = run_transforms(repeats)
    head = (f"{'compile(parse(fn), ...)':26} {'fn lines':>8} {'median ms':>10} "
            f"{'parse ms':>9} {'target':>10} {'source chars':>13} {'source lines':>13}")
    print(head)
    print("-" * len(head))
    for row in transforms:
        if row["error"]:
            failures += 1
            print(f"{row['name']:26} {row['lines']:8} FAILED: {row['error']}")
            continue
        target = (f"<={TRANSFORM_TARGET_MS:.0f} {verdict(row['ms'] <= TRANSFORM_TARGET_MS)}"
                  if row["name"] == "model_loss" else "")
        print(f"{row['name']:26} {row['lines']:8} {row['ms']:10.2f} {row['parse_ms']:9.2f} "
              f"{target:>10} {row['chars']:13} {row['src_lines']:13}")
    print()
    for line in check_model_loss():
        failures += "[ok]" not in line
        print(line)
    return failures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.spine", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (about 5)")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per candidate")
    parser.add_argument("--n", type=int, default=10**6, help="problem size (default 10^6)")
    parser.add_argument("--cache-dir", default=None,
                        help="directory for generated modules (default: a fresh temp dir)")
    opts = parser.parse_args(argv)
    repeats = opts.repeats or (5 if opts.quick else 20)
    warmup = 1
    rounds = 1 if opts.quick else 4
    return run_in_cache(opts, "autodiff_spine_", run_all, repeats, warmup, rounds)


def print_header(name: str, opts, cache_dir, repeats: int, warmup: int, rounds: int) -> None:
    """The machine, the versions and the timing method, above a benchmark's tables."""
    import autodiff_compiler

    print(f"autodiff_compiler {name} benchmark")
    for line in machine_info():
        print("  " + line)
    print(f"  autodiff : {autodiff_compiler.__version__}; cache dir {cache_dir}"
          f"{'' if opts.cache_dir else ' (fresh, removed at exit: first calls compile cold)'}")
    print(f"  timing   : median of {repeats} calls per candidate (perf_counter), taken in "
          f"{rounds} round(s) of consecutive calls, {warmup} warm-up call per round")
    print()


def run_in_cache(opts, prefix: str, run_all, repeats: int, warmup: int, rounds: int) -> int:
    """Run a benchmark's run_all with generated modules in opts.cache_dir (or a fresh
    temporary directory, removed afterwards); exit status 1 when it reports failures."""
    import autodiff_compiler

    started = time.perf_counter()
    cache_dir = opts.cache_dir or tempfile.mkdtemp(prefix=prefix)
    autodiff_compiler.set_cache_dir(cache_dir)
    try:
        failures = run_all(opts, cache_dir, repeats, warmup, rounds)
    finally:
        if not opts.cache_dir:
            shutil.rmtree(cache_dir, ignore_errors=True)
    print(f"\ntotal benchmark time {time.perf_counter() - started:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
