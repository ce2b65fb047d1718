"""Fusion of trailing reductions into generated kernels: a ``sum`` of a value an elementwise
kernel computes is accumulated in that kernel's loop (no separate NumPy reduction, and the
value itself is not written out unless something else needs it). Results equal eager lucid for
every reduction layout (leading, trailing, middle and all axes, keepdim, Fortran-ordered and
broadcast operands, integers, empty and 0-d arrays)."""

from __future__ import annotations

import numpy as np
import pytest

import lucid
from lucid.jit.executor import FusedStep, PrimStep

pytestmark = pytest.mark.usefixtures("module_kernel_cache")


def _steps(jf, *args):
    plan = jf.lower(*args).plan
    return [(type(s).__name__, s.name) for s in plan.steps], plan


def _check(f, *args, rtol=1e-5, atol=1e-6):
    jf = lucid.jit(f)
    got, want = jf(*args), f(*args)
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=rtol, atol=atol)
    return jf


def test_bias_gradient_pattern_is_one_kernel():
    """relu backward then the bias gradient (sum over the batch): one kernel, no NumPy sum."""
    def f(g, h):
        dh = lucid.where(h > 0, g, 0.0)
        return dh, dh.sum(0)

    g, h = lucid.randn(16, 7), lucid.randn(16, 7)
    jf = _check(f, g, h)
    steps, plan = _steps(jf, g, h)
    assert [s for s in steps if s[0] == "PrimStep" and s[1] == "sum"] == []
    assert plan.kernels == 1


