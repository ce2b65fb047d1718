"""``functional_call``: run a module with some of its parameters / buffers swapped out.

This is ``torch.func.functional_call``: the given tensors are bound by dotted name for the
duration of one call and the module's own tensors are put back afterwards, even when the call
raises. It is how a module becomes a pure function of its weights (``lucid.grad`` over a dict
of parameters, ensembles, meta-learning).

The module is duck-typed (anything with PyTorch's ``_parameters`` / ``_buffers`` /
``named_modules`` protocol, i.e. ``lucid.nn.Module``), so this package does not import
``lucid.nn``, which sits above it.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import LucidError

__all__ = ["functional_call", "ReparametrizeError"]


class ReparametrizeError(LucidError, ValueError, RuntimeError):
    """``functional_call`` was given names it cannot bind (unknown, missing with
    ``strict=True``, or conflicting values for tied names).

    It is both a ``ValueError`` and a ``RuntimeError`` (PyTorch raises the latter for
    ``strict`` problems)."""


def _merge(dicts: Any) -> dict[str, Any]:
    if isinstance(dicts, Mapping):
        return dict(dicts)
    if isinstance(dicts, Sequence) and not isinstance(dicts, str) and all(
        isinstance(d, Mapping) for d in dicts
    ):
        merged: dict[str, Any] = {}
        for d in dicts:
            for k, v in d.items():
                if k in merged:
                    raise ReparametrizeError(
                        f"functional_call: {k!r} appeared in more than one of the given "
                        f"dictionaries; each parameter or buffer may be bound only once"
                    )
                merged[k] = v
        return merged
    raise TypeError(
        f"functional_call: expected a dict of tensors (or a tuple of dicts) mapping dotted "
        f"names to tensors, got {type(dicts).__name__}"
    )


def _unknown_message(module: Any, slots: dict[str, tuple[Any, str, str]],
                     unknown: list[str]) -> str:
    parts = []
    for name in unknown:
        hint = ""
        close = difflib.get_close_matches(name, list(slots), n=1)
        if close:
            hint = f" (did you mean {close[0]!r}?)"
        else:
            # A plain tensor attribute is not a registered parameter or buffer.
            path, _, attr = name.rpartition(".")
            try:
                owner = module.get_submodule(path)
            except AttributeError:
                owner = None
            if owner is not None and attr in owner.__dict__:
                hint = (f" ({attr!r} is a plain attribute of {type(owner).__name__}; register "
                        f"it with register_buffer to make it bindable)")
        parts.append(f"{name!r}{hint}")
    known = ", ".join(slots) if len(slots) <= 20 else ", ".join(list(slots)[:20]) + ", ..."
    return (
        f"functional_call: {type(module).__name__} has no parameter or buffer named "
        f"{', '.join(parts)}; its parameters and buffers are: {known or '(none)'}"
    )


def functional_call(
    module: Any,
    parameter_and_buffer_dicts: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    args: Any = None,
    kwargs: dict[str, Any] | None = None,
    *,
    tie_weights: bool = True,
    strict: bool = False,
) -> Any:
    """Call ``module(*args, **kwargs)`` with parameters and buffers replaced by the given ones.

    Args:
        module: The ``lucid.nn.Module`` to call.
        parameter_and_buffer_dicts: A dict from dotted names (``"layers.0.weight"``, as in
            ``named_parameters`` / ``state_dict``) to tensors, or a tuple of such dicts (the
            names must not repeat). The values are bound as they are (plain tensors, tracers),
            never wrapped in ``Parameter``. Names not given keep the module's own tensors.
        args: The positional arguments (a tuple; a single non-tuple value is wrapped).
        kwargs: The keyword arguments.
        tie_weights: If True (default), a tensor that the module uses under several names (a
            tied weight) is replaced under all of them when any one is given; giving different
            values for tied names is an error.
        strict: If True, every parameter and buffer must be given.

    Returns:
        Whatever the module returns. The module's own tensors are restored afterwards, also
        when the call raises.

    Raises:
        ReparametrizeError: a name that is not a parameter or buffer of the module, missing
            names with ``strict=True``, or conflicting values for tied names.
    """
    if not (hasattr(module, "_parameters") and hasattr(module, "named_modules")):
        raise TypeError(
            f"functional_call: expected a lucid.nn.Module, got {type(module).__name__}"
        )
    bindings = _merge(parameter_and_buffer_dicts)
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    kwargs = {} if kwargs is None else kwargs

    # Every bindable name -> (owning module, store, local name); shared sub-modules appear
    # under each of their paths (and then share one slot).
    slots: dict[str, tuple[Any, str, str]] = {}
    for prefix, m in module.named_modules(remove_duplicate=False):
        for store in ("_parameters", "_buffers"):
            for local in getattr(m, store):
                slots[f"{prefix}.{local}" if prefix else local] = (m, store, local)

    unknown = [k for k in bindings if k not in slots]
    if unknown:
        raise ReparametrizeError(_unknown_message(module, slots, unknown))

    if tie_weights:
        groups: dict[int, list[str]] = {}
        for name, (m, store, local) in slots.items():
            t = getattr(m, store)[local]
            if t is not None:
                groups.setdefault(id(t), []).append(name)
        for names in groups.values():
            given = [n for n in names if n in bindings]
            if not given:
                continue
            first = bindings[given[0]]
            if any(bindings[n] is not first for n in given[1:]):
                raise ReparametrizeError(
                    f"functional_call got different values for the tied names {given}; give "
                    f"one of them (it replaces all), the same tensor for each, or pass "
                    f"tie_weights=False"
                )
            for n in names:
                bindings.setdefault(n, first)

    if strict:
        missing = [
            n for n, (m, store, local) in slots.items()
            if getattr(m, store)[local] is not None and n not in bindings
        ]
        if missing:
            raise ReparametrizeError(
                f"Error(s) in reparametrizing for {type(module).__name__}: missing key(s): "
                + ", ".join(f'"{k}"' for k in missing)
                + " (strict=True requires a value for every parameter and buffer)"
            )

    # One swap per distinct slot; two names of one slot (a shared module) must agree.
    swaps: dict[tuple[int, str, str], tuple[dict[str, Any], str, Any, str]] = {}
    for name, value in bindings.items():
        m, store, local = slots[name]
        key = (id(m), store, local)
        if key in swaps and swaps[key][2] is not value:
            raise ReparametrizeError(
                f"functional_call: {name!r} and {swaps[key][3]!r} are the same slot (a shared "
                f"sub-module) but were given different values"
            )
        swaps[key] = (getattr(m, store), local, value, name)

    saved: list[tuple[dict[str, Any], str, Any]] = []
    try:
        for store_dict, local, value, _ in swaps.values():
            saved.append((store_dict, local, store_dict[local]))
            store_dict[local] = value
        return module(*args, **kwargs)
    finally:
        for store_dict, local, original in reversed(saved):
            store_dict[local] = original
