"""Tests of ``lucid.jit``: compiled functions and modules equal eager lucid (forward values and
gradients, for every layer family, loss and the seed models), random elementwise programs
(hypothesis), shape-generic kernels (a new batch size compiles nothing), closure tensors read
afresh on every call, the module interface of ``lucid.jit(module)``, ``lower()``, the
``disable_jit`` switch, and PyTorch-style training steps compiled whole.

Every test runs against a kernel cache in a temporary folder (one per module, see
``_kernel_cache``): the user's real cache is never touched, and kernels already in memory from
other test files do not hide compilations.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lucid
import lucid.nn as nn
import lucid.nn.functional as F
from lucid.func import functional_call

# One temporary kernel cache for this module (see conftest.py): Numba compiles cost ~0.3 s
# each, so tests share the kernels they have in common.
pytestmark = pytest.mark.usefixtures("module_kernel_cache")


def _np(t: lucid.Tensor) -> np.ndarray:
    return t.detach().numpy()


def _close(actual: lucid.Tensor, expected: lucid.Tensor, rtol: float = 1e-5, atol: float = 1e-6,
           what: str = "") -> None:
    np.testing.assert_allclose(_np(actual), _np(expected), rtol=rtol, atol=atol, err_msg=what)


def _grads(model: nn.Module) -> dict[str, np.ndarray]:
    return {n: _np(p.grad).copy() for n, p in model.named_parameters()}


def _check_module(model: nn.Module, x: lucid.Tensor, *, rtol: float = 1e-5,
                  atol: float = 1e-6) -> None:
    """``lucid.jit(model)`` equals ``model`` forward, and eager ``backward()`` through the
    compiled output gives the eager parameter (and input) gradients."""
    lucid.manual_seed(1)
    out_w = lucid.randn(*model(x).shape)  # a weighted sum: gradients with some structure
    x = x.detach().requires_grad_(True)
    jm = lucid.jit(model)

    model.zero_grad()
    out = jm(x)
    (out * out_w).sum().backward()
    got, got_x = _grads(model), _np(x.grad).copy()

    model.zero_grad()
    x.grad = None
    ref = model(x)
    (ref * out_w).sum().backward()
    _close(out, ref, rtol, atol, "forward")
    for name, g in _grads(model).items():
        np.testing.assert_allclose(got[name], g, rtol=rtol, atol=atol, err_msg=name)
    np.testing.assert_allclose(got_x, _np(x.grad), rtol=rtol, atol=atol, err_msg="input grad")


def _check_value_and_grad(model: nn.Module, loss_fn: Callable, x: lucid.Tensor,
                          y: lucid.Tensor, *, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """``lucid.jit(lucid.value_and_grad(loss))`` over the parameters equals the eager tape."""

    def loss(params, x, y):
        return loss_fn(functional_call(model, params, (x,)), y)

    params = dict(model.named_parameters())
    value, grads = lucid.jit(lucid.value_and_grad(loss))(params, x, y)
    model.zero_grad()
    ref = loss_fn(model(x), y)
    ref.backward()
    _close(value, ref, rtol, atol, "loss")
    assert set(grads) == set(params)
    for name, p in params.items():
        _close(grads[name], p.grad, rtol, atol, name)


# ============================================================================ layer families


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(),
                         nn.Linear(16, 5))


class ConvNetwork(nn.Module):
    """The seed document's CNN, as it is written there."""

    def __init__(self):
        super().__init__()
        self.conv_layers = nn.ModuleList([
            nn.Conv2D(in_channels=3, out_channels=16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2D(kernel_size=2, stride=2),
            nn.Conv2D(in_channels=16, out_channels=32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2D(kernel_size=2, stride=2),
        ])
        self.fc = nn.Linear(in_features=32 * 8 * 8, out_features=10)

    def forward(self, x):
        for layer in self.conv_layers:
            x = layer(x)
        x = x.view(x.size(0), -1)
        return self.fc(x)


def test_linear_and_mlp_equal_eager():
    lucid.manual_seed(0)
    _check_module(nn.Linear(7, 3), lucid.randn(4, 7))
    model = _mlp()
    x, y = lucid.randn(8, 12), lucid.randint(0, 5, (8,))
    _check_module(model, x)
    _check_value_and_grad(model, F.cross_entropy, x, y)


def test_seed_conv_network_equals_eager():
    lucid.manual_seed(0)
    model = ConvNetwork()
    x, y = lucid.randn(2, 3, 32, 32), lucid.randint(0, 10, (2,))
    _check_module(model, x, rtol=1e-4, atol=1e-5)
    _check_value_and_grad(model, F.cross_entropy, x, y, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dims", [1, 2])
def test_batchnorm_train_and_eval_equal_eager(dims):
    lucid.manual_seed(0)
    bn = nn.BatchNorm1d(6) if dims == 1 else nn.BatchNorm2d(3)
    x = lucid.randn(5, 6) if dims == 1 else lucid.randn(4, 3, 5, 5)
    with lucid.no_grad():  # non-trivial affine parameters
        bn.weight.copy_(lucid.rand(*bn.weight.shape) + 0.5)
        bn.bias.copy_(lucid.randn(*bn.bias.shape))
    twin = copy.deepcopy(bn)
    jm = lucid.jit(bn)

    # Training mode: batch statistics, and the running statistics are updated once per call.
    for _ in range(2):
        _close(jm(x), twin(x), what="train forward")
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_allclose(_np(getattr(bn, name)), _np(getattr(twin, name)),
                                   rtol=1e-6, err_msg=name)
    assert int(bn.num_batches_tracked) == 2
    _check_module(copy.deepcopy(bn), x, rtol=1e-4, atol=1e-5)  # (it updates the statistics)

    # Evaluation mode: the running statistics, which the compiled call reads afresh.
    bn.eval()
    twin.eval()
    stats_before = _np(bn.running_mean).copy()
    _close(jm(x), twin(x), what="eval forward")
    np.testing.assert_array_equal(_np(bn.running_mean), stats_before)
    _check_module(bn, x)


def test_layernorm_equals_eager():
    lucid.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.LayerNorm(8))
    x = lucid.randn(4, 6)
    _check_module(model, x)
    _check_value_and_grad(model, F.mse_loss, x, lucid.randn(4, 8))


def test_dropout_in_eval_mode_is_identity():
    lucid.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Dropout(0.5), nn.Linear(8, 3))
    model.eval()
    _check_module(model, lucid.randn(4, 6))


class _Act(nn.Module):
    def __init__(self, fn: Callable):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


@pytest.mark.parametrize("name, fn", [
    ("relu", F.relu),
    ("gelu", F.gelu),
    ("tanh", lucid.tanh),
    ("sigmoid", lucid.sigmoid),
    ("softmax", lambda t: F.softmax(t, dim=-1)),
])
def test_activations_equal_eager(name, fn):
    lucid.manual_seed(0)
    _check_module(nn.Sequential(nn.Linear(6, 8), _Act(fn)), lucid.randn(4, 6))


@pytest.mark.parametrize("name", ["cross_entropy", "mse", "bce_with_logits"])
def test_losses_equal_eager(name):
    lucid.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 4), nn.Tanh())
    x = lucid.randn(5, 6)
    if name == "cross_entropy":
        loss_fn, y = F.cross_entropy, lucid.randint(0, 4, (5,))
    elif name == "mse":
        loss_fn, y = F.mse_loss, lucid.randn(5, 4)
    else:
        loss_fn, y = F.binary_cross_entropy_with_logits, lucid.rand(5, 4)
    _check_value_and_grad(model, loss_fn, x, y)

    # The loss alone, differentiated with respect to its input.
    logits = lucid.randn(5, 4)
    value, g = lucid.jit(lucid.value_and_grad(loss_fn))(logits, y)
    leaf = logits.detach().requires_grad_(True)
    ref = loss_fn(leaf, y)
    ref.backward()
    _close(value, ref)
    _close(g, leaf.grad)


