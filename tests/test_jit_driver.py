"""Whole-plan drivers (lucid/jit/codegen_plan.py): a small plan run as one compiled call.

Every test compares the driver with the plan's own steps (the reference path) on the same
inputs, and the jitted function with eager lucid: random elementwise programs, training steps
with SGD (momentum) and Adam, in-place parameter updates, shape-generic sources, and the
fallbacks (cold plans, unusual arrays, an index out of range, unsupported primitives).
Driver compiles take seconds, so the random programs are few and the models tiny.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_jit import _torch_style_step

import lucid
import lucid.nn as nn
import lucid.nn.functional as F
from lucid.jit import codegen_plan

pytestmark = pytest.mark.usefixtures("module_kernel_cache")


def _np(t: lucid.Tensor) -> np.ndarray:
    return t.detach().numpy()


def _entry(fn, *args):
    return fn._entry(args, {})[0]


def _inputs(fn, *args) -> list[np.ndarray]:
    entry, tensors = fn._entry(args, {})
    return [t._data.copy() for t in tensors + entry.traced.lifted]


def _force(plan):
    """The plan's driver, warm (the next call compiles and uses it)."""
    assert plan.driver is not None, "this plan should have a driver"
    plan.driver.calls = codegen_plan.WARM_CALLS
    return plan.driver


def _driver_equals_steps(plan, inputs, rtol=1e-5, atol=1e-6):
    ref = plan._run([a.copy() for a in inputs])
    got = _force(plan).run([a.copy() for a in inputs])
    assert got is not None, "the driver declined the call"
    assert len(got) == len(ref)
    for g, r in zip(got, ref):
        assert g.shape == r.shape and g.dtype == r.dtype
        np.testing.assert_allclose(g, r, rtol=rtol, atol=atol)


# ============================================================================ random programs

_UNARY = {
    "neg": lambda a: -a,
    "relu": lambda a: a.relu(),
    "exp": lambda a: (-a.abs()).exp(),
    "tanh": lambda a: a.tanh(),
    "affine": lambda a: a * 0.5 + 1.0,
    "center": lambda a: a - a.mean(dim=-1, keepdim=True),
    "normalize": lambda a: a / (a.square().sum(dim=0, keepdim=True) + 1.0).sqrt(),
    "softmax": lambda a: F.softmax(a, dim=-1),
    "log_softmax0": lambda a: F.log_softmax(a, dim=0) * 0.25,  # not the last axis
    "max_shift": lambda a: a - a.amax(dim=-1, keepdim=True),
    "min_shift": lambda a: a - a.amin(dim=0, keepdim=True),
    "matmul": lambda a: (a @ a.mT @ a).tanh() if a.ndim >= 2 else a * (a @ a).tanh(),
    "sigmoid": lambda a: a.sigmoid(),
    "slice": lambda a: a[..., ::2].sum(dim=-1, keepdim=True) * a,  # a strided view
    "permute_back": lambda a: a.mT.contiguous().mT if a.ndim >= 2 else a.reshape(1, -1)[0],
}
_BINARY = {
    "add": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b.abs() + 1.0),
    "maximum": lucid.maximum,
    "where": lambda a, b: lucid.where(a > b, a, b * 2.0),
    "mask": lambda a, b: (a <= b).float() * a,
}


@st.composite
def _programs(draw):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)))
    b_shape = tuple(d if draw(st.booleans()) else 1 for d in shape[draw(st.integers(0, ndim - 1)):])
    ops = []
    for k in range(draw(st.integers(2, 6))):
        n = 3 + k
        if draw(st.booleans()):
            ops.append((draw(st.sampled_from(sorted(_UNARY))), draw(st.integers(0, n - 1)), None))
        else:
            ops.append((draw(st.sampled_from(sorted(_BINARY))), draw(st.integers(0, n - 1)),
                        draw(st.integers(0, n - 1))))
    reduce = draw(st.sampled_from([None, "sum", "mean", "prod"]))
    keepdim = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    return shape, b_shape, ops, reduce, keepdim, seed


