"""The exceptions lucid raises.

Every message names the operation, the shapes / dtypes / devices involved and what to do about
it. Each class also derives from the built-in exception a Python user would expect, so
``except ValueError`` keeps working for shape problems.
"""

from __future__ import annotations


class LucidError(Exception):
    """Base class of every error raised by lucid itself."""


class ShapeError(LucidError, ValueError):
    """Operands' shapes do not fit the operation (raised by a primitive's shape rule)."""


class DTypeError(LucidError, TypeError):
    """An operand's dtype is not accepted by the operation, or a cast is not allowed."""


class DeviceError(LucidError, RuntimeError):
    """Operands live on different devices, or a device is not available."""


class TracerError(LucidError, TypeError):
    """A traced (symbolic) value was used where a concrete value is needed."""


class CheckpointError(LucidError, OSError):
    """A checkpoint file is missing, truncated or corrupt."""


class MissingOverrideError(LucidError, NotImplementedError):
    """A base-class method that subclasses must override was called (``Module.forward``,
    ``Optimizer.step``, ``LRScheduler.get_lr``): PyTorch raises NotImplementedError there, and
    this is one, naming the class that lacks the method."""


class AutogradError(LucidError, RuntimeError):
    """Backward cannot run: freed graph, in-place modification, non-differentiable output..."""


__all__ = [
    "LucidError",
    "ShapeError",
    "DTypeError",
    "DeviceError",
    "TracerError",
    "CheckpointError",
    "AutogradError",
    "MissingOverrideError",
]
