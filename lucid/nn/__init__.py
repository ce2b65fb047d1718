"""Neural-network building blocks, shaped like ``torch.nn``.

Every ``Module`` subclass is a :mod:`lucid.tree` pytree node automatically (see
:mod:`lucid.nn.module`). Layers, losses and ``functional`` live in their own files; extend the
import list below, one section per file, and ``__all__`` with them.
"""

# ruff: noqa: I001 - imports are grouped by file, one section each, not sorted

from __future__ import annotations

# --- core: parameters, the Module base class ---------------------------------------------------
from .parameter import Parameter, UninitializedParameter, is_lazy
from .module import IncompatibleKeys, Module, RemovableHandle, StateDictError

# --- containers --------------------------------------------------------------------------------
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential

# --- layers (lucid/nn/layers/*.py), losses, functional: added by their authors below ----------

# --- functional and init (the submodules, as torch.nn.functional / torch.nn.init) -------------
from . import functional, init

# --- layers and losses (lucid/nn/layers/*.py) ---------------------------------------------------
from .layers.linear import Bilinear, LazyLinear, LazyModuleMixin, Linear
from .layers.flatten import Flatten, Identity, Unflatten
from .layers.conv import (
    Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d, LazyConv1d,
    LazyConv2d, LazyConv3d, LazyConvTranspose1d, LazyConvTranspose2d, LazyConvTranspose3d,
)
from .layers.pooling import (
    AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, AdaptiveMaxPool1d,
    AdaptiveMaxPool2d, AdaptiveMaxPool3d, AvgPool1d, AvgPool2d, AvgPool3d, MaxPool1d,
    MaxPool2d, MaxPool3d,
)
from .layers.normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, GroupNorm, LayerNorm
from .layers.dropout import Dropout, Dropout2d
from .layers.sparse import Embedding
from .layers.activation import (
    CELU, ELU, GELU, SELU, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU, LogSigmoid, LogSoftmax,
    Mish, ReLU, ReLU6, Sigmoid, SiLU, Softmax, Softmin, Softplus, Tanh,
)
from .layers.loss import (
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss,
    NLLLoss, SmoothL1Loss,
)
# The spellings of lucid's original documentation (Conv2D, ...): aliases of the same classes.
from .layers import (
    AvgPool1D, AvgPool2D, BatchNorm1D, BatchNorm2D, Conv1D, Conv2D, Conv3D, MaxPool1D, MaxPool2D,
)

__all__ = [
    # core
    "Parameter",
    "UninitializedParameter",
    "is_lazy",
    "Module",
    "RemovableHandle",
    "StateDictError",
    "IncompatibleKeys",
    # containers
    "Sequential",
    "ModuleList",
    "ModuleDict",
    "ParameterList",
    "ParameterDict",
    # functional, init
    "functional",
    "init",
    # layers/linear.py, layers/flatten.py
    "Identity", "Linear", "LazyLinear", "Bilinear", "LazyModuleMixin", "Flatten", "Unflatten",
    # layers/conv.py
    "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
    "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
    "LazyConvTranspose3d",
    # layers/pooling.py
    "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
    # layers/normalization.py, layers/dropout.py, layers/sparse.py
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm", "Dropout",
    "Dropout2d", "Embedding",
    # layers/activation.py
    "ReLU", "ReLU6", "LeakyReLU", "ELU", "CELU", "SELU", "GELU", "SiLU", "Mish", "Sigmoid",
    "Tanh", "Softplus", "Hardtanh", "Hardsigmoid", "Hardswish", "LogSigmoid", "Softmax",
    "LogSoftmax", "Softmin",
    # layers/loss.py
    "L1Loss", "MSELoss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss",
    "HuberLoss", "SmoothL1Loss", "KLDivLoss",
    # aliases (lucid's original spellings)
    "Conv1D", "Conv2D", "Conv3D", "MaxPool1D", "MaxPool2D", "AvgPool1D", "AvgPool2D",
    "BatchNorm1D", "BatchNorm2D",
]
