"""Benchmarks for autodiff_compiler (run e.g. `python -m benchmarks.spine`)."""
