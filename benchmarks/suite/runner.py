"""Runs every (problem, tool) worker in its own process, one after the other, then writes the
report (report.py) and the plots (plots.py)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path

from benchmarks.suite import peers, problems
from benchmarks.suite.measure import FULL, QUICK, worker_env

REPO = Path(__file__).resolve().parents[2]

# What must be importable for each tool (checked without importing it here).
REQUIREMENTS = {
    "ours": [("numba", "numba")],
    "jax": [("jax", "jax"), ("jaxlib", "jaxlib")],
    "torch": [("torch", "torch")],
    "autograd": [("autograd", "autograd")],
    "tangent": [("tangent", "tangent-ad")],
    "central": [("numba", "numba")],
}


def tool_availability(tool: str) -> tuple[bool, str]:
    """(installed, version or the reason it is skipped)."""
    found = []
    for module, dist in REQUIREMENTS[tool]:
        if importlib.util.find_spec(module) is None:
            how = ("`pip install torch` (CPU build; it is not in the bench extra because the "
                   "default wheel pulls several GB of CUDA libraries)" if tool == "torch"
                   else "`pip install -e .[bench]`")
            return False, f"not installed (no module {module!r}; {how})"
        try:
            found.append(f"{dist} {dist_version(dist)}")
        except PackageNotFoundError:
            found.append(dist)
    return True, ", ".join(found)


def compiler_state() -> tuple[str, str]:
    """(git commit of the checkout and how many files under autodiff_compiler/ differ from it,
    a hash of autodiff_compiler's sources): the report says which compiler it measured, and
    whether its sources changed while the suite ran."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((REPO / "autodiff_compiler").rglob("*.py")):
        digest.update(path.as_posix().encode())
        digest.update(path.read_bytes())
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], check=False,
                                cwd=REPO, capture_output=True, text=True,
                                timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "autodiff_compiler"],
                               check=False, cwd=REPO, capture_output=True, text=True,
                               timeout=10).stdout
        changed = len([line for line in dirty.splitlines() if line.strip()])
        where = f"commit {commit or '?'}" + (f" + {changed} file(s) modified in the working tree"
                                             if changed else "")
    except (OSError, subprocess.SubprocessError):
        where = "not a git checkout"
    return where, digest.hexdigest()[:12]


def run_worker(instance: str, tool: str, quick: bool, rundir: Path, env: dict, warm: bool,
               timeout: float) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.suite", "worker", "--instance", instance,
           "--tool", tool, "--outdir", str(rundir)]
    if quick:
        cmd.append("--quick")
    if warm:
        cmd.append("--warm")
    stem = f"{instance}__{tool}{'__warm' if warm else ''}"
    log = rundir / f"{stem}.log"
    t0 = time.perf_counter()
    with open(log, "w") as handle:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            proc.wait(timeout=timeout)
            killed = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)       # the worker's own process group only
            proc.wait()
            killed = True
    wall = time.perf_counter() - t0
    path = rundir / f"{stem}.json"
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        rec = {"instance": instance, "tool": tool, "status": "error",
               "reason": f"worker exited with code {proc.returncode} and no result"}
        tail = log.read_text()[-1500:] if log.exists() else ""
        if tail:
            rec["traceback"] = tail
    if killed:
        rec.update(status="over cap", reason=f"worker killed after {timeout:.0f} s "
                                              f"(still in: {rec.get('stage', rec['status'])})")
    elif rec.get("status") in ("started", "timed") and proc.returncode != 0:
        rec.update(status="error", reason=f"worker died (exit code {proc.returncode}) after "
                                          f"status {rec['status']!r}")
        tail = log.read_text()[-1500:] if log.exists() else ""
        rec["traceback"] = tail
    rec["wall"] = wall
    rec["grad_file"] = str(rundir / f"{stem}.grad.npy")
    rec["check_file"] = str(rundir / f"{stem}.check.npy")
    return rec


def progress_line(rec: dict) -> str:
    status = rec.get("status", "?")
    if rec.get("warm"):
        text = f"first call with warm cache {rec.get('grad_first', float('nan')):.2f} s"
    elif "grad_med" in rec:
        text = (f"objective {1e3 * rec['obj_med']:.3g} ms, derivative "
                f"{1e3 * rec['grad_med']:.3g} ms, ratio {rec['ratio']:.2f}")
    else:
        text = rec.get("reason", "")[:100]
    return f"{status:12} {text}"


