"""Tracing, the graph IR, reverse mode on graphs, and the CPU compiler.

``lucid.jit`` is both this package and the compile function: ``lucid.jit(f)`` and
``@lucid.jit`` call :func:`lucid.jit.api.jit`, while ``lucid.jit.trace``, ``lucid.jit.stats``
and friends are ordinary attributes.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .api import Jitted, JittedModule, Lowered, jit, stats
from .graph import Graph, Node, Var, eval_graph, format_graph
from .trace import TracedFunction, make_graph, trace


class _CallableModule(types.ModuleType):
    """Lets ``lucid.jit(f)`` call :func:`jit` while ``lucid.jit.x`` stays a package attribute."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return jit(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["jit", "Jitted", "JittedModule", "Lowered", "stats", "Graph", "Node", "Var",
           "eval_graph", "format_graph", "TracedFunction", "make_graph", "trace"]
