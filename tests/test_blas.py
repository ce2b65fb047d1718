"""lucid's GEMM backend (``lucid/kernels/cpu/blas.py``): SciPy's OpenBLAS, loaded by lucid
before anything else imports SciPy, without importing the whole ``scipy.linalg`` package."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from lucid.kernels.cpu.blas import gemm, matmul

_PROBE = r"""
import json, sys
import numpy as np
import lucid
from lucid.kernels.cpu.blas import gemm, scipy_blas
a = np.arange(12, dtype=np.float32).reshape(3, 4)
r = gemm(a, a.T)
report = {"linalg_package": "scipy.linalg" in sys.modules,
          "fblas": "scipy.linalg._fblas" in sys.modules,
          "ok": bool(np.allclose(r, a @ a.T))}
import scipy.linalg
report["same_module"] = scipy.linalg.blas.sgemm is scipy_blas().sgemm
print(json.dumps(report))
"""


def test_first_gemm_loads_only_the_blas_extension():
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                         check=True).stdout
    report = json.loads(out.strip().splitlines()[-1])
    assert report == {"linalg_package": False, "fblas": True, "ok": True, "same_module": True}


def test_gemm_layouts_and_dtypes_equal_numpy():
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        a = rng.standard_normal((5, 7)).astype(dtype)
        b = rng.standard_normal((7, 3)).astype(dtype)
        strided = np.empty((5, 14), dtype)[:, ::2]  # no BLAS layout: np.matmul takes it
        strided[...] = a
        for x, y in ((a, b), (np.asfortranarray(a), b), (a, np.asfortranarray(b)),
                     (strided, b)):
            ref = x.astype(np.float64) @ y.astype(np.float64)
            got = gemm(x, y)
            assert got.dtype == dtype
            np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    out = np.empty((5, 3), np.float32)
    assert gemm(a.astype(np.float32), b.astype(np.float32), out=out) is out
    np.testing.assert_allclose(out, a @ b, rtol=1e-5, atol=1e-5)
    stack = rng.standard_normal((4, 5, 7)).astype(np.float32)
    np.testing.assert_allclose(matmul(stack, stack.transpose(0, 2, 1)),
                               stack @ stack.transpose(0, 2, 1), rtol=1e-5, atol=1e-5)
