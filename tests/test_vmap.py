"""Tests of ``lucid.vmap`` (lucid/func/vmap.py).

The oracle is a Python loop: ``vmap(f)(xs)`` must equal ``stack([f(x) for x in xs])`` for every
primitive family, every in_axes / out_axes form, nested and composed transforms. The tests also
check that the common model families (MLP, CNN, cross-entropy, per-example gradients) run on
real batching rules, never on the per-example loop fallback, and that the loop fallback itself
is correct for every primitive (by forcing it).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import lucid
import lucid.nn as nn
import lucid.nn.functional as F
from lucid import tree
from lucid.errors import ShapeError, TracerError
from lucid.ops.registry import PRIMITIVES

# ``lucid.func.vmap`` is the function; the module (to patch its loop fallback) is this one.
V = sys.modules["lucid.func.vmap"]

RNG = np.random.default_rng(0)
B = 3  # the batch size used throughout


def t(*shape: int, dtype: Any = np.float32, lo: int = -3, hi: int = 4) -> lucid.Tensor:
    """A random tensor (ints in [lo, hi), bools, or normal floats)."""
    if dtype is np.bool_:
        return lucid.tensor(RNG.random(shape) > 0.5)
    if np.issubdtype(dtype, np.integer):
        return lucid.tensor(RNG.integers(lo, hi, shape).astype(dtype))
    return lucid.tensor(RNG.standard_normal(shape).astype(dtype))


def _select(x: Any, ax: int | None, i: int) -> Any:
    if ax is None or not isinstance(x, lucid.Tensor):
        return x
    return x[(slice(None),) * (ax % x.ndim) + (i,)]


def loop(f: Callable, args: Sequence[Any], in_axes: Any = 0, out_axes: int = 0) -> Any:
    """The reference: ``f`` per example (in_axes an int/None or one per argument), stacked."""
    axes = list(in_axes) if isinstance(in_axes, (tuple, list)) else [in_axes] * len(args)
    n = next(a.shape[ax] for a, ax in zip(args, axes, strict=True)
             if ax is not None and isinstance(a, lucid.Tensor))
    outs = [f(*[_select(a, ax, i) for a, ax in zip(args, axes, strict=True)]) for i in range(n)]
    return tree.map(lambda *xs: lucid.stack(list(xs), out_axes), *outs)


def assert_same(a: Any, b: Any, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """Equal pytrees of tensors: structure, shapes, dtypes and values."""
    la, ta = tree.flatten(a)
    lb, tb = tree.flatten(b)
    assert ta == tb, f"structures differ: {ta} vs {tb}"
    for x, y in zip(la, lb, strict=True):
        if not isinstance(x, lucid.Tensor):
            assert x == y
            continue
        assert isinstance(y, lucid.Tensor)
        assert tuple(x.shape) == tuple(y.shape), (x.shape, y.shape)
        assert x.dtype is y.dtype, (x.dtype, y.dtype)
        xa, ya = x.detach().numpy(), y.detach().numpy()
        if xa.dtype.kind in "fc":
            np.testing.assert_allclose(xa, ya, rtol=rtol, atol=atol)
        else:
            np.testing.assert_array_equal(xa, ya)


@pytest.fixture
def loops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the primitives that fall back to the per-example loop (patched counter)."""
    calls: list[str] = []
    real = V._loop_rule

    def counting(prim: Any, *rest: Any) -> Any:
        calls.append(prim.name)
        return real(prim, *rest)

    monkeypatch.setattr(V, "_loop_rule", counting)
    return calls


def check(f: Callable, *args: Any, in_axes: Any = 0, out_axes: int = 0,
          rtol: float = 1e-5, atol: float = 1e-6) -> Any:
    """vmap(f) equals the loop; returns the vmapped result."""
    got = lucid.vmap(f, in_axes=in_axes, out_axes=out_axes)(*args)
    assert_same(got, loop(f, args, in_axes, out_axes), rtol, atol)
    return got


# ============================================================================ elementwise

