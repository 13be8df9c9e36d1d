"""Comparison suite: autodiff_compiler against JAX, PyTorch, autograd, tangent-ad and central
differences.

    python -m benchmarks.suite run [--quick] [--only NAME ...] [--tools TOOL ...]

Problems (benchmarks/suite/problems/, one module per family): GMM (ADBench 1k d2_K5, d10_K25,
d20_K50), BA (ba1, ba3: the sparse Jacobian, 2 x 15 blocks), LSTM (l2_c1024, l4_c4096),
RK4 Lorenz-96 (N = 40, 5000 steps, d/d(y0, F)), GARCH(1,1) (T = 10^5, d/d(omega, alpha, beta)),
Monte-Carlo Greeks (10^4 paths x 252 steps, pathwise delta and vega of a European call).
Ours differentiates the existing loop-level objectives (examples/adbench, benchmarks/control)
and, for MC, problems/mc.py's loop with a pre-generated normal matrix argument. The vectorised
problems (kmeans, gmm_vec_d10_K25, lse, lstm_vec_l2_c1024: problems/vectorised.py) are written
as JAX users write them, np for jnp; JAX and autograd run that same source.

Tools (benchmarks/suite/peers/, one module each): ours, JAX (jit, float64), PyTorch (eager),
autograd, tangent-ad, central differences of the Numba objective. Those not installed are
skipped and the report says so (`pip install -e .[bench]` installs them).

Each (problem, tool) is measured in its own process (worker.py), single-threaded, one after the
other: objective and derivative medians after warm-up, their ratio, the first call (compile +
run; ours also with a warm on-disk cache in a fresh process) and the largest
rho(x, y) = |x - y| / max(1, |x| + |y|) of the derivative against JAX float64 (else fourth-order
central differences of a few entries). A tool that cannot do a problem, crashes or exceeds the
time cap (60 s per call; 20 s in --quick) is reported as such. The report goes to
benchmarks/RESULTS.md with plots benchmarks/suite_times.png and suite_ratios.png (--quick:
to a temporary directory unless --out-dir is given, and labelled QUICK).
"""
