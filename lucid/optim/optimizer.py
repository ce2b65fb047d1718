"""``Optimizer``: the base class of lucid's optimizers, shaped like ``torch.optim.Optimizer``.

An optimizer holds *parameter groups* (dicts with a ``"params"`` list and per-group
hyper-parameters) and a per-parameter ``state`` dict keyed by the parameter tensor itself (lucid
Tensors hash by identity). ``step()`` updates every parameter that has a ``.grad`` IN PLACE under
``lucid.no_grad()``, so the Parameter objects a model holds stay the same objects and their
autograd version counters are bumped. ``state_dict()`` uses PyTorch's format, with parameters
replaced by integer indices, so checkpoints move between the two libraries.
"""

from __future__ import annotations

import copy
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable
from itertools import chain
from typing import Any

import numpy as np

from .. import creation as _creation
from .. import dtypes as _dt
from ..autograd import enable_grad, no_grad
from ..errors import MissingOverrideError
from ..jit import guards as _guards
from ..tensor import Tensor

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marks a hyper-parameter that every parameter group must give (no default exists)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()

_SET_MESSAGE = (
    "optimizer parameters need to be organized in ordered collections, but the ordering of "
    "tensors in sets will change between runs. Please use a list instead."
)


def _scalar_dtype() -> _dt.DType:
    """The dtype of ``state["step"]``: float32, or float64 when that is the default (as torch)."""
    return _dt.float64 if _dt.get_default_dtype() is _dt.float64 else _dt.float32


def _new_step() -> Tensor:
    """A fresh step counter: a 0-d tensor holding 0, like torch's ``state["step"]``."""
    return _new_state((), _scalar_dtype())


def _new_state(shape: tuple[int, ...], dtype: _dt.DType, fill: float = 0.0) -> Tensor:
    """A new state tensor with real data, also when ``step`` runs inside a ``lucid.jit`` trace.

    Created inside a trace, the tensor is read and updated by the traced step like any tensor
    the step closes over, and its updates are written back after the call. Such a trace is
    marked one-off (its plan runs once, uncached): the next call, which finds the state in
    place, is the one that gets compiled.
    """
    _guards.one_off("an optimizer created its state")
    return Tensor._make(np.full(shape, fill, dtype=dtype.np))


def _state_like(p: Tensor, fill: float = 0.0) -> Tensor:
    """A new state tensor shaped like parameter ``p`` (see :func:`_new_state`)."""
    return _new_state(tuple(p.shape), p.dtype, fill)


def _as_lucid(value: Any) -> Any:
    """A lucid copy of a tensor found in a state dict: lucid Tensors are cloned, torch tensors
    (a checkpoint written by ``torch.optim``) are converted through NumPy; anything else is
    returned unchanged."""
    if isinstance(value, Tensor):
        with no_grad():
            return value.detach().clone()
    if type(value).__module__.startswith("torch") and hasattr(value, "numpy"):
        return _creation.tensor(value.detach().cpu().numpy())  # copies the data
    return value