UNARY = {
    "neg": (lucid.neg, np.float32), "abs": (lucid.abs, np.int64), "sign": (lucid.sign, np.float32),
    "exp": (lucid.exp, np.float64), "log": (lambda x: lucid.log(x.abs() + 1), np.float32),
    "log1p": (lambda x: lucid.log1p(x.abs()), np.float32), "expm1": (lucid.expm1, np.float32),
    "sqrt": (lambda x: lucid.sqrt(x.abs()), np.float32), "rsqrt": (lambda x: (x.abs() + 1).rsqrt(),
                                                                  np.float32),
    "square": (lucid.square, np.int64), "reciprocal": (lambda x: (x.abs() + 1).reciprocal(),
                                                       np.float64),
    "sin": (lucid.sin, np.float32), "cos": (lucid.cos, np.float32),
    "tanh": (lucid.tanh, np.float32),
    "sigmoid": (lucid.sigmoid, np.float32), "relu": (lucid.relu, np.float32),
    "erf": (lucid.erf, np.float32), "floor": (lucid.floor, np.float32),
    "ceil": (lucid.ceil, np.float32), "round": (lucid.round, np.float32),
    "trunc": (lucid.trunc, np.float32), "logical_not": (lucid.logical_not, np.bool_),
    "bitwise_not": (lucid.bitwise_not, np.int64), "isnan": (lucid.isnan, np.float32),
    "isinf": (lucid.isinf, np.float32), "isfinite": (lucid.isfinite, np.float32),
    "clone": (lucid.clone, np.float32), "detach": (lambda x: x.detach(), np.int64),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary(name: str, loops: list[str]) -> None:
    f, dtype = UNARY[name]
    check(f, t(B, 2, 3, dtype=dtype))
    check(f, t(2, B, dtype=dtype), in_axes=1)
    assert loops == []


BINARY = {
    "add": (lucid.add, np.float32), "sub": (lucid.sub, np.int64), "mul": (lucid.mul, np.float64),
    "div": (lucid.div, np.float32), "pow": (lambda a, b: lucid.pow(a.abs() + 1, b), np.float32),
    "maximum": (lucid.maximum, np.int64), "minimum": (lucid.minimum, np.float32),
    "fmod": (lambda a, b: lucid.fmod(a, b.abs() + 1), np.float32),
    "remainder": (lambda a, b: lucid.remainder(a, b.abs() + 1), np.int64),
    "floor_divide": (lambda a, b: lucid.floor_divide(a, b.abs() + 1), np.int64),
    "eq": (lucid.eq, np.int64), "ne": (lucid.ne, np.int64), "lt": (lucid.lt, np.float32),
    "le": (lucid.le, np.float32), "gt": (lucid.gt, np.float32), "ge": (lucid.ge, np.int64),
    "logical_and": (lucid.logical_and, np.bool_), "logical_or": (lucid.logical_or, np.bool_),
    "logical_xor": (lucid.logical_xor, np.bool_), "bitwise_and": (lucid.bitwise_and, np.int64),
    "bitwise_or": (lucid.bitwise_or, np.int64), "bitwise_xor": (lucid.bitwise_xor, np.int64),
}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_batched_and_unbatched_operands(name: str, loops: list[str]) -> None:
    f, dtype = BINARY[name]
    a, b = t(B, 2, 3, dtype=dtype), t(B, 2, 3, dtype=dtype)
    check(f, a, b)
    check(f, a, b[0], in_axes=(0, None))
    check(f, a[0], b, in_axes=(None, 0))
    check(f, t(2, B, 3, dtype=dtype), b, in_axes=(1, 0))
    assert loops == []


@settings(max_examples=30, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       axes=st.tuples(st.sampled_from([0, -1, None]), st.sampled_from([0, -1, None])),
       dtype=st.sampled_from([np.float32, np.float64, np.int64]))
def test_binary_broadcasting(shapes: Any, axes: tuple, dtype: Any) -> None:
    if axes == (None, None):
        axes = (0, None)
    args = []
    for s, ax in zip(shapes.input_shapes, axes, strict=True):
        full = list(s)
        if ax is not None:
            full.insert(len(full) + 1 + ax if ax < 0 else ax, B)
        args.append(t(*full, dtype=dtype))
    check(lambda a, b: a * b + a - b, *args, in_axes=axes)
    check(lambda a, b: lucid.maximum(a, b), *args, in_axes=axes)


def test_python_scalars_and_dtype_promotion(loops: list[str]) -> None:
    x, i = t(B, 4), t(B, 4, dtype=np.int64)
    check(lambda a: a * 2 + 1.5, x)
    check(lambda a: 3 - a, i)
    check(lambda a: a / 2, i)  # true division promotes int64 to float32
    check(lambda a: a ** 2, x)
    check(lambda a, b: a + b, x, i)  # float32 + int64 -> float32
    check(lambda a: (a > 0.5) & (a < 2), x)
    assert loops == []


def test_where_clamp_cast_masked_fill(loops: list[str]) -> None:
    x, y, m = t(B, 2, 3), t(B, 2, 3), t(B, 2, 3, dtype=np.bool_)
    check(lucid.where, m, x, y)
    check(lucid.where, m[0], x, y, in_axes=(None, 0, 0))
    check(lucid.where, m, x[0], y[0], in_axes=(0, None, None))
    check(lambda c, a: lucid.where(c, a, 0.0), m, x)
    check(lambda a: lucid.clamp(a, -0.5, 0.5), x)
    check(lambda a: a.clamp(min=0), x)
    check(lambda a, lo: lucid.clamp(a, lo, lo + 1), x, y)
    check(lambda a: a.to(lucid.int64), x * 4)
    check(lambda a: a.to(lucid.float64), t(B, 3, dtype=np.int64))
    check(lambda a: a.bool(), t(B, 3, dtype=np.int64))
    check(lambda a, c: a.masked_fill(c, -1.0), x, m)
    check(lambda a, c: lucid.masked_fill(a, c, 7.0), x[0], m, in_axes=(None, 0))
    check(lambda a, v: a.masked_fill(a > 0, v), x, y[:, 0, 0])  # a batched 0-d fill value
    assert loops == []


# ============================================================================ reductions

REDUCTIONS: dict[str, Callable[..., lucid.Tensor]] = {
    "sum": lambda x, d, k: x.sum(d, keepdim=k),
    "mean": lambda x, d, k: x.mean(d, keepdim=k),
    "prod": lambda x, d, k: x.prod(d, keepdim=k) if isinstance(d, int) else x.prod(),
    "amax": lambda x, d, k: x.amax(d, keepdim=k),
    "amin": lambda x, d, k: x.amin(d, keepdim=k),
    "max_values": lambda x, d, k: x.max(d, keepdim=k)[0] if isinstance(d, int) else x.max(),
    "max_indices": lambda x, d, k: x.max(d, keepdim=k)[1] if isinstance(d, int) else x.argmax(),
    "min_indices": lambda x, d, k: x.min(d, keepdim=k)[1] if isinstance(d, int) else x.argmin(),
    "argmax": lambda x, d, k: x.argmax(d, keepdim=k) if isinstance(d, int) else x.argmax(),
    "argmin": lambda x, d, k: x.argmin(d, keepdim=k) if isinstance(d, int) else x.argmin(),
    "var": lambda x, d, k: x.var(d, keepdim=k),
    "std": lambda x, d, k: x.std(d, keepdim=k, correction=0),
    "logsumexp": lambda x, d, k: lucid.logsumexp(x, d if d is not None else (0, 1, 2),
                                                 keepdim=k),
    "cumsum": lambda x, d, k: x.cumsum(d if isinstance(d, int) else 0),
    "cumprod": lambda x, d, k: x.cumprod(d if isinstance(d, int) else -1),
    "all": lambda x, d, k: (x > 0).all(d, keepdim=k) if isinstance(d, int) else (x > 0).all(),
    "any": lambda x, d, k: (x > 0).any(d, keepdim=k) if isinstance(d, int) else (x > 0).any(),
    "norm": lambda x, d, k: lucid.norm(x, dim=d, keepdim=k),
}


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(sorted(REDUCTIONS)),
       dim=st.sampled_from([None, 0, 1, 2, -1, -2, (0, 2), (-1, 1)]),
       keepdim=st.booleans(), in_axis=st.sampled_from([0, 1, -1]))
def test_reductions(name: str, dim: Any, keepdim: bool, in_axis: int) -> None:
    f = REDUCTIONS[name]
    shape = [2, 3, 4]
    shape.insert(in_axis if in_axis >= 0 else 4 + in_axis, B)
    check(lambda x: f(x, dim, keepdim), t(*shape), in_axes=in_axis, rtol=1e-4, atol=1e-5)


def test_reductions_use_rules(loops: list[str]) -> None:
    x = t(B, 2, 3, 4)
    for name, f in REDUCTIONS.items():
        for dim in (None, 1, -1):
            check(lambda a, f=f, dim=dim: f(a, dim, False), x, rtol=1e-4, atol=1e-5)
        assert loops == [], name
    check(lambda a: (a > 0).sum(), x)  # bool sum -> int64
    check(lambda a: a.sum(0), t(B, 4, dtype=np.int64))


# ============================================================================ shape ops

SHAPE_OPS: dict[str, Callable[[lucid.Tensor], Any]] = {
    "reshape": lambda x: x.reshape(6, 2),
    "reshape_infer": lambda x: x.reshape(-1),
    "view": lambda x: x.view(3, 4),
    "permute": lambda x: x.permute(2, 0, 1),
    "transpose": lambda x: x.transpose(0, -1),
    "t": lambda x: x[0].t(),
    "mT": lambda x: x.mT,
    "squeeze": lambda x: x[:, :1].squeeze(1),
    "squeeze_all": lambda x: x[:1, :, :1].squeeze(),
    "unsqueeze": lambda x: x.unsqueeze(-1).unsqueeze(0),
    "flatten": lambda x: x.flatten(),
    "flatten_part": lambda x: x.flatten(1),
    "expand": lambda x: x[:, :1].expand(2, 5, 3),
    "broadcast_to": lambda x: lucid.broadcast_to(x, (4, 2, 2, 3)),
    "cat": lambda x: lucid.cat([x, x * 2], dim=-1),
    "stack": lambda x: lucid.stack([x, -x], dim=1),
    "split": lambda x: lucid.split(x, [1, 2], dim=2),
    "chunk": lambda x: lucid.chunk(x, 2, dim=0),
    "unbind": lambda x: lucid.unbind(x, 1),
    "pad": lambda x: F.pad(x, (1, 2, 0, 1)),
    "pad_value": lambda x: F.pad(x, (1, 1), value=3.0),
    "pad_reflect": lambda x: F.pad(x, (1, 2), mode="reflect"),
    "pad_replicate": lambda x: F.pad(x, (2, 1), mode="replicate"),
    "flip": lambda x: x.flip(0, 2),
    "repeat": lambda x: x.repeat(2, 1, 2),
    "tile": lambda x: lucid.tile(x, (2,)),
    "roll": lambda x: lucid.roll(x, 1, 1),
    "movedim": lambda x: x.movedim(0, -1),
    "narrow": lambda x: x.narrow(2, 1, 2),
    "triu": lambda x: lucid.triu(x),
    "tril": lambda x: lucid.tril(x, -1),
    "contiguous": lambda x: x.transpose(0, 1).contiguous(),
}


