"""Reductions over dimensions: sum, mean, prod, max/min, amax/amin, argmax/argmin, var/std,
logsumexp, norm, cumsum/cumprod, all/any, count_nonzero.

Primitives (each a reduction takes ``axes``, a sorted tuple of non-negative dims, and
``keepdims``): ``sum``, ``prod``, ``max``, ``min``, ``argmax``, ``argmin`` (one axis), ``all``,
``any``; the scans ``cumsum`` and ``cumprod`` (``axis`` and ``reverse``); and the pair
``take_along`` / ``put_along_add`` (gather and scatter-add along one axis, each other's VJP),
which ``max(x, dim)`` uses to pick its values and which the indexing family reuses.

``mean``, ``var``, ``std``, ``logsumexp`` and ``norm`` are compositions of primitives, so their
gradients come for free and can be differentiated again.

PyTorch's conventions are followed throughout: ``dim=None`` (and ``dim=()``) reduces every
dimension; a 0-d tensor accepts ``dim`` 0 or -1; integer and bool inputs of ``sum``, ``prod``,
``cumsum`` and ``cumprod`` accumulate in int64; the sum of nothing is 0, the product 1, while
max/min/argmax of nothing have no identity and raise :class:`IndexError`.
"""

from __future__ import annotations

import builtins
import math
from typing import Any, NamedTuple

import numpy as np

from .. import dtypes as _dt
from ..errors import DTypeError, ShapeError
from ..tensor import Tensor

# Sibling families are referenced through their module objects, resolved at call time, because
# the families use each other (the shape family's sum_to_shape calls our sum).
from . import binary as _binary
from . import shape as _shape
from . import unary as _unary
from .convert import cast, stop_gradient
from .promotion import as_tensor, normalize_dim, normalize_dims
from .registry import Kernel, ShapedArray, primitive
from .rules import describe, quiet

# --------------------------------------------------------------------------- shared helpers


def reduced_shape(shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool
                  ) -> tuple[int, ...]:
    """The shape left after reducing ``axes`` of ``shape``."""
    if keepdims:
        return tuple([1 if i in axes else d for i, d in enumerate(shape)])
    return tuple([d for i, d in enumerate(shape) if i not in axes])


def expand_reduced(g: Tensor, x_shape: tuple[int, ...], axes: tuple[int, ...],
                   keepdims: bool) -> Tensor:
    """Broadcast a reduction's cotangent ``g`` back to the input shape ``x_shape``."""
    if not keepdims and axes != tuple(range(len(axes))):
        # Reduced dims that are not leading come back as 1s; leading ones (a full reduction
        # to a scalar, say) broadcast_to adds by itself, without a reshape first.
        g = _shape.reshape(g, reduced_shape(x_shape, axes, True))
    return _shape.broadcast_to(g, x_shape)


def _check_axes(name: str, x: Any, axes: tuple[int, ...]) -> None:
    n = len(x.shape)
    ok = True
    prev = -1
    for a in axes:  # strictly increasing dims of x
        if not prev < a < n:
            ok = False
            break
        prev = a
    if not ok:
        raise ShapeError(f"{name}: axes {axes} must be sorted, distinct dims of {describe(x)}; "
                         f"the public function lucid.{name} normalizes them")


def _reduce_rule(name: str, *, out_dtype: _dt.DType | None = None, nonempty: bool = False,
                 bool_only: bool = False) -> Any:
    """Shape rule of a reduction primitive named ``name``.

    ``nonempty``: reducing a size-0 dimension is an error (max, min, argmax have no identity).
    ``bool_only``: the operand must be bool (all, any; the public functions cast first).
    """

    def rule(x: Any, *, axes: tuple[int, ...], keepdims: bool) -> ShapedArray:
        _check_axes(name, x, axes)
        if bool_only and x.dtype is not _dt.bool_:
            raise DTypeError(f"{name}: expects a bool operand, got {describe(x)}; "
                             f"lucid.{name} converts other dtypes first")
        if nonempty:
            for a in axes:
                if x.shape[a] == 0:
                    raise IndexError(
                        f"{name}(): Expected reduction dim {a} to have non-zero size (input "
                        f"{describe(x)}); the reduction of nothing has no identity"
                    )
        return ShapedArray(reduced_shape(tuple(x.shape), axes, keepdims), out_dtype or x.dtype)

    return rule


