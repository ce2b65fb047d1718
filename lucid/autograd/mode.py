"""Grad mode: whether eager ops record the tape (``no_grad``, ``enable_grad``, ...).

The flag is thread-local, as in PyTorch, so a data-loading thread under ``no_grad`` does not
switch recording off for the training thread.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _State(threading.local):
    grad_enabled: bool = True


_state = _State()


def is_grad_enabled() -> bool:
    """True when eager ops record the autograd tape."""
    return _state.grad_enabled


class _GradMode:
    """Context manager *and* decorator that sets grad mode, restoring it afterwards."""

    _mode: bool

    def __enter__(self) -> None:
        self._prev = _state.grad_enabled
        _state.grad_enabled = self._mode

    def __exit__(self, *exc: object) -> None:
        _state.grad_enabled = self._prev

    def __call__(self, fn: F) -> F:
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            prev = _state.grad_enabled
            _state.grad_enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                _state.grad_enabled = prev

        return wrapper  # type: ignore[return-value]


class no_grad(_GradMode):  # noqa: N801 - PyTorch's name
    """Disable gradient recording: ``with lucid.no_grad(): ...`` or ``@lucid.no_grad()``."""

    _mode = False


class enable_grad(_GradMode):  # noqa: N801
    """Enable gradient recording inside a ``no_grad`` region."""

    _mode = True


class set_grad_enabled(_GradMode):  # noqa: N801
    """Set grad mode to ``mode``: immediately (like PyTorch), and back on leaving a ``with``."""

    def __init__(self, mode: bool) -> None:
        self._mode = bool(mode)
        self._prev = _state.grad_enabled
        _state.grad_enabled = self._mode

    def __enter__(self) -> None:
        pass  # already set in __init__; __exit__ restores the value seen at construction


__all__ = ["is_grad_enabled", "no_grad", "enable_grad", "set_grad_enabled"]
