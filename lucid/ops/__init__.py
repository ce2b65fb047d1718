"""lucid's operations: the primitive registry and the public functions that bind primitives.

One module per op family; each defines its primitives (shape rule, NumPy implementation, VJP
rule and lowering, in one place) and the PyTorch-named functions users call.
"""

from .registry import PRIMITIVES, Elementwise, Kernel, Primitive, ShapedArray, primitive
from .promotion import broadcast_shapes, normalize_dim, normalize_dims
from .convert import *  # noqa: F403
from .unary import *  # noqa: F403
from .binary import *  # noqa: F403
from .reduce import *  # noqa: F403
from .shape import *  # noqa: F403
from .index import *  # noqa: F403
from .linalg import *  # noqa: F403
from .activation import *  # noqa: F403
from .conv import *  # noqa: F403
from .pool import *  # noqa: F403
from . import convert, unary, binary, reduce, shape, index, linalg, activation, conv, pool
