"""Pick the fastest BLAS kernels this CPU supports, before NumPy loads OpenBLAS.

NumPy's bundled OpenBLAS picks its kernels at load time; on some AVX-512 CPUs (AMD's among
them) it picks the AVX2 ("Haswell") kernels although its AVX-512 ("SkylakeX") kernels run GEMM
up to twice as fast. When lucid is imported before NumPy, and the user has not chosen already
(``OPENBLAS_CORETYPE``), this reads the CPU's features and asks for the AVX-512 kernels when
the CPU has every instruction set they need. Nothing is assumed: without those flags, or when
NumPy is already loaded, nothing changes. ``LUCID_BLAS_CORETYPE=0`` turns this off.
"""

from __future__ import annotations

import os
import sys

NEEDED = {"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"}
# Whether configure() set OPENBLAS_THREAD_TIMEOUT (so the user did not).
timeout_chosen = False


def cpu_flags() -> set[str]:
    """The CPU feature flags the kernel reports (empty where /proc/cpuinfo does not exist)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def configure() -> str | None:
    """Set ``OPENBLAS_CORETYPE`` if that can still take effect; returns what was set.

    Also caps how long the idle worker threads of NumPy's OpenBLAS spin after a GEMM
    (``OPENBLAS_THREAD_TIMEOUT``, unless set): lucid's own GEMMs run on SciPy's OpenBLAS
    (``lucid/kernels/cpu/blas.py``, which chooses that pool's timeout), and a second pool
    spinning next to it slows it down.
    """
    global timeout_chosen
    if "numpy" in sys.modules:
        return None  # too late: OpenBLAS has read its settings
    if "OPENBLAS_THREAD_TIMEOUT" not in os.environ:
        os.environ["OPENBLAS_THREAD_TIMEOUT"] = "4"
        timeout_chosen = True
    if os.environ.get("LUCID_BLAS_CORETYPE", "1") == "0" or "OPENBLAS_CORETYPE" in os.environ:
        return None
    if cpu_flags() >= NEEDED:
        os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"
        return "SkylakeX"
    return None


__all__ = ["configure", "cpu_flags", "NEEDED"]
