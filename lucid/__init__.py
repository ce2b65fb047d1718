"""lucid: PyTorch-shaped models on a functional core, compiled with Numba.

``lucid.Tensor`` and the functions here mirror ``torch``; every op binds a primitive from
:mod:`lucid.ops`, and eager autograd lives in :mod:`lucid.autograd`.
"""

from __future__ import annotations

__version__ = "0.1.0"

# Before anything imports NumPy: let OpenBLAS use this CPU's AVX-512 kernels (see _blas.py).
from . import _blas

_blas.configure()

from . import errors
from .dtypes import (
    DType, bool_, double, float16, float32, float64, get_default_dtype, half, int8, int16,
    int32, int64, long, promote_types, result_type, set_default_dtype, short, uint8,
)
from .dtypes import bool_ as bool
from .device import Device, Device as device  # noqa: N813
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .tensor import Size, Tensor
from . import autograd, ops, tree, random
from .creation import (
    arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like, linspace, ones,
    ones_like, rand, rand_like, randint, randn, randn_like, randperm, tensor, zeros, zeros_like,
)
from .random import Generator, initial_seed, manual_seed, seed
from .ops import *  # noqa: F403
from . import testing
from .io import load, save
from . import data, func, io, nn, optim
from . import config, jit
from .func import grad, hessian, jacfwd, jacrev, jvp, value_and_grad, vjp, vmap
from .jit.trace import make_graph
from .jit.control_flow import cond, while_loop

float = float32
int = int32


def is_tensor(x: object) -> bool:
    """Whether ``x`` is a lucid Tensor."""
    return isinstance(x, Tensor)


def numel(x: Tensor) -> int:
    """The number of elements of ``x``."""
    return x.numel()
