"""GEMM for lucid's kernels: one BLAS, loaded with the fastest kernel this CPU supports.

NumPy's OpenBLAS reads ``OPENBLAS_CORETYPE`` when NumPy is imported, usually before lucid can
say anything; on AVX-512 CPUs where it then runs its AVX2 kernel, GEMM reaches about half the
machine's rate. SciPy ships a second OpenBLAS that is loaded only when ``scipy.linalg`` is
first imported, so lucid loads it itself, asking for the AVX-512 ("SkylakeX") kernel when the
CPU has every instruction set it needs (read from the CPU's flags, never assumed), and sends
*all* of its own float32/float64 GEMMs there (matmul, convolution). Using one BLAS for all of
lucid's GEMMs matters: two OpenBLAS thread pools taking turns spin against each other.
``LUCID_BLAS_CORETYPE=0`` keeps whatever OpenBLAS chooses by itself.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

_blas: Any = None
# SciPy modules that load no compiled BLAS (imported by ``import scipy`` itself).
_PURE = {"scipy.__config__", "scipy.version", "scipy._distributor_init", "scipy._lib",
         "scipy._lib._pep440", "scipy._lib._ccallback", "scipy._lib._testutils",
         "scipy._lib._ccallback_c", "scipy._cyutility"}


def _import_fblas() -> Any:
    """SciPy's Fortran BLAS wrappers (``scipy.linalg._fblas``: ``sgemm``, ``dgemm``, ...).

    Importing ``scipy.linalg`` runs its whole package (LAPACK wrappers, decompositions, ~0.2 s)
    although lucid needs one extension module from it, and this load is on the path of every
    process's first jitted call. So the extension is loaded from its file (~10 ms) and
    registered under its own name: a later ``import scipy.linalg`` finds it in
    ``sys.modules`` and uses this very module (same OpenBLAS, same kernel choice)."""
    name = "scipy.linalg._fblas"
    if name in sys.modules:
        return sys.modules[name]
    import importlib.util

    import scipy

    spec = None
    folder = os.path.join(os.path.dirname(scipy.__file__), "linalg")
    for entry in sorted(os.listdir(folder)) if os.path.isdir(folder) else ():
        if entry.startswith("_fblas.") and entry.endswith((".so", ".pyd")):
            spec = importlib.util.spec_from_file_location(name, os.path.join(folder, entry))
            break
    if spec is None or spec.loader is None:  # an unusual SciPy layout: the ordinary way
        from scipy.linalg import _fblas

        return _fblas
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


# How long an idle worker of this OpenBLAS spins before it sleeps: 2**20 TSC cycles (~0.3-0.5
# ms; OpenBLAS's default 2**28 is ~0.1 s, and 2**4, what lucid used to ask for, is none). Eager
# code runs Python for tens to a few hundred microseconds between GEMMs; a worker that fell
# asleep meanwhile must be woken for every product, which cost the MLP's eager training step
# (eight GEMMs of 3-100 us) most of its second thread's gain: 0.90 -> 0.76 ms at 2 threads on 2
# AVX-512 cores with PyTorch at 0.61 ms. A pool idle for a millisecond still goes to sleep,
# so it does not keep a core busy once the GEMMs stop. OPENBLAS_THREAD_TIMEOUT set by the
# user wins.
_SPIN = "20"


def _load() -> Any:
    global _blas
    if _blas is None:
        from ... import _blas as _choice

        env = os.environ
        scipy_loaded = any(m.startswith("scipy.") and m not in _PURE for m in sys.modules)
        want = (env.get("LUCID_BLAS_CORETYPE", "1") != "0" and not scipy_loaded
                and _choice.cpu_flags() >= _choice.NEEDED)
        # The settings below are for this library's load only: each is put back afterwards.
        saved = {k: env.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_THREAD_TIMEOUT")}
        if want:
            env["OPENBLAS_CORETYPE"] = "SkylakeX"
        if saved["OPENBLAS_THREAD_TIMEOUT"] is None or _choice.timeout_chosen:
            env["OPENBLAS_THREAD_TIMEOUT"] = _SPIN
        try:
            blas = _import_fblas()
        finally:
            for k, v in saved.items():
                if v is None:
                    env.pop(k, None)
                else:
                    env[k] = v
        _blas = blas
    return _blas


def scipy_blas() -> Any:
    """SciPy's BLAS wrappers (``sgemm``, ``dgemm``), loaded (once) with the kernel this module
    picks. Code that imports other parts of SciPy calls this first: any SciPy extension loads
    the same OpenBLAS."""
    return _load()


def _fortran_operand(x: np.ndarray) -> tuple[np.ndarray, int] | None:
    """``x`` as BLAS sees it without a copy: (array, transpose flag), or None."""
    if x.flags.f_contiguous:
        return x, 0
    if x.flags.c_contiguous:
        return x.T, 1
    return None


def gemm(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` for 2-d float32/float64 operands (anything else goes to ``np.matmul``)."""
    if (a.ndim != 2 or b.ndim != 2 or a.dtype != b.dtype or a.dtype.char not in "fd"
            or 0 in a.shape or 0 in b.shape):
        return np.matmul(a, b, out=out)
    # Row-major C = A @ B is column-major C^T = B^T @ A^T.
    at, bt = _fortran_operand(a.T), _fortran_operand(b.T)
    if at is None or bt is None:
        return np.matmul(a, b, out=out)
    blas = _load()
    f = blas.sgemm if a.dtype.char == "f" else blas.dgemm
    (bx, tb), (ax, ta) = bt, at
    if out is not None and out.flags.c_contiguous and out.dtype == a.dtype:
        f(1.0, bx, ax, beta=0.0, c=out.T, trans_a=tb, trans_b=ta, overwrite_c=1)
        return out
    r = f(1.0, bx, ax, trans_a=tb, trans_b=ta).T
    if out is not None:
        np.copyto(out, r)
        return out
    return r


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.matmul`` semantics; 2-d float products (and stacks of them) through :func:`gemm`."""
    if a.ndim == 2 and b.ndim == 2:
        return gemm(a, b)
    if a.ndim == 3 and b.ndim == 3 and a.shape[0] == b.shape[0] and a.dtype == b.dtype \
            and a.dtype.char in "fd" and a.shape[0] <= 16:
        out = np.empty((a.shape[0], a.shape[1], b.shape[2]), dtype=a.dtype)
        for i in range(a.shape[0]):
            gemm(a[i], b[i], out[i])
        return out
    return np.matmul(a, b)


__all__ = ["gemm", "matmul"]
