"""Shared test setup: generated modules go to a per-session temporary cache directory, and
CUDA code runs on Numba's CUDA simulator (set before anything imports numba)."""

import os

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import pytest

import autodiff_compiler


@pytest.fixture(scope="session", autouse=True)
def _cache_dir(tmp_path_factory):
    autodiff_compiler.set_cache_dir(tmp_path_factory.mktemp("adc_cache"))