@pytest.mark.parametrize("axes", [(0,), (1,), (2,), (0, 1), (1, 2), (0, 2), (0, 1, 2)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_every_axis_pattern_equals_eager(axes, keepdim):
    def f(x, y):
        a = x * y + 1.0
        return (a * a).sum(dim=axes, keepdim=keepdim), a

    x, y = lucid.randn(3, 4, 5), lucid.randn(3, 4, 5)
    jf = _check(f, x, y)
    steps, _ = _steps(jf, x, y)
    assert all(s[1] != "sum" for s in steps)


def test_conv_bias_gradient_pattern():
    """ReLU backward then a sum over (batch, height, width): the trailing two dims run in a
    scalar accumulator (a vectorised loop), the batch dim indexes the output."""
    def f(g, h):
        dh = lucid.where(h > 0, g, 0.0)
        return dh, dh.sum(dim=(0, 2, 3))

    g, h = lucid.randn(3, 4, 5, 6), lucid.randn(3, 4, 5, 6)
    jf = _check(f, g, h)
    step = next(s for s in jf.lower(g, h).plan.steps if isinstance(s, FusedStep))
    assert "reassoc" in step.source and "o1[0, i1, 0, 0] += s1" in step.source


def test_several_reductions_of_one_kernel_and_a_mean():
    def f(x):
        c = x - 0.5
        return c.sum(0), c.sum(1, keepdim=True), (c * c).mean(), c.abs().sum()

    x = lucid.randn(9, 6)
    jf = _check(f, x)
    _, plan = _steps(jf, x)
    reduce = [s for s in plan.steps if isinstance(s, FusedStep) and s.reduce]
    assert len(reduce) == 1 and sum(r is not None for r in reduce[0].reduce) == 4


def test_fortran_ordered_and_broadcast_operands():
    def f(x, b):
        return (x * b).relu().sum(0), (x + b).sum()

    x = lucid.randn(6, 4).mT   # Fortran-ordered (4, 6)
    b = lucid.randn(6)         # broadcast along rows: a stride-0 operand
    _check(f, x, b)
    xf = lucid.tensor(np.asfortranarray(np.random.default_rng(0).standard_normal((5, 3, 4))
                                        .astype(np.float32)))
    _check(lambda a: ((a * 2.0).sum(), (a + 1.0).sum(1)), xf)


def test_full_reduction_of_contiguous_operands_takes_the_flat_loop():
    def f(x):
        return (x * x).sum()

    x = lucid.randn(4, 5)
    jf = _check(f, x)
    _, plan = _steps(jf, x)
    step = next(s for s in plan.steps if isinstance(s, FusedStep))
    assert step.flat is not None
    step_partial = next(s for s in _steps(lucid.jit(lambda x: (x * x).sum(0)), x)[1].steps
                        if isinstance(s, FusedStep))
    assert step_partial.flat is None


def test_float32_sums_accumulate_in_float64():
    """A long float32 sum stays as accurate as NumPy's pairwise sum: the kernel accumulates in
    float64 and rounds once."""
    rng = np.random.default_rng(3)
    x_np = (rng.random((64, 4096)) + 1.0).astype(np.float32)
    x = lucid.tensor(x_np)
    got = lucid.jit(lambda x: (x * 1.0).sum())(x).numpy()
    exact = x_np.astype(np.float64).sum()
    assert got.dtype == np.float32
    assert abs(float(got) - exact) / exact < 1e-6


def test_integer_and_bool_sums():
    def f(x):
        return (x > 0).sum(), (x > 0).sum(0), (x * 2).sum(1)

    x = lucid.tensor(np.arange(-6, 6).reshape(3, 4))
    _check(f, x)


def test_empty_and_zero_dim():
    _check(lambda x: ((x * 2.0).sum(0), (x + 1.0).sum()), lucid.randn(0, 3))
    _check(lambda x: ((x * 2.0).sum(), (x - 1.0).sum(dim=())), lucid.randn(()))


def test_new_batch_size_reuses_the_reduction_kernel():
    def f(x):
        return (x * 3.0).relu().sum(0)

    jf = _check(f, lucid.randn(8, 5))
    before = lucid.jit.stats()["compiles"]
    _check(f, lucid.randn(13, 5))
    jf(lucid.randn(13, 5))
    assert lucid.jit.stats()["compiles"] == before


def test_a_sum_of_a_non_fused_value_stays_a_primitive():
    def f(x, w):
        return (x @ w).sum(0)

    x, w = lucid.randn(4, 3), lucid.randn(3, 2)
    jf = _check(f, x, w)
    steps, plan = _steps(jf, x, w)
    assert ("PrimStep", "sum") in steps
    assert all(isinstance(s, PrimStep) for s in plan.steps)


def test_training_gradients_through_fused_reductions_equal_eager():
    """A jitted ``grad`` of an MLP loss: bias gradients and the mean are fused reductions."""
    lucid.manual_seed(0)
    w1, b1 = lucid.randn(6, 8) * 0.3, lucid.randn(8) * 0.1
    w2, b2 = lucid.randn(8, 3) * 0.3, lucid.randn(3) * 0.1
    x, y = lucid.randn(10, 6), lucid.randn(10, 3)

    def loss(w1, b1, w2, b2):
        h = (x @ w1 + b1).relu()
        return ((h @ w2 + b2 - y) ** 2).mean()

    got = lucid.jit(lucid.grad(loss, argnums=(0, 1, 2, 3)))(w1, b1, w2, b2)
    want = lucid.grad(loss, argnums=(0, 1, 2, 3))(w1, b1, w2, b2)
    for g, r in zip(got, want):
        np.testing.assert_allclose(g.numpy(), r.numpy(), rtol=1e-5, atol=1e-6)


# ============================================================================ broadcasts


def _broadcast_steps(plan):
    return [s for s in plan.steps if isinstance(s, PrimStep) and s.name == "broadcast_to"]


def test_a_bias_is_read_from_its_own_array():
    """``x + b`` with ``b`` broadcast along the batch: the kernel indexes ``b`` itself (a
    contiguous 1-d operand), no stride-0 view is materialised."""
    def f(x, b):
        return (x + b).relu()

    x, b = lucid.randn(6, 5), lucid.randn(5)
    jf = _check(f, x, b)
    plan = jf.lower(x, b).plan
    assert _broadcast_steps(plan) == []
    step = next(s for s in plan.steps if isinstance(s, FusedStep))
    assert "a1[i1]" in step.source


def test_size_one_dims_and_scalars_broadcast_inside_kernels():
    def f(x, scale, shift, s):
        return x * scale + shift * s, (x - s).sum()

    x = lucid.randn(2, 3, 4, 4)
    scale, shift = lucid.randn(1, 3, 1, 1), lucid.randn(3, 1, 1)
    s = lucid.randn(())
    jf = _check(f, x, scale, shift, s)
    assert _broadcast_steps(jf.lower(x, scale, shift, s).plan) == []
    # A scalar operand is read once before the loop, so the flat loop stays available.
    jf2 = _check(lambda x, s: x * s + 1.0, x, s)
    step = next(st for st in jf2.lower(x, s).plan.steps if isinstance(st, FusedStep))
    assert step.flat is not None


def test_a_kernel_of_broadcasts_only_and_a_broadcast_read_elsewhere():
    def only(b, c):
        return lucid.broadcast_to(b, (4, 3)) * lucid.broadcast_to(c, (4, 3))

    b, c = lucid.randn(3), lucid.randn(4, 1)
    _check(only, b, c)

    def shared(x, b, w):
        bb = lucid.broadcast_to(b, (4, 3))
        return x + bb, bb @ w  # the matmul needs the broadcast as an array

    x, w = lucid.randn(4, 3), lucid.randn(3, 2)
    jf = _check(shared, x, b, w)
    assert len(_broadcast_steps(jf.lower(x, b, w).plan)) == 1


def test_broadcast_gradients_through_jit_equal_eager():
    def loss(x, b, g):
        return ((x * g + b).relu() ** 2).mean()

    x, b, g = lucid.randn(5, 4), lucid.randn(4), lucid.randn(1, 4)
    got = lucid.jit(lucid.grad(loss, argnums=(0, 1, 2)))(x, b, g)
    want = lucid.grad(loss, argnums=(0, 1, 2))(x, b, g)
    for a, r in zip(got, want):
        np.testing.assert_allclose(a.numpy(), r.numpy(), rtol=1e-5, atol=1e-6)