@pytest.mark.parametrize("name", sorted(SHAPE_OPS))
def test_shape_ops(name: str, loops: list[str]) -> None:
    f = SHAPE_OPS[name]
    x = t(B, 2, 2, 3)
    check(f, x)
    check(f, t(2, 2, 3, B), in_axes=-1)
    check(f, x, out_axes=1)
    assert loops == []


def test_cat_stack_mixed_batching(loops: list[str]) -> None:
    x, y = t(B, 2, 3), t(2, 3)
    check(lambda a, b: lucid.cat([a, b], 0), x, y, in_axes=(0, None))
    check(lambda a, b: lucid.stack([b, a, b], -1), x, y, in_axes=(0, None))
    check(lambda a, b: lucid.cat([b, a], 1), y, x, in_axes=(None, 0))
    assert loops == []


# ============================================================================ indexing

def _idx(dim_size: int, shape: tuple[int, ...]) -> lucid.Tensor:
    return t(*shape, dtype=np.int64, lo=-dim_size, hi=dim_size)


BASIC_INDICES = [
    (0,), (-1,), (slice(1, None),), (slice(None, None, 2),), (slice(None, None, -1),),
    (Ellipsis, 1), (None, 1, slice(0, 3)), (1, None, Ellipsis, None), (slice(1, 3), 2),
]


@pytest.mark.parametrize("index", BASIC_INDICES, ids=str)
def test_basic_indexing(index: tuple, loops: list[str]) -> None:
    check(lambda x: x[index], t(B, 3, 4, 5))
    check(lambda x: x[index], t(3, 4, B, 5), in_axes=2)
    assert loops == []


ADVANCED_INDICES = [
    lambda: ([0, 2],),
    lambda: (slice(None), [0, 3, 3]),
    lambda: ([0, 1], slice(None), [1, 2]),  # non-adjacent: broadcast dims go first
    lambda: (slice(None), [[0], [2]], [1, 4]),  # adjacent at position 1
    lambda: (1, slice(None), [0, -1]),  # an int first (basic stage) then an index
    lambda: (None, [1, 2], slice(1, 3)),
    lambda: (Ellipsis, [4, 0]),
    lambda: (slice(None, None, -1), [2, 0], None),
    lambda: (lucid.tensor([[1, 0], [2, 2]]), slice(None), 3),
    lambda: (True,),
    lambda: (slice(None), False),
]


@pytest.mark.parametrize("k", range(len(ADVANCED_INDICES)))
def test_advanced_indexing_unbatched_indices(k: int, loops: list[str]) -> None:
    index = ADVANCED_INDICES[k]()
    check(lambda x: x[index], t(B, 3, 4, 5))
    check(lambda x: x[index], t(3, 4, 5, B), in_axes=-1)
    assert loops == []


INDEX_TEMPLATES = [
    ("b",), ("b", "b"), (":", "b"), (":", "b", "u"), ("b", ":", "b"), ("b", ":", "u"),
    ("u", ":", "b"), (1, "b"), (":", 2, "b"), (None, ":", "b"), ("...", "b"), ("b", "u", "b"),
    (":", ":", "b"), ("b", None, "u"),
]


def _template_index(template: tuple, bidx: Sequence[lucid.Tensor], shape: tuple[int, ...],
                    ushape: tuple[int, ...]) -> tuple:
    """Build an index from a template: "b" takes the next batched index tensor, "u" an
    unbatched one, ":" a full slice, "..." an Ellipsis; ints and None stand for themselves."""
    it = iter(bidx)
    out: list[Any] = []
    dim = 0
    for e in template:
        if e == "b":
            out.append(next(it))
        elif e == "u":
            out.append(_idx(shape[dim], ushape))
        elif e == ":":
            out.append(slice(None))
        elif e == "...":
            out.append(Ellipsis)
            dim = len(shape) - (len(template) - 1 - template.index("...")) - 1
        else:
            out.append(e)
        if e is not None and e != "...":
            dim += 1
    return tuple(out)


@settings(max_examples=40, deadline=None)
@given(k=st.integers(0, len(INDEX_TEMPLATES) - 1),
       bshape=st.sampled_from([(2,), (1,), (3, 1), (3, 2)]),
       ushape=st.sampled_from([(2,), (1,), (3, 2)]),
       x_axis=st.sampled_from([0, 1, None]), seed=st.integers(0, 2**16))
def test_indexing_with_batched_index_tensors(k: int, bshape: tuple, ushape: tuple,
                                             x_axis: int | None, seed: int) -> None:
    """Batched index tensors (values per example) with a batched or shared x, in every layout
    of the advanced dims (adjacent at the front, adjacent later, separated)."""
    template = INDEX_TEMPLATES[k]  # (all the index shapes broadcast together)
    shape = (3, 4, 5)
    rng = np.random.default_rng(seed)
    n_b = template.count("b")
    # The batched index tensors address the dims their template entries stand for.
    dims, d = [], 0
    for e in template:
        if e == "...":
            d = len(shape) - (len(template) - 1 - template.index("..."))
            continue
        if e == "b":
            dims.append(d)
        if e is not None:
            d += 1
    bidx = [lucid.tensor(rng.integers(-shape[dd], shape[dd], (B, *bshape))) for dd in dims]
    uidx_state = np.random.default_rng(seed + 1)
    global RNG
    saved, RNG = RNG, uidx_state
    try:
        index_u = _template_index(template, [None] * n_b, shape, ushape)
    finally:
        RNG = saved

    def f(x: lucid.Tensor, *b: lucid.Tensor) -> lucid.Tensor:
        it = iter(b)
        return x[tuple(next(it) if e is None and tpl == "b" else e
                       for e, tpl in zip(index_u, template, strict=True))]

    if x_axis is None:
        x = t(*shape)
    else:
        xs = list(shape)
        xs.insert(x_axis, B)
        x = t(*xs)
    check(f, x, *bidx, in_axes=(x_axis, *([0] * n_b)))

    def put(x: lucid.Tensor, v: lucid.Tensor, *b: lucid.Tensor) -> lucid.Tensor:
        it = iter(b)
        y = x.clone()
        y[tuple(next(it) if e is None and tpl == "b" else e
                for e, tpl in zip(index_u, template, strict=True))] = v
        return y

    def add(x: lucid.Tensor, v: lucid.Tensor, *b: lucid.Tensor) -> lucid.Tensor:
        it = iter(b)
        idx = tuple(next(it) if e is None and tpl == "b" else e
                    for e, tpl in zip(index_u, template, strict=True))
        return lucid.index_put(x, idx, v, accumulate=True)

    x0 = x if x_axis is None else _select(x, x_axis, 0)
    out_shape = tuple(f(x0, *[b[0] for b in bidx]).shape)
    v = t(B, *out_shape)
    check(add, x, v, *bidx, in_axes=(x_axis, 0, *([0] * n_b)), rtol=1e-5, atol=1e-5)
    check(add, x, v[0], *bidx, in_axes=(x_axis, None, *([0] * n_b)), atol=1e-5)
    # Plain assignment with a repeated index is order dependent; use a distinct-index case.
    check(put, x, v, *bidx, in_axes=(x_axis, 0, *([0] * n_b))) if _distinct(
        index_u, template, bidx, shape) else None


