"""Functional transforms over modules and functions (``torch.func``-shaped).

Each transform lives in its own file; add new ones to the import list below.
"""

from __future__ import annotations

# --- calling modules functionally -------------------------------------------------------------
from .functional_call import ReparametrizeError, functional_call

__all__ = [
    "functional_call",
    "ReparametrizeError",
]
