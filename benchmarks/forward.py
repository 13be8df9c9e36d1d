"""Forward-mode benchmark: jacfwd against jacrev, forward against reverse gradients, HVP.

Run with `python -m benchmarks.forward` (`--quick` for fewer repeats, same sizes; `--cache-dir
DIR` to keep the generated modules and Numba's cache in DIR instead of a fresh temporary
directory).

A  ODE trajectory R^4 -> R^1000: Lotka-Volterra with 4 parameters, 1000 RK4 steps (a helper
   `lv_rhs(u, p, du)` writes the right-hand side into an array), the prey population after
   every step. Jacobian 1000 x 4: jacfwd takes one tangent sweep per parameter (4), jacrev
   one adjoint sweep per output (1000). Target: jacfwd faster than jacrev.
B  Rosenbrock, n = 1000, R^1000 -> R (a loop): grad (reverse, one adjoint sweep) against
   grad(mode="forward") (one tangent sweep per input entry, 1000).
   Target: reverse faster than forward.
C  Hessian-vector product of the same Rosenbrock function (forward over reverse, one sweep)
   against its gradient. Target: hvp / grad <= 4.

All derivatives are Numba-compiled (jit=True) and called through the public API (jacfwd,
jacrev, grad, hvp), so the times include the Python work of each call (seeding, splitting);
the primal is `numba.njit` of the same plain function (helpers njit-ed too). Times are medians
over repeated calls after warm-up (time.perf_counter), in blocks of consecutive calls, the
candidates of one problem taking turns block by block (see benchmarks.spine).

Checks: jacfwd against jacrev, forward against reverse gradient (max|diff| / max|ref| <=
1e-10), the HVP against central differences of the gradient along v (<= 1e-6), and the
first Jacobian columns against central differences of the Numba primal (<= 1e-7).

Exit status 1 means a wrong derivative or a crash; a missed performance target only prints
MISS.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from benchmarks.control import njit_with_helpers
from benchmarks.spine import (
    blocked_medians,
    compare,
    print_header,
    run_in_cache,
    verdict,
)

# --------------------------------------------------------------------------------------------
# Functions under test (plain Python: the compiler reads their source).
# --------------------------------------------------------------------------------------------


def lv_rhs(u, p, du):
    # Lotka-Volterra: prey u[0], predators u[1]
    du[0] = p[0] * u[0] - p[1] * u[0] * u[1]
    du[1] = -p[2] * u[1] + p[3] * u[0] * u[1]


def lv_trajectory(p, x0, y0, h, n):
    u = np.zeros(2)
    u[0] = x0
    u[1] = y0
    k1 = np.zeros(2)
    k2 = np.zeros(2)
    k3 = np.zeros(2)
    k4 = np.zeros(2)
    tmp = np.zeros(2)
    out = np.zeros(n)
    for t in range(n):
        lv_rhs(u, p, k1)
        for i in range(2):
            tmp[i] = u[i] + 0.5 * h * k1[i]
        lv_rhs(tmp, p, k2)
        for i in range(2):
            tmp[i] = u[i] + 0.5 * h * k2[i]
        lv_rhs(tmp, p, k3)
        for i in range(2):
            tmp[i] = u[i] + h * k3[i]
        lv_rhs(tmp, p, k4)
        for i in range(2):
            u[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])
        out[t] = u[0]
    return out


def rosenbrock(x):
    total = 0.0
    for i in range(len(x) - 1):
        a = x[i + 1] - x[i] * x[i]
        b = 1.0 - x[i]
        total += 100.0 * a * a + b * b
    return total


# --------------------------------------------------------------------------------------------
# Targets and checks.
# --------------------------------------------------------------------------------------------

HVP_TARGET = 4.0          # hvp <= 4x the reverse gradient
AGREE_RTOL = 1e-10        # two exact derivative modes against each other
HVP_FD_RTOL = 1e-6        # HVP against central differences of the gradient
JAC_FD_RTOL = 1e-7        # Jacobian columns against central differences of the primal
STENCIL = ((-2, 1.0), (-1, -8.0), (1, 8.0), (2, -1.0))


def central_difference(fn, x, v, h=1e-4):
    """Fourth-order central difference of fn (array -> array or float) at x along v."""
    total = 0.0
    for offset, weight in STENCIL:
        total = total + weight * np.asarray(fn(x + offset * h * v))
    return total / (12.0 * h)


def lv_args(n):
    return (np.array([1.1, 0.4, 0.9, 0.3]), 2.0, 1.5, 0.01, n)


def rosenbrock_args(n):
    return (np.linspace(-1.2, 1.3, n) + 0.05 * np.sin(np.arange(n)),)


# --------------------------------------------------------------------------------------------
# The problems.
# --------------------------------------------------------------------------------------------


def _compile(row, name, fn):
    """First call (transform + write + Numba compile), timed; returns the result."""
    t0 = time.perf_counter()
    out = fn()
    row[f"{name}_compile"] = time.perf_counter() - t0
    return out


def run_ode(n, repeats, warmup, rounds) -> dict:
    import numba  # noqa: F401  (fail here, not in the middle, when Numba is missing)

    from autodiff_compiler import jacfwd, jacrev

    row = {"label": f"A ODE R^4 -> R^{n} (LV, RK4)", "error": None, "checks": []}
    args = lv_args(n)
    primal = njit_with_helpers(lv_trajectory, lv_rhs)
    jf = jacfwd(lv_trajectory, argnums=0, jit=True)
    jr = jacrev(lv_trajectory, argnums=0, jit=True)
    try:
        _compile(row, "primal", lambda: primal(*args))
        j_fwd = _compile(row, "fwd", lambda: jf(*args))
        j_rev = _compile(row, "rev", lambda: jr(*args))
    except Exception as exc:  # noqa: BLE001  (report any crash and go on to the next problem)
        row["error"] = f"{type(exc).__name__}: {exc}"
        return row
    shape_ok = np.shape(j_fwd) == np.shape(j_rev) == (n, 4)
    if not shape_ok:
        row["error"] = (f"Jacobian shapes jacfwd {np.shape(j_fwd)}, jacrev {np.shape(j_rev)}, "
                        f"expected {(n, 4)}")
        return row
    if shape_ok:
        _, rel = compare(j_fwd, j_rev)
        row["checks"].append(("jacfwd vs jacrev", rel, AGREE_RTOL))
        p = args[0]
        worst = 0.0
        for k in range(4):
            e = np.zeros(4)
            e[k] = 1.0
            numeric = central_difference(lambda q: primal(q, *args[1:]), p, e)
            worst = max(worst, compare(j_fwd[:, k], numeric)[1])
        row["checks"].append(("jacfwd vs central differences", worst, JAC_FD_RTOL))
    times = blocked_medians({"primal": lambda: primal(*args), "fwd": lambda: jf(*args),
                             "rev": lambda: jr(*args)},
                            repeats, warmup, rounds)
    for name, (med, best, _) in times.items():
        row[name], row[f"{name}_min"] = med, best
    return row


def run_rosenbrock(n, repeats, warmup, rounds) -> dict:
    import numba

    from autodiff_compiler import grad, hvp

    row = {"label": f"B/C Rosenbrock R^{n} -> R", "error": None, "checks": []}
    (x,) = rosenbrock_args(n)
    v = np.cos(np.arange(n) * 0.7)
    primal = numba.njit(rosenbrock)
    g_rev = grad(rosenbrock, jit=True)
    g_fwd = grad(rosenbrock, mode="forward", jit=True)

    def hv():
        return hvp(rosenbrock, (x,), (v,), jit=True)[0]

    try:
        _compile(row, "primal", lambda: primal(x))
        rev = _compile(row, "rev", lambda: g_rev(x))
        fwd = _compile(row, "fwd", lambda: g_fwd(x))
        hv_value = _compile(row, "hvp", hv)
    except Exception as exc:  # noqa: BLE001  (report any crash)
        row["error"] = f"{type(exc).__name__}: {exc}"
        return row
    _, rel = compare(fwd, rev)
    row["checks"].append(("grad forward vs reverse", rel, AGREE_RTOL))
    _, rel = compare(hv_value, central_difference(g_rev, x, v))
    row["checks"].append(("hvp vs differences of grad along v", rel, HVP_FD_RTOL))
    calls = {"primal": lambda: primal(x), "rev": lambda: g_rev(x), "fwd": lambda: g_fwd(x),
             "hvp": hv}
    calls.update(_kernels(g_rev, x, v))
    times = blocked_medians(calls, repeats, warmup, rounds)
    for name, (med, best, _) in times.items():
        row[name], row[f"{name}_min"] = med, best
    return row


def _kernels(g_rev, x, v) -> dict:
    """Diagnostics: the compiled gradient and HVP functions called directly, without the
    Python work of the public API (argument checks, artifact lookup, splitting)."""
    try:
        from autodiff_compiler.jacobians import specializer

        grad_kernel = g_rev.lower(x).artifact.run
        spec = specializer(rosenbrock, True)
        _, types = spec.prepare((x,))
        hvp_kernel = spec.artifact(types, [0], "hvp").run
        grad_kernel(x)
        hvp_kernel(x, v)
    except Exception:  # noqa: BLE001  (internal API: a diagnostic only)
        return {}
    return {"rev kernel": lambda: grad_kernel(x), "hvp kernel": lambda: hvp_kernel(x, v)}


# --------------------------------------------------------------------------------------------
# Report.
# --------------------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{1e3 * seconds:10.3f}"


def run_all(opts, cache_dir, repeats, warmup, rounds) -> int:
    """Print the whole report; returns the number of wrong derivatives and crashes."""

    print_header("forward-mode", opts, cache_dir, repeats, warmup, rounds)

    ode = run_ode(opts.n_out, repeats, warmup, rounds)
    ros = run_rosenbrock(opts.n_in, repeats, warmup, rounds)

    failures = 0
    head = f"{'problem / candidate':44} {'median ms':>10} {'/ primal':>9} {'target':>26}"
    print(head)
    print("-" * (len(head) + 6))
    for row in (ode, ros):
        if row["error"]:
            failures += 1
            print(f"{row['label']:44} FAILED: {row['error']}")
    if not ode["error"]:
        ratio = ode["fwd"] / ode["rev"]
        print(f"{ode['label']:44} {_ms(ode['primal'])} {'1.00x':>9}")
        print(f"{'  jacfwd (4 tangent sweeps)':44} {_ms(ode['fwd'])} "
              f"{ode['fwd'] / ode['primal']:8.2f}x {'jacfwd < jacrev':>20} "
              f"{verdict(ratio < 1.0):>5}")
        print(f"{f'  jacrev ({opts.n_out} adjoint sweeps)':44} {_ms(ode['rev'])} "
              f"{ode['rev'] / ode['primal']:8.2f}x {f'(jacfwd/jacrev {ratio:.3f})':>26}")
    if not ros["error"]:
        ratio = ros["rev"] / ros["fwd"]
        hvp_ratio = ros["hvp"] / ros["rev"]
        print(f"{ros['label']:44} {_ms(ros['primal'])} {'1.00x':>9}")
        print(f"{'  grad reverse (1 adjoint sweep)':44} {_ms(ros['rev'])} "
              f"{ros['rev'] / ros['primal']:8.2f}x {'reverse < forward':>20} "
              f"{verdict(ratio < 1.0):>5}")
        print(f"{f'  grad forward ({opts.n_in} tangent sweeps)':44} {_ms(ros['fwd'])} "
              f"{ros['fwd'] / ros['primal']:8.2f}x {f'(reverse/forward {ratio:.3f})':>26}")
        print(f"{'  hvp (forward over reverse)':44} {_ms(ros['hvp'])} "
              f"{ros['hvp'] / ros['primal']:8.2f}x "
              f"{f'hvp/grad {hvp_ratio:.2f} <= {HVP_TARGET:.0f}':>20} "
              f"{verdict(hvp_ratio <= HVP_TARGET):>5}")
    print()
    for row in (ode, ros):
        if row["error"]:
            continue
        names = [k for k in ("primal", "fwd", "rev", "hvp") if k in row]
        print(f"  {row['label']}:")
        print("    min ms " + " / ".join(f"{k} {1e3 * row[k + '_min']:.3f}" for k in names))
        print("    first call (transform + write + Numba compile) s "
              + " / ".join(f"{k} {row[k + '_compile']:.2f}" for k in names))
        if "rev kernel" in row:
            print(f"    compiled functions called directly (no API work): grad "
                  f"{1e3 * row['rev kernel']:.4f} ms ({row['rev kernel'] / row['primal']:.2f}x "
                  f"primal), hvp {1e3 * row['hvp kernel']:.4f} ms (hvp/grad "
                  f"{row['hvp kernel'] / row['rev kernel']:.2f})")
        for name, rel, tol in row["checks"]:
            ok = rel <= tol
            failures += not ok
            print(f"    {name:38} rel diff {rel:.1e} (<= {tol:.0e}) [{verdict(ok)}]"
                  f"{'' if ok else '  DERIVATIVE MISMATCH'}")
    return failures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.forward", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (5 instead of 30)")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per candidate")
    parser.add_argument("--n-out", type=int, default=1000,
                        help="ODE output time points (problem A, default 1000)")
    parser.add_argument("--n-in", type=int, default=1000,
                        help="Rosenbrock dimension (problems B and C, default 1000)")
    parser.add_argument("--cache-dir", default=None,
                        help="directory for generated modules (default: a fresh temp dir)")
    opts = parser.parse_args(argv)
    repeats = opts.repeats or (5 if opts.quick else 30)
    warmup = 1
    rounds = 1 if opts.quick else 3
    return run_in_cache(opts, "autodiff_forward_", run_all, repeats, warmup, rounds)


if __name__ == "__main__":
    sys.exit(main())