def test_fused_division_by_zero_follows_numpy():
    # Fused kernels use NumPy's error model: x / 0 is inf or nan, never ZeroDivisionError.
    x = lucid.tensor([1.0, 0.0, -1.0, 2.0])
    z = lucid.tensor([0.0, 0.0, 0.0, 4.0])

    def f(a, b):
        return (a / b + 1.0) * 2.0, (b * 0.5).reciprocal(), (b * 3.0).rsqrt()

    for got, ref in zip(lucid.jit(f)(x, z), f(x, z)):
        np.testing.assert_array_equal(_np(got), _np(ref))


def test_dtypes_without_kernels_and_other_dtypes():
    # Numba has no float16: those ops run through NumPy; the others run in kernels.
    def f(a):
        return (a * 2 + 1).relu(), a > 0

    for dtype in (lucid.float16, lucid.float64, lucid.int64):
        x = lucid.tensor([-2.0, 0.5, 3.0]).to(dtype)
        for got, ref in zip(lucid.jit(f)(x), f(x)):
            assert got.dtype == ref.dtype
            np.testing.assert_array_equal(_np(got), _np(ref))


def test_repeated_outputs_are_distinct_tensors():
    # CSE merges the two products into one value; the caller still gets two tensors.
    a, b = lucid.jit(lambda x: (x * 2, x * 2))(lucid.ones(3))
    a.add_(1)
    np.testing.assert_array_equal(_np(b), [2.0, 2.0, 2.0])