def _distinct(index_u: tuple, template: tuple, bidx: Sequence[lucid.Tensor],
              shape: tuple[int, ...]) -> bool:
    """Whether every example's advanced index addresses each element once."""
    for i in range(B):
        it = iter(bidx)
        idx = tuple(next(it)[i] if e is None and tpl == "b" else e
                    for e, tpl in zip(index_u, template, strict=True))
        probe = lucid.arange(int(np.prod(shape))).reshape(shape)
        picked = probe[idx].numpy().ravel()
        if len(set(picked.tolist())) != picked.size:
            return False
    return True


def test_index_rules_never_loop(loops: list[str]) -> None:
    x, i = t(B, 4, 5), lucid.tensor(RNG.integers(0, 4, (B, 2)))
    check(lambda a, j: a[j], x, i)
    check(lambda a, j: a[:, j % 5], x, i)
    check(lambda a, j: a[j, j], x, i)
    check(lambda a, j: a[j], x[0], i, in_axes=(None, 0))
    check(lambda a, j: a[1, j], x[0], i, in_axes=(None, 0))

    def setitem(a: lucid.Tensor, j: lucid.Tensor, v: lucid.Tensor) -> lucid.Tensor:
        a = a.clone()
        a[j % 4, 1:3] = v
        return a

    check(setitem, x, i[:, :1], t(B, 2))
    check(setitem, x[0], i[:, :1], t(B, 2), in_axes=(None, 0, 0))
    check(setitem, x, i[0, :1], 0.5 * x[0, 0, :2], in_axes=(0, None, None))

    def basic_setitem(a: lucid.Tensor, v: lucid.Tensor) -> lucid.Tensor:
        a = a.clone()
        a[1:3, ::2] = v
        a[0] = 0.0
        return a

    check(basic_setitem, x, t(B, 2, 3))
    check(basic_setitem, x[0], t(B, 2, 3), in_axes=(None, 0))
    check(basic_setitem, x, t(2, 3), in_axes=(0, None))
    assert loops == []


def test_gather_scatter_index_select_index_add(loops: list[str]) -> None:
    x = t(B, 4, 5)
    gi = lucid.tensor(RNG.integers(0, 4, (B, 2, 5)))
    check(lambda a, j: lucid.gather(a, 0, j), x, gi)
    check(lambda a, j: lucid.gather(a, 0, j), x[0], gi, in_axes=(None, 0))
    check(lambda a, j: lucid.gather(a, -1, j), x, gi[0] % 5, in_axes=(0, None))
    check(lambda a, j: lucid.take_along_dim(a, j, 0), x, gi)
    check(lambda a, j, s: lucid.scatter_add(a, 0, j, s), x, gi, t(B, 2, 5))
    check(lambda a, j, s: lucid.scatter_add(a, 0, j, s), x[0], gi, t(B, 2, 5),
          in_axes=(None, 0, 0))
    check(lambda a, j, s: lucid.scatter(a, 1, j % 5, s), x, gi, t(B, 2, 5))
    si = lucid.tensor(RNG.integers(0, 5, (B, 3)))
    check(lambda a, j: lucid.index_select(a, 1, j), x, si)
    check(lambda a, j: lucid.index_select(a, -1, j), x, si[0], in_axes=(0, None))
    check(lambda a, j: lucid.index_select(a, 0, j), x[0], si % 4, in_axes=(None, 0))
    check(lambda a, j, s: lucid.index_add(a, 1, j, s), x, si, t(B, 4, 3))
    check(lambda a, j, s: lucid.index_add(a, 0, j, s, alpha=2.0), x[0], si % 4, t(B, 3, 5),
          in_axes=(None, 0, 0))
    check(lambda a, s: lucid.index_add(a, 1, lucid.tensor([0, 0, 4]), s), x, t(B, 4, 3))
    assert loops == []


def test_mask_indexing_in_vmap_raises() -> None:
    # The result's length would depend on each example's values.
    with pytest.raises(TracerError):
        lucid.vmap(lambda x: x[x > 0])(t(B, 4))


# ============================================================================ linear algebra

@pytest.mark.parametrize(
    "sa,sb,axes",
    [((B, 2, 3), (3, 4), (0, None)), ((2, 3), (B, 3, 4), (None, 0)), ((B, 2, 3), (B, 3, 4), 0),
     ((B, 3), (3, 4), (0, None)), ((B, 3), (B, 3), 0), ((3, 4), (B, 4), (None, 0)),
     ((B, 2, 3), (B, 3), 0), ((B, 3), (2, 3, 4), (0, None)), ((2, B, 5, 3), (3, 4), (1, None)),
     ((2, 3), (3, 4, B), (None, -1)), ((B, 2, 3, 4), (B, 4, 2), 0)])
def test_matmul(sa: tuple, sb: tuple, axes: Any, loops: list[str]) -> None:
    check(lucid.matmul, t(*sa), t(*sb), in_axes=axes, rtol=1e-5, atol=1e-5)
    check(lambda a, b: a @ b, t(*sa, dtype=np.int64), t(*sb, dtype=np.int64), in_axes=axes)
    assert loops == []


def test_linear_softmax_outer(loops: list[str]) -> None:
    x, w, b = t(B, 5), t(4, 5), t(4)
    check(F.linear, x, w, b, in_axes=(0, None, None))
    check(F.linear, t(B, 2, 5), w, b, in_axes=(0, None, None))
    check(F.linear, x, t(B, 4, 5), t(B, 4), in_axes=(0, 0, 0))  # per-example weights
    check(F.linear, x[0], t(B, 4, 5), None, in_axes=(None, 0, None))
    for fn in (F.softmax, F.log_softmax):
        check(lambda a, fn=fn: fn(a, -1), t(B, 2, 5))
        check(lambda a, fn=fn: fn(a, 0), t(B, 2, 5))
        check(lambda a, fn=fn: fn(a, 0), t(B, 5))
    check(lucid.outer, t(B, 3), t(B, 4))
    check(lambda a, b: lucid.bmm(a, b), t(B, 2, 3, 5), t(2, 5, 4), in_axes=(0, None))
    assert loops == []


# ============================================================================ nn functional

def test_conv_and_pooling(loops: list[str]) -> None:
    imgs, w, bias = t(B, 2, 3, 8, 8), t(4, 3, 3, 3), t(4)
    check(lambda x: F.conv2d(x, w, bias, padding=1), imgs, atol=1e-5)
    check(lambda x: F.conv2d(x, w, stride=2), imgs[:, 0], atol=1e-5)  # unbatched (C, H, W)
    check(lambda x, k: F.conv2d(x, k), imgs[0], t(B, 4, 3, 3, 3), in_axes=(None, 0), atol=1e-5)
    check(lambda x, k: F.conv2d(x, k, padding=1, groups=1), imgs, t(B, 4, 3, 3, 3), atol=1e-5)
    check(lambda x, k: F.conv2d(x, k, groups=3, dilation=2), imgs, t(B, 6, 1, 3, 3),
          atol=1e-5)
    check(lambda x, k: F.conv1d(x, k, padding=2), t(B, 2, 3, 9), t(5, 3, 3), in_axes=(0, None),
          atol=1e-5)
    check(lambda x, k: F.conv_transpose2d(x, k, stride=2), imgs, t(3, 4, 3, 3),
          in_axes=(0, None), atol=1e-5)
    check(lambda x, k: F.conv_transpose2d(x, k, stride=2, groups=1), imgs, t(B, 3, 4, 3, 3),
          atol=1e-5)
    check(lambda x: F.max_pool2d(x, 2), imgs)
    check(lambda x: F.max_pool2d(x, 3, stride=2, padding=1), imgs[:, 0])
    check(lambda x: F.avg_pool2d(x, 2), imgs)
    check(lambda x: F.avg_pool2d(x, 3, stride=1, padding=1), imgs)
    check(lambda x: F.adaptive_avg_pool2d(x, (3, 3)), imgs)
    check(lambda x: F.adaptive_max_pool2d(x, (3, 2)), imgs)
    assert loops == []


