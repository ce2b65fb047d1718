"""``nn.Module``: PyTorch's module protocol, plus modules as pytrees.

A module keeps its learnable :class:`~lucid.nn.Parameter` s, its buffers (persistent state such
as running statistics) and its sub-modules in three ordered dicts, filled by attribute
assignment exactly as in PyTorch (``self.fc = Linear(...)``, ``self.w = Parameter(...)``,
``self.register_buffer("running_mean", t)``). Everything PyTorch code relies on is here:
``named_parameters``, ``state_dict`` / ``load_state_dict``, ``train`` / ``eval``, ``to``,
forward (pre-)hooks, the nested ``repr``, deep copy and pickling.

Modules are also pytrees (see :mod:`lucid.tree`): every subclass is registered automatically
when it is defined. Flattening a module gives its parameters and then its buffers, each
distinct tensor once, with key paths that render as their ``state_dict`` names; everything
else (the class of every sub-module, names, tied slots, the ``training`` flag and other
non-tensor attributes) goes into the treedef. Unflattening builds a shallow copy of the
module holding the new leaves, so ``lucid.tree.map(lambda p: p * 2, model)`` returns a new
model and leaves ``model`` untouched.
"""

from __future__ import annotations

import copy
import itertools
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from .. import dtypes as _dt
from .. import tree as _tree
from ..autograd import no_grad
from ..device import Device, as_device, check_supported
from ..errors import LucidError, MissingOverrideError
from ..jit import guards as _guards
from ..tensor import Tensor
from .parameter import Parameter, UninitializedParameter

__all__ = ["Module", "RemovableHandle", "StateDictError", "IncompatibleKeys"]


