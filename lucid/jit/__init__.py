"""Tracing and the graph IR (the compiler arrives on top of these)."""

from .graph import Graph, Node, Var, eval_graph, format_graph
from .trace import TracedFunction, make_graph, trace

__all__ = ["Graph", "Node", "Var", "eval_graph", "format_graph", "TracedFunction", "make_graph",
           "trace"]