def test_losses_and_norms(loops: list[str]) -> None:
    logits = t(B, 4, 5)
    target = lucid.tensor(RNG.integers(0, 5, (4,)))
    check(lambda z: F.cross_entropy(z, target), logits)
    check(F.cross_entropy, logits, target, in_axes=(0, None))
    check(lambda z, y: F.cross_entropy(z, y, label_smoothing=0.1), logits, target,
          in_axes=(0, None))
    check(lambda z, p: F.cross_entropy(z, p), logits, F.softmax(t(B, 4, 5), -1))
    check(lambda z: F.cross_entropy(z, target[0]), logits[:, 0])  # unbatched (C,) logits
    check(lambda z, y: F.mse_loss(z, y), logits, t(B, 4, 5))
    check(lambda z, y: F.binary_cross_entropy_with_logits(z, y), logits, t(B, 4, 5).sigmoid())
    check(lambda z: F.layer_norm(z, (5,)), logits, atol=1e-5)
    check(lambda z, w, b: F.layer_norm(z, (5,), w, b), logits, t(5), t(5),
          in_axes=(0, None, None), atol=1e-5)
    check(lambda z: F.layer_norm(z, (4, 5)), logits, atol=1e-5)
    check(lambda z: F.group_norm(z, 2), t(B, 2, 4, 3), atol=1e-5)
    check(lambda z: F.batch_norm(z, None, None, training=True), t(B, 4, 3, 2), atol=1e-5)
    check(lambda z: F.gelu(z) + F.silu(z) + F.elu(z) + F.leaky_relu(z), logits)
    check(lambda z: F.normalize(z, dim=-1), logits)
    check(lambda z: F.cosine_similarity(z, z + 1), logits)
    check(lambda i, w: F.embedding(i, w), lucid.tensor(RNG.integers(0, 7, (B, 3))), t(7, 5),
          in_axes=(0, None))
    check(lambda i, w: F.embedding(i, w), lucid.tensor(RNG.integers(0, 7, (B, 3))), t(B, 7, 5))
    assert loops == []


def test_cross_entropy_with_batched_class_targets(loops: list[str]) -> None:
    logits, target = t(B, 4, 5), lucid.tensor(RNG.integers(0, 5, (B, 4)))
    check(F.cross_entropy, logits, target)
    check(lambda z, y: F.cross_entropy(z, y, reduction="none"), logits, target)
    check(lambda z, y: F.cross_entropy(z, y, ignore_index=2, label_smoothing=0.2), logits,
          target)
    check(lambda z, y: F.cross_entropy(z, y, weight=lucid.arange(1.0, 6.0)), logits, target)
    check(lambda z, y: F.nll_loss(F.log_softmax(z, -1), y), logits[:, 0], target[:, 0])
    assert loops == []


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(5, 8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x: lucid.Tensor) -> lucid.Tensor:
        return self.fc2(F.relu(self.fc1(x)))


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 4, 3), nn.Tanh(), nn.AvgPool2d(1), nn.Flatten(0), nn.Linear(16, 3),
    )


def test_module_forward(loops: list[str]) -> None:
    lucid.manual_seed(0)
    m = MLP()
    check(m, t(B, 5), atol=1e-5)
    check(m, t(B, 2, 5), atol=1e-5)
    c = cnn()
    check(c, t(B, 3, 8, 8), atol=1e-5)
    check(lambda x: F.cross_entropy(c(x), lucid.tensor(1)), t(B, 3, 8, 8), atol=1e-5)
    with lucid.no_grad():
        check(m, t(B, 5), atol=1e-5)
    assert loops == []


# ============================================================================ in_axes / out_axes

def test_in_axes_forms() -> None:
    x, y = t(B, 2, 4), t(2, B, 4)

    def f(a: lucid.Tensor, b: lucid.Tensor) -> lucid.Tensor:
        return a * b

    check(f, x, y, in_axes=(0, 1))
    check(f, x, y[:, 0], in_axes=(0, None))
    check(f, t(2, 4, B), y, in_axes=(-1, 1))
    check(f, t(2, 4, B), y, in_axes=[2, -2])  # a list works like a tuple
    check(lambda a: a.sum(0), t(2, 4, B), in_axes=-1)
    # Non-tensor arguments pass through.
    check(lambda a, k: a * k, x, 3, in_axes=(0, None))
    check(lambda a, k: a * k, x, 3)
    # Keyword arguments are passed through unbatched.
    w = t(4)
    got = lucid.vmap(lambda a, scale: a * scale)(x, scale=w)
    assert_same(got, x * w)


def test_in_axes_pytree_prefixes() -> None:
    w, x, bias = t(4, 2), t(B, 4), t(B, 2)

    def f(d: dict, s: float) -> lucid.Tensor:
        return d["x"] @ d["w"] * s + d["b"]

    args = {"w": w, "x": x, "b": bias}
    got = lucid.vmap(f, in_axes=({"w": None, "x": 0, "b": 0}, None))(args, 2.0)
    want = lucid.stack([f({"w": w, "x": x[i], "b": bias[i]}, 2.0) for i in range(B)])
    assert_same(got, want)
    # A prefix whose leaf covers a whole subtree (the dict under "p" is unbatched).
    nested = {"p": {"w": w, "v": t(2)}, "x": x}

    def g(d: dict) -> lucid.Tensor:
        return d["x"] @ d["p"]["w"] + d["p"]["v"]

    got = lucid.vmap(g, in_axes=({"p": None, "x": 0},))(nested)
    want = lucid.stack([g({"p": nested["p"], "x": x[i]}) for i in range(B)])
    assert_same(got, want)
    # Tuples and lists of tensors with one axis each.
    got = lucid.vmap(lambda pair: pair[0] + pair[1], in_axes=((0, 1),))((x, t(4, B)))
    assert tuple(got.shape) == (B, 4)
    with pytest.raises(ValueError, match="prefix"):
        lucid.vmap(g, in_axes=({"q": None, "x": 0},))(nested)


def test_out_axes() -> None:
    x = t(B, 2, 4)
    for ax in (0, 1, 2, -1, -2):
        got = lucid.vmap(lambda a: a * 2, out_axes=ax)(x)
        assert_same(got, lucid.stack([x[i] * 2 for i in range(B)], ax))
    got = lucid.vmap(lambda a: (a.sum(), a[0]), out_axes=(0, -1))(x)
    assert_same(got, (x.sum((1, 2)), x[:, 0].T))
    # An output that does not depend on the batch: out_axes=None keeps it unbatched.
    w = t(3)
    got = lucid.vmap(lambda a: (a + 1, w * 2), out_axes=(0, None))(x)
    assert_same(got[1], w * 2)
    with pytest.raises(ValueError, match="out_axes=None"):
        lucid.vmap(lambda a: a, out_axes=None)(x)
    with pytest.raises(ValueError, match="out of range"):
        lucid.vmap(lambda a: a, out_axes=3)(x)


