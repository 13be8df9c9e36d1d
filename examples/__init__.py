"""Example programs differentiated with autodiff_compiler (importable from the repo root)."""
