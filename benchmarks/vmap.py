"""Per-sample gradients, 10^4 samples x 20 features: vmap(grad(loss), in_axes=(None, 0, 0)).

Run with `python -m benchmarks.vmap` (`--quick` for fewer repeats). Compares the compiled
batch loop (serial, and prange with parallel=True), a Python loop calling the gradient once
per sample, and jax.vmap(jax.grad(loss)) under jax.jit when JAX is installed (the `bench`
extra; the table says when it is not). Medians of repeated calls after warm-up, in ms.
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np

from benchmarks.timing import median_seconds


def loss(w, x, y):
    r = np.dot(x, w) - y
    return r * r + 0.1 * np.sum(w * w)


def timed(fn, repeats: int) -> float:
    return median_seconds(fn, repeats) * 1e3

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    import autodiff_compiler
    from autodiff_compiler import grad, vmap

    autodiff_compiler.set_cache_dir(tempfile.mkdtemp(prefix="adc_vmap_"))
    repeats = 5 if options.quick else 30
    rng = np.random.default_rng(0)
    n, d = 10_000, 20
    X, y, w = rng.normal(size=(n, d)), rng.normal(size=n), rng.normal(size=d)
    g = grad(loss)
    serial = vmap(g, in_axes=(None, 0, 0))
    threaded = vmap(g, in_axes=(None, 0, 0), parallel=True)
    reference = 2 * (X @ w - y)[:, None] * X + 0.2 * w
    rows = {}
    for name, fn in (("vmap, compiled loop", lambda: serial(w, X, y)),
                     ("vmap, prange (parallel=True)", lambda: threaded(w, X, y)),
                     ("Python loop over g", lambda: np.stack([g(w, X[i], y[i])
                                                              for i in range(n)]))):
        np.testing.assert_allclose(fn(), reference, rtol=1e-10)
        rows[name] = timed(fn, repeats if "Python" not in name else max(3, repeats // 5))
    try:
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        jloss = lambda w, x, y: (jnp.dot(x, w) - y) ** 2 + 0.1 * jnp.sum(w * w)
        jfn = jax.jit(jax.vmap(jax.grad(jloss), in_axes=(None, 0, 0)))
        rows["jax.jit(jax.vmap(jax.grad))"] = timed(
            lambda: jfn(w, X, y).block_until_ready(), repeats)
    except ImportError:
        rows["jax.vmap: JAX not installed"] = float("nan")
    print(f"per-sample gradients, {n} x {d} (float64), ms per batch")
    for name, ms in rows.items():
        print(f"  {name:<34} {ms:>9.3f}")


if __name__ == "__main__":
    main()
