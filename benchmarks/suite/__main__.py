"""python -m benchmarks.suite run [--quick] [--only NAME ...] [--tools TOOL ...]

See benchmarks/suite/__init__.py for what is measured and how."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.suite",
                                     description="autodiff_compiler against JAX, PyTorch, "
                                                 "autograd, tangent-ad and central differences")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the suite and write the report")
    run.add_argument("--quick", action="store_true",
                     help="smaller sizes, fewer calls, 20 s cap (under 3 minutes); the report "
                          "goes to a temporary directory unless --out-dir is given")
    run.add_argument("--only", nargs="+", metavar="NAME",
                     help="problems to run: names (gmm_d10_K25, ba1, lstm_l2_c1024, "
                          "ode_lorenz96, garch, mc_greeks, kmeans, lse, gmm_vec_d10_K25, "
                          "lstm_vec_l2_c1024, ...) or families (gmm, ba, lstm, "
                          "ode, garch, mc)")
    run.add_argument("--tools", nargs="+", metavar="TOOL",
                     help="tools to run (ours jax torch autograd tangent central); default all "
                          "that are installed")
    run.add_argument("--out-dir", type=Path, default=None,
                     help="where RESULTS.md and the plots go (default: benchmarks/ for a full "
                          "run, a temporary directory for --quick)")
    run.add_argument("--keep", action="store_true",
                     help="keep the workers' raw results (JSON, .npy) and print where")
    worker = sub.add_parser("worker", help=argparse.SUPPRESS)
    worker.add_argument("--instance", required=True)
    worker.add_argument("--tool", required=True)
    worker.add_argument("--quick", action="store_true")
    worker.add_argument("--warm", action="store_true")
    worker.add_argument("--outdir", type=Path, required=True)
    opts = parser.parse_args(argv)
    if opts.command == "worker":
        from benchmarks.suite.worker import run as run_worker

        return run_worker(opts.instance, opts.tool, opts.quick, opts.outdir, opts.warm)
    from benchmarks.suite.runner import run_suite

    return run_suite(opts)


if __name__ == "__main__":
    sys.exit(main())