class StateDictError(LucidError, RuntimeError):
    """``load_state_dict`` found missing / unexpected keys or shape mismatches."""


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` returns: the keys it did not find, and the ones it did not use."""

    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (
            f"IncompatibleKeys(missing_keys={self.missing_keys}, "
            f"unexpected_keys={self.unexpected_keys})"
        )

    __str__ = __repr__


# --------------------------------------------------------------------------- hooks

_hook_ids = itertools.count()


class RemovableHandle:
    """Returned by ``register_forward_hook`` & co.; ``handle.remove()`` unregisters the hook.

    Also a context manager (the hook is removed on exit). The handle refers to the hook dicts
    weakly, so it does not keep a deleted module alive.
    """

    def __init__(self, hooks_dict: OrderedDict, *extra_dicts: OrderedDict) -> None:
        self.id = next(_hook_ids)
        self._refs = tuple(weakref.ref(d) for d in (hooks_dict, *extra_dicts))

    def remove(self) -> None:
        """Unregister the hook (a second call does nothing)."""
        for ref in self._refs:
            d = ref()
            if d is not None:
                d.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


# --------------------------------------------------------------------------- helpers

# Attributes that hold the module's registered state; every other entry of a module's
# __dict__ is plain configuration (the pytree flattening relies on this split).
_STATE_DICTS = ("_parameters", "_buffers", "_modules", "_non_persistent_buffers_set")
_HOOK_DICTS = (
    "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs",
    "_forward_hooks", "_forward_hooks_with_kwargs",
)


def _is_tensor_like(value: Any) -> bool:
    """A lucid Tensor, or a stand-in for one (a tracer: has ``shape`` and ``dtype``).

    NumPy arrays are excluded: a buffer must be a lucid tensor, as in PyTorch.
    """
    if isinstance(value, Tensor):
        return True
    if isinstance(value, (np.ndarray, np.generic)):
        return False
    return hasattr(value, "shape") and hasattr(value, "dtype")


def _addindent(s: str, num_spaces: int) -> str:
    # PyTorch's helper: indent every line but the first.
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    first = lines.pop(0)
    return first + "\n" + "\n".join(num_spaces * " " + line for line in lines)


def _join(prefix: str, name: str) -> str:
    return prefix + ("." if prefix else "") + name


def _check_name(owner: Module, kind: str, name: Any, registry: str) -> None:
    """The name checks PyTorch applies in register_parameter / register_buffer / add_module."""
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
    if "." in name:
        raise KeyError(f"{kind} name can't contain '.', got {name!r}")
    if name == "":
        raise KeyError(f'{kind} name can\'t be empty string ""')
    if hasattr(owner, name) and name not in owner.__dict__[registry]:
        raise KeyError(f"attribute '{name}' already exists on {owner._get_name()}")


# --------------------------------------------------------------------------- Module


class Module:
    """Base class of all neural-network modules (PyTorch's ``torch.nn.Module`` protocol).

    Subclasses call ``super().__init__()`` first, then assign parameters, buffers and
    sub-modules as attributes, and implement :meth:`forward`. Calling the module runs the
    forward pre-hooks, ``forward(*args, **kwargs)`` and the forward hooks.

    Every subclass is also registered as a :mod:`lucid.tree` pytree node (see the module
    docstring); do not register Module subclasses yourself.
    """

    training: bool
    _parameters: dict[str, Parameter | None]
    _buffers: dict[str, Tensor | None]
    _modules: dict[str, Module | None]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # lucid.tree's registry is keyed by exact type, so each subclass registers itself.
        _register_pytree(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            raise TypeError(
                f"{type(self).__name__}.__init__() got unexpected arguments; Module.__init__ "
                f"takes none (call super().__init__() without arguments)"
            )
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = {}
        for name in _HOOK_DICTS:
            d[name] = OrderedDict()

    # ------------------------------------------------------------------ forward and hooks

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Define the computation of the module; every subclass must override it."""
        raise MissingOverrideError(
            f'Module [{type(self).__name__}] is missing the required "forward" function: '
            f"define forward(self, ...) in {type(self).__name__}"
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _guards.active():
            # A compiled plan bakes in the branch ``training`` chose (dropout, batch
            # statistics): calling it after ``train()``/``eval()`` must trace again.
            _guards.guard_attribute(self, "training")
        pre_hooks = self.__dict__.get("_forward_pre_hooks")
        hooks = self.__dict__.get("_forward_hooks")
        if not pre_hooks and not hooks:
            return self.forward(*args, **kwargs)
        if pre_hooks:
            with_kwargs = self._forward_pre_hooks_with_kwargs
            for hook_id, hook in list(pre_hooks.items()):
                if hook_id in with_kwargs:
                    res = hook(self, args, kwargs)
                    if res is not None:
                        if not (isinstance(res, tuple) and len(res) == 2):
                            raise RuntimeError(
                                f"forward pre-hook {hook!r} registered with with_kwargs=True "
                                f"must return None or a tuple (args, kwargs), got {res!r}"
                            )
                        args, kwargs = res
                else:
                    res = hook(self, args)
                    if res is not None:
                        args = res if isinstance(res, tuple) else (res,)
        result = self.forward(*args, **kwargs)
        if hooks:
            with_kwargs = self._forward_hooks_with_kwargs
            for hook_id, hook in list(hooks.items()):
                if hook_id in with_kwargs:
                    res = hook(self, args, kwargs, result)
                else:
                    res = hook(self, args, result)
                if res is not None:
                    result = res
        return result

    def _add_hook(self, store: str, hook: Callable[..., Any], prepend: bool,
                  with_kwargs: bool) -> RemovableHandle:
        hooks = self.__dict__[store]
        kw = self.__dict__[store + "_with_kwargs"]
        handle = RemovableHandle(hooks, kw)
        hooks[handle.id] = hook
        if with_kwargs:
            kw[handle.id] = True
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_pre_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args)`` before every forward.

        The hook may return None (inputs unchanged) or new positional inputs (a tuple, or a
        single value that is wrapped in one). With ``with_kwargs=True`` it is called as
        ``hook(module, args, kwargs)`` and may return ``(args, kwargs)``. ``prepend=True``
        runs it before the hooks already registered. Lazy modules use this to infer shapes.
        """
        return self._add_hook("_forward_pre_hooks", hook, prepend, with_kwargs)

    def register_forward_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                              with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after every forward.

        A non-None return value replaces the output. With ``with_kwargs=True`` the hook is
        called as ``hook(module, args, kwargs, output)``.
        """
        return self._add_hook("_forward_hooks", hook, prepend, with_kwargs)

    # ------------------------------------------------------------------ registration

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (a :class:`Parameter` or None) under ``name``."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        _check_name(self, "parameter", name, "_parameters")
        if param is None:
            self._parameters[name] = None
            return
        if not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                f"(lucid.nn.Parameter or None required); wrap it: nn.Parameter(tensor)"
            )
        if param.grad_fn is not None:
            raise ValueError(
                f"cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must "
                f"be created explicitly; to express '{name}' as a function of another Tensor, "
                f"compute the value in the forward() method"
            )
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register a buffer: module state that is not a parameter (e.g. running statistics).

        Persistent buffers are part of :meth:`state_dict`; all buffers are moved / cast by
        :meth:`to` and are leaves of the module's pytree.
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        _check_name(self, "buffer", name, "_buffers")
        if tensor is not None and not _is_tensor_like(tensor):
            raise TypeError(
                f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                f"(lucid.Tensor or None required)"
            )
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` (or None) as a sub-module named ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if "_modules" not in self.__dict__:
            raise AttributeError("cannot assign module before Module.__init__() call")
        _check_name(self, "module", name, "_modules")
        self._modules[name] = module

    register_module = add_module

    # ------------------------------------------------------------------ attribute protocol

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: registered state lives in the three dicts.
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            s = d.get(store)
            if s is not None and name in s:
                return s[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__

        def remove_from(*stores: Any) -> None:
            for s in stores:
                if name in s:
                    if isinstance(s, dict):
                        del s[name]
                    else:
                        s.discard(name)

        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            remove_from(d, self._buffers, self._modules, self._non_persistent_buffers_set)
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                    f"(lucid.nn.Parameter or None expected)"
                )
            self.register_parameter(name, value)
            return
        modules = d.get("_modules")
        if isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            remove_from(d, self._parameters, self._buffers, self._non_persistent_buffers_set)
            modules[name] = value
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as child module '{name}' "
                    f"(lucid.nn.Module or None expected)"
                )
            modules[name] = value
            return
        buffers = d.get("_buffers")
        if buffers is not None and name in buffers:
            if value is not None and not _is_tensor_like(value):
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                    f"(lucid.Tensor or None expected)"
                )
            buffers[name] = value
            return
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        if name in d.get("_parameters", ()):
            del self._parameters[name]
        elif name in d.get("_buffers", ()):
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in d.get("_modules", ()):
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        keys = [
            *dir(type(self)), *self.__dict__, *self._parameters, *self._modules, *self._buffers,
        ]
        # Names like "0" (Sequential children) are not valid attribute names.
        return sorted({k for k in keys if not k[:1].isdigit()})

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__.copy()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        # Tolerate states pickled by versions that lacked some of the bookkeeping dicts.
        d = self.__dict__
        d.setdefault("training", True)
        for name in ("_parameters", "_buffers", "_modules"):
            d.setdefault(name, {})
        d.setdefault("_non_persistent_buffers_set", set())
        for name in _HOOK_DICTS:
            d.setdefault(name, OrderedDict())

    # ------------------------------------------------------------------ iteration

    def _named_members(self, get_members: Callable[[Module], Any], prefix: str = "",
                       recurse: bool = True, remove_duplicate: bool = True
                       ) -> Iterator[tuple[str, Any]]:
        modules = (
            self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
            if recurse else [(prefix, self)]
        )
        seen: set[int] = set()
        for module_prefix, module in modules:
            for k, v in get_members(module):
                if v is None or id(v) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(v))
                yield _join(module_prefix, k), v

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """Yield ``(dotted name, parameter)``; a shared parameter once, under its first name."""
        return self._named_members(lambda m: m._parameters.items(), prefix, recurse,
                                   remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Yield the parameters (each distinct one once)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """Yield ``(dotted name, buffer)``, persistent or not; a shared buffer once."""
        return self._named_members(lambda m: m._buffers.items(), prefix, recurse,
                                   remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Yield the buffers (each distinct one once)."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Yield ``(name, module)`` for the direct sub-modules (a shared one once)."""
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        """Yield the direct sub-modules (a shared one once)."""
        for _, m in self.named_children():
            yield m

    def named_modules(self, memo: set[int] | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """Yield ``(dotted name, module)`` for this module and all below it, pre-order.

        A module reachable by several paths is yielded once (under its first name) unless
        ``remove_duplicate=False``. ``memo`` is a set of ``id()`` s of modules to skip.
        """
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, _join(prefix, name), remove_duplicate)

    def modules(self) -> Iterator[Module]:
        """Yield this module and all below it (each distinct one once)."""
        for _, m in self.named_modules():
            yield m

    # ------------------------------------------------------------------ lookup by name

    def get_submodule(self, target: str) -> Module:
        """The sub-module at dotted path ``target`` (``""`` is this module)."""
        if target == "":
            return self
        mod: Module = self
        for item in target.split("."):
            if not hasattr(mod, item):
                raise AttributeError(f"{mod._get_name()} has no attribute `{item}`")
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return mod

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path ``target`` (e.g. ``"layers.0.weight"``)."""
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(f"{mod._get_name()} has no attribute `{name}`")
        param = getattr(mod, name)
        if not isinstance(param, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return param

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at dotted path ``target``."""
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(f"{mod._get_name()} has no attribute `{name}`")
        if name not in mod._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return mod._buffers[name]  # type: ignore[return-value]

    # ------------------------------------------------------------------ state dict

    def state_dict(self, destination: Any = None, prefix: str = "",
                   keep_vars: bool = False) -> OrderedDict[str, Tensor]:
        """An ordered dict from dotted names to parameters and persistent buffers.

        Tensors are detached (sharing memory with the module's) unless ``keep_vars``. A
        parameter shared by several modules appears under every name, as in PyTorch.
        """
        if destination is None:
            destination = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                # An uninitialized (lazy) parameter has no data to detach.
                keep = keep_vars or isinstance(p, UninitializedParameter)
                destination[prefix + name] = p if keep else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination=destination, prefix=prefix + name + ".",
                             keep_vars=keep_vars)
        return destination

    def _state_slots(self) -> OrderedDict[str, tuple[Module, str, str]]:
        """Every state_dict name -> (owning module, "_parameters" or "_buffers", local name)."""
        out: OrderedDict[str, tuple[Module, str, str]] = OrderedDict()

        def walk(m: Module, prefix: str) -> None:
            for name, p in m._parameters.items():
                if p is not None:
                    out[prefix + name] = (m, "_parameters", name)
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent_buffers_set:
                    out[prefix + name] = (m, "_buffers", name)
            for name, c in m._modules.items():
                if c is not None:
                    walk(c, prefix + name + ".")

        walk(self, "")
        return out

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True,
                        assign: bool = False) -> IncompatibleKeys:
        """Copy parameters and buffers from ``state_dict`` into this module and below.

        Everything is validated before anything is written: with ``strict`` (default) a
        missing or unexpected key is an error, and a shape mismatch always is. All problems
        are reported in one :class:`StateDictError` (a ``RuntimeError``), and on error the
        module is left unchanged. Values are copied into the existing tensors (cast to their
        dtype, so the module keeps its dtypes); ``assign=True`` instead makes the module hold
        the given tensors (parameters re-wrapped, keeping their ``requires_grad``).
        Uninitialized (lazy) parameters are materialized with the checkpoint's shape.

        Returns:
            ``IncompatibleKeys(missing_keys, unexpected_keys)``.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"expected a mapping (e.g. the OrderedDict from state_dict()), got "
                f"{type(state_dict).__name__}"
            )
        slots = self._state_slots()
        missing = [k for k in slots if k not in state_dict]
        unexpected = [k for k in state_dict if k not in slots]
        errors: list[str] = []
        # (module, store, name, current tensor, new value); holding ``current`` keeps ids stable.
        plan: list[tuple[Module, str, str, Any, Tensor]] = []
        for key, (m, store, name) in slots.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            if isinstance(value, np.ndarray):
                value = Tensor._make(value)
            if not isinstance(value, Tensor):
                errors.append(
                    f'While copying the parameter named "{key}", expected a lucid.Tensor from '
                    f"checkpoint but received {type(value).__name__}"
                )
                continue
            current = getattr(m, store)[name]
            if not isinstance(current, UninitializedParameter) and \
                    tuple(value.shape) != tuple(current.shape):
                errors.append(
                    f"size mismatch for {key}: copying a param with shape "
                    f"{_fmt_shape(value.shape)} from checkpoint, the shape in current model is "
                    f"{_fmt_shape(current.shape)}."
                )
                continue
            plan.append((m, store, name, current, value))
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise StateDictError(
                f"Error(s) in loading state_dict for {self._get_name()}:\n\t"
                + "\n\t".join(errors)
            )
        replaced: dict[int, Parameter] = {}  # assign=True: keep tied parameters tied
        with no_grad():
            for m, store, name, current, value in plan:
                if assign:
                    if store == "_parameters":
                        if id(current) not in replaced:
                            replaced[id(current)] = Parameter(value, current.requires_grad)
                        m._parameters[name] = replaced[id(current)]
                    else:
                        m._buffers[name] = value
                    continue
                if isinstance(current, UninitializedParameter):
                    current.materialize(tuple(value.shape))
                current.copy_(value)
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ modes and grads

    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and all below it; returns ``self``."""
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be boolean, got {mode!r}")
        self.training = mode
        for m in self.children():
            m.train(mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode (``train(False)``); returns ``self``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` of every parameter; returns ``self``."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters: to None (default), or to zeros."""
        for p in self.parameters():
            g = p.grad
            if g is None:
                continue
            if set_to_none:
                p.grad = None
                continue
            if g.grad_fn is not None:
                g.detach_()
            else:
                g.requires_grad_(False)
            if g._data.flags.writeable:
                with no_grad():
                    g.zero_()
            else:  # e.g. a broadcast view: cannot be written in place
                p.grad = Tensor._make(np.zeros(g.shape, dtype=g.dtype.np), g.device)

    # ------------------------------------------------------------------ conversion

    def _convert(self, dtype: _dt.DType | None, device: Device | None) -> Module:
        """Cast floating parameters / buffers to ``dtype`` and move all to ``device``.

        Parameters stay the same objects (their ``.data`` is replaced, so optimizers that hold
        them keep working); buffers are replaced by the converted tensors, as in PyTorch.
        """

        def convert(t: Tensor) -> Tensor:
            out = t
            if device is not None and out.device != device:
                out = out.to(device=device)
            if dtype is not None and out.dtype.is_floating_point and out.dtype is not dtype:
                out = out.to(dtype)
            return out

        with no_grad():
            for m in self.modules():
                for p in m._parameters.values():
                    if p is None:
                        continue
                    if isinstance(p, UninitializedParameter):
                        if dtype is not None and p.dtype.is_floating_point:
                            p._set_pending_dtype(dtype)
                        if device is not None:
                            p._device = device
                        continue
                    new = convert(p)
                    if new is not p:
                        p.data = new
                        # Tensor.data's setter keeps the old device; set it explicitly.
                        p._device = new._device
                    if p.grad is not None:
                        g = convert(p.grad)
                        if g is not p.grad:
                            p.grad = g.detach()
                for k, b in m._buffers.items():
                    if isinstance(b, Tensor):
                        m._buffers[k] = convert(b)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Move and/or cast parameters and buffers, in place; returns ``self``.

        ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)`` (its dtype and
        device) or keywords ``device=``, ``dtype=``, ``non_blocking=``. Only floating point
        tensors change dtype; the dtype must be a floating one.
        """
        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"Module.to() got unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, (str, Device)):
                device = a
            elif isinstance(a, bool) or a is None:  # non_blocking passed positionally
                continue
            else:
                dtype = a
        dt = None
        if dtype is not None:
            dt = _dt.as_dtype(dtype)
            if not dt.is_floating_point:
                raise TypeError(
                    f"nn.Module.to only accepts floating point dtypes, but got desired "
                    f"dtype={dt!r}"
                )
        dev = None
        if device is not None:
            dev = as_device(device)
            check_supported(dev, "Module.to")
        return self._convert(dt, dev)

    def float(self) -> Module:
        """Cast floating parameters and buffers to float32."""
        return self._convert(_dt.float32, None)

    def double(self) -> Module:
        """Cast floating parameters and buffers to float64."""
        return self._convert(_dt.float64, None)

    def half(self) -> Module:
        """Cast floating parameters and buffers to float16."""
        return self._convert(_dt.float16, None)

    def cpu(self) -> Module:
        """Move parameters and buffers to the CPU."""
        return self.to("cpu")

    def cuda(self, device: int | None = None) -> Module:
        """Move parameters and buffers to a CUDA device."""
        return self.to(Device("cuda", device))

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every sub-module (children first) and then on ``self``."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ repr

    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """Extra text shown inside this module's repr (override, e.g. ``in_features=4``)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [
            f"({key}): " + _addindent(repr(module), 2) for key, module in self._modules.items()
        ]
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


def _fmt_shape(shape: Any) -> str:
    return f"lucid.Size({list(shape)})"


# --------------------------------------------------------------------------- pytree support


def _hashable_key(value: Any) -> Any:
    """A canonical hashable form of a configuration value, or None if it has none.

    Scalars (tagged with their type, so ``True``, ``1`` and ``1.0`` differ), dtypes, devices,
    classes and functions are used as they are; lists, tuples, dicts and sets are converted
    recursively. Anything else (tensors, arrays, arbitrary objects) has no canonical form and
    is then compared by identity.
    """
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, _dt.DType,
                                           Device, type, np.generic)):
        return (type(value), value)
    if isinstance(value, RemovableHandle):
        # A hook handle kept as an attribute (lazy modules do this) does not change what the
        # module computes; the hooks themselves are compared through the hook dicts.
        return (RemovableHandle,)
    if callable(value) and not isinstance(value, (Tensor, Module)):
        try:
            hash(value)
        except TypeError:
            return None
        return (type(value), value)
    if isinstance(value, (list, tuple)):
        items = tuple(_hashable_key(v) for v in value)
        return None if any(i is None for i in items) else (type(value), items)
    if isinstance(value, dict):
        pairs = tuple((_hashable_key(k), _hashable_key(v)) for k, v in value.items())
        if any(k is None or v is None for k, v in pairs):
            return None
        return (type(value), pairs)
    if isinstance(value, (set, frozenset)):
        items = tuple(_hashable_key(v) for v in value)
        return None if any(i is None for i in items) else (type(value), frozenset(items))
    return None


class _Static:
    """A module attribute stored in a treedef: compared by value when it has a canonical
    hashable form (:func:`_hashable_key`), by identity otherwise."""

    __slots__ = ("key", "value")

    def __init__(self, value: Any) -> None:
        self.value = value
        self.key = _hashable_key(value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Static):
            return NotImplemented
        if self.value is other.value:
            return True
        return self.key is not None and other.key is not None and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key) if self.key is not None else hash(type(self.value).__qualname__)

    def __repr__(self) -> str:
        if self.key is not None:
            return repr(self.value)
        return f"<{type(self.value).__name__} at {id(self.value):#x}>"

    def fresh(self) -> Any:
        # Mutable builtin containers are copied one level, so that the module copies made by
        # unflatten never mutate each other's (or the original's) dicts and lists.
        v = self.value
        if type(v) in (list, dict, set, OrderedDict):
            return copy.copy(v)
        return v


class _ModuleDef:
    """The static part of one module in a flattened module tree (the pytree aux data).

    ``params`` / ``buffers`` map each registered name to a leaf index (None for a slot holding
    None); two slots with the same index hold the same (tied) tensor. ``children`` maps names
    to a nested _ModuleDef, to an int (the pre-order index of a module seen earlier: a shared
    sub-module) or to None.
    """

    __slots__ = ("_hash", "_key", "buffers", "children", "cls", "config", "non_persistent",
                 "params")

    def __init__(self, cls: type, config: tuple, params: tuple, buffers: tuple,
                 non_persistent: frozenset, children: tuple) -> None:
        self.cls = cls
        self.config = config
        self.params = params
        self.buffers = buffers
        self.non_persistent = non_persistent
        self.children = children
        self._key = (cls, config, params, buffers, non_persistent, children)
        self._hash: int | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _ModuleDef):
            return NotImplemented
        return self is other or self._key == other._key

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(self._key)
        return self._hash

    def __repr__(self) -> str:
        # e.g. MyLinear(in_features=4, training=True; [weight, bias]); the config is shown so
        # that a structure-mismatch error says which attribute differs. Empty containers (the
        # hook dicts, usually) are left out.
        config = ", ".join(
            f"{k}={v!r}" if type(v) is _Static else f"{k}={v[1]!r}"
            for k, v in self.config if type(v) is _Static or len(v) == 2
        )
        parts = [n for n, _ in self.params] + [n for n, _ in self.buffers]
        kids = ", ".join(
            f"{n}: {c!r}" if isinstance(c, _ModuleDef) else f"{n}: <shared #{c}>"
            if isinstance(c, int) else f"{n}: None"
            for n, c in self.children
        )
        body = config + "; [" + ", ".join(parts) + "]"
        if kids:
            body += ", {" + kids + "}"
        return f"{self.cls.__name__}({body})"


# Configuration values of these exact types are stored in the treedef as ``(type, value)``
# (the type keeps ``True``, ``1`` and ``1.0`` apart); an empty builtin container as
# ``(type,)`` (rebuilt empty); anything else in a :class:`_Static`. The two fast cases cover
# nearly every attribute (``training``, sizes, flags, the empty hook dicts) and keep
# flattening cheap, which matters because a jitted call flattens its module arguments.
_ATOMIC = frozenset({bool, int, float, str, type(None), _dt.DType})
_CONTAINERS = frozenset({dict, OrderedDict, list, set})


def _freeze(value: Any) -> Any:
    t = type(value)
    if t in _ATOMIC:
        return (t, value)
    if t in _CONTAINERS and not value:
        return (t,)
    return _Static(value)


def _thaw(frozen: Any) -> Any:
    if type(frozen) is _Static:
        return frozen.fresh()
    return frozen[1] if len(frozen) == 2 else frozen[0]()


def _flatten_core(root: Module, with_keys: bool) -> tuple[list[Any], list[Any], _ModuleDef]:
    """Leaves (distinct parameters, then distinct buffers), their keys, and the structure."""
    # Pre-order list of distinct modules with their dotted prefixes (named_modules' order).
    named: list[tuple[str, Module]] = []
    visited: set[int] = set()

    def walk(m: Module, prefix: str) -> None:
        visited.add(id(m))
        named.append((prefix, m))
        for name, c in m._modules.items():
            if c is not None and id(c) not in visited:
                walk(c, prefix + "." + name if prefix else name)

    walk(root, "")
    leaves: list[Any] = []
    keys: list[Any] = []
    index: dict[int, int] = {}
    for store in ("_parameters", "_buffers"):
        for prefix, m in named:
            for name, t in m.__dict__[store].items():
                if t is not None and id(t) not in index:
                    index[id(t)] = len(leaves)
                    leaves.append(t)
                    if with_keys:
                        keys.append(_tree.GetAttrKey(prefix + "." + name if prefix else name))

    seen: dict[int, int] = {}

    def describe(m: Module) -> _ModuleDef | int:
        if id(m) in seen:
            return seen[id(m)]
        seen[id(m)] = len(seen)
        d = m.__dict__
        config = tuple(
            (k, _freeze(v)) for k, v in sorted(d.items()) if k not in _STATE_DICTS
        )
        params = tuple(
            (n, None if p is None else index[id(p)]) for n, p in d["_parameters"].items()
        )
        buffers = tuple(
            (n, None if b is None else index[id(b)]) for n, b in d["_buffers"].items()
        )
        children = tuple(
            (n, None if c is None else describe(c)) for n, c in d["_modules"].items()
        )
        npb = d["_non_persistent_buffers_set"]
        return _ModuleDef(type(m), config, params, buffers,
                          frozenset(npb) if npb else _NO_NAMES, children)

    aux = describe(root)
    assert isinstance(aux, _ModuleDef)
    return leaves, keys, aux


_NO_NAMES: frozenset = frozenset()


def _module_flatten_with_keys(root: Module) -> tuple[list[tuple[Any, Any]], _ModuleDef]:
    leaves, keys, aux = _flatten_core(root, True)
    return list(zip(keys, leaves, strict=True)), aux


def _module_flatten(root: Module) -> tuple[list[Any], _ModuleDef]:
    leaves, _, aux = _flatten_core(root, False)
    return leaves, aux


def _module_unflatten(aux: _ModuleDef, leaves: tuple[Any, ...]) -> Module:
    """A shallow copy of the described module tree, holding ``leaves`` (any objects)."""
    built: list[Module] = []

    def build(spec: _ModuleDef | int) -> Module:
        if isinstance(spec, int):
            return built[spec]
        m = object.__new__(spec.cls)
        built.append(m)
        d = m.__dict__
        for k, v in spec.config:
            d[k] = _thaw(v)
        d["_parameters"] = {n: None if i is None else leaves[i] for n, i in spec.params}
        d["_buffers"] = {n: None if i is None else leaves[i] for n, i in spec.buffers}
        d["_non_persistent_buffers_set"] = set(spec.non_persistent)
        d["_modules"] = {n: None if c is None else build(c) for n, c in spec.children}
        return m

    return build(aux)


def _register_pytree(cls: type) -> None:
    _tree.register_pytree_node(cls, _module_flatten, _module_unflatten,
                               _module_flatten_with_keys)


_register_pytree(Module)
