"""Golden snapshots of the generated adjoint source, and determinism of code generation.

Each snapshot is `grad(f, jit=False).lower(*args).source` for a small function below,
stored in tests/snapshots/<name>.py (fused_*: the loop nests Numba gets, transforms/fuse.py).
The header line names the file the function came from by absolute path; it is normalised to
the file's base name before comparing, so the snapshots do not depend on the checkout.

After an intended change to code generation, regenerate the snapshots and review the diff:

    python tests/test_snapshots.py --update
"""

from __future__ import annotations

import inspect
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from autodiff_compiler import grad

SNAPSHOT_DIR = Path(__file__).resolve().parent / "snapshots"


def branch(x, y):
    if x > y:
        r = x * y
    else:
        r = x - 2.0 * y
    return r


def loop_with_tape(x, n):
    s = 0.0
    for i in range(n):
        s += np.sin(x[i]) * x[i]
    return s


def nested_loop(A, x):
    s = 0.0
    for i in range(A.shape[0]):
        for j in range(i, A.shape[1]):
            s += A[i, j] * math.exp(x[j]) * x[i]
    return s


def recurrence(r, x0, n):
    x = x0
    for _ in range(n):
        x = r * x * (1.0 - x)
    return x


def log_sum_exp(z):
    m = np.max(z)
    return m + np.log(np.sum(np.exp(z - m)))


def kmeans(x, c):
    return np.sum(np.min(np.sum((x[:, None, :] - c[None, :, :]) ** 2, axis=2), axis=1))


# name -> (function, arguments, argnums)
SNAPSHOTS = {
    "branch": (branch, (1.5, 0.5), (0, 1)),
    "loop_with_tape": (loop_with_tape, (np.array([0.5, 1.0, 1.5]), 3), 0),
    "nested_loop": (nested_loop, (np.ones((2, 3)), np.array([0.1, 0.2, 0.3])), (0, 1)),
    "recurrence": (recurrence, (2.5, 0.3, 4), (0, 1)),
    "fused_log_sum_exp": (log_sum_exp, (np.ones(3),), 0),
    "fused_kmeans": (kmeans, (np.ones((4, 2)), np.ones((3, 2))), (0, 1)),
}
FUSED = {"fused_log_sum_exp", "fused_kmeans"}  # the code Numba compiles: loop nests


def normalize(source: str, fn) -> str:
    """Replace the absolute path of fn's file (in the header line and the messages of
    run-time errors) by its base name."""
    path = inspect.getsourcefile(fn)
    return source.replace(path, os.path.basename(path))


def generate(name: str) -> str:
    fn, args, argnums = SNAPSHOTS[name]
    if name in FUSED:  # as grad(fn) makes it for Numba, without compiling
        from autodiff_compiler.specialize import Specializations

        spec = Specializations(fn, jit=False)
        nums, _ = spec.argnums(argnums)
        _, types = spec.prepare(args, {}, nums)
        return normalize(spec.artifact(types, nums, "grad", fuse=True).source, fn)
    return normalize(grad(fn, argnums=argnums, jit=False).lower(*args).source, fn)


def snapshot_path(name: str) -> Path:
    return SNAPSHOT_DIR / f"{name}.py"


@pytest.mark.parametrize("name", sorted(SNAPSHOTS))
def test_snapshot(name):
    path = snapshot_path(name)
    assert path.exists(), f"missing snapshot {path}; run: python tests/test_snapshots.py --update"
    expected = path.read_text()
    actual = generate(name)
    assert actual == expected, (
        f"generated source for {name!r} differs from {path}; if the change is intended, run "
        "python tests/test_snapshots.py --update and review the diff")


@pytest.mark.parametrize("name", sorted(SNAPSHOTS))
def test_header_names_the_file_not_the_directory(name):
    fn = SNAPSHOTS[name][0]
    header = generate(name).partition("\n")[0]
    assert f"{os.path.basename(__file__)}:{fn.__code__.co_firstlineno} ({fn.__name__})" in header
    assert os.path.dirname(inspect.getsourcefile(fn)) not in header


@pytest.mark.parametrize("name", sorted(SNAPSHOTS))
def test_generation_is_deterministic(name):
    # Two independent GradFunction objects (no shared per-object cache) give identical text.
    assert generate(name) == generate(name)


def test_generation_is_deterministic_across_processes(tmp_path):
    # Hash randomisation must not leak into the output (set/dict iteration order, names).
    here = Path(__file__).resolve()
    script = (
        "import sys, autodiff_compiler\n"
        f"sys.path.insert(0, {str(here.parent)!r})\n"
        f"autodiff_compiler.set_cache_dir({str(tmp_path)!r})\n"
        "import test_snapshots as t\n"
        "sys.stdout.write('\\0'.join(t.generate(n) for n in sorted(t.SNAPSHOTS)))\n"
    )
    outputs = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                              text=True, check=True, timeout=120)
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0] == "\0".join(generate(n) for n in sorted(SNAPSHOTS))


def update() -> None:
    import tempfile

    import autodiff_compiler

    with tempfile.TemporaryDirectory() as cache:
        autodiff_compiler.set_cache_dir(cache)
        SNAPSHOT_DIR.mkdir(exist_ok=True)
        for name in sorted(SNAPSHOTS):
            path = snapshot_path(name)
            source = generate(name)
            old = path.read_text() if path.exists() else None
            if old != source:
                path.write_text(source)
            print(f"{'unchanged' if old == source else 'written  '} {path}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(f"usage: python {sys.argv[0]} --update   (rewrites {SNAPSHOT_DIR}/*.py)")
    update()
