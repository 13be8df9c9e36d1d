"""Control-flow benchmark: while loops with break, helpers writing arrays, long recurrences.

Run with `python -m benchmarks.control` (`--quick` for fewer repeats, same sizes; `--cache-dir
DIR` to keep the generated modules and Numba's cache in DIR instead of a fresh temporary
directory).

Newton   sum over 10^5 right-hand sides a[i] of the root of x^3 + p x = a[i], each found by
         Newton's method in a while loop with a tolerance break; gradient w.r.t. (a, p).
         Target: ours <= 4x the Numba primal.
Lorenz96 RK4 integration of Lorenz-96 (N = 40, F = 8, dt = 0.01, 5000 steps) written with a
         helper `lorenz96_rhs(y, F, dy)` that writes dy and scratch arrays k1..k4, tmp;
         loss = sum of squares of the final state; gradient w.r.t. (y0, F). Target <= 3x.
GARCH    GARCH(1,1) negative log-likelihood of 10^5 synthetic returns (fixed seed); gradient
         w.r.t. (omega, alpha, beta). Target <= 3x, and <= 1.1x a hand-written Numba adjoint
         (garch_nll_adjoint, timed alongside).

For each problem, side by side in one run: the Numba primal (`numba.njit` of the same plain
function, helpers njit-ed too), our `value_and_grad(..., jit=True)` (compiled before timing),
their ratio, and:

* tape MB: the peak of the live bytes of the tape arrays (`tape_*` in the generated source,
  growth copies included) during one call of the generated source at the benchmark size, run
  by CPython (what `jit=False` runs: a fresh import of the generated module file) with the
  module's `np` replaced by a stand-in that counts the bytes of the arrays its allocation
  functions return and subtracts them when the arrays are freed. (tracemalloc sees the same
  NumPy allocations, but makes the interpreted loops 30-100x slower.) The same run gives the
  final tape capacity, the number of tape reallocations and the peak of all arrays allocated
  through `np.*` (tapes, adjoint arrays, scratch); the Numba-compiled code executes the same
  allocations.
* max rel diff: the largest of max|ours - ref| / max|ref| over the checks of the problem:
  the compiled gradient against the same source run by CPython (benchmark size), against
  central differences of the Numba primal (`numerical_grad`, step 1e-4: GARCH at the benchmark
  size, Newton at n = 300, Lorenz-96 at 50 steps: the system is chaotic, its gradient grows
  like exp(1.7 t), ~1e37 after 5000 steps, and finite differences stop being accurate beyond a
  few hundred steps), and for Newton against the implicit-function gradient
  dx/da = 1/(3x^2 + p), dx/dp = -x/(3x^2 + p) at the benchmark size.

Times are medians over repeated calls after warm-up (time.perf_counter), in blocks of
consecutive calls, primal and gradient taking turns block by block (see benchmarks.spine).

Exit status 1 means a wrong gradient or a crash; a missed performance target only prints MISS.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import math
import sys
import time
import types
import weakref

import numpy as np

from benchmarks.spine import (
    blocked_medians,
    compare,
    flat,
    print_header,
    run_in_cache,
    verdict,
)

# --------------------------------------------------------------------------------------------
# Functions under test (plain Python: the compiler reads their source).
# --------------------------------------------------------------------------------------------


def newton_cubic_sum(a, p, n, tol, max_iter):
    total = 0.0
    for i in range(n):
        ai = a[i]
        x = ai / (1.0 + p)
        it = 0
        while it < max_iter:
            f = x * x * x + p * x - ai
            df = 3.0 * x * x + p
            dx = f / df
            x = x - dx
            it += 1
            if abs(dx) < tol:
                break
        total += x
    return total


def lorenz96_rhs(y, F, dy):
    n = y.shape[0]
    for i in range(n):
        dy[i] = (y[(i + 1) % n] - y[i - 2]) * y[i - 1] - y[i] + F


def rk4_lorenz96(y0, F, dt, nsteps):
    n = y0.shape[0]
    y = y0.copy()
    k1 = np.empty(n)
    k2 = np.empty(n)
    k3 = np.empty(n)
    k4 = np.empty(n)
    tmp = np.empty(n)
    for step in range(nsteps):
        lorenz96_rhs(y, F, k1)
        for i in range(n):
            tmp[i] = y[i] + 0.5 * dt * k1[i]
        lorenz96_rhs(tmp, F, k2)
        for i in range(n):
            tmp[i] = y[i] + 0.5 * dt * k2[i]
        lorenz96_rhs(tmp, F, k3)
        for i in range(n):
            tmp[i] = y[i] + dt * k3[i]
        lorenz96_rhs(tmp, F, k4)
        for i in range(n):
            y[i] += dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])
    loss = 0.0
    for i in range(n):
        loss += y[i] * y[i]
    return loss


def garch_nll(r, omega, alpha, beta, T):
    var0 = 0.0
    for t in range(T):
        var0 += r[t] * r[t]
    sigma2 = var0 / T
    nll = 0.0
    for t in range(T):
        nll += 0.5 * (math.log(2.0 * math.pi) + math.log(sigma2) + r[t] * r[t] / sigma2)
        sigma2 = omega + alpha * r[t] * r[t] + beta * sigma2
    return nll


def garch_nll_adjoint(r, omega, alpha, beta, T):
    """GARCH's value and d/d(omega, alpha, beta) written by hand for Numba: tape sigma2 (one
    float per step), one division per step in each sweep."""
    var0 = 0.0
    for t in range(T):
        var0 += r[t] * r[t]
    sigma2 = var0 / T
    sigma2s = np.empty(T)
    log_2pi = math.log(2.0 * math.pi)
    nll = 0.0
    for t in range(T):
        sigma2s[t] = sigma2
        r2 = r[t] * r[t]
        nll += 0.5 * (log_2pi + math.log(sigma2) + r2 / sigma2)
        sigma2 = omega + alpha * r2 + beta * sigma2
    sigma2_bar = 0.0
    omega_bar = 0.0
    alpha_bar = 0.0
    beta_bar = 0.0
    for t in range(T - 1, -1, -1):
        s = sigma2s[t]
        r2 = r[t] * r[t]
        omega_bar += sigma2_bar
        alpha_bar += sigma2_bar * r2
        beta_bar += sigma2_bar * s
        inv = 1.0 / s
        sigma2_bar = sigma2_bar * beta + 0.5 * inv * (1.0 - r2 * inv)
    return nll, omega_bar, alpha_bar, beta_bar


# --------------------------------------------------------------------------------------------
# Problem data and references.
# --------------------------------------------------------------------------------------------

TARGETS = {"newton": 4.0, "lorenz": 3.0, "lorenz_sqrt": 3.0, "garch": 3.0}
HAND_WRITTEN = {"garch": garch_nll_adjoint}    # timed alongside: ours <= 1.1x hand-written
HAND_TARGET = 1.1
INTERP_RTOL = 1e-10      # compiled vs the same generated source run by CPython
FD_RTOL = 1e-6           # vs fourth-order central differences
IMPLICIT_RTOL = 1e-9     # Newton vs the implicit-function gradient


def newton_data(n):
    a = np.random.default_rng(1).uniform(-10.0, 10.0, n)
    return (a, 1.5, n, 1e-12, 50)


def newton_implicit_grad(a, p, n, tol, max_iter):
    """d/da and d/dp of sum_i x_i(a_i, p) with x^3 + p x = a, from the implicit function
    theorem at roots found by vectorised Newton iterations (no code shared with the above)."""
    x = a / (1.0 + p)
    for _ in range(100):
        x = x - (x ** 3 + p * x - a) / (3.0 * x ** 2 + p)
    assert float(np.max(np.abs(x ** 3 + p * x - a))) < 1e-9
    dfdx = 3.0 * x ** 2 + p
    return 1.0 / dfdx, float(np.sum(-x / dfdx))


def lorenz_data(nsteps):
    y0 = 8.0 + np.random.default_rng(2).normal(0.0, 1.0, 40)
    return (y0, 8.0, 0.01, nsteps)


def garch_returns(T, omega=0.05, alpha=0.1, beta=0.85, seed=3):
    """Returns simulated from a GARCH(1,1) with Gaussian innovations."""
    z = np.random.default_rng(seed).standard_normal(T)
    r = np.empty(T)
    s2 = omega / (1.0 - alpha - beta)
    for t in range(T):
        r[t] = math.sqrt(s2) * z[t]
        s2 = omega + alpha * r[t] * r[t] + beta * s2
    return r


def garch_data(T):
    return (garch_returns(T), 0.06, 0.12, 0.8, T)


def njit_with_helpers(fn, *helpers):
    """numba.njit of fn, its plain-Python helpers njit-ed too (Numba cannot call them plain)."""
    import numba

    if not helpers:
        return numba.njit(fn)
    namespace = dict(fn.__globals__)
    namespace.update({h.__name__: numba.njit(h) for h in helpers})
    copy = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__,
                              fn.__closure__)
    return numba.njit(copy)


# --------------------------------------------------------------------------------------------
# Memory: the generated source run by CPython with a counting stand-in for `np`.
# --------------------------------------------------------------------------------------------

_ALLOCATORS = frozenset({"empty", "zeros", "ones", "full", "empty_like", "zeros_like",
                         "ones_like", "full_like", "concatenate", "copy", "array"})


class CountingNumpy:
    """Forwards every attribute to NumPy; the allocation functions' results are counted (bytes
    live now, peak) until they are freed, as tape (allocated on a line assigning a `tape_*`
    name) or other."""

    def __init__(self, tape_lines):
        self._tape_lines = tape_lines       # {line: (tape name, outermost function called)}
        self.live = {"tape": 0, "other": 0}
        self.peak_tape = 0
        self.peak_total = 0
        self.tape_growths = 0
        self.capacity = {}                  # {tape name: bytes of its latest array}

    def _add(self, kind, nbytes):
        self.live[kind] += nbytes
        self.peak_tape = max(self.peak_tape, self.live["tape"])
        self.peak_total = max(self.peak_total, self.live["tape"] + self.live["other"])

    def __getattr__(self, name):
        attr = getattr(np, name)
        if name not in _ALLOCATORS:
            return attr

        def counted(*args, **kwargs):
            out = attr(*args, **kwargs)
            tape = self._tape_lines.get(sys._getframe(1).f_lineno)
            kind = "other" if tape is None else "tape"
            if tape is not None and tape[1] == name:     # the array the tape name is bound to
                self.capacity[tape[0]] = out.nbytes
                self.tape_growths += name == "concatenate"
            if isinstance(out, np.ndarray) and out.base is None:
                self._add(kind, out.nbytes)
                weakref.finalize(out, self._add, kind, -out.nbytes)
            return out

        return counted


class CountingRuntime:
    """autodiff_compiler.runtime with rt.grow (a tape growing) counted as tape memory."""

    def __init__(self, counter: CountingNumpy):
        from autodiff_compiler import runtime

        self._runtime = runtime
        self._counter = counter

    def __getattr__(self, name):
        return getattr(self._runtime, name)

    def grow(self, tape, needed):
        size = max(2 * tape.shape[0], needed)
        out = np.empty((size,) + tape.shape[1:], dtype=tape.dtype)
        out[:tape.shape[0]] = tape
        self._counter.tape_growths += 1
        self._counter._add("tape", out.nbytes)
        weakref.finalize(out, self._counter._add, "tape", -out.nbytes)
        return out


def counted_run(artifact, entry: str, args) -> tuple[object, CountingNumpy]:
    """Run the generated module file of `artifact` by CPython on args (a fresh import of it,
    whose `np` is a CountingNumpy); (its result, the allocation counts)."""
    from autodiff_compiler.budget import default_budget

    tree = ast.parse(artifact.source)
    def allocation(value):  # `np.empty(...)`, or `last if it fits else np.empty(...)`
        return value.orelse if isinstance(value, ast.IfExp) else value

    tape_lines = {node.lineno: (node.targets[0].id,
                                getattr(allocation(node.value).func, "attr", None))
                  for node in ast.walk(tree)
                  if isinstance(node, ast.Assign) and len(node.targets) == 1
                  and isinstance(node.targets[0], ast.Name)
                  and node.targets[0].id.startswith(("tape_", "checkpoint_"))
                  and isinstance(allocation(node.value), ast.Call)}
    defs = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
    spec = importlib.util.spec_from_file_location("_control_counted", artifact.path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    counter = CountingNumpy(tape_lines)
    module.np = counter
    module.rt = CountingRuntime(counter)
    args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    dtypes = {"float": np.float64, "int": np.int64, "bool": np.bool_}
    tapes = [np.empty((0,) * t.ndim, dtype=dtypes[t.kind]) for t in artifact.adjoint.tape_kinds]
    budget = [default_budget()] if artifact.adjoint.budgeted else []  # the tape budget, last
    result = getattr(module, entry if entry in defs else defs[-1])(*args, *tapes, *budget)
    return result[:len(result) - len(tapes)], counter   # the tapes it hands back are dropped


# --------------------------------------------------------------------------------------------
# The benchmark.
# --------------------------------------------------------------------------------------------


def run_problem(key, label, fn, helpers, args, argnums, fd_args, implicit, repeats, warmup,
                rounds, checkpoint=None) -> dict:
    from autodiff_compiler import numerical_grad, value_and_grad

    row = {"key": key, "label": label, "error": None, "checks": []}
    primal = njit_with_helpers(fn, *helpers)
    t0 = time.perf_counter()
    primal_value = primal(*args)
    row["primal_compile"] = time.perf_counter() - t0
    try:
        ours = value_and_grad(fn, argnums=argnums, jit=True, checkpoint=checkpoint)
        t0 = time.perf_counter()
        our_value, our_grad = ours(*args)       # transform + write module + Numba compile
        row["ours_compile"] = time.perf_counter() - t0
        artifact = ours.lower(*args).artifact
        source = artifact.source
    except Exception as exc:  # noqa: BLE001  (report any crash and go on to the next problem)
        row["error"] = f"{type(exc).__name__}: {exc}"
        return row
    row["source_lines"] = len(source.splitlines())
    row["grad_max"] = float(np.max(np.abs(flat(our_grad))))
    row["value_diff"] = abs(our_value - primal_value) / max(1.0, abs(primal_value))
    row["checks"].append(("value vs Numba primal", row["value_diff"], INTERP_RTOL))

    def check(name, ours_part, ref, tol):
        row["checks"].append((name, compare(ours_part, ref)[1], tol))

    # The same generated source run by CPython, counting its array allocations.
    t0 = time.perf_counter()
    (interp_value, *interp_grad), counter = counted_run(artifact, f"{fn.__name__}_grad", args)
    row["interp_s"] = time.perf_counter() - t0
    row["tape_mb"] = counter.peak_tape / 1e6
    row["arrays_mb"] = counter.peak_total / 1e6
    row["tape_growths"] = counter.tape_growths
    row["tape_final_mb"] = sum(counter.capacity.values()) / 1e6
    row["tapes"] = len(counter.capacity)
    check("compiled vs CPython-run source", (our_value, *our_grad),
          (interp_value, *interp_grad), INTERP_RTOL)
    del interp_grad

    if implicit is not None:
        check("vs implicit-function gradient", our_grad, implicit(*args), IMPLICIT_RTOL)
    small = ours if fd_args is args else value_and_grad(fn, argnums=argnums, jit=True,
                                                         checkpoint=checkpoint)
    _, small_grad = small(*fd_args)
    check(f"vs central differences{'' if fd_args is args else ' (reduced size)'}",
          small_grad, numerical_grad(primal, *fd_args, argnums=argnums), FD_RTOL)
    row["rel"] = max(rel for _, rel, _ in row["checks"])
    row["grad_ok"] = all(rel <= tol for _, rel, tol in row["checks"])

    calls = {"primal": lambda: primal(*args), "ours": lambda: ours(*args)}
    hand = HAND_WRITTEN.get(key)
    if hand is not None:
        hand_jit = njit_with_helpers(hand)
        hand_value, *hand_grad = hand_jit(*args)
        check("vs hand-written adjoint", (our_value, *our_grad), (hand_value, *hand_grad),
              INTERP_RTOL)
        calls["hand"] = lambda: hand_jit(*args)
    times = blocked_medians(calls, repeats, warmup, rounds)
    for name, (med, best, faults) in times.items():
        row[name], row[f"{name}_min"], row[f"{name}_faults"] = med, best, faults
    row["ratio"] = row["ours"] / row["primal"]
    row["target"] = TARGETS[key]
    row["vs_hand"] = row["ours"] / row["hand"] if hand is not None else None
    return row


def run_all(opts, cache_dir, repeats, warmup, rounds) -> int:
    """Print the whole report; returns the number of wrong gradients and crashes."""

    print_header("control-flow", opts, cache_dir, repeats, warmup, rounds)

    n, nsteps, T = 10**5, 5000, 10**5
    newton_args = newton_data(n)
    lorenz_args = lorenz_data(nsteps)
    garch_args = garch_data(T)
    problems = [
        ("newton", f"Newton cubic n={n:.0e} d/d(a,p)", newton_cubic_sum, (), newton_args,
         (0, 1), newton_data(300), newton_implicit_grad),
        ("lorenz", f"RK4 Lorenz-96 {nsteps} steps d/d(y0,F)", rk4_lorenz96, (lorenz96_rhs,),
         lorenz_args, (0, 1), lorenz_data(50), None),
        ("lorenz_sqrt", "  same, checkpoint='sqrt'", rk4_lorenz96,
         (lorenz96_rhs,), lorenz_args, (0, 1), lorenz_data(50), None),
        ("garch", f"GARCH(1,1) T={T:.0e} d/d(w,a,b)", garch_nll, (), garch_args, (1, 2, 3),
         garch_args, None),
    ]
    rows = [run_problem(key, label, fn, helpers, args, argnums, fd_args, implicit, repeats,
                        warmup, rounds, "sqrt" if key.endswith("_sqrt") else None)
            for key, label, fn, helpers, args, argnums, fd_args, implicit in problems]

    failures = 0
    head = (f"{'problem':36} {'primal':>8} {'grad':>8} {'ratio':>7} {'target':>7} "
            f"{'':>4} {'tape':>7} {'max rel':>8}")
    print(head)
    print(f"{'':36} {'ms':>8} {'ms':>8} {'':>7} {'':>7} {'':>4} {'MB':>7} {'diff':>8}")
    print("-" * len(head))
    for row in rows:
        if row["error"]:
            failures += 1
            print(f"{row['label']:36} ours FAILED: {row['error']}")
            continue
        failures += not row["grad_ok"]
        print(f"{row['label']:36} {1e3 * row['primal']:8.2f} {1e3 * row['ours']:8.2f} "
              f"{row['ratio']:6.2f}x {'<=' + format(row['target'], '.0f') + 'x':>7} "
              f"{verdict(row['ratio'] <= row['target']):>4} {row['tape_mb']:7.2f} "
              f"{row['rel']:8.1e}{'' if row['grad_ok'] else '  GRADIENT MISMATCH'}")
    print()
    for row in rows:
        if row["error"]:
            continue
        print(f"  {row['label']}:")
        print(f"    min ms primal {1e3 * row['primal_min']:.2f} / grad "
              f"{1e3 * row['ours_min']:.2f}; minor page faults per call "
              f"{row['primal_faults']:.0f} / {row['ours_faults']:.0f}; first call of grad "
              f"(transform + write + Numba compile) {row['ours_compile']:.2f} s; generated "
              f"source {row['source_lines']} lines; max |gradient| {row['grad_max']:.2e}")
        if row["vs_hand"] is not None:
            print(f"    hand-written Numba adjoint {1e3 * row['hand']:.2f} ms (min "
                  f"{1e3 * row['hand_min']:.2f}); ours / hand {row['vs_hand']:.2f}x "
                  f"(<= {HAND_TARGET}x) [{verdict(row['vs_hand'] <= HAND_TARGET)}]")
        print(f"    memory (generated source run by CPython, {row['interp_s']:.1f} s): peak "
              f"tape {row['tape_mb']:.2f} MB ({row['tapes']} tape arrays, final capacity "
              f"{row['tape_final_mb']:.2f} MB after {row['tape_growths']} reallocation(s)); "
              f"peak of all arrays from np.* {row['arrays_mb']:.2f} MB")
        for name, rel, tol in row["checks"]:
            print(f"    {name:38} rel diff {rel:.1e} (<= {tol:.0e}) [{verdict(rel <= tol)}]")
    return failures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.control", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (5 instead of 40)")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per candidate")
    parser.add_argument("--cache-dir", default=None,
                        help="directory for generated modules (default: a fresh temp dir)")
    opts = parser.parse_args(argv)
    repeats = opts.repeats or (5 if opts.quick else 40)
    warmup = 1
    rounds = 1 if opts.quick else 4
    return run_in_cache(opts, "autodiff_control_", run_all, repeats, warmup, rounds)


if __name__ == "__main__":
    sys.exit(main())