def _run_program(ops, reduce, keepdim, x, y, b):
    values = [x, y, b]
    for name, i, j in ops:
        values.append(_UNARY[name](values[i]) if j is None else _BINARY[name](values[i], values[j]))
    out = values[-1]
    if reduce == "sum":
        out = out.sum(dim=0, keepdim=keepdim)
    elif reduce == "mean":
        out = out.mean(dim=-1, keepdim=keepdim)
    elif reduce == "prod":
        out = (out.tanh() * 0.5 + 1.0).prod(dim=-1, keepdim=keepdim)
    return out, values[len(values) // 2 + 1], values[-1]


@settings(max_examples=5, deadline=None)
@given(_programs())
def test_random_programs_driver_equals_steps_and_eager(program):
    shape, b_shape, ops, reduce, keepdim, seed = program
    rng = np.random.default_rng(seed)
    x = lucid.tensor(rng.standard_normal(shape).astype(np.float32))
    y = lucid.tensor(rng.standard_normal(shape).astype(np.float32))
    b = lucid.tensor(rng.standard_normal(b_shape).astype(np.float32))

    def fn(x, y, b):
        return _run_program(ops, reduce, keepdim, x, y, b)

    jf = lucid.jit(fn)
    plan = _entry(jf, x, y, b).plan
    _driver_equals_steps(plan, _inputs(jf, x, y, b))
    got = jf(x, y, b)  # through the driver now (it is warm)
    assert plan.driver.calls >= codegen_plan.WARM_CALLS
    for g, r in zip(got, fn(x, y, b)):
        np.testing.assert_allclose(_np(g), _np(r), rtol=1e-5, atol=1e-6)


# ============================================================================ training steps


def _tiny(seed: int = 0) -> nn.Module:
    lucid.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 4), nn.Tanh(), nn.Linear(4, 3))


def _train(make_opt, jit: bool, steps: int, batch: int = 2):
    model = _tiny()
    opt = make_opt(model.parameters())
    rng = np.random.default_rng(3)
    data = [(lucid.tensor(rng.standard_normal((batch, 6)).astype(np.float32)),
             lucid.tensor(rng.integers(0, 3, (batch,)))) for _ in range(steps)]
    step = _torch_style_step(model, opt)
    fn = lucid.jit(step) if jit else step
    losses = [float(fn(x, y).item()) for x, y in data]
    return losses, {n: _np(p).copy() for n, p in model.named_parameters()}, fn, data