def run_suite(opts) -> int:
    from benchmarks.suite import plots, report

    quick = opts.quick
    proto = QUICK if quick else FULL
    chosen = problems.instances(quick, opts.only)
    tools = opts.tools or list(peers.TOOLS)
    unknown = [t for t in tools if t not in peers.TOOLS]
    if unknown:
        raise SystemExit(f"--tools: unknown {unknown} (choose from {peers.TOOLS})")
    tools = [t for t in peers.TOOLS if t in tools]
    from examples.adbench import data_dir

    adbench = ("gmm", "ba", "lstm", "gmm_vec", "lstm_vec")
    if any(inst.family in adbench for inst in chosen) and not data_dir().is_dir():
        print(f"ADBench data not found at {data_dir()} (set ADBENCH_DATA): skipping GMM, BA, "
              "LSTM")
        chosen = [inst for inst in chosen if inst.family not in adbench]

    available, skipped = {}, {}
    for tool in tools:
        ok, text = tool_availability(tool)
        (available if ok else skipped)[tool] = text
    run_tools = [t for t in tools if t in available]

    out_dir = opts.out_dir
    if out_dir is None:
        out_dir = (Path(tempfile.gettempdir()) / "autodiff_suite_quick") if quick \
            else REPO / "benchmarks"
    out_dir.mkdir(parents=True, exist_ok=True)
    rundir = Path(tempfile.mkdtemp(prefix="autodiff_suite_"))
    env = worker_env({"PYTHONPATH": os.pathsep.join(
        [str(REPO)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))})
    timeout = 6 * proto.cap + 120

    started = time.perf_counter()
    load_before = os.getloadavg()
    compiler_before = compiler_state()
    print(f"autodiff_compiler comparison suite ({proto.label} mode): "
          f"{len(chosen)} problem(s) x {len(run_tools)} tool(s), one process each; "
          f"raw results in {rundir}")
    for tool, reason in skipped.items():
        print(f"  skipped {tool}: {reason}")
    records = []
    for inst in chosen:
        # A fresh cache directory per problem: our first call compiles cold (problems of one
        # family share generated code), and the warm-cache worker finds what that call left.
        env["AUTODIFF_SUITE_CACHE"] = str(rundir / "autodiff_cache" / inst.name)
        for tool in run_tools:
            rec = run_worker(inst.name, tool, quick, rundir, env, False,
                             timeout + (inst.first_cap or 0.0))
            records.append(rec)
            print(f"  {inst.name:15} {tool:9} {rec['wall']:6.1f} s  {progress_line(rec)}",
                  flush=True)
            if tool == "ours" and rec.get("grad_first") is not None:
                warm = run_worker(inst.name, tool, quick, rundir, env, True,
                                  timeout + (inst.first_cap or 0.0))
                rec["grad_first_warm"] = warm.get("grad_first")
                rec["warm_status"] = warm.get("status")
                rec["warm_wall"] = warm["wall"]
                print(f"  {inst.name:15} {tool:9} {warm['wall']:6.1f} s  {progress_line(warm)}",
                      flush=True)
    elapsed = time.perf_counter() - started
    load_after = os.getloadavg()
    compiler_after = compiler_state()

    context = {
        "mode": proto.label, "protocol": proto, "quick": quick, "elapsed": elapsed,
        "load": (load_before, load_after), "compiler": (compiler_before, compiler_after),
        "skipped": skipped, "available": available,
        "tools": run_tools, "instances": chosen, "records": records, "command": " ".join(
            ["python -m benchmarks.suite"] + (sys.argv[1:] if sys.argv[1:2] == ["run"]
                                              else ["run"])),
    }
    rows = report.build_rows(records, chosen, run_tools, rundir)
    text = report.markdown(rows, context)
    md_path = out_dir / "RESULTS.md"
    md_path.write_text(text)
    pngs = plots.write_plots(rows, chosen, run_tools, out_dir, context)
    print()
    print(report.console_table(rows))
    print()
    print(f"wrote {md_path}" + "".join(f", {p}" for p in pngs))
    print(f"total suite time {elapsed:.0f} s")
    if opts.keep:
        print(f"raw results kept in {rundir}")
    else:
        shutil.rmtree(rundir, ignore_errors=True)
    return 0