def test_pytree_outputs_and_unbatched_outputs() -> None:
    x, w = t(B, 4), t(4)

    def f(a: lucid.Tensor) -> dict:
        return {"sum": a.sum(), "pair": (a * w, w), "n": 7, "none": None}

    got = lucid.vmap(f)(x)
    assert got["n"] == 7 and got["none"] is None
    assert_same(got["sum"], x.sum(1))
    assert_same(got["pair"][0], x * w)
    # The unbatched output is broadcast along the batch.
    assert_same(got["pair"][1], lucid.stack([w] * B))
    got = lucid.vmap(lambda a: lucid.ones(2))(x)
    assert_same(got, lucid.ones(B, 2))


def test_identity_and_zero_d_outputs() -> None:
    x = t(2, B)
    assert_same(lucid.vmap(lambda a: a, in_axes=1)(x), x.T)
    y = t(B, 2)
    assert_same(lucid.vmap(lambda a: a[0])(y), y[:, 0])
    assert_same(lucid.vmap(lambda a: a.sum())(x.T), x.sum(0))


def test_nested_vmap() -> None:
    x, y = t(B, 4, 5), t(4, 5)

    def f(a: lucid.Tensor, b: lucid.Tensor) -> lucid.Tensor:
        return (a * b).sum() + a.max()

    got = lucid.vmap(lucid.vmap(f))(x, y[None].expand(B, 4, 5))
    want = lucid.stack([lucid.stack([f(x[i, j], y[j]) for j in range(4)]) for i in range(B)])
    assert_same(got, want, atol=1e-5)
    # Inner over one argument only, outer over the other.
    got = lucid.vmap(lucid.vmap(f, in_axes=(0, None)), in_axes=(None, 0))(y, x)
    want = lucid.stack([lucid.stack([f(y[j], x[i]) for j in range(4)]) for i in range(B)])
    assert_same(got, want, atol=1e-5)
    # The same tensor batched at both levels, different axes (an outer product of sums).
    a = t(B, 4)
    got = lucid.vmap(lucid.vmap(lambda u, v: u * v, in_axes=(None, 0)), in_axes=(0, None))(a[:, 0],
                                                                                         a[0])
    assert_same(got, a[:, 0, None] * a[0][None])
    # Three levels, with matmul and indexing inside.
    z = t(2, B, 3, 4, 4)
    got = lucid.vmap(lucid.vmap(lucid.vmap(lambda r: r[[0, 2]] @ r)), in_axes=1)(z)
    want = lucid.stack([lucid.stack([lucid.stack([z[i, b, k][[0, 2]] @ z[i, b, k]
                                                  for k in range(3)]) for i in range(2)])
                        for b in range(B)])
    assert_same(got, want, atol=1e-5)


def test_closure_over_tensors() -> None:
    w, bias = t(4, 3), t(3)
    xs = t(B, 4)
    got = lucid.vmap(lambda x: F.relu(x @ w + bias))(xs)
    assert_same(got, F.relu(xs @ w + bias), atol=1e-5)
    # Closing over a batched value of an outer vmap.
    got = lucid.vmap(lambda x: lucid.vmap(lambda r: r * x.sum())(w))(xs)
    want = lucid.stack([w * xs[i].sum() for i in range(B)])
    assert_same(got, want, atol=1e-5)


def test_inplace_updates_inside_vmap() -> None:
    xs = t(B, 4)

    def f(x: lucid.Tensor) -> lucid.Tensor:
        y = x * 2
        y[0] = x.sum()
        y += 1
        out = lucid.zeros(2)
        out[1] = y.max()  # an unbatched tensor takes a batched value
        return out

    check(f, xs)


def test_errors() -> None:
    with pytest.raises(ShapeError, match="different sizes"):
        lucid.vmap(lambda a, b: a + b)(t(3, 2), t(4, 2))
    with pytest.raises(ValueError, match="no argument is batched"):
        lucid.vmap(lambda a: a, in_axes=None)(t(3))
    with pytest.raises(ValueError, match="no argument is batched"):
        lucid.vmap(lambda a: a)(3.0)
    with pytest.raises(ValueError, match="out of range"):
        lucid.vmap(lambda a: a, in_axes=2)(t(3, 2))
    with pytest.raises(ValueError, match="in_axes"):
        lucid.vmap(lambda a, b: a, in_axes=(0,))(t(3), t(3))

    def branchy(x: lucid.Tensor) -> lucid.Tensor:
        if x.sum() > 0:
            return x
        return -x

    with pytest.raises(TracerError, match="vmap") as info:
        lucid.vmap(branchy)(t(B, 2))
    assert "'x'" in str(info.value)  # names the argument the value depends on
    for bad in (lambda x: float(x.sum()), lambda x: x.numpy(), lambda x: x.max().item()):
        with pytest.raises(TracerError, match="vmap"):
            lucid.vmap(bad)(t(B, 2))


def test_escaped_tracer() -> None:
    kept: list[lucid.Tensor] = []
    lucid.vmap(lambda x: kept.append(x) or x)(t(B, 2))
    with pytest.raises(TracerError, match="escaped"):
        (kept[0] + 1).numpy()

    def fails(x: lucid.Tensor) -> lucid.Tensor:
        kept.append(x * 2)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        lucid.vmap(fails)(t(B, 2))
    with pytest.raises(TracerError, match="escaped"):
        kept[-1].sum().item()


def test_empty_batch() -> None:
    got = lucid.vmap(lambda x: x.sum(0) * 2)(t(0, 3))
    assert tuple(got.shape) == (0,)
    got = lucid.vmap(lambda x: x.sum(0) * 2)(t(3, 0))
    assert_same(got, lucid.zeros(3))


# ============================================================================ the loop fallback

def _conv_net_grads(x: lucid.Tensor, w: lucid.Tensor) -> Any:
    """Gradients through conv, max / adaptive pooling and indexing (their backward rules)."""

    def loss(x: lucid.Tensor, w: lucid.Tensor) -> lucid.Tensor:
        h = F.max_pool2d(F.conv2d(x, w, padding=1), 2)
        h = F.adaptive_max_pool2d(h, (1, 2))
        return (h ** 2).sum() + x[0, [1, 0], 1:3].sum()

    return lucid.grad(loss, argnums=(0, 1))(x, w)


def _index_grads(a: lucid.Tensor, j: lucid.Tensor, s: lucid.Tensor) -> Any:
    """Gradients through index_put, gather, scatter, max along a dim (take_along)."""

    def loss(a: lucid.Tensor, s: lucid.Tensor) -> lucid.Tensor:
        b = a.clone()
        b[j] = s  # index_put
        g = lucid.gather(b, 0, j[None].expand(2, 2))
        sc = lucid.scatter(a, 0, j[None].expand(2, 2), g)
        return b.max(1)[0].sum() + (sc * a).sum() + lucid.cumprod(a, 0).sum()

    return lucid.grad(loss, argnums=(0, 1))(a, s)