# ============================================================================ random programs

_UNARY: dict[str, Callable] = {
    "neg": lambda a: -a,
    "abs": lambda a: a.abs(),
    "relu": lambda a: a.relu(),
    "sqrt_abs": lambda a: a.abs().sqrt(),
    "exp": lambda a: (-a.abs()).exp(),  # bounded, so later ops compare finite numbers
    "tanh": lambda a: a.tanh(),
    "affine": lambda a: a * 0.5 + 1.0,  # Python scalars become typed literals in kernels
    # A reduction in the middle, broadcast back: kernels on both sides of it.
    "center": lambda a: a - a.mean(dim=-1, keepdim=True),
    "normalize": lambda a: a / (a.square().sum(dim=0, keepdim=True) + 1.0).sqrt(),
    # Coarse primitives between kernels: every family, each returning the operand's shape.
    "softmax": lambda a: F.softmax(a, dim=-1),
    "log_softmax": lambda a: F.log_softmax(a, dim=-1) * 0.25,
    "max_shift": lambda a: a - a.amax(dim=-1, keepdim=True),
    "cumsum": lambda a: a.cumsum(dim=-1) * 0.5,
    "flip": lambda a: a.flip(-1),
    "roll": lambda a: lucid.roll(a, 1, -1),                     # slices + concatenate
    "pad_slice": lambda a: F.pad(a, (1, 1))[..., 1:-1] * 2.0,  # pad, then a strided view
    "reverse_index": lambda a: a[..., lucid.arange(a.shape[-1] - 1, -1, -1)],  # gather
    "matmul": lambda a: (a @ a.mT @ a).tanh() if a.ndim >= 2 else a * (a @ a).tanh(),
    "sigmoid": lambda a: a.sigmoid(),
    "clamp": lambda a: a.clamp(-0.5, 0.75),
    "permute_back": lambda a: a.mT.contiguous().mT if a.ndim >= 2 else a.reshape(1, -1)[0],
}
_CMP: dict[str, Callable] = {
    "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b, "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b, "eq": lambda a, b: a == b, "ne": lambda a, b: a != b,
}


def _select(cmp: Callable) -> Callable:
    return lambda a, b: lucid.where(cmp(a, b), a, b * 2.0)


_BINARY: dict[str, Callable] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b.abs() + 1.0),
    "maximum": lucid.maximum,
    "minimum": lucid.minimum,
    **{f"where_{k}": _select(c) for k, c in _CMP.items()},
    "mask": lambda a, b: (a <= b).float() * a,  # a cast from bool inside a kernel
}


@st.composite
def _programs(draw):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)))
    # A bias-like operand: trailing dims of the shape, with some of them 1 (broadcast).
    b_ndim = draw(st.integers(1, ndim))
    b_shape = tuple(d if draw(st.booleans()) else 1 for d in shape[ndim - b_ndim:])
    ops = []
    for k in range(draw(st.integers(1, 5))):
        n_values = 3 + k
        if draw(st.booleans()):
            ops.append((draw(st.sampled_from(sorted(_UNARY))), draw(st.integers(0, n_values - 1)),
                        None))
        else:
            ops.append((draw(st.sampled_from(sorted(_BINARY))),
                        draw(st.integers(0, n_values - 1)), draw(st.integers(0, n_values - 1))))
    reduce = draw(st.sampled_from([None, "sum", "mean"]))
    axes = tuple(sorted(draw(st.sets(st.integers(0, ndim - 1), min_size=1))))
    keepdim = draw(st.booleans())
    transposed = ndim >= 2 and draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    return shape, b_shape, ops, reduce, axes, keepdim, transposed, seed


