"""The kernel cache: generated Numba source, keyed by its hash, in memory and on disk.

Generated kernels are written as Python modules into the cache folder and imported from
there, so Numba's own ``cache=True`` (which needs a real file) stores their machine code beside
them: a fresh process that needs an already-built kernel imports the module and loads the code
in milliseconds instead of compiling.

- Folder: ``LUCID_CACHE_DIR``, else ``$XDG_CACHE_HOME/lucid`` or ``~/.cache/lucid``; kernels go
  into a subfolder per (lucid, Numba, NumPy, CPU) combination, so an upgrade never loads stale
  machine code.
- Writes are atomic (temporary file, then rename), so two processes compiling the same kernel
  at once both succeed and nobody imports a half-written file.
- A corrupt or truncated module is rebuilt with a warning, never fatal; so is a kernel whose
  cached machine code fails to load.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import platform
import shutil
import sys
import tempfile
import types
import warnings
from typing import Any

_memory: dict[str, types.ModuleType] = {}


class Stats:
    """Counters for traces, kernel compilations, and cache hits (``lucid.jit.stats()``)."""

    def __init__(self) -> None:
        self.traces = 0
        self.compiles = 0  # Numba compilations (machine code built, not loaded from disk)
        self.disk_loads = 0  # kernels whose machine code came from Numba's disk cache
        self.hits = 0  # jitted calls served by an existing plan
        self.kernel_modules = 0  # generated modules imported

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)

    def __repr__(self) -> str:
        return "Stats(" + ", ".join(f"{k}={v}" for k, v in self.__dict__.items()) + ")"


STATS = Stats()


def cache_dir() -> str:
    """The root cache folder (see the module docstring)."""
    root = os.environ.get("LUCID_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "lucid")
    return root


def _target() -> str:
    import numba
    import numpy

    from .. import __version__

    try:
        from numba.core.config import CPU_NAME

        cpu = CPU_NAME or ""
    except ImportError:
        cpu = ""
    if not cpu:
        import llvmlite.binding as llvm

        cpu = llvm.get_host_cpu_name()
    return f"lucid{__version__}-numba{numba.__version__}-numpy{numpy.__version__}-" \
           f"py{sys.version_info[0]}{sys.version_info[1]}-{platform.machine()}-{cpu}"


_kernel_dir: str | None = None
_kernel_root: str | None = None  # the cache_dir() that _kernel_dir was made for


def kernel_dir() -> str:
    """The folder for this lucid / Numba / NumPy / CPU combination."""
    global _kernel_dir, _kernel_root
    root = cache_dir()
    # Compared exactly (not as a prefix: ``cache1`` is a prefix of ``cache10/...``), so a
    # changed LUCID_CACHE_DIR always takes effect.
    if _kernel_dir is None or _kernel_root != root:
        tag = hashlib.sha256(_target().encode()).hexdigest()[:16]
        _kernel_dir = os.path.join(root, "kernels", tag)
        _kernel_root = root
    os.makedirs(_kernel_dir, exist_ok=True)
    return _kernel_dir


def source_key(source: str) -> str:
    """The cache key of a generated module: a hash of its source (and the target, through
    the folder it lives in)."""
    return hashlib.sha256(source.encode()).hexdigest()[:24]


def _write_atomic(path: str, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".py", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _import(path: str, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered before running it: Numba's disk cache re-imports a kernel's module by name
    # when it loads the kernel's machine code.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def load_module(source: str) -> types.ModuleType:
    """Import the generated module with this source, writing it to disk first if needed."""
    key = source_key(source)
    mod = _memory.get(key)
    if mod is not None:
        return mod
    path = os.path.join(kernel_dir(), f"k_{key}.py")
    name = f"lucid_kernel_{key}"
    for attempt in range(2):
        try:
            if not os.path.exists(path) or _read(path) != source:
                if os.path.exists(path):
                    warnings.warn(f"lucid: kernel cache entry {path} is corrupt; rebuilding it",
                                  RuntimeWarning, stacklevel=3)
                    _purge(path)
                _write_atomic(path, source)
            mod = _import(path, name)
            break
        except (SyntaxError, ImportError, ValueError, EOFError) as e:
            if attempt:
                raise
            warnings.warn(f"lucid: kernel cache entry {path} could not be loaded ({e}); "
                          f"rebuilding it", RuntimeWarning, stacklevel=3)
            _purge(path)
    _memory[key] = mod
    STATS.kernel_modules += 1
    return mod


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except (OSError, UnicodeDecodeError):
        return None


def _purge(path: str) -> None:
    """Remove a module and Numba's cached machine code for it."""
    stem = os.path.splitext(os.path.basename(path))[0]
    for p in (path,):
        if os.path.exists(p):
            os.unlink(p)
    pyc = os.path.join(os.path.dirname(path), "__pycache__")
    if os.path.isdir(pyc):
        for f in os.listdir(pyc):
            if f.startswith(stem + "."):
                os.unlink(os.path.join(pyc, f))


def _from_numba_cache(e: BaseException) -> bool:
    """Whether ``e`` was raised while Numba read its disk cache (a garbled index or data file
    raises whatever its unpickling hits: ValueError, EOFError, UnpicklingError, ...)."""
    tb = e.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(os.path.join("numba", "core", "caching.py")):
            return True
        tb = tb.tb_next
    return False


def call_kernel(fn: Any, *args: Any) -> Any:
    """Call a Numba dispatcher, counting compilations and disk-cache loads; a broken cache
    entry for it is cleared and the call retried (the kernel is then recompiled)."""
    # ``overloads`` is a dict: its length is O(1), unlike the ``signatures`` list built on
    # every access; this check runs once per kernel call of every plan.
    before = len(fn.overloads)
    try:
        out = fn(*args)
    except Exception as e:  # a corrupt Numba cache file surfaces here on first call
        if len(fn.overloads) != before or not _from_numba_cache(e):
            raise
        warnings.warn(f"lucid: Numba cache for {fn.__name__} failed to load ({e}); recompiling",
                      RuntimeWarning, stacklevel=2)
        fn._cache.flush()
        fn.enable_caching()
        out = fn(*args)
    if len(fn.overloads) != before:
        stats = fn.stats
        if sum(stats.cache_hits.values()) > getattr(fn, "_lucid_hits", 0):
            fn._lucid_hits = sum(stats.cache_hits.values())
            STATS.disk_loads += 1
        else:
            STATS.compiles += 1
            from .. import config

            if config.log_compiles:
                print(f"lucid: compiled kernel {fn.__name__} for {fn.signatures[-1]}",
                      file=sys.stderr)
    return out


def clear(memory_only: bool = False) -> None:
    """Forget loaded kernels (and, unless ``memory_only``, delete this target's folder)."""
    _memory.clear()
    if not memory_only and _kernel_dir and os.path.isdir(_kernel_dir):
        shutil.rmtree(_kernel_dir, ignore_errors=True)


__all__ = ["cache_dir", "kernel_dir", "load_module", "call_kernel", "STATS", "Stats", "clear"]
