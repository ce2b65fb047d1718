"""Guards: Python values a traced function read, which a cached plan depends on.

A plan bakes in every Python value the function read while it was traced: an optimizer's
learning rate, whether its state existed yet. Code that reads such a value inside a trace
registers a *guard* (a function returning the value now); a cached plan is reused only while
every guard still returns what it returned when traced, else the function is traced again. Code
that creates persistent state during a trace (an optimizer's first step) marks the trace
*one-off*: its plan runs once and is not cached, and the next call, with the state in place, is
the one that gets compiled.
"""

from __future__ import annotations

import contextlib
import operator
import threading
from collections.abc import Callable, Iterator
from typing import Any


class Recording:
    """What one trace noted: guards (getter, value) and whether it may be cached."""

    def __init__(self) -> None:
        self.guards: list[tuple[Callable[[], Any], Any]] = []
        # Attribute guards, checked in one C-level pass per attribute name: name -> (objects,
        # their values at trace time); each object once.
        self.attrs: dict[str, tuple[list[Any], list[Any]]] = {}
        self._seen: set[tuple[str, int]] = set()
        self._attr_checks: list[tuple[Callable[[Any], Any], tuple, tuple]] | None = None
        self.cacheable = True
        self.reasons: list[str] = []

    def valid(self) -> bool:
        """Every guard still holds. (Runs on every call of a cached plan: plain loops.)"""
        for get, value in self.guards:
            if get() != value:
                return False
        checks = self._attr_checks
        if checks is None:
            checks = self._attr_checks = [
                (operator.attrgetter(name), tuple(objs), tuple(values))
                for name, (objs, values) in self.attrs.items()]
        for get, objs, values in checks:  # noqa: SIM110 (no generator on the hot path)
            if tuple(map(get, objs)) != values:
                return False
        return True


class _Stack(threading.local):
    def __init__(self) -> None:
        self.items: list[Recording] = []


_stack = _Stack()


@contextlib.contextmanager
def recording() -> Iterator[Recording]:
    """Collect the guards noted while tracing (used by ``lucid.jit``)."""
    rec = Recording()
    _stack.items.append(rec)
    try:
        yield rec
    finally:
        _stack.items.pop()


def active() -> bool:
    """Whether a jit trace is collecting guards now."""
    return bool(_stack.items)


def guard(getter: Callable[[], Any]) -> Any:
    """Note that the trace depends on ``getter()``; returns its current value."""
    value = getter()
    if _stack.items:
        _stack.items[-1].guards.append((getter, value))
    return value


def guard_attribute(obj: Any, name: str) -> Any:
    """Note that the trace depends on ``obj.<name>`` (once per object); returns its value.

    Cheaper to check than :func:`guard` when many objects are guarded on the same attribute
    (every module's ``training`` flag)."""
    value = getattr(obj, name)
    if _stack.items:
        rec = _stack.items[-1]
        key = (name, id(obj))
        if key not in rec._seen:
            rec._seen.add(key)
            objs, values = rec.attrs.setdefault(name, ([], []))
            objs.append(obj)
            values.append(value)
            rec._attr_checks = None
    return value


def one_off(reason: str) -> None:
    """Note that this trace must not be cached (it creates persistent state)."""
    if _stack.items:
        _stack.items[-1].cacheable = False
        _stack.items[-1].reasons.append(reason)


__all__ = ["Recording", "recording", "guard", "guard_attribute", "one_off", "active"]