def _run_program(ops, reduce, axes, keepdim, x, y, b):
    values = [x, y, b]
    for name, i, j in ops:
        values.append(_UNARY[name](values[i]) if j is None else _BINARY[name](values[i], values[j]))
    out = values[-1]
    if reduce is not None:
        dims = tuple(a for a in axes if a < out.ndim) or (out.ndim - 1,)
        out = out.sum(dim=dims, keepdim=keepdim) if reduce == "sum" else \
            out.mean(dim=dims, keepdim=keepdim)
    # A second output from the middle of the program: kernels with several outputs.
    return out, values[len(values) // 2 + 1]


@settings(max_examples=30, deadline=None)
@given(_programs())
def test_random_elementwise_programs_equal_eager(program):
    shape, b_shape, ops, reduce, axes, keepdim, transposed, seed = program
    rng = np.random.default_rng(seed)
    x_np = rng.standard_normal(shape).astype(np.float32)
    y_np = rng.standard_normal(shape).astype(np.float32)
    tie = rng.random(shape) < 0.3  # exact ties for comparisons, maximum and minimum
    y_np[tie] = x_np[tie]
    b = lucid.tensor(rng.standard_normal(b_shape).astype(np.float32))
    if transposed:  # a strided (Fortran-ordered) operand
        x = lucid.tensor(np.ascontiguousarray(np.swapaxes(x_np, -1, -2))).transpose(-1, -2)
    else:
        x = lucid.tensor(x_np)
    y = lucid.tensor(y_np)

    def program_fn(x, y, b):
        return _run_program(ops, reduce, axes, keepdim, x, y, b)

    got = lucid.jit(program_fn)(x, y, b)
    ref = program_fn(x, y, b)
    for g, r in zip(got, ref):
        assert g.shape == r.shape and g.dtype == r.dtype
        np.testing.assert_allclose(_np(g), _np(r), rtol=1e-5, atol=1e-6)


@settings(max_examples=12, deadline=None)
@given(_programs())
def test_random_program_gradients_equal_eager(program):
    # ``lucid.jit(lucid.grad(f))``: the backward graph's kernels against the eager tape.
    shape, b_shape, ops, reduce, axes, keepdim, _, seed = program
    rng = np.random.default_rng(seed)
    args = [lucid.tensor(rng.standard_normal(s).astype(np.float32))
            for s in (shape, shape, b_shape)]

    def loss(x, y, b):
        out, mid = _run_program(ops, reduce, axes, keepdim, x, y, b)
        return out.sum() + (mid * 0.5).sum()

    got = lucid.jit(lucid.grad(loss, argnums=(0, 1, 2)))(*args)
    leaves = [a.detach().requires_grad_(True) for a in args]
    ref = lucid.autograd.grad(loss(*leaves), leaves, allow_unused=True)
    for g, r, leaf in zip(got, ref, leaves):
        want = np.zeros(leaf.shape, np.float32) if r is None else _np(r)
        np.testing.assert_allclose(_np(g), want, rtol=1e-4, atol=1e-5)


# ============================================================================ shape-generic kernels


def test_new_batch_size_compiles_no_kernel():
    lucid.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 5))

    def loss(params, x, y):
        return F.cross_entropy(functional_call(model, params, (x,)), y)

    @lucid.jit
    def train_step(params, x, y):
        value, grads = lucid.value_and_grad(loss)(params, x, y)
        return value, lucid.tree.map(lambda p, g: p - 0.1 * g, params, grads)

    params = {k: v.detach() for k, v in model.named_parameters()}
    x, y = lucid.randn(64, 20), lucid.randint(0, 5, (64,))
    train_step(params, x, y)
    before = lucid.jit.stats()
    x, y = lucid.randn(96, 20), lucid.randint(0, 5, (96,))
    value, new = train_step(params, x, y)
    after = lucid.jit.stats()
    assert after["traces"] == before["traces"] + 1  # a new signature is traced again ...
    assert after["compiles"] == before["compiles"]  # ... and finds every kernel built
    assert after["kernel_modules"] == before["kernel_modules"]

    # And the step is right at the new size.
    leaves = {k: v.detach().requires_grad_(True) for k, v in params.items()}
    ref = loss(leaves, x, y)
    ref.backward()
    _close(value, ref)
    for k in params:
        _close(new[k], params[k] - 0.1 * leaves[k].grad, what=k)


