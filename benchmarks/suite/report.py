"""Rows (accuracy against the reference included), the Markdown report and the console table."""

from __future__ import annotations

import datetime
import math
from pathlib import Path

import numpy as np

from benchmarks.suite import peers
from benchmarks.suite.measure import THREAD_ENV, rho

RHO_TARGET = 1e-8
RATIO_TARGETS = {"gmm": 3.0, "lstm": 3.5, "ba": 8.0, "ode": 3.0, "garch": 3.0}
FASTER_THAN_JAX = ("gmm", "ode", "garch", "lstm", "mc", "kmeans", "gmm_vec", "lstm_vec")
# ours within this factor of JAX (log-sum-exp: bound by exp, which XLA vectorises)
JAX_FACTORS = {"lse": 1.5}


def _load(path) -> np.ndarray | None:
    try:
        return np.load(path)
    except (OSError, ValueError, TypeError):
        return None


def build_rows(records, instances, tools, rundir: Path) -> list[dict]:
    by_key = {(r["instance"], r["tool"]): r for r in records}
    rows = []
    for inst in instances:
        jax_rec = by_key.get((inst.name, "jax"))
        use_check = inst.check is not None
        ref_vec = ref_full = None
        if jax_rec is not None:
            ref_full = _load(jax_rec["grad_file"])
            ref_vec = _load(jax_rec["check_file"]) if use_check else ref_full
        sample = None
        sample_path = rundir / f"{inst.name}__refsample.npz"
        if sample_path.exists():
            with np.load(sample_path) as z:
                sample = (z["flat"], z["values"])
        if ref_vec is not None:
            ref_kind = "JAX float64"
        elif sample is not None:
            ref_kind = f"central differences, {len(sample[0])} entries"
        else:
            ref_kind = None
        for tool in tools:
            rec = dict(by_key.get((inst.name, tool), {"status": "missing"}))
            rec.update(instance=inst.name, tool=tool, label=inst.label, family=inst.family,
                       ref_kind=ref_kind)
            vec = _load(rec.get("check_file" if use_check else "grad_file", ""))
            if vec is not None:
                if tool == "jax" and ref_vec is not None:
                    rec["rho"] = 0.0
                    rec["is_reference"] = True
                elif ref_vec is not None:
                    rec["rho"] = rho(vec, ref_vec)
                elif sample is not None and vec.shape[0] > int(np.max(sample[0])):
                    rec["rho"] = rho(vec[sample[0]], sample[1])
                if tool == "jax" and sample is not None and vec.shape[0] > int(
                        np.max(sample[0])):
                    rec["ref_vs_differences"] = rho(vec[sample[0]], sample[1])
                    rec["ref_sample_size"] = len(sample[0])
            if use_check and ref_full is not None and tool != "jax":
                full = _load(rec.get("grad_file", ""))
                if full is not None:
                    rec["rho_full"] = rho(full, ref_full)
            rows.append(rec)
    return rows


# --- formatting ------------------------------------------------------------------------------

def ms(seconds) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "—"
    value = 1e3 * seconds
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def sec(seconds) -> str:
    return "—" if seconds is None else f"{seconds:.2f}"


def timed(row) -> bool:
    return row.get("grad_med") is not None


def status_text(row) -> str:
    status = row.get("status", "missing")
    reason = row.get("reason", "")
    if status in ("ok", "timed"):
        return ""
    if status == "error":
        stage = row.get("stage")
        return f"**error** ({stage}): {reason}" if stage else f"**error**: {reason}"
    if status == "over cap":
        return f"**over cap**: {reason}"
    if status == "unsupported":
        return f"**unsupported**: {reason}"
    return f"**{status}**: {reason}"


def first_call(row) -> str:
    if row.get("grad_first") is None:
        return "—"
    text = sec(row["grad_first"])
    if row["tool"] == "ours":
        warm = row.get("grad_first_warm")
        text += f" cold / {sec(warm)} warm" if warm is not None else " cold / — warm"
    return text


