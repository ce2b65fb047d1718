"""Optimizers and learning-rate schedulers, shaped like ``torch.optim``.

``lucid.optim.SGD / Adam / AdamW / RMSprop / Adagrad`` update parameters in place with exactly
PyTorch's (single-tensor) update rules; ``lucid.optim.lr_scheduler`` holds the schedulers.
"""

from __future__ import annotations

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer, required
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "required", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]
