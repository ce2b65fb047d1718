"""Global switches, read from the environment at import and settable at run time.

- ``disable_jit`` (``LUCID_DISABLE_JIT=1``): transforms run eagerly, for debugging: ``grad``
  uses the eager tape, ``vmap`` loops over the batch, nothing is traced.
- ``log_compiles`` (``LUCID_LOG_COMPILES=1``): log each compilation and its reason.
"""

from __future__ import annotations

import os


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


disable_jit: bool = _flag("LUCID_DISABLE_JIT")
log_compiles: bool = _flag("LUCID_LOG_COMPILES")

__all__ = ["disable_jit", "log_compiles"]