def test_new_batch_size_compiles_no_kernel_for_a_torch_style_step():
    lucid.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 5))
    train_step = lucid.jit(_torch_style_step(model, lucid.optim.SGD(model.parameters(), lr=0.1)))
    train_step(lucid.randn(64, 20), lucid.randint(0, 5, (64,)))
    before = lucid.jit.stats()
    train_step(lucid.randn(96, 20), lucid.randint(0, 5, (96,)))
    after = lucid.jit.stats()
    assert after["traces"] == before["traces"] + 1
    assert after["compiles"] == before["compiles"]


# ============================================================================ closure tensors


def test_parameter_updates_after_wrapping_are_seen_without_retracing():
    lucid.manual_seed(0)
    model = _mlp()
    jm = lucid.jit(model)
    x = lucid.randn(4, 12)
    _close(jm(x), model(x))
    traces = lucid.jit.stats()["traces"]

    with lucid.no_grad():
        model[0].weight.mul_(2.0)
        model[4].bias.add_(1.0)
    _close(jm(x), model(x))

    opt = lucid.optim.SGD(model.parameters(), lr=0.5)
    model(x).square().sum().backward()
    opt.step()
    _close(jm(x), model(x))
    assert lucid.jit.stats()["traces"] == traces


# ============================================================================ module interface


def test_lower_gives_graph_source_and_kernels():
    model = _mlp()
    lowered = lucid.jit(model).lower(lucid.randn(3, 12))
    assert isinstance(lowered.graph, str) and lowered.graph.startswith("graph(")
    assert "matmul" in lowered.graph and "%" in lowered.graph and "return" in lowered.graph
    assert isinstance(lowered.source, str) and "@njit" in lowered.source
    assert isinstance(lowered.kernels, int) and lowered.kernels > 0
    assert lowered.source.count("def nd(") == lowered.kernels
    assert any(s.startswith("fused") for s in lowered.steps)


def test_jitted_module_behaves_like_the_module():
    lucid.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.Dropout(0.5))
    jm = lucid.jit(model)
    assert [(n, id(p)) for n, p in jm.named_parameters()] == \
        [(n, id(p)) for n, p in model.named_parameters()]
    assert jm.training is model.training is True
    assert jm[0] is model[0] and len(jm) == 3 and list(jm) == list(model)
    assert jm[1].num_features == 8
    assert "Linear" in repr(jm)

    x = lucid.randn(4, 6)
    jm.eval()
    assert model.training is False
    evaluated = _np(jm(x))
    np.testing.assert_allclose(evaluated, _np(model(x)), rtol=1e-6)
    jm.train()
    assert model.training is True and model[2].training is True
    trained = _np(jm(x))  # dropout and batch statistics: another program
    assert not np.allclose(trained, evaluated)
    assert (trained == 0).sum() > 0  # dropout zeroed some outputs

    # Training mode is part of the cache key: going back to eval reuses the eval plan.
    traces = lucid.jit.stats()["traces"]
    jm.eval()
    np.testing.assert_allclose(_np(jm(x)), _np(model(x)), rtol=1e-6)
    assert lucid.jit.stats()["traces"] == traces


def test_jitted_dropout_draws_a_new_mask_each_call():
    jm = lucid.jit(nn.Dropout(0.5))
    x = lucid.ones(8, 16)
    a, b = _np(jm(x)), _np(jm(x))
    assert not np.array_equal(a, b)  # a random op in the plan, not a mask frozen at trace time
    for out in (a, b):
        assert set(np.unique(out)) <= {0.0, 2.0} and 20 < (out == 0).sum() < 108


