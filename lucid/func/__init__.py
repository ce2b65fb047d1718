"""Functional transforms over modules and functions (``torch.func``-shaped).

Each transform lives in its own file; add new ones to the import list below.
"""

from __future__ import annotations

# --- calling modules functionally -------------------------------------------------------------
from .functional_call import ReparametrizeError, functional_call

# --- transforms ---------------------------------------------------------------------------------
from .transforms import grad, hessian, jacfwd, jacrev, jvp, value_and_grad, vjp
from .vmap import vmap

__all__ = [
    "functional_call",
    "ReparametrizeError",
    "grad",
    "value_and_grad",
    "vjp",
    "jvp",
    "vmap",
    "jacrev",
    "jacfwd",
    "hessian",
]
