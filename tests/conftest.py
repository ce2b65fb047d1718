"""Shared fixtures."""

from __future__ import annotations

import pytest

import lucid.jit.cache as jit_cache


@pytest.fixture(scope="module")
def module_kernel_cache(tmp_path_factory: pytest.TempPathFactory):
    """A temporary kernel cache for one test module: the user's real cache is never touched,
    kernels already in memory from other modules do not hide compilations, and the module's
    tests share the kernels they have in common (a Numba compile costs ~0.3 s)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("LUCID_CACHE_DIR", str(tmp_path_factory.mktemp("jit-cache")))
    jit_cache.clear(memory_only=True)
    yield
    jit_cache.clear(memory_only=True)
    mp.undo()