F64 = np.float64
LOOPED_FUNCTIONS: list[tuple[str, Callable, tuple, Any]] = [
    *((f"unary {k}", f, (t(B, 2, 3, dtype=dt),), 0) for k, (f, dt) in UNARY.items()),
    *((f"binary {k}", f, (t(B, 2, 3, dtype=dt), t(2, 3, dtype=dt)), (0, None))
      for k, (f, dt) in BINARY.items()),
    ("where clamp cast", lambda a, b: (lucid.where(a > b, a, b), a.clamp(-0.5, 0.5),
                                       a.to(lucid.int64), a.detach()), (t(B, 2, 3), t(2, 3)),
     (0, None)),
    ("reductions", lambda a: (a.sum(1), a.amax(0), a.amin(1), a.argmax(-1), a.argmin(0),
                              a.cumsum(1), a.prod(), (a > 0).all(1), (a > 0).any(0)),
     (t(B, 2, 3),), 0),
    ("shape", lambda a: (a.reshape(6), a.permute(1, 0), a.expand(4, 2, 3), a[1:, ::2],
                         F.pad(a, (1, 1)), a.flip(1), lucid.cat([a, a], 0)), (t(B, 2, 3),), 0),
    ("index", lambda a, j: (a[j], a[:, j], a.gather(0, j[None].expand(2, 2)),
                            lucid.index_put(a, (j,), a[j] * 2, accumulate=True)),
     (t(B, 2, 3), lucid.tensor(RNG.integers(0, 2, (B, 2)))), 0),
    ("index grads", _index_grads,
     (t(B, 2, 3, dtype=F64), lucid.tensor([[1, 0]] * B), t(B, 2, 3, dtype=F64)), 0),
    ("matmul softmax", lambda a, w: (a @ w, F.softmax(a @ w, -1), F.log_softmax(a, 0)),
     (t(B, 2, 3), t(3, 4)), (0, None)),
    ("conv pool", lambda x, w: (F.conv2d(x, w, padding=1), F.max_pool2d(x, 2),
                                F.avg_pool2d(x, 2)), (t(B, 1, 3, 4, 4), t(2, 3, 3, 3)), (0, None)),
    ("conv batched weights", lambda x, w: F.conv2d(x, w, padding=1),
     (t(B, 1, 3, 4, 4), t(B, 2, 3, 3, 3)), 0),
    ("conv grads", _conv_net_grads, (t(B, 1, 3, 4, 4, dtype=F64), t(2, 3, 3, 3, dtype=F64)),
     (0, None)),
    ("scatter_add", lambda x, i, s: lucid.scatter_add(x, 0, i, s),
     (t(B, 3), lucid.tensor([[0, 2]] * B), t(B, 2)), 0),
]


def test_loop_fallback_is_correct_for_every_primitive(monkeypatch: pytest.MonkeyPatch) -> None:
    """With every rule removed, each primitive runs through the per-example loop; the results
    match the rules' and the Python loop's, and together the functions reach every primitive
    of lucid.ops (forward and backward)."""
    wants = [lucid.vmap(f, in_axes=ax)(*args) for _, f, args, ax in LOOPED_FUNCTIONS]
    calls: list[str] = []
    real = V._loop_rule

    def counting(prim: Any, *rest: Any) -> Any:
        calls.append(prim.name)
        return real(prim, *rest)

    monkeypatch.setattr(V, "RULES", {})
    monkeypatch.setattr(V, "_elementwise_rule", counting)
    monkeypatch.setattr(V, "_loop_rule", counting)
    for (name, f, args, in_axes), want in zip(LOOPED_FUNCTIONS, wants, strict=True):
        n_before = len(calls)
        got = lucid.vmap(f, in_axes=in_axes)(*args)
        assert len(calls) > n_before, f"{name}: the loop fallback was not used"
        assert_same(got, want, atol=1e-5)
        assert_same(got, loop(f, args, in_axes), atol=1e-5)
    # Primitives without inputs (constants, random draws) are never batched.
    ops = {n for n, p in PRIMITIVES.items()
           if p.shape_rule.__module__.startswith("lucid.ops.") and n not in ("full", "random")}
    assert ops - set(calls) == set()


def test_loop_fallback_with_an_empty_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(V, "RULES", {})
    got = lucid.vmap(lambda a, w: (a @ w).sum(-1), in_axes=(0, None))(t(0, 2, 3), t(3, 4))
    assert tuple(got.shape) == (0, 2) and got.dtype is lucid.float32


# ============================================================================ composition

def _mlp_params() -> dict[str, lucid.Tensor]:
    return {"w1": t(5, 8, dtype=np.float64), "b1": t(8, dtype=np.float64),
            "w2": t(8, 3, dtype=np.float64), "b2": t(3, dtype=np.float64)}


def _mlp_loss(p: dict, x: lucid.Tensor, y: lucid.Tensor) -> lucid.Tensor:
    h = lucid.tanh(x @ p["w1"] + p["b1"])
    logp = F.log_softmax(h @ p["w2"] + p["b2"], -1)
    return -(logp * y).sum() + 0.1 * (p["w1"] ** 2).sum()


def _batch() -> tuple[lucid.Tensor, lucid.Tensor]:
    xs = t(B + 1, 5, dtype=np.float64)
    ys = F.one_hot(lucid.tensor(RNG.integers(0, 3, B + 1)), 3).to(lucid.float64)
    return xs, ys


def test_per_example_gradients_dict_params(loops: list[str]) -> None:
    p = _mlp_params()
    xs, ys = _batch()
    got = lucid.vmap(lucid.grad(_mlp_loss), in_axes=(None, 0, 0))(p, xs, ys)
    want = [lucid.grad(_mlp_loss)(p, xs[i], ys[i]) for i in range(B + 1)]
    assert_same(got, tree.map(lambda *g: lucid.stack(list(g)), *want), atol=1e-10)
    assert loops == []
    # value_and_grad, and gradients with respect to the batched input too.
    (v, (gp, gx)) = lucid.vmap(lucid.value_and_grad(_mlp_loss, argnums=(0, 1)),
                               in_axes=(None, 0, 0))(p, xs, ys)
    assert_same(v, lucid.stack([_mlp_loss(p, xs[i], ys[i]) for i in range(B + 1)]))
    assert_same(gx, lucid.stack([lucid.grad(_mlp_loss, 1)(p, xs[i], ys[i])
                                 for i in range(B + 1)]), atol=1e-10)
    assert_same(gp, got, atol=1e-10)


def test_per_example_gradients_module(loops: list[str]) -> None:
    lucid.manual_seed(1)
    model = MLP().double()
    xs, ys = _batch()

    def loss(m: nn.Module, x: lucid.Tensor, y: lucid.Tensor) -> lucid.Tensor:
        return F.mse_loss(m(x), y)

    got = lucid.vmap(lucid.grad(loss), in_axes=(None, 0, 0))(model, xs, ys)
    assert isinstance(got, MLP)
    for i in range(B + 1):
        want = lucid.grad(loss)(model, xs[i], ys[i])
        for gl, wl in zip(tree.leaves(got), tree.leaves(want), strict=True):
            assert_same(gl[i], wl, atol=1e-10)
    # The same with the eager tape, one example at a time.
    m0 = model
    out = loss(m0, xs[1], ys[1])
    m0.zero_grad()
    out.backward()
    assert_same(got.fc1.weight[1], m0.fc1.weight.grad, atol=1e-10)
    assert loops == []


def test_per_example_gradients_cross_entropy(loops: list[str]) -> None:
    lucid.manual_seed(3)
    model = MLP().double()
    xs = t(B + 1, 2, 5, dtype=np.float64)
    ys = lucid.tensor(RNG.integers(0, 3, (B + 1, 2)))

    def loss(m: nn.Module, x: lucid.Tensor, y: lucid.Tensor) -> lucid.Tensor:
        return F.cross_entropy(m(x), y)

    got = lucid.vmap(lucid.grad(loss), in_axes=(None, 0, 0))(model, xs, ys)
    for i in range(B + 1):
        want = lucid.grad(loss)(model, xs[i], ys[i])
        for gl, wl in zip(tree.leaves(got), tree.leaves(want), strict=True):
            assert_same(gl[i], wl, atol=1e-10)
    assert loops == []