@pytest.mark.parametrize("make_opt", [
    lambda ps: lucid.optim.SGD(ps, lr=0.05, momentum=0.9),
    lambda ps: lucid.optim.Adam(ps, lr=0.01),
], ids=["sgd_momentum", "adam"])
def test_training_steps_through_the_driver_equal_eager(make_opt):
    steps = codegen_plan.WARM_CALLS + 6  # the last calls run through the driver
    losses, params, fn, data = _train(make_opt, True, steps)
    ref_losses, ref_params, _, _ = _train(make_opt, False, steps)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5, atol=1e-6)
    for name in params:
        np.testing.assert_allclose(params[name], ref_params[name], rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    entry = _entry(fn, *data[0])
    drv = entry.plan.driver
    assert drv is not None and drv.calls >= codegen_plan.WARM_CALLS
    # The parameter updates were written straight into the parameters.
    assert entry.inplace and drv._variants[entry.inplace] is not None
    assert "copy_into(" in drv.source(entry.inplace)


def test_training_step_plan_driver_equals_steps_with_and_without_inplace():
    model = _tiny(1)
    step = lucid.jit(_torch_style_step(model, lucid.optim.Adam(model.parameters(), lr=0.01)))

    x, y = lucid.randn(1, 6), lucid.tensor([2])
    step(x, y)
    step(x, y)  # compiled (the first call created the optimizer state)
    entry = _entry(step, x, y)
    inputs = _inputs(step, x, y)
    _driver_equals_steps(entry.plan, inputs)
    # In place: the parameters' new values land in the input arrays, the others come back.
    ref = entry.plan._run([a.copy() for a in inputs])
    arrays = [a.copy() for a in inputs]
    got = entry.plan.driver.run(arrays, entry.inplace)
    for o, i in entry.inplace:
        assert got[o] is None
        np.testing.assert_allclose(arrays[i], ref[o], rtol=1e-5, atol=1e-6)
    for k, g in enumerate(got):
        if g is not None:
            np.testing.assert_allclose(g, ref[k], rtol=1e-5, atol=1e-6)


def test_versions_move_and_grads_are_fresh_tensors_after_a_driver_call():
    model = _tiny(2)
    step = lucid.jit(_torch_style_step(model, lucid.optim.SGD(model.parameters(), lr=0.1)))
    w = model[0].weight

    x, y = lucid.randn(2, 6), lucid.tensor([0, 1])
    for _ in range(codegen_plan.WARM_CALLS + 1):
        step(x, y)
    before, version, grad = _np(w).copy(), w._vc.value, w.grad
    step(x, y)
    assert w._vc.value == version + 1
    assert w.grad is not grad and w.grad is not None
    np.testing.assert_allclose(_np(w), before - 0.1 * _np(w.grad), rtol=1e-5, atol=1e-6)


# ============================================================================ shape-generic


def test_one_source_for_every_batch_size():
    model = _tiny(4)

    @lucid.jit
    def infer(x):
        with lucid.no_grad():
            return model(x)

    sources = []
    for batch in (2, 3, 7):
        x = lucid.randn(batch, 6)
        plan = _entry(infer, x).plan
        _driver_equals_steps(plan, _inputs(infer, x))
        sources.append(plan.driver.source())
    assert sources[0] == sources[1] == sources[2]


# ============================================================================ fallbacks


def test_cold_plans_and_unusual_arrays_run_the_steps():
    model = _tiny(5)
    jm = lucid.jit(model)
    x = lucid.randn(3, 6)
    with lucid.no_grad():
        jm(x)
        plan = _entry(jm, x).plan
        assert plan.driver is not None
        plan.driver.calls = 0
        assert plan.driver.run(_inputs(jm, x)) is None  # not warm yet: the steps run
        drv = _force(plan)
        inputs = _inputs(jm, x)
        inputs[0] = np.asfortranarray(inputs[0])  # not C-contiguous: the steps run
        assert drv.run(inputs) is None
        inputs[0] = np.ascontiguousarray(inputs[0])
        inputs[0].flags.writeable = False
        assert drv.run(inputs) is None
        np.testing.assert_allclose(_np(jm(x)), _np(model(x)), rtol=1e-5, atol=1e-6)


def test_index_out_of_range_gives_the_reference_error():
    table = lucid.randn(4, 5)

    @lucid.jit
    def pick(idx):
        return lucid.gather(table, 1, idx) * 2.0

    good = lucid.tensor([[0], [1], [4], [2]])
    for _ in range(codegen_plan.WARM_CALLS + 1):
        out = pick(good)
    np.testing.assert_allclose(_np(out), np.take_along_axis(_np(table), _np(good), 1) * 2)
    assert _entry(pick, good).plan.driver._variants  # the driver ran
    with pytest.raises(IndexError):
        pick(lucid.tensor([[0], [1], [5], [2]]))


def test_unsupported_primitives_keep_the_step_plan():
    x = lucid.randn(3, 4)
    f = lucid.jit(lambda x: x.cumsum(dim=-1) * 2.0)
    assert _entry(f, x).plan.driver is None
    g = lucid.jit(lambda x: x.flip(-1) + 1.0)
    assert _entry(g, x).plan.driver is None
    np.testing.assert_allclose(_np(f(x)), np.cumsum(_np(x), -1) * 2, rtol=1e-6)


def test_large_plans_get_no_driver():
    x = lucid.randn(codegen_plan.MAX_ELEMENTS + 1)
    f = lucid.jit(lambda x: x * 2.0)
    assert _entry(f, x).plan.driver is None
    small = lucid.randn(16)
    assert _entry(f, small).plan.driver is not None
    # A matrix product above the limit (OpenBLAS would run it on several threads).
    n = round(codegen_plan.MAX_MATMUL ** (1 / 3)) + 2
    mm = lucid.jit(lambda a: a @ a)
    assert _entry(mm, lucid.randn(n, n)).plan.driver is None
    assert _entry(mm, lucid.randn(4, 4)).plan.driver is not None
