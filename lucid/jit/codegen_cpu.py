"""CPU code generation: a fusion group becomes one Numba ``@njit`` kernel, written as source.

The kernel takes its sizes as arguments (so one compiled kernel serves every batch size) and
its operands as arrays of the group's shape; broadcast operands arrive as stride-0 views, so
broadcasting costs nothing and needs no code. Scalar constants (``full`` nodes) are inlined as
typed literals: ``np.float32(2.0)``, never a bare float, which would promote float32 math to
float64. Each kernel has two entry points: ``flat`` (every operand contiguous: one loop the
compiler can vectorise) and ``nd`` (any strides: one loop per dimension).
"""

from __future__ import annotations

import math
import re
from typing import Any

from .graph import Node, Var
from .passes import Group

_PARAM = re.compile(r"\b([A-Z][A-Z_]*)\b")

# NumPy's error model: a float division by zero gives inf/nan as in the reference
# implementations (Python's model raises ZeroDivisionError) and the loop can vectorise.
_DECORATOR = '@njit(cache=True, nogil=True, error_model="numpy")'



def _literal(value: Any, np_name: str) -> str:
    if isinstance(value, bool):
        return f"np.bool_({value})"
    if isinstance(value, float):
        if math.isnan(value):
            return f"np.{np_name}(np.nan)"
        if math.isinf(value):
            return f"np.{np_name}({'-' if value < 0 else ''}np.inf)"
    return f"np.{np_name}({value!r})"


def _dtype_name(aval: Any) -> str:
    return "bool_" if aval.dtype.name == "bool" else aval.dtype.name


def _expr(n: Node, args: list[str]) -> str:
    """The scalar expression of node ``n`` over argument expressions ``args``."""
    template = n.prim.lowering.template
    out_np = _dtype_name(n.out.aval)
    names = dict(zip("abc", args))
    # Substitute parameters (upper-case names) and typed literals, then the operands.
    def param(m: re.Match) -> str:
        key = m.group(1)
        if key == "T":
            return key
        v = n.params.get(key.lower())
        return _literal(v, out_np) if v is not None else key

    t = _PARAM.sub(param, template)
    t = re.sub(r"\bT\(", f"np.{out_np}(", t)
    t = re.sub(r"\b([abc])\b", lambda m: f"({names[m.group(1)]})", t)
    return t


def group_source(group: Group, inputs: list[Var], outputs: list[Var], name: str,
                 consts: dict[int, Node]) -> str:
    """Python source of the kernel module for ``group``.

    ``inputs``: the arrays the kernel reads (in order); ``outputs``: the values it writes;
    ``consts``: ``full`` nodes to inline, by var id.
    """
    ndim = len(group.shape)
    var_name: dict[int, str] = {}
    for k, v in enumerate(inputs):
        var_name[v.id] = f"x{k}"
    lines: list[str] = []
    for k, n in enumerate(group.nodes):
        args = []
        for v in n.inputs:
            if v.id in var_name:
                args.append(var_name[v.id])
            elif v.id in consts:
                c = consts[v.id]
                args.append(_literal(c.params["value"], _dtype_name(c.out.aval)))
            else:
                raise AssertionError(f"kernel {name}: input {v} is not available")
        var_name[n.out.id] = f"t{k}"
        lines.append(f"t{k} = {_expr(n, args)}")

    def body(index: str, indent: str) -> list[str]:
        out = [f"{indent}x{k} = a{k}[{index}]" for k in range(len(inputs))]
        out += [f"{indent}{line}" for line in lines]
        out += [f"{indent}o{k}[{index}] = {var_name[v.id]}" for k, v in enumerate(outputs)]
        return out

    params = ", ".join([f"a{k}" for k in range(len(inputs))]
                       + [f"o{k}" for k in range(len(outputs))])
    src = [
        # No name in the source: identical groups share one cached kernel.
        f'"""lucid fused kernel: {len(group.nodes)} ops over rank {ndim}."""',
        "import math",
        "",
        "import numpy as np",
        "from numba import njit",
        "",
        "",
        _DECORATOR,
        f"def flat(n, {params}):",
        "    for i in range(n):",
        *body("i", "        "),
        "",
        "",
        _DECORATOR,
        f"def nd(shape, {params}):",
    ]
    if ndim == 0:
        src += body("()", "    ")
    else:
        indent = "    "
        for d in range(ndim):
            src.append(f"{indent}for i{d} in range(shape[{d}]):")
            indent += "    "
        src += body(", ".join(f"i{d}" for d in range(ndim)), indent)
    return "\n".join(src) + "\n"


__all__ = ["group_source"]
