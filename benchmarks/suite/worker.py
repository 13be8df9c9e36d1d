"""One (problem, tool) measurement, run in its own process by the runner.

Writes DIR/<instance>__<tool>[__warm].json as it goes (a worker killed for overrunning leaves
what it had measured), the derivative as .grad.npy (flattened, float64), the derivative at the
problem's check size as .check.npy, and for the central-differences tool the reference sample
(refsample.npz: flat indices and fourth-order central differences of a few entries).
"""

from __future__ import annotations

import json
import os
import time
import traceback
from pathlib import Path

import numpy as np

from benchmarks.suite.measure import FULL, QUICK, OverCap, steady_times, time_cap, timed

REFERENCE_ENTRIES = 12      # entries in the central-difference reference sample (BA: blocks)


def flatten(parts) -> np.ndarray:
    return np.concatenate([np.ravel(np.asarray(p, dtype=np.float64)) for p in parts])


class Record:
    def __init__(self, path: Path, **fields):
        self.path = path
        self.data = dict(fields)
        self.save()

    def __setitem__(self, key, value):
        self.data[key] = value
        self.save()

    def update(self, **fields):
        self.data.update(fields)
        self.save()

    def save(self):
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, default=float))
        os.replace(tmp, self.path)


def run(instance_name: str, tool: str, quick: bool, outdir: Path, warm: bool = False) -> int:
    import warnings

    from benchmarks.suite import peers, problems

    # tangent-ad's generated code says `if 1 is None:`; not ours to fix, not worth a line
    warnings.filterwarnings("ignore", category=SyntaxWarning)

    proto = QUICK if quick else FULL
    inst = problems.find(instance_name, quick)
    stem = f"{inst.name}__{tool}{'__warm' if warm else ''}"
    rec = Record(outdir / f"{stem}.json", instance=inst.name, tool=tool, status="started",
                 warm=warm, pid=os.getpid())
    try:
        peer = peers.module(tool)
        rec["version"] = peer.version()
    except ImportError as exc:
        rec.update(status="not installed", reason=str(exc))
        return 0
    fam = problems.family(inst.family)
    built_as = problems.built_as(inst.family, tool)
    data = fam.load(inst.params)
    try:
        impl = peer.build(built_as, data)
    except peers.Unsupported as exc:
        rec.update(status="unsupported", reason=str(exc))
        return 0
    rec["note"] = impl.note
    stage = "setup"
    first_cap = max(proto.cap, inst.first_cap or 0.0)
    try:
        if warm:
            # The same sequence as the measuring worker (objective first, then the derivative's
            # first call), so that cold and warm differ only in what the cache holds.
            stage = "first objective call"
            with time_cap(proto.cap, stage):
                impl.objective()()
            stage = "first derivative call (warm cache)"
            with time_cap(first_cap, stage):
                t_first, _ = timed(lambda: impl.gradient()())
            rec.update(status="ok", grad_first=t_first)
            return 0

        stage = "first objective call"
        with time_cap(proto.cap, stage):
            t0 = time.perf_counter()
            objective = impl.objective()
            objective()
            rec["obj_first"] = time.perf_counter() - t0
            t_obj, _ = timed(objective)
        if impl.estimate is not None:
            estimate = impl.estimate(t_obj)
            rec["grad_estimate"] = estimate
            if estimate > proto.cap:
                rec.update(status="over cap", obj_med=t_obj, obj_min=t_obj, n_obj=1,
                           reason=f"one derivative call would take about {estimate:.0f} s "
                                  f"(> the {proto.cap:.0f} s cap); not run")
                return 0

        stage = "first derivative call"
        with time_cap(first_cap, stage):
            t0 = time.perf_counter()
            gradient = impl.gradient()
            out = gradient()
            rec["grad_first"] = time.perf_counter() - t0
        np.save(outdir / f"{stem}.grad.npy", flatten(impl.to_numpy(out)))
        del out

        stage = "second derivative call"
        with time_cap(proto.cap, stage):
            t_grad, _ = timed(gradient)
        stage = "timed calls"
        with time_cap(max(proto.cap, 20 * (proto.budget + 3 * (t_obj + t_grad))), stage):
            times = steady_times(objective, gradient, t_obj, t_grad, proto)
        (om, omin, on), (gm, gmin, gn) = times["objective"], times["gradient"]
        rec.update(obj_med=om, obj_min=omin, n_obj=on, grad_med=gm, grad_min=gmin, n_grad=gn,
                   ratio=gm / om, status="timed")

        if inst.check is not None:
            stage = "derivative at the check size"
            check_data = fam.load(inst.check)
            with time_cap(proto.cap, stage):
                check_impl = peer.build(built_as, check_data)
                check_out = check_impl.gradient()()
            np.save(outdir / f"{stem}.check.npy", flatten(check_impl.to_numpy(check_out)))
        if tool == "central":
            stage = "reference sample"
            ref_data = fam.load(inst.check) if inst.check is not None else data
            rng = np.random.default_rng(12345)
            with time_cap(10 * proto.cap, stage):
                flat, values = fam.reference_sample(ref_data, REFERENCE_ENTRIES, rng)
            np.savez(outdir / f"{inst.name}__refsample.npz", flat=flat, values=values)
        rec["status"] = "ok"
    except OverCap as exc:
        rec.update(status="over cap", reason=str(exc), stage=stage)
    except Exception as exc:  # noqa: BLE001  (a crash is a result: report it with its stage)
        tb = traceback.format_exc(limit=-4)
        first_line = str(exc).splitlines()[0][:300] if str(exc) else ""
        rec.update(status="error", stage=stage, reason=f"{type(exc).__name__}: {first_line}",
                   traceback=tb[-3000:])
    return 0
