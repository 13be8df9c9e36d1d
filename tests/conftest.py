"""Shared test setup: generated modules go to a per-session temporary cache directory."""

import pytest

import autodiff_compiler


@pytest.fixture(scope="session", autouse=True)
def _cache_dir(tmp_path_factory):
    autodiff_compiler.set_cache_dir(tmp_path_factory.mktemp("adc_cache"))