def ratio_of_minima(row) -> str:
    if row.get("grad_min") is None or not row.get("obj_min"):
        return "—"
    return f"{row['grad_min'] / row['obj_min']:.2f}"


def rho_text(row) -> str:
    if row.get("is_reference"):
        return "reference"
    value = row.get("rho")
    if value is None:
        return "—"
    flag = "" if value <= RHO_TARGET or row["tool"] == "central" else " ✗"
    return f"{value:.1e}{flag}"


def notes(row) -> str:
    parts = []
    s = status_text(row)
    if s:
        parts.append(s)
    if row.get("note"):
        parts.append(row["note"])
    if timed(row) and row.get("n_grad") is not None:
        parts.append(f"n={row['n_grad']}")
    if row.get("rho_full") is not None:
        parts.append(f"rho at the timed size {row['rho_full']:.1e} (chaotic)")
    if row["tool"] == "central" and row.get("obj_first") is not None and row.get("grad_first"):
        parts.append(f"Numba compile in the objective's first call ({row['obj_first']:.2f} s)")
    if row.get("status") == "over cap" and row.get("grad_estimate"):
        pass
    return "; ".join(parts)


def main_table(rows) -> list[str]:
    lines = [("| problem | tool | objective ms | derivative ms | ratio | ratio of minima "
              "| first call s | rho | notes |"), "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    last = None
    for row in rows:
        label = row["label"] if row["instance"] != last else ""
        last = row["instance"]
        ratio = f"{row['ratio']:.2f}" if row.get("ratio") is not None else "—"
        lines.append(
            f"| {label} | {peers.LABELS[row['tool']]} | {ms(row.get('obj_med'))} | "
            f"{ms(row.get('grad_med'))} | {ratio} | {ratio_of_minima(row)} | {first_call(row)} "
            f"| {rho_text(row)} | {notes(row).replace('|', '/')} |")
    return lines


def target_lines(rows) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for every target of the issue."""
    out = []
    ours = {r["instance"]: r for r in rows if r["tool"] == "ours"}
    jax = {r["instance"]: r for r in rows if r["tool"] == "jax"}

    def verdict(ok):
        return "reached" if ok else "**missed**"

    for inst, row in ours.items():
        fam = row["family"]
        if fam in RATIO_TARGETS:
            target = RATIO_TARGETS[fam]
            if timed(row):
                out.append((f"{row['label']}: ours derivative / objective <= {target:g}",
                            f"{row['ratio']:.2f}", verdict(row["ratio"] <= target)))
            else:
                out.append((f"{row['label']}: ours derivative / objective <= {target:g}",
                            row.get("status", "?"), "**missed** (no time)"))
    for inst, row in ours.items():
        fam = row["family"]
        j = jax.get(inst)
        if fam in FASTER_THAN_JAX or fam in JAX_FACTORS:
            if fam in JAX_FACTORS:
                limit = JAX_FACTORS[fam]
                goal = f"{row['label']}: ours within {limit}x of JAX"
            else:
                goal = f"{row['label']}: ours faster than JAX jit"
                limit = 1.0
            if not timed(row):
                out.append((goal, row.get("status", "?"), "**missed** (no time)"))
            elif j is None or not timed(j):
                out.append((goal, "JAX not timed", "not measured"))
            else:
                factor = row["grad_med"] / j["grad_med"]
                ok = factor < limit if limit == 1.0 else factor <= limit
                out.append((goal, (f"ours {ms(row['grad_med'])} ms vs JAX {ms(j['grad_med'])} ms "
                                  f"({factor:.2f}x)"), verdict(ok)))
    for inst, row in ours.items():
        if timed(row):
            value = row.get("rho")
            out.append((f"{row['label']}: ours rho <= 1e-8",
                        "no reference" if value is None else f"{value:.1e}",
                        "not measured" if value is None else verdict(value <= RHO_TARGET)))
    return out


def markdown(rows, context) -> str:
    from benchmarks.spine import machine_info

    proto = context["protocol"]
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    mode = ("**QUICK MODE: smaller sizes, fewer calls, 20 s cap. Not the reference figures.**"
            if context["quick"] else "Full run.")
    lines = [
        "# autodiff_compiler against JAX, PyTorch, autograd, tangent-ad and central differences",
        "",
        f"Generated by `{context['command']}` on {now} in {context['elapsed']:.0f} s. {mode}",
        ("Regenerate with `python -m benchmarks.suite run` (`--quick` for a smoke run, `--only "
        "NAME` for some problems); see `benchmarks/suite/__init__.py` for the method."),
        "",
        "## Machine and tools",
        "",
    ]
    lines += [f"    {line}" for line in machine_info()]
    lb, la = context["load"]
    lines += [(f"    load avg : {lb[0]:.2f} at the start, {la[0]:.2f} at the end (1 min; "
              "other work on the machine shows here)")]
    (where, before), (_, after) = context["compiler"]
    lines.append(f"    compiler : autodiff_compiler at {where}; sources {before}"
                 + ("" if before == after else
                    f" at the start, {after} at the end: THEY CHANGED DURING THE RUN, rows "
                    "measured different versions of the compiler"))
    lines.append("")
    for tool in context["tools"]:
        version = next((r.get("version") for r in context.get("records", [])
                        if r.get("tool") == tool and r.get("version")), None)
        lines.append(f"* {peers.LABELS[tool]}: {version or context['available'][tool]}")
    for tool, reason in context["skipped"].items():
        lines.append(f"* {peers.LABELS[tool]}: **skipped**: {reason}")
    lines += [
        "",
        "Every (problem, tool) runs in its own process, one at a time, single-threaded: "
        + ", ".join(f"`{k}={v}`" for k, v in THREAD_ENV.items() if k != "TF_CPP_MIN_LOG_LEVEL")
        + ", `torch.set_num_threads(1)`. All tools compute in float64.",
        "",
        (f"Timing ({proto.label}): after the first call (compile + run) and one more call, the "
        "objective and the derivative take turns in blocks of consecutive calls "
        f"(`benchmarks.spine.blocked_medians`, {proto.rounds} round(s), {proto.warmup} warm-up "
        f"call per round, {proto.min_calls}-{proto.max_calls} calls fitted to a "
        f"{proto.budget:g} s budget); a derivative slower than {proto.slow:g} s is timed on "
        f"{1 + proto.slow_calls} call(s) after the first, one beyond {proto.very_slow:g} s "
        "(n in the notes). Times are medians. Time cap: "
        f"{proto.cap:.0f} s per call."),
        "",
        "## Results",
        "",
        ("* objective ms: the tool's own objective (ours and central differences: `numba.njit` "
        "of the loop-level function); derivative ms: gradient (BA: the sparse Jacobian's "
        "values); ratio = derivative / objective, each tool against its own objective (the "
        "verdicts use it); ratio of minima = fastest derivative call / fastest objective call, "
        "less sensitive to other load on the machine."),
        ("* first call s: building the derivative and its first call after the imports "
        "(tracing, source transformation, compilation). Ours: with an empty cache directory "
        "(cold) and again in a fresh process with the cache it left (warm: generated module "
        "and Numba's cache on disk)."),
        ("* rho: the largest |x - y| / max(1, |x| + |y|) over all entries of the derivative "
        "against the reference (JAX float64 when installed, else fourth-order central "
        "differences on a few entries). ✗ marks rho > 1e-8 for an AD tool."),
        "",
    ]
    lines += main_table(rows)
    lines += ["", "## Targets", "", "| target | measured | verdict |", "|---|---|---|"]
    for goal, measured, verdict in target_lines(rows):
        lines.append(f"| {goal} | {measured} | {verdict} |")
    others = [r for r in rows if r["tool"] not in ("ours", "central") and timed(r)
              and r.get("rho") is not None and r["rho"] > RHO_TARGET]
    if others:
        lines += ["", "Other AD tools with rho > 1e-8: " + "; ".join(
            f"{peers.LABELS[r['tool']]} on {r['label']} ({r['rho']:.1e})" for r in others)]
    checks = [r for r in rows if r.get("ref_vs_differences") is not None]
    if checks:
        lines += ["", "## The reference checked", "",
                  ("JAX's derivative against fourth-order central differences of the Numba "
                  "objective on a few random entries (BA: whole blocks of random observations; "
                  "Lorenz-96 at the check size). Differences carry truncation and rounding "
                  "error (~1e-9 to 1e-7), so this bounds gross errors of the reference only."),
                  "", "| problem | entries | rho(JAX, differences) |", "|---|---:|---:|"]
        for r in checks:
            lines.append(f"| {r['label']} | {r['ref_sample_size']} | "
                         f"{r['ref_vs_differences']:.1e} |")
    failures = [r for r in rows if r.get("status") not in ("ok", "timed")]
    lines += ["", "## Not timed, failed or over the cap", ""]
    if failures:
        for r in failures:
            lines.append(f"* {r['label']} / {peers.LABELS[r['tool']]}: {status_text(r)}")
    else:
        lines.append("None.")
    lines += ["", "## Notes", ""] + NOTES + [""]
    return "\n".join(lines)


NOTES = [
    ("* Peers are written the way their users write them (benchmarks/suite/peers/*.py): JAX "
    "with `jit` and `lax.scan` for recurrences (MC: over steps, all paths at once), vectorised "
    "otherwise; PyTorch eager, vectorised with Python loops for recurrences; autograd "
    "NumPy-style with Python loops for recurrences; tangent-ad on plain NumPy with loops it "
    "differentiates. Ours differentiates the loop-level functions of examples/adbench and "
    "benchmarks/control unchanged."),
    ("* GMM uses ADBench's sign of the Wishart prior. BA: all tools return the same COO values "
    "(p 2 x 15 blocks, then p weight entries); ours runs two seeded adjoint sweeps of the "
    "batched residual (examples.adbench.ba.BAJacobian), JAX and PyTorch vmap a per-observation "
    "jacrev, autograd and tangent take two seeded vector-Jacobian products, central "
    "differences use the 15-colouring of the block structure."),
    ("* Lorenz-96 (F = 8) is chaotic: over 5000 steps rounding differences grow by ~e^85 and "
    "two correct implementations disagree completely, so rho is measured at 200 steps (the "
    "notes give rho at the timed size for the record)."),
    ("* GARCH has the 3 parameters (omega, alpha, beta) of benchmarks.control.garch_nll "
    "(no mean term). MC Greeks: every tool multiplies the paths by one exp per step, as the "
    "loop-level function does."),
    ("* rho uses max(1, |x| + |y|): entries below 0.5 in magnitude (all of LSTM's gradient, "
    "~1e-5) are compared in absolute terms."),
    ("* autograd's loop-heavy times are dominated by Python's cyclic garbage collector walking "
    "its large graphs (measured with the collector on, as users run it)."),
]


def console_table(rows) -> str:
    head = (f"{'problem':32} {'tool':18} {'obj ms':>9} {'deriv ms':>10} {'ratio':>7} "
            f"{'first s':>22} {'rho':>10}  status")
    out = [head, "-" * len(head)]
    for row in rows:
        ratio = f"{row['ratio']:.2f}" if row.get("ratio") is not None else "—"
        out.append(f"{row['label'][:32]:32} {peers.LABELS[row['tool']][:18]:18} "
                   f"{ms(row.get('obj_med')):>9} {ms(row.get('grad_med')):>10} {ratio:>7} "
                   f"{first_call(row):>22} {rho_text(row):>10}  "
                   f"{status_text(row).replace('**', '')[:90]}")
    out.append("")
    for goal, measured, verdict in target_lines(rows):
        out.append(f"  {verdict.replace('**', ''):12} {goal}: {measured}")
    return "\n".join(out)