def test_a_function_closing_over_a_module_sees_train_and_eval():
    """The plan of a jitted *function* bakes in the branch a module's ``training`` flag chose;
    ``model.eval()`` after the first call must not keep running the training plan."""
    lucid.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Dropout(0.5))
    f = lucid.jit(lambda x: model(x))
    x = lucid.randn(5, 4)
    f(x)
    model.eval()
    _close(f(x), model(x))
    model.train()
    lucid.manual_seed(3)
    got = f(x)
    lucid.manual_seed(3)
    _close(got, model(x))


def test_train_eval_alternation_reuses_both_plans():
    """Toggling ``train()``/``eval()`` every epoch traces each mode once, then alternates
    between the two cached plans."""
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    f = lucid.jit(lambda x: model(x))
    x = lucid.randn(3, 4)
    before = lucid.jit.stats()["traces"]
    for _ in range(3):
        model.train()
        f(x)
        model.eval()
        _close(f(x), model(x))
    assert lucid.jit.stats()["traces"] - before == 2


def test_donated_arguments_lend_their_buffers_and_are_deleted():
    def f(x, w):
        h = (x * 2.0 + 1.0).relu()
        return (h @ w) * 0.5

    w = lucid.randn(5, 5)
    jf = lucid.jit(f, donate_argnums=0)
    results = []
    for k in range(3):
        x = lucid.randn(8, 5)
        want = f(x, w)
        x_array = x.numpy()
        got = jf(x, w)
        results.append((got, want.numpy().copy()))
        _close(got, want, what=f"call {k}")
        with pytest.raises(lucid.errors.LucidError, match="donated"):
            x + 1.0
        assert repr(x) == "Tensor(<donated>)"
        pool = jf.lower(lucid.randn(8, 5), w).plan._pool
        assert any(b is x_array for bufs in pool.values() for b in bufs)
    for got, want in results:  # results handed out earlier are never reused buffers
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)


def test_a_donated_input_read_through_a_view_is_released_after_the_view():
    """The buffer of a donated input goes to the pool only when no view of it is read any
    more: here ``x.T`` feeds the last kernel."""
    def f(x, y):
        a = (y * 3.0).relu()              # a kernel of x's shape, before x's last use
        return a + x.mT.mT * 2.0, (x.mT + 1.0).sum()

    jf = lucid.jit(f, donate_argnums=(0,))
    for _ in range(3):
        x, y = lucid.randn(4, 6), lucid.randn(4, 6)
        want = f(x, y)
        for g, r in zip(jf(x, y), want):
            _close(g, r)


def test_disable_jit_runs_eagerly():
    seen = []

    def f(x):
        seen.append(x.is_concrete)
        return x * 2.0

    jf = lucid.jit(f)
    x = lucid.randn(3)
    before = lucid.jit.stats()["traces"]
    old = lucid.config.disable_jit
    lucid.config.disable_jit = True
    try:
        _close(jf(x), x * 2.0)
        _close(jf(x), x * 2.0)
    finally:
        lucid.config.disable_jit = old
    assert seen == [True, True]  # ran on concrete tensors, every call
    assert lucid.jit.stats()["traces"] == before
    jf(x)
    assert seen == [True, True, False]  # traced once jit is back on


# ============================================================================ training steps


