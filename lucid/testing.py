"""Testing helpers: :func:`gradcheck` compares autograd with central finite differences."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import tree
from .autograd import grad as _autograd_grad
from .errors import LucidError
from .tensor import Tensor


class GradcheckError(LucidError, AssertionError):
    """Analytic and numerical gradients disagree."""


def _outputs(fn: Callable[..., Any], inputs: Sequence[Any]) -> list[Tensor]:
    out = fn(*inputs)
    return [t for t in tree.leaves(out) if isinstance(t, Tensor) and t.dtype.is_floating_point]


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    n_projections: int = 2,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Check ``fn``'s gradients with respect to its float64 tensor inputs that require grad.

    For random cotangents ``v`` (one per floating output), the vector-Jacobian product from
    autograd, ``v^T J``, is compared with central differences of ``<v, fn(x)>`` along every
    input element. Checking random projections instead of the whole Jacobian costs one backward
    per projection and two forward calls per input element, and still catches any wrong entry
    with probability 1. Outputs may be any pytree of tensors.

    Returns True when every gradient matches; otherwise raises :class:`GradcheckError` naming
    the input, the element and both values (or returns False with ``raise_exception=False``).
    """
    inputs = list(inputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError("gradcheck: no input requires grad")
    for i in diff:
        if inputs[i].dtype.name != "float64":
            raise ValueError(
                f"gradcheck: input {i} is {inputs[i].dtype}; use float64 inputs (finite "
                f"differences in lower precision are too noisy to check anything)"
            )
    rng = np.random.default_rng(seed)
    outs = _outputs(fn, inputs)
    if not outs:
        raise ValueError("gradcheck: fn returned no floating-point tensor")
    for _ in range(n_projections):
        vs = [Tensor._make(rng.standard_normal(o.shape).astype(o._data.dtype)) for o in outs]
        outs = _outputs(fn, inputs)
        differentiable = [(o, v) for o, v in zip(outs, vs) if o.requires_grad]
        if differentiable:
            analytic = _autograd_grad(
                [o for o, _ in differentiable], [inputs[i] for i in diff],
                [v for _, v in differentiable], allow_unused=True,
            )
        else:
            analytic = (None,) * len(diff)

        def project(xs: list[Any], vs: list[Tensor] = vs) -> float:
            # Grad mode stays on: fn may itself differentiate (gradgradcheck).
            return float(sum(
                np.sum(o._data.astype(np.float64) * v._data)
                for o, v in zip(_outputs(fn, xs), vs)
            ))

        for k, i in enumerate(diff):
            x = inputs[i]
            base = x._data
            numeric = np.zeros(base.shape)
            for idx in np.ndindex(*base.shape):
                plus, minus = base.copy(), base.copy()
                plus[idx] += eps
                minus[idx] -= eps
                xs = list(inputs)
                xs[i] = Tensor._make(plus).requires_grad_()
                fp = project(xs)
                xs[i] = Tensor._make(minus).requires_grad_()
                fm = project(xs)
                numeric[idx] = (fp - fm) / (2 * eps)
            got = np.zeros(base.shape) if analytic[k] is None else analytic[k]._data
            bad = ~np.isclose(got, numeric, rtol=rtol, atol=atol)
            if bad.any():
                where = tuple(int(j) for j in np.argwhere(bad)[0])
                msg = (
                    f"gradcheck: gradient of input {i} (shape {tuple(base.shape)}) is wrong at "
                    f"index {where}: autograd gives {got[where]!r}, finite differences give "
                    f"{numeric[where]!r} ({int(bad.sum())} of {bad.size} elements differ; "
                    f"atol={atol}, rtol={rtol})"
                )
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True


def gradgradcheck(fn: Callable[..., Any], inputs: Sequence[Any], **kwargs: Any) -> bool:
    """Check second derivatives: :func:`gradcheck` of the function ``x -> v^T J(x)``
    computed with ``create_graph=True``."""
    inputs = list(inputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    rng = np.random.default_rng(kwargs.get("seed", 0) + 1)
    outs = _outputs(fn, inputs)
    vs = [Tensor._make(rng.standard_normal(o.shape)) for o in outs]

    def first_grad(*xs: Any) -> tuple[Any, ...]:
        os = _outputs(fn, xs)
        gs = _autograd_grad(os, [xs[i] for i in diff], vs, create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_grad, inputs, **kwargs)


__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]