def _axes(dim: Any, ndim: int, op: str) -> tuple[int, ...]:
    """Normalized reduction axes: ``None`` and ``()`` mean all dims (PyTorch semantics)."""
    if isinstance(dim, (tuple, list)):
        if len(dim) == 0:
            dim = None
    elif dim is not None and (not isinstance(dim, (int, np.integer)) or isinstance(dim, bool)):
        raise TypeError(f"{op}: dim must be an int, a tuple of ints or None, got "
                        f"{type(dim).__name__} {dim!r}")
    return normalize_dims(dim, ndim, op)


def _numel(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    """How many elements each output of a reduction over ``axes`` combines."""
    return math.prod(shape[a] for a in axes)


def _accumulate_dtype(x: Tensor, dtype: Any) -> Tensor:
    """``x`` cast for sum/prod/cumsum/cumprod: to ``dtype`` if given, else integers and bools
    to int64 (as PyTorch accumulates them)."""
    if dtype is not None:
        return cast(x, _dt.as_dtype(dtype))
    if not x.dtype.is_floating_point:
        return cast(x, _dt.int64)
    return x


def _zeros_like(x: Tensor) -> Tensor:
    from .. import creation  # imported late: lucid.creation is loaded after the ops package

    return creation.zeros_like(x)


def _impl(f: Any) -> Any:
    """Run a NumPy reduction without floating-point warnings (inf/nan results are silent, as in
    PyTorch)."""

    impl = quiet(f)
    impl.__name__ = getattr(f, "__name__", "impl")
    return impl


# --------------------------------------------------------------------------- sum


sum_p = primitive(
    "sum",
    shape_rule=_reduce_rule("sum"),
    # np.add.reduce is what np.sum calls, without np.sum's Python wrapper.
    impl=_impl(lambda x, *, axes, keepdims: np.add.reduce(x, axis=axes, keepdims=keepdims,
                                                          dtype=x.dtype)),
    vjp=(lambda g, out, x, *, axes, keepdims: expand_reduced(g, tuple(x.shape), axes, keepdims),),
    lowering=Kernel("reduce_sum"),
    doc="Sum over axes (the sum of nothing is 0).",
)


def sum(x: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None
        ) -> Tensor:
    """Sum over ``dim`` (an int, a tuple, or None / () for all).

    Bool and integer inputs sum to int64, as in PyTorch; ``dtype`` casts the input first.
    """
    x = _accumulate_dtype(as_tensor(x), dtype)
    axes = _axes(dim, x.ndim, "sum")
    return sum_p.bind(x, axes=axes, keepdims=bool(keepdim))


def mean(x: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Arithmetic mean over ``dim`` (None / () for all); the mean of nothing is NaN.

    Like PyTorch, integer and bool tensors need a floating ``dtype`` (the output dtype
    cannot be inferred from them).
    """
    x = as_tensor(x)
    if dtype is not None:
        d = _dt.as_dtype(dtype)
        if not d.is_floating_point:
            raise DTypeError(f"mean(): could not infer output dtype. Optional dtype must be a "
                             f"floating point dtype, got {d}")
        x = cast(x, d)
    elif not x.dtype.is_floating_point:
        raise DTypeError(
            f"mean(): could not infer output dtype. Input dtype must be a floating point dtype, "
            f"got {x.dtype}; cast first (x.float()) or pass dtype=lucid.float32"
        )
    axes = _axes(dim, x.ndim, "mean")
    s = sum_p.bind(x, axes=axes, keepdims=bool(keepdim))
    return _binary.div(s, _numel(tuple(x.shape), axes))


# --------------------------------------------------------------------------- prod


def _move_axes_last(x: Tensor, axes: tuple[int, ...]) -> tuple[Tensor, tuple[int, ...]]:
    """``x`` with ``axes`` moved to the end and flattened into one; also the permutation."""
    keep = tuple(i for i in range(x.ndim) if i not in axes)
    perm = keep + axes
    xt = _shape.permute(x, perm)
    flat = (*(x.shape[i] for i in keep), _numel(tuple(x.shape), axes))
    return _shape.reshape(xt, flat), perm


def _exclusive_cumprod(x: Tensor, reverse: bool) -> Tensor:
    """Products of the elements strictly before (or after, ``reverse``) each position along
    the last axis: the cumprod of ``x`` shifted by one with a 1 padded in."""
    n, last = x.shape[-1], x.ndim - 1
    starts = (0,) * x.ndim
    stops = tuple(x.shape)
    if reverse:
        starts = (*starts[:last], 1)
    else:
        stops = (*stops[:last], n - 1)
    shifted = _shape.slice_p.bind(x, starts=starts, stops=stops, steps=(1,) * x.ndim)
    pad = (0,) * last + (1,)
    none = (0,) * x.ndim
    padded = _shape.pad_p.bind(shifted, lows=none if reverse else pad,
                               highs=pad if reverse else none, interiors=none, value=1)
    return cumprod_p.bind(padded, axis=last, reverse=reverse)


def _prod_vjp(g: Tensor, out: Any, x: Tensor, *, axes: tuple[int, ...], keepdims: bool
              ) -> Tensor:
    # d prod / dx_i = (product of the elements before i) * (product of the elements after i).
    # Unlike g * out / x this is exact with any number of zeros, has no division, and is made
    # of differentiable primitives, so second derivatives at zeros are right too.
    if not axes:
        return g
    if math.prod(x.shape) == 0:
        return _zeros_like(x)
    flat, perm = _move_axes_last(x, axes)
    partial = _exclusive_cumprod(flat, False) * _exclusive_cumprod(flat, True)
    g_flat = _shape.reshape(g, (*flat.shape[:-1], 1))
    gx = _binary.mul(partial, g_flat)
    gx = _shape.reshape(gx, tuple(x.shape[p] for p in perm))
    return _shape.permute(gx, tuple(np.argsort(perm).tolist()))


prod_p = primitive(
    "prod",
    shape_rule=_reduce_rule("prod"),
    impl=_impl(lambda x, *, axes, keepdims: np.prod(x, axis=axes, keepdims=keepdims,
                                                    dtype=x.dtype)),
    vjp=(_prod_vjp,),
    lowering=Kernel("reduce_prod"),
    doc="Product over axes (the product of nothing is 1).",
)


def prod(x: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Product over ``dim`` (an int, a tuple, or None for all).

    Bool and integer inputs multiply in int64, as in PyTorch. The gradient is exact with
    zeros in the input (one zero: only it gets a gradient, the product of the others; several
    zeros: all gradients are zero).
    """
    x = _accumulate_dtype(as_tensor(x), dtype)
    axes = _axes(dim, x.ndim, "prod")
    return prod_p.bind(x, axes=axes, keepdims=bool(keepdim))


# --------------------------------------------------------------------------- max / min


def _extremum_vjp(g: Tensor, out: Tensor, x: Tensor, *, axes: tuple[int, ...],
                  keepdims: bool) -> Tensor:
    # The gradient is shared evenly among the elements equal to the result (ties), as in
    # PyTorch's amax/amin and full max(); a NaN result sends it to the NaN elements.
    shape = tuple(x.shape)
    o = expand_reduced(out, shape, axes, keepdims)
    hit = _binary.logical_or(
        _binary.eq(x, o), _binary.logical_and(_unary.isnan(x), _unary.isnan(o))
    )
    count = sum_p.bind(cast(hit, x.dtype), axes=axes, keepdims=True)
    share = _binary.div(expand_reduced(g, shape, axes, keepdims), count)
    return _binary.where(hit, share, 0.0)


max_p = primitive(
    "max",
    shape_rule=_reduce_rule("max", nonempty=True),
    impl=_impl(lambda x, *, axes, keepdims: np.max(x, axis=axes, keepdims=keepdims)),
    vjp=(_extremum_vjp,),
    lowering=Kernel("reduce_max"),
    saves_output=True,
    doc="Maximum over axes (NaN propagates; ties share the gradient evenly).",
)

min_p = primitive(
    "min",
    shape_rule=_reduce_rule("min", nonempty=True),
    impl=_impl(lambda x, *, axes, keepdims: np.min(x, axis=axes, keepdims=keepdims)),
    vjp=(_extremum_vjp,),
    lowering=Kernel("reduce_min"),
    saves_output=True,
    doc="Minimum over axes (NaN propagates; ties share the gradient evenly).",
)


def amax(x: Any, dim: Any = (), keepdim: bool = False) -> Tensor:
    """Maximum over ``dim`` (an int or a tuple; () or None for all).

    NaN propagates. The gradient is distributed evenly among the elements equal to the
    maximum (PyTorch's convention).
    """
    x = as_tensor(x)
    return max_p.bind(x, axes=_axes(dim, x.ndim, "amax"), keepdims=bool(keepdim))


def amin(x: Any, dim: Any = (), keepdim: bool = False) -> Tensor:
    """Minimum over ``dim`` (an int or a tuple; () or None for all); see :func:`amax`."""
    x = as_tensor(x)
    return min_p.bind(x, axes=_axes(dim, x.ndim, "amin"), keepdims=bool(keepdim))


class ValuesIndices(NamedTuple):
    """``(values, indices)`` returned by ``max(x, dim)`` / ``min(x, dim)`` (PyTorch's
    ``torch.return_types.max``)."""

    values: Tensor
    indices: Tensor


MaxMin = ValuesIndices


def _arg_rule(name: str) -> Any:
    base = _reduce_rule(name, out_dtype=_dt.int64, nonempty=True)

    def rule(x: Any, *, axes: tuple[int, ...], keepdims: bool) -> ShapedArray:
        if len(axes) != 1:
            raise ShapeError(f"{name}: reduces exactly one axis, got axes={axes}; "
                             f"lucid.{name}(x) with dim=None flattens first")
        return base(x, axes=axes, keepdims=keepdims)

    return rule


argmax_p = primitive(
    "argmax",
    shape_rule=_arg_rule("argmax"),
    impl=lambda x, *, axes, keepdims: np.argmax(x, axis=axes[0], keepdims=keepdims),
    vjp=None,
    lowering=Kernel("reduce_argmax"),
    doc="Index (int64) of the first maximum along one axis (a NaN counts as the maximum).",
)

argmin_p = primitive(
    "argmin",
    shape_rule=_arg_rule("argmin"),
    impl=lambda x, *, axes, keepdims: np.argmin(x, axis=axes[0], keepdims=keepdims),
    vjp=None,
    lowering=Kernel("reduce_argmin"),
    doc="Index (int64) of the first minimum along one axis (a NaN counts as the minimum).",
)


def _arg_reduce(p: Any, x: Any, dim: Any, keepdim: bool) -> Tensor:
    x = as_tensor(x)
    if dim is None:
        if math.prod(x.shape) == 0:
            raise IndexError(f"{p.name}(): Expected reduction dim to be specified for "
                             f"input.numel() == 0 (input {describe(x)})")
        flat = p.bind(_shape.reshape(x, (-1,)), axes=(0,), keepdims=False)
        return _shape.reshape(flat, (1,) * x.ndim) if keepdim else flat
    axis = normalize_dim(dim, x.ndim, p.name)
    if x.ndim == 0:  # a 0-d tensor is one element: index 0
        return _shape.reshape(p.bind(_shape.reshape(x, (1,)), axes=(0,), keepdims=False), ())
    return p.bind(x, axes=(axis,), keepdims=bool(keepdim))


def argmax(x: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Index of the first maximum along ``dim`` (int64); with ``dim=None`` the index into the
    flattened tensor."""
    return _arg_reduce(argmax_p, x, dim, keepdim)


def argmin(x: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Index of the first minimum along ``dim`` (int64); with ``dim=None`` the index into the
    flattened tensor."""
    return _arg_reduce(argmin_p, x, dim, keepdim)


def _max_min(name: str, red_p: Any, arg_p: Any, x: Any, dim: Any, keepdim: bool) -> Any:
    x = as_tensor(x)
    if isinstance(dim, Tensor):  # torch.max(input, other): the elementwise maximum
        return (_binary.maximum if name == "max" else _binary.minimum)(x, dim)
    if dim is None:
        if math.prod(x.shape) == 0:
            raise IndexError(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0 "
                f"(input {describe(x)}); specify the reduction dim with the 'dim' argument"
            )
        return red_p.bind(x, axes=tuple(range(x.ndim)), keepdims=bool(keepdim))
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{name}(): dim must be an int, got {dim!r}; use "
                        f"a{name}(x, dim) to reduce several dims")
    axis = normalize_dim(dim, x.ndim, name)
    if x.ndim == 0:
        # One element: value and index 0; reshaping keeps the gradient path.
        v, i = _max_min(name, red_p, arg_p, _shape.reshape(x, (1,)), 0, False)
        return ValuesIndices(_shape.reshape(v, ()), _shape.reshape(i, ()))
    idx = arg_p.bind(x, axes=(axis,), keepdims=True)
    # The values are a gather at the selected indices, so their gradient goes to that one
    # element (PyTorch's max(dim) convention), unlike amax which splits it among ties.
    values = take_along_p.bind(x, idx, axis=axis)
    if not keepdim:
        out_shape = reduced_shape(tuple(x.shape), (axis,), False)
        values, idx = _shape.reshape(values, out_shape), _shape.reshape(idx, out_shape)
    return ValuesIndices(values, idx)


def max(x: Any, dim: Any = None, keepdim: bool = False) -> Any:
    """The maximum of ``x``.

    With ``dim=None``: a 0-d tensor (NaN propagates; the gradient is shared evenly among
    ties). With an int ``dim``: a named tuple ``(values, indices)`` of the first maximum along
    ``dim``, whose values' gradient goes to the selected index only. With a Tensor in place of
    ``dim``: the elementwise :func:`maximum`, as ``torch.max(input, other)``.
    """
    return _max_min("max", max_p, argmax_p, x, dim, keepdim)


def min(x: Any, dim: Any = None, keepdim: bool = False) -> Any:
    """The minimum of ``x``; see :func:`max`."""
    return _max_min("min", min_p, argmin_p, x, dim, keepdim)


# ---------------------------------------------------------------- take_along / put_along_add


def _along_check(name: str, x: Any, idx: Any, axis: int) -> None:
    if len(idx.shape) != len(x.shape) or not 0 <= axis < len(x.shape):
        raise ShapeError(f"{name}: index and input must have the same number of dimensions "
                         f"(>= 1) and axis must be one of them, got {describe(x, idx)} and "
                         f"axis={axis}")
    if idx.dtype.category != _dt.INT:
        raise DTypeError(f"{name}: indices must be an integer tensor, got {describe(idx)}")
    for d, (n, m) in enumerate(zip(x.shape, idx.shape, strict=True)):
        if d != axis and n != m:
            raise ShapeError(
                f"{name}: index shape must match the input's except along axis {axis}, got "
                f"{describe(x, idx)} (dimension {d}); slice or broadcast the operands first"
            )


def _along_index(idx: np.ndarray, axis: int, n: int, name: str) -> tuple[np.ndarray, ...]:
    """The NumPy fancy index selecting ``idx`` along ``axis`` and everything else in place."""
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = int(idx.min()) if idx.min() < 0 else int(idx.max())
        raise IndexError(f"{name}: index {bad} is out of bounds for dimension {axis} with "
                         f"size {n}")
    return tuple(
        idx if d == axis else np.arange(s).reshape([-1 if e == d else 1 for e in range(idx.ndim)])
        for d, s in enumerate(idx.shape)
    )


def _take_along_rule(x: Any, idx: Any, *, axis: int) -> ShapedArray:
    _along_check("take_along", x, idx, axis)
    return ShapedArray(tuple(idx.shape), x.dtype)


def _take_along_impl(x: np.ndarray, idx: np.ndarray, *, axis: int) -> np.ndarray:
    return x[_along_index(idx, axis, x.shape[axis], "take_along")]


take_along_p = primitive(
    "take_along",
    shape_rule=_take_along_rule,
    impl=_take_along_impl,
    vjp=(lambda g, out, x, idx, *, axis: put_along_add_p.bind(_zeros_like(x), idx, g, axis=axis),
         None),
    lowering=Kernel("take_along"),
    doc="out[..., i, ...] = x[..., idx[..., i, ...], ...] along ``axis`` (numpy's "
        "take_along_axis, torch.gather with equal non-axis sizes); indices must be in range.",
)


def _put_along_rule(x: Any, idx: Any, src: Any, *, axis: int) -> ShapedArray:
    _along_check("put_along_add", x, idx, axis)
    if tuple(src.shape) != tuple(idx.shape) or src.dtype is not x.dtype:
        raise ShapeError(f"put_along_add: the source must have the index's shape and the "
                         f"input's dtype, got input, index, source = {describe(x, idx, src)}")
    return ShapedArray(tuple(x.shape), x.dtype)


def _put_along_impl(x: np.ndarray, idx: np.ndarray, src: np.ndarray, *, axis: int
                    ) -> np.ndarray:
    out = np.array(x, copy=True)
    np.add.at(out, _along_index(idx, axis, x.shape[axis], "put_along_add"), src)
    return out


put_along_add_p = primitive(
    "put_along_add",
    shape_rule=_put_along_rule,
    impl=_put_along_impl,
    vjp=(lambda g, out, x, idx, src, *, axis: g,
         None,
         lambda g, out, x, idx, src, *, axis: take_along_p.bind(g, idx, axis=axis)),
    lowering=Kernel("put_along_add"),
    doc="x with src added at idx along ``axis`` (repeated indices accumulate; torch's "
        "scatter_add with equal non-axis sizes). The transpose of take_along.",
)


# --------------------------------------------------------------------------- var / std


def _correction(unbiased: Any, correction: Any, op: str) -> float:
    if unbiased is not None and correction is not None:
        raise TypeError(f"{op}(): pass either 'unbiased' or 'correction', not both")
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def _var_mean(x: Any, dim: Any, unbiased: Any, keepdim: bool, correction: Any, op: str
              ) -> tuple[Tensor, Tensor]:
    x = as_tensor(x)
    if isinstance(dim, bool):  # x.var(False): the legacy (unbiased) overload
        dim, unbiased = None, dim if unbiased is None else unbiased
    if not x.dtype.is_floating_point:
        raise DTypeError(f"{op}(): std and var only support floating point dtypes, got "
                         f"{x.dtype}; cast first (x.float())")
    c = _correction(unbiased, correction, op)
    axes = _axes(dim, x.ndim, op)
    n = _numel(tuple(x.shape), axes)
    mu = mean(x, axes, keepdim=True)
    d = _binary.sub(x, mu)
    ss = sum_p.bind(_unary.square(d), axes=axes, keepdims=bool(keepdim))
    # PyTorch divides by max(0, N - correction): too few elements give inf or NaN.
    var_ = _binary.div(ss, builtins.max(0, n - c))
    if not keepdim:
        mu = _shape.reshape(mu, reduced_shape(tuple(x.shape), axes, False))
    return var_, mu


def var(x: Any, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
        correction: Any = None) -> Tensor:
    """Variance over ``dim`` (None / () for all), dividing by ``N - correction``.

    ``correction`` defaults to 1 (Bessel's correction); ``unbiased=False`` means 0. With
    ``N - correction <= 0`` the result is inf or NaN, as in PyTorch.
    """
    return _var_mean(x, dim, unbiased, keepdim, correction, "var")[0]


def std(x: Any, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
        correction: Any = None) -> Tensor:
    """Standard deviation: the square root of :func:`var` (same arguments).

    Where the deviation is 0 (constant input) the gradient is 0, as in PyTorch.
    """
    return _safe_root(_var_mean(x, dim, unbiased, keepdim, correction, "std")[0], 2)


def var_mean(x: Any, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
             correction: Any = None) -> tuple[Tensor, Tensor]:
    """``(var(x, ...), mean(x, ...))`` computed together."""
    return _var_mean(x, dim, unbiased, keepdim, correction, "var_mean")


def std_mean(x: Any, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
             correction: Any = None) -> tuple[Tensor, Tensor]:
    """``(std(x, ...), mean(x, ...))`` computed together."""
    v, m = _var_mean(x, dim, unbiased, keepdim, correction, "std_mean")
    return _safe_root(v, 2), m


# --------------------------------------------------------------------------- logsumexp


def logsumexp(x: Any, dim: Any, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(x), dim))`` computed stably (shifted by the maximum).

    Rows of -inf give -inf, a +inf gives +inf and NaN propagates, as in PyTorch. Integer
    inputs are cast to the default float dtype. The gradient is ``softmax(x)``.
    """
    x = as_tensor(x)
    if not x.dtype.is_floating_point:
        x = cast(x, _dt.get_default_dtype())
    axes = _axes(dim, x.ndim, "logsumexp")
    if builtins.any(x.shape[a] == 0 for a in axes):
        # No maximum to shift by; the sum of nothing is 0, so the result is -inf.
        return _unary.log(sum_p.bind(_unary.exp(x), axes=axes, keepdims=bool(keepdim)))
    # The shift is a constant for autograd (the result does not depend on it), so the
    # gradient is exactly softmax and stays differentiable. Infinite maxima shift by 0, so
    # -inf rows give log(0) = -inf and +inf gives +inf instead of inf - inf = NaN.
    m = max_p.bind(stop_gradient(x), axes=axes, keepdims=True)
    m = _binary.where(_unary.isinf(m), 0.0, m)
    s = sum_p.bind(_unary.exp(_binary.sub(x, m)), axes=axes, keepdims=bool(keepdim))
    if not keepdim:
        m = _shape.reshape(m, reduced_shape(tuple(x.shape), axes, False))
    return _binary.add(_unary.log(s), m)


# --------------------------------------------------------------------------- norm


def _safe_root(s: Tensor, p: float) -> Tensor:
    """``s ** (1/p)`` for ``s >= 0`` with a zero (not NaN) gradient where ``s == 0``.

    PyTorch defines the gradients of the norm at the zero vector and of std at a constant
    input as 0; the root's derivative is infinite there, so both branches of ``where`` must
    stay finite.
    """
    zero = _binary.eq(s, 0)
    safe = _binary.where(zero, 1.0, s)
    root = _unary.sqrt(safe) if p == 2 else _binary.pow(safe, 1.0 / p)
    return _binary.where(zero, 0.0, root)


def norm(x: Any, p: Any = 2, dim: Any = None, keepdim: bool = False, *,
         dtype: Any = None) -> Tensor:
    """Vector ``p``-norm over ``dim`` (None for all): ``sum(|x|**p) ** (1/p)``.

    ``p`` may be any float, ``inf`` (max of ``|x|``), ``-inf`` (min), 0 (number of non-zero
    elements; not differentiable) or ``'fro'`` (the 2-norm). Gradients follow PyTorch: 0 at
    the zero vector and at zero elements; ties of the inf-norms share the gradient.
    """
    x = as_tensor(x)
    if dtype is not None:
        x = cast(x, _dt.as_dtype(dtype))
    if not x.dtype.is_floating_point:
        raise DTypeError(f"norm(): expected a floating point tensor as input, got {x.dtype}; "
                         f"cast first (x.float()) or pass dtype=lucid.float32")
    if isinstance(p, str):
        if p != "fro":
            raise ValueError(f"norm(): p={p!r} is not supported; use a number, inf, -inf or "
                             f"'fro' (the nuclear norm needs singular values)")
        p = 2
    p = float(p)
    axes = _axes(dim, x.ndim, "norm")
    keep = bool(keepdim)
    if p == math.inf:
        return max_p.bind(_unary.abs(x), axes=axes, keepdims=keep)
    if p == -math.inf:
        return min_p.bind(_unary.abs(x), axes=axes, keepdims=keep)
    if p == 0:
        return sum_p.bind(cast(_binary.ne(x, 0), x.dtype), axes=axes, keepdims=keep)
    if p == 1:
        return sum_p.bind(_unary.abs(x), axes=axes, keepdims=keep)
    if p == 2:
        return _safe_root(sum_p.bind(_unary.square(x), axes=axes, keepdims=keep), 2)
    a = _unary.abs(x)
    if p > 0:
        # |x| ** p has an infinite derivative at 0 for p < 1; PyTorch's gradient there is 0.
        zero = _binary.eq(a, 0)
        a_p = _binary.where(zero, 0.0, _binary.pow(_binary.where(zero, 1.0, a), p))
        return _safe_root(sum_p.bind(a_p, axes=axes, keepdims=keep), p)
    # Negative p: a zero element makes the sum infinite and the norm 0, as in PyTorch.
    s = sum_p.bind(_binary.pow(a, p), axes=axes, keepdims=keep)
    return _binary.pow(s, 1.0 / p)


# --------------------------------------------------------------------------- cumsum / cumprod


def _scan_rule(name: str) -> Any:
    def rule(x: Any, *, axis: int, reverse: bool) -> ShapedArray:
        if not 0 <= axis < len(x.shape):
            raise ShapeError(f"{name}: axis {axis} is not a dimension of {describe(x)}")
        return ShapedArray(tuple(x.shape), x.dtype)

    return rule


def _scan_impl(f: Any) -> Any:
    def impl(x: np.ndarray, *, axis: int, reverse: bool) -> np.ndarray:
        with np.errstate(all="ignore"):
            if not reverse:
                return f(x, axis=axis, dtype=x.dtype)
            return np.ascontiguousarray(np.flip(f(np.flip(x, axis), axis=axis, dtype=x.dtype),
                                                axis))

    return impl


def _cumprod_vjp(g: Tensor, out: Tensor, x: Tensor, *, axis: int, reverse: bool) -> Tensor:
    # d out_i / d x_k = prod_{j <= i, j != k} x_j for k <= i. Before the first zero this is
    # out_i / x_k, giving the usual reversed cumsum of g * out divided by x. At the first zero
    # z it is the cumprod with x_z replaced by 1; after it every such product contains x_z = 0.
    # This is exact (first order) with any zeros and branch-free; second derivatives are exact
    # where x has no zeros.
    zero = _binary.eq(x, 0)
    seen = cumsum_p.bind(cast(zero, _dt.int64), axis=axis, reverse=reverse)
    before = _binary.eq(seen, 0)
    first = _binary.logical_and(zero, _binary.eq(seen, 1))
    safe_x = _binary.where(before, x, 1.0)
    back = not reverse
    grad_before = _binary.div(cumsum_p.bind(g * out, axis=axis, reverse=back), safe_x)
    skip_first = cumprod_p.bind(_binary.where(first, 1.0, x), axis=axis, reverse=reverse)
    grad_first = cumsum_p.bind(g * skip_first, axis=axis, reverse=back)
    return _binary.where(before, grad_before, _binary.where(first, grad_first, 0.0))


cumsum_p = primitive(
    "cumsum",
    shape_rule=_scan_rule("cumsum"),
    impl=_scan_impl(np.cumsum),
    vjp=(lambda g, out, x, *, axis, reverse: cumsum_p.bind(g, axis=axis, reverse=not reverse),),
    lowering=Kernel("cumsum"),
    doc="Inclusive prefix sums along ``axis`` (from the end when ``reverse``).",
)

cumprod_p = primitive(
    "cumprod",
    shape_rule=_scan_rule("cumprod"),
    impl=_scan_impl(np.cumprod),
    vjp=(_cumprod_vjp,),
    lowering=Kernel("cumprod"),
    saves_output=True,
    doc="Inclusive prefix products along ``axis`` (from the end when ``reverse``).",
)


def _scan(p: Any, x: Any, dim: Any, dtype: Any) -> Tensor:
    x = _accumulate_dtype(as_tensor(x), dtype)
    axis = normalize_dim(dim, x.ndim, p.name)
    if x.ndim == 0:
        return _shape.reshape(p.bind(_shape.reshape(x, (1,)), axis=0, reverse=False), ())
    return p.bind(x, axis=axis, reverse=False)


def cumsum(x: Any, dim: int, *, dtype: Any = None) -> Tensor:
    """Inclusive cumulative sum along ``dim``; integer and bool inputs accumulate in int64.
    The gradient is the reversed cumulative sum of the incoming gradient."""
    return _scan(cumsum_p, x, dim, dtype)


def cumprod(x: Any, dim: int, *, dtype: Any = None) -> Tensor:
    """Inclusive cumulative product along ``dim``; integer and bool inputs accumulate in int64.

    The gradient is exact also with zeros in ``x`` (the first zero along ``dim`` gets the
    products that skip it; later elements get 0); second derivatives are exact where ``x``
    has no zeros.
    """
    return _scan(cumprod_p, x, dim, dtype)


# --------------------------------------------------------------------------- all / any


all_p = primitive(
    "all",
    shape_rule=_reduce_rule("all", bool_only=True),
    impl=lambda x, *, axes, keepdims: np.all(x, axis=axes, keepdims=keepdims),
    vjp=None,
    lowering=Kernel("reduce_all"),
    doc="Logical and over axes (True for nothing).",
)

any_p = primitive(
    "any",
    shape_rule=_reduce_rule("any", bool_only=True),
    impl=lambda x, *, axes, keepdims: np.any(x, axis=axes, keepdims=keepdims),
    vjp=None,
    lowering=Kernel("reduce_any"),
    doc="Logical or over axes (False for nothing).",
)


def _truth(x: Tensor) -> Tensor:
    # Non-zero is true (NaN too, as bool(nan) in Python and PyTorch).
    return x if x.dtype is _dt.bool_ else _binary.ne(x, 0)


def all(x: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Whether every element along ``dim`` (None / () for all) is non-zero (a bool tensor)."""
    x = as_tensor(x)
    return all_p.bind(_truth(x), axes=_axes(dim, x.ndim, "all"), keepdims=bool(keepdim))


def any(x: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Whether any element along ``dim`` (None / () for all) is non-zero (a bool tensor)."""
    x = as_tensor(x)
    return any_p.bind(_truth(x), axes=_axes(dim, x.ndim, "any"), keepdims=bool(keepdim))


def count_nonzero(x: Any, dim: Any = None) -> Tensor:
    """The number of non-zero elements along ``dim`` (None / () for all), as int64."""
    x = as_tensor(x)
    return sum(_binary.ne(x, 0), dim)


__all__ = [
    "sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "var", "std",
    "var_mean", "std_mean", "logsumexp", "norm", "cumsum", "cumprod", "all", "any",
    "count_nonzero", "ValuesIndices", "MaxMin", "reduced_shape", "expand_reduced",
]
