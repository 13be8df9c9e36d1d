"""PNG plots of the suite's results (matplotlib, Agg backend): times per problem and tool on a
log scale, and the derivative / objective ratio per tool with the targets of ours."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.suite import peers
from benchmarks.suite.report import RATIO_TARGETS

COLOURS = {"ours": "#d62728", "jax": "#1f77b4", "torch": "#ff7f0e", "autograd": "#2ca02c",
           "tangent": "#9467bd", "central": "#7f7f7f"}


def _grouped(ax, rows, instances, tools, key, missing_mark=True):
    width = 0.8 / max(1, len(tools))
    values = {(r["instance"], r["tool"]): r for r in rows}
    x = np.arange(len(instances))
    floor = None
    for t_index, tool in enumerate(tools):
        heights = []
        for inst in instances:
            row = values.get((inst.name, tool), {})
            heights.append(row.get(key))
        pos = x - 0.4 + width * (t_index + 0.5)
        h = np.array([np.nan if v is None else v for v in heights], dtype=float)
        ax.bar(pos, h, width, color=COLOURS[tool], label=peers.LABELS[tool])
        finite = h[np.isfinite(h)]
        if finite.size:
            floor = finite.min() if floor is None else min(floor, finite.min())
        if missing_mark:
            for p, v, inst in zip(pos, heights, instances):
                if v is None:
                    status = values.get((inst.name, tool), {}).get("status", "")
                    mark = {"over cap": "cap", "unsupported": "n/a", "error": "err"}.get(
                        status, "—")
                    ax.annotate(mark, (p, 0), xycoords=("data", "axes fraction"),
                                xytext=(0, 2), textcoords="offset points", ha="center",
                                va="bottom", fontsize=7, rotation=90, color="black")
    ax.set_xticks(x)
    ax.set_xticklabels([inst.label.replace(" [quick]", "*") for inst in instances],
                       rotation=25, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.grid(axis="y", which="major", alpha=0.3)
    return x


def write_plots(rows, instances, tools, out_dir: Path, context) -> list[Path]:
    try:
        import matplotlib
    except ImportError:
        print("matplotlib not installed: no plots")
        return []
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    suffix = " (QUICK MODE)" if context["quick"] else ""
    scaled = [dict(r) for r in rows]
    for r in scaled:
        for key in ("obj_med", "grad_med"):
            if r.get(key) is not None:
                r[key + "_ms"] = 1e3 * r[key]
    paths = []

    fig, axes = plt.subplots(2, 1, figsize=(14, 9), sharex=True)
    _grouped(axes[0], scaled, instances, tools, "obj_med_ms")
    axes[0].set_ylabel("objective, ms (log)")
    axes[0].set_title(f"Objective and derivative times per problem, one thread{suffix}")
    _grouped(axes[1], scaled, instances, tools, "grad_med_ms")
    axes[1].set_ylabel("derivative, ms (log)")
    axes[0].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.005, 1.0))
    fig.text(0.01, 0.005, "Missing bars: cap = over the time cap, n/a = unsupported, "
             "err = crashed, — = not run. Medians after warm-up.", fontsize=7)
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    path = out_dir / "suite_times.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)

    fig, ax = plt.subplots(figsize=(14, 5.5))
    x = _grouped(ax, scaled, instances, tools, "ratio")
    for i, inst in enumerate(instances):
        target = RATIO_TARGETS.get(inst.family)
        if target is not None:
            ax.hlines(target, i - 0.45, i + 0.45, colors=COLOURS["ours"], linestyles="dashed",
                      linewidth=1.2)
    ax.plot([], [], color=COLOURS["ours"], linestyle="dashed", label="target for ours")
    ax.axhline(1.0, color="black", linewidth=0.6)
    ax.set_ylabel("derivative time / objective time (log)")
    ax.set_title(f"Cost of the derivative relative to each tool's own objective{suffix}")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.005, 1.0))
    del x
    fig.tight_layout()
    path = out_dir / "suite_ratios.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)
    return paths