class Optimizer:
    """Base class of all optimizers.

    ``params`` is an iterable of tensors (Parameters or leaf tensors that require grad), of
    ``(name, tensor)`` pairs, or of dicts defining parameter groups (a ``"params"`` entry plus
    options that override ``defaults`` for that group). Subclasses implement :meth:`step`.
    """

    def __init__(self, params: Any, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                f"dicts, but got {type(params).__name__}"
            )
        if isinstance(params, (set, frozenset)):
            # torch only rejects sets inside group dicts; an unordered top level is as harmful
            # (state_dict indices would change from run to run).
            raise TypeError(_SET_MESSAGE)
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []

        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group (a dict with ``"params"`` and optional per-group options).

        Options missing from the group take the optimizer's defaults. Useful to start training
        layers that were frozen so far.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(_SET_MESSAGE)
        else:
            params = list(params)

        tensors, names = [], []
        for p in params:
            if isinstance(p, tuple):  # (name, tensor) pairs, as from named_parameters()
                names.append(p[0])
                tensors.append(p[1])
            else:
                tensors.append(p)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError(
                    "all optimizer params should be with/without names. Some param names are "
                    "missing"
                )
            param_group["param_names"] = names

        for p in tensors:
            if not isinstance(p, Tensor):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is "
                    f"{type(p).__name__}"
                )
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    "parameter group didn't specify a value of required optimization "
                    f"parameter {name}"
                )
            param_group.setdefault(name, default)

        # Tensors hash by identity, so sets of them compare objects, not values.
        if len(tensors) != len(set(tensors)):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; in future, "
                "this will cause an error; see github.com/pytorch/pytorch/issues/40967 for more "
                "information",
                stacklevel=3,
            )

        seen: set[Tensor] = set()
        for group in self.param_groups:
            seen.update(group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    "all optimizer param groups should be with/without names. cannot add param "
                    f"group {which} to the optimizer"
                )
        if not seen.isdisjoint(tensors):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ------------------------------------------------------------------ gradients

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized tensors.

        With ``set_to_none=True`` (the default) ``.grad`` becomes ``None``, so a later step
        skips parameters that received no gradient; otherwise each gradient is detached and
        filled with zeros in place.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                    continue
                g = p.grad
                if g.grad_fn is not None:
                    g.detach_()
                else:
                    g.requires_grad_(False)
                if g._data.flags.writeable:
                    with no_grad():
                        g.zero_()
                else:  # e.g. a broadcast view, which cannot be written in place
                    p.grad = _creation.zeros_like(g)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step; ``closure`` re-evaluates the model and returns the
        loss (it runs with grad enabled, and its value is returned)."""
        raise MissingOverrideError(f"{type(self).__name__} does not implement step()")

    def _eval_closure(self, closure: Callable[[], Any] | None) -> Any:
        """Run ``closure`` with grad recording on (``step`` itself runs under no_grad)."""
        # A compiled step bakes in the hyper-parameters (lr, momentum, ...): a scheduler that
        # changes them makes lucid.jit trace the step again.
        if _guards.active():  # only a trace collects guards; eager steps skip the tuples
            _guards.guard(self._hyperparameters)
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _hyperparameters(self) -> tuple:
        return tuple(
            tuple((k, v) for k, v in sorted(g.items()) if k != "params")
            for g in self.param_groups
        )

    # ------------------------------------------------------------------ state dicts

    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state in PyTorch's format.

        ``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``: parameters
        are numbered in the order they appear across groups. As in PyTorch, the state tensors
        are referenced, not copied (``copy.deepcopy`` the result to snapshot it).
        """
        mapping: dict[int, int] = {}
        start = 0

        def pack(group: dict[str, Any]) -> dict[str, Any]:
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        groups = [pack(g) for g in self.param_groups]
        state = {
            (mapping[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state from :meth:`state_dict` (or a ``torch.optim`` checkpoint).

        The groups must match this optimizer's in number and sizes. The hyper-parameters of the
        saved groups replace the current ones; state tensors are deep-copied and cast to their
        parameter's dtype (the ``step`` counter keeps its own dtype).
        """
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        sizes = zip(groups, saved_groups, strict=True)
        if any(len(g["params"]) != len(s["params"]) for g, s in sizes):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of "
                "optimizer's group"
            )
        id_map = dict(
            zip(
                chain.from_iterable(g["params"] for g in saved_groups),
                chain.from_iterable(g["params"] for g in groups),
                strict=True,
            )
        )

        def cast(param: Tensor, value: Any, key: Any = None) -> Any:
            value = _as_lucid(value)
            if isinstance(value, Tensor):
                if key != "step" and param.is_floating_point() and value.dtype is not param.dtype:
                    value = value.to(param.dtype)
                return value
            if isinstance(value, dict):
                return {k: cast(param, v, key=k) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(cast(param, v) for v in value)
            return copy.deepcopy(value)

        state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = cast(param, v)
                step = state[param].get("step")
                if step is not None and not isinstance(step, Tensor):
                    # Old checkpoints stored the step as a number; keep torch's tensor form.
                    state[param]["step"] = _creation.full((), float(step),
                                                          dtype=_scalar_dtype())
            else:
                state[k] = copy.deepcopy(v)

        new_groups = []
        for group, saved in zip(groups, saved_groups, strict=True):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
            new_groups.append(saved)
        self.state = state
        self.param_groups = new_groups

    # ------------------------------------------------------------------ Python protocol

    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {group[k]}" for k in sorted(group) if k != "params")
        return "\n".join(lines) + "\n)"


# ---------------------------------------------------------------------- update helpers
# torch's fused pointwise ops, written with lucid Tensor ops in the order torch's CPU kernels
# evaluate them, so float64 results agree with torch to the last bits or so.


def _addcmul_(t: Tensor, a: Tensor, b: Tensor, value: float = 1.0) -> Tensor:
    """``t += value * a * b`` in place (torch's ``addcmul_``)."""
    prod = a * b if value == 1 else a * value * b
    return t.add_(prod)


def _addcdiv_(t: Tensor, a: Tensor, b: Tensor, value: float = 1.0) -> Tensor:
    """``t += value * a / b`` in place (torch's ``addcdiv_``)."""
    quot = a / b if isinstance(value, (int, float)) and value == 1 else a * value / b
    return t.add_(quot)


def _lerp_(t: Tensor, end: Tensor, weight: float) -> Tensor:
    """``t += weight * (end - t)`` in place (torch's ``lerp_`` with a scalar weight).

    Like torch, large weights use the form anchored at ``end``, which is exact at weight 1.
    """
    if abs(weight) < 0.5:
        return t.add_((end - t) * weight)
    return t.copy_(end - (end - t) * (1 - weight))


def _params_with_grad(group: dict[str, Any]) -> Iterable[Tensor]:
    """The parameters of ``group`` that have a gradient (the others are skipped by a step)."""
    return [p for p in group["params"] if p.grad is not None]