def _torch_style_step(model: nn.Module, opt: lucid.optim.Optimizer) -> Callable:
    """The PyTorch training step: zero_grad, forward, cross-entropy, backward, step."""
    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def _torch_style_steps(make_opt: Callable, steps: int = 20) -> None:
    """A PyTorch-style step (zero_grad, forward, backward, optimizer step) compiled whole
    equals the same step run eagerly on a twin model."""
    lucid.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    twin = copy.deepcopy(model)

    compiled = lucid.jit(_torch_style_step(model, make_opt(model.parameters())))
    eager = _torch_style_step(twin, make_opt(twin.parameters()))
    for k in range(steps):
        x, y = lucid.randn(8, 6), lucid.randint(0, 3, (8,))
        _close(compiled(x, y), eager(x, y), what=f"loss at step {k}")
    for (name, p), q in zip(model.named_parameters(), twin.parameters()):
        np.testing.assert_allclose(_np(p), _np(q), rtol=1e-5, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(_np(p.grad), _np(q.grad), rtol=1e-5, atol=1e-6, err_msg=name)


def test_jitted_torch_style_sgd_step_equals_eager():
    traces = lucid.jit.stats()["traces"]
    _torch_style_steps(lambda ps: lucid.optim.SGD(ps, lr=0.1))
    assert lucid.jit.stats()["traces"] - traces <= 2


def test_jitted_torch_style_sgd_momentum_step_equals_eager():
    _torch_style_steps(lambda ps: lucid.optim.SGD(ps, lr=0.1, momentum=0.9))


def test_jitted_torch_style_adam_step_equals_eager():
    _torch_style_steps(lambda ps: lucid.optim.Adam(ps, lr=0.01))


def _steps_with_batchnorm_and_dropout(make_opt: Callable, steps: int = 100) -> None:
    """The issue's acceptance test: a PyTorch-style step over a model with BatchNorm (running
    statistics are mutations of the compiled step) and Dropout (fresh randomness every call),
    compiled whole, equals the eager step for 100 steps. Both draw their dropout masks from
    the same seeded generator state."""
    lucid.manual_seed(0)
    # BatchNorm after the ReLU: a bias right before BatchNorm has a zero true gradient, and
    # Adam would turn its float32 noise into lr-sized steps that differ between any two
    # summation orders.
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.BatchNorm1d(16), nn.Dropout(0.3),
                          nn.Linear(16, 3))
    twin = copy.deepcopy(model)

    compiled = lucid.jit(_torch_style_step(model, make_opt(model.parameters())))
    eager = _torch_style_step(twin, make_opt(twin.parameters()))
    rng = np.random.default_rng(7)
    traces = lucid.jit.stats()["traces"]
    for k in range(steps):
        x = lucid.tensor(rng.standard_normal((8, 6)).astype(np.float32))
        y = lucid.tensor(rng.integers(0, 3, (8,)))
        lucid.manual_seed(1000 + k)
        got = compiled(x, y)
        lucid.manual_seed(1000 + k)
        want = eager(x, y)
        _close(got, want, rtol=1e-4, atol=1e-5, what=f"loss at step {k}")
    # One trace for the step, plus the one-off trace while the optimizer creates its state.
    assert lucid.jit.stats()["traces"] - traces <= 2
    # After 100 steps the weights carry 100 steps of float32 rounding, which BatchNorm's
    # backward (sums that cancel) amplifies differently for different summation orders: the
    # same drift appears with fused reductions turned off, so the tolerance is per-weight
    # float32 noise accumulated over the run, not a per-step one.
    for (name, p), q in zip(model.named_parameters(), twin.parameters()):
        np.testing.assert_allclose(_np(p), _np(q), rtol=1e-3, atol=2e-4, err_msg=name)
    for (name, b), c in zip(model.named_buffers(), twin.buffers()):
        np.testing.assert_allclose(_np(b), _np(c), rtol=1e-3, atol=2e-4, err_msg=name)


def test_jitted_step_with_batchnorm_and_dropout_sgd_momentum_100_steps():
    _steps_with_batchnorm_and_dropout(lambda ps: lucid.optim.SGD(ps, lr=0.01, momentum=0.9))


def test_jitted_step_with_batchnorm_and_dropout_adam_100_steps():
    _steps_with_batchnorm_and_dropout(lambda ps: lucid.optim.Adam(ps, lr=0.01))


def test_buffers_are_reused_across_calls_without_aliasing_outputs():
    """Intermediate kernel outputs go back to the plan's pool and are reused by later calls;
    outputs handed to the caller are never pooled (writing into one changes nothing else)."""
    def f(x, y):
        a = (x * y).relu()          # fused, then consumed by the matmul: a pooled buffer
        b = a @ y.mT
        c = (b + 1.0) * 2.0         # fused, returned: never pooled
        return c, (c - 1.0).abs()   # both outputs

    x, y = lucid.randn(8, 5), lucid.randn(8, 5)
    jf = lucid.jit(f)
    first = [t.numpy().copy() for t in jf(x, y)]
    plan = jf.lower(x, y).plan
    assert sum(len(v) for v in plan._pool.values()) > 0
    for _ in range(3):
        c, d = jf(x, y)
        np.testing.assert_allclose(c.numpy(), first[0], rtol=1e-6)
        np.testing.assert_allclose(d.numpy(), first[1], rtol=1e-6)
        c.numpy()[...] = 0.0  # the caller owns its outputs
    want = f(x, y)
    for got, ref in zip(jf(x, y), want):
        np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)