def test_per_example_gradients_cnn(loops: list[str]) -> None:
    lucid.manual_seed(2)
    model = cnn().double()
    xs = t(B, 3, 8, 8, dtype=np.float64)
    ys = t(B, 3, dtype=np.float64)

    def loss(m: nn.Module, x: lucid.Tensor, y: lucid.Tensor) -> lucid.Tensor:
        return ((m(x) - y) ** 2).sum()

    got = lucid.vmap(lucid.grad(loss), in_axes=(None, 0, 0))(model, xs, ys)
    for i in range(B):
        want = lucid.grad(loss)(model, xs[i], ys[i])
        for gl, wl in zip(tree.leaves(got), tree.leaves(want), strict=True):
            assert_same(gl[i], wl, atol=1e-9)
    assert loops == []


def test_grad_of_vmap_matches_eager(loops: list[str]) -> None:
    p = _mlp_params()
    xs, ys = _batch()

    def per_example(q: dict, x: lucid.Tensor) -> lucid.Tensor:
        return _mlp_loss(q, x, ys[0])

    got = lucid.grad(lambda q: lucid.vmap(per_example, in_axes=(None, 0))(q, xs).sum())(p)
    leaves = {k: v.detach().requires_grad_() for k, v in p.items()}
    total = sum(_mlp_loss(leaves, xs[i], ys[0]) for i in range(B + 1))
    total.backward()
    for k in p:
        assert_same(got[k], leaves[k].grad, atol=1e-10)
    # Gradient through vmap with respect to the batched argument.
    gx = lucid.grad(lambda x: lucid.vmap(lambda r: (r[[0, 2]] ** 3).sum() * r.mean())(x).sum())(xs)
    xl = xs.detach().requires_grad_()
    sum((xl[i][[0, 2]] ** 3).sum() * xl[i].mean() for i in range(B + 1)).backward()
    assert_same(gx, xl.grad, atol=1e-10)
    assert loops == []


def test_eager_autograd_through_vmap() -> None:
    w = t(4, 3, dtype=np.float64).requires_grad_()
    xs = t(B, 4, dtype=np.float64)
    lucid.vmap(lambda x: (x @ w).tanh().sum(), in_axes=0)(xs).sum().backward()
    w2 = w.detach().requires_grad_()
    (xs @ w2).tanh().sum().backward()
    assert_same(w.grad, w2.grad, atol=1e-10)


def test_higher_order_compositions() -> None:
    x = t(B, 3, dtype=np.float64)

    def f(v: lucid.Tensor) -> lucid.Tensor:
        return (v.sin() * v[[1, 2, 0]]).sum()

    # Per-example Hessians (jacfwd(jacrev) uses vmap itself: nested BatchTraces).
    got = lucid.vmap(lucid.hessian(f))(x)
    want = lucid.stack([lucid.hessian(f)(x[i]) for i in range(B)])
    assert_same(got, want, atol=1e-10)
    # grad of grad under vmap, and vmap of vmap of grad.
    g2 = lucid.vmap(lucid.grad(lambda v: lucid.grad(f)(v).sum()))(x)
    assert_same(g2, lucid.stack([lucid.grad(lambda v: lucid.grad(f)(v).sum())(x[i])
                                 for i in range(B)]), atol=1e-10)
    xx = t(2, B, 3, dtype=np.float64)
    got = lucid.vmap(lucid.vmap(lucid.grad(f)))(xx)
    assert_same(got, lucid.stack([lucid.stack([lucid.grad(f)(xx[i, j]) for j in range(B)])
                                  for i in range(2)]), atol=1e-10)
    # Jacobians of a vmapped function.
    jac = lucid.jacrev(lucid.vmap(lambda v: v.exp() * v.sum()))(x)
    assert tuple(jac.shape) == (B, 3, B, 3)
    jac_fwd = lucid.jacfwd(lucid.vmap(lambda v: v.exp() * v.sum()))(x)
    assert_same(jac, jac_fwd, atol=1e-10)


def test_vmap_in_make_graph(loops: list[str]) -> None:
    w = t(4, 3)
    xs = t(B, 5, 4)
    ids = lucid.tensor(RNG.integers(0, 5, (B, 2)))

    def f(x: lucid.Tensor, i: lucid.Tensor) -> lucid.Tensor:
        return F.softmax(x[i] @ w, -1).sum(0)

    vf = lucid.vmap(f)
    graph = lucid.make_graph(vf, xs, ids)
    text = str(graph)
    assert f"f32[{B},5,4]" in text and f"i64[{B},2]" in text
    assert graph.outputs[0].aval.shape == (B, 3)
    assert "concatenate" not in text  # no per-example loop in the graph
    # The graph computes the same values, and its nodes all carry the batch dimension.
    from lucid.jit.graph import eval_graph

    (out,) = eval_graph(graph, [xs, ids, w])[:1]
    assert_same(out, vf(xs, ids), atol=1e-6)
    batched_nodes = [n for n in graph.nodes if n.prim.name in ("softmax", "index")]
    assert len(batched_nodes) == 2 and all(n.out.aval.shape[0] == B for n in batched_nodes)
    # The batch of (2, 4) @ (4, 3) products against the shared w is one (B*2, 4) @ (4, 3).
    (mm,) = [n for n in graph.nodes if n.prim.name == "matmul"]
    assert [v.aval.shape for v in mm.inputs] == [(B * 2, 4), (4, 3)]
    # A vmapped index with a batched x and batched indices builds its arange from nodes.
    g2 = lucid.make_graph(lucid.vmap(lambda x, i: x[i, i % 4]), xs, ids)
    assert len(g2.inputs) == 2
    assert loops == []


def test_vmap_of_jit_traced_function_and_back() -> None:
    xs = t(B, 4)
    tf = lucid.jit.trace(lambda x: (x * 2).cumsum(0), (xs[0],))
    assert_same(lucid.vmap(tf)(xs), (xs * 2).cumsum(1))


def test_disable_jit_runs_a_loop(loops: list[str]) -> None:
    from lucid import config

    p = _mlp_params()
    xs, ys = _batch()
    fast = lucid.vmap(lucid.grad(_mlp_loss), in_axes=(None, 0, 0))(p, xs, ys)
    nested = {"p": p, "x": xs}

    def g(d: dict, k: int) -> tuple:
        return (d["x"] @ d["p"]["w1"] * k, {"s": d["x"].sum()}, "tag")

    fast_tree = lucid.vmap(g, in_axes=({"p": None, "x": 0}, None), out_axes=(1, 0, 0))(nested, 2)
    old = config.disable_jit
    config.disable_jit = True
    try:
        calls: list[int] = []
        real = _mlp_loss

        def counted(q: dict, x: lucid.Tensor, y: lucid.Tensor) -> lucid.Tensor:
            calls.append(x.ndim)
            return real(q, x, y)

        slow = lucid.vmap(lucid.grad(counted), in_axes=(None, 0, 0))(p, xs, ys)
        assert calls == [1] * (B + 1)  # called per example, on concrete values
        slow_tree = lucid.vmap(g, in_axes=({"p": None, "x": 0}, None),
                               out_axes=(1, 0, 0))(nested, 2)
        got = lucid.vmap(lambda a: a.sum(), in_axes=1)(t(2, B))
        assert tuple(got.shape) == (B,)
    finally:
        config.disable_jit = old
    assert_same(slow, fast, atol=1e-10)
    assert_same(slow_tree, fast_tree, atol=1e-10)
