"""Tests for ``lucid.nn.functional`` against ``torch.nn.functional``.

Every function is compared with its torch counterpart on forward values, on the gradient of a
random projection of the output with respect to every floating input (input, weight, bias,
target where torch differentiates it), in float32 and float64. Gradients are additionally
checked with finite differences (``lucid.testing.gradcheck``) for a representative set, and
second derivatives with ``gradgradcheck``.
"""

# ruff: noqa: B023 - the lambdas built in loops here are called at once by compare(), never later

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import lucid
import lucid.nn.functional as F
from lucid.errors import ShapeError
from lucid.testing import gradcheck, gradgradcheck


@pytest.fixture(autouse=True, scope="module")
def _single_threaded_torch():
    # The tensors here are tiny: torch's intra-op thread pool only adds contention (several
    # times slower on a busy machine). Restored afterwards for the other test modules.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# torch warns about deprecated-but-supported calls that these tests compare on purpose.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Implicit dimension choice:UserWarning"),
    pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning"),
    pytest.mark.filterwarnings("ignore:dropout2d. Received a 3D input:UserWarning"),
]

DTYPES = [np.float32, np.float64]
TOL = {np.float32: {"atol": 2e-5, "rtol": 2e-4}, np.float64: {"atol": 1e-10, "rtol": 1e-8}}


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def rand(shape, dtype=np.float64, seed=0, low=-2.0, high=2.0) -> np.ndarray:
    return rng(seed).uniform(low, high, size=shape).astype(dtype)


def _to_lucid(a, grad: bool):
    if isinstance(a, np.ndarray):
        t = lucid.tensor(a.copy())
        if grad and a.dtype.kind == "f":
            t.requires_grad_()
        return t
    return a


def _to_torch(a, grad: bool):
    if isinstance(a, np.ndarray):
        t = torch.tensor(a.copy())
        if grad and a.dtype.kind == "f":
            t.requires_grad_()
        return t
    return a


def _np(t) -> np.ndarray:
    return t.detach().numpy()  # lucid and torch tensors alike


def compare(lfn, tfn, args, *, grad=True, tol=None, grad_args=None, kwargs=None, seed=1,
            equal_nan=False):
    """Run ``lfn`` (on lucid tensors) and ``tfn`` (on torch tensors) with the same numpy
    ``args``; compare outputs, then the gradients of ``<v, out>`` for a random ``v`` with
    respect to every floating array argument (or the indices in ``grad_args``)."""
    kwargs = kwargs or {}
    floats = [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    gidx = floats if grad_args is None else list(grad_args)
    dtype = args[floats[0]].dtype.type if floats else np.float64
    tol = tol or TOL[dtype]
    la = [_to_lucid(a, grad and i in gidx) for i, a in enumerate(args)]
    ta = [_to_torch(a, grad and i in gidx) for i, a in enumerate(args)]
    lo = lfn(*la, **kwargs)
    to = tfn(*ta, **kwargs)
    assert tuple(lo.shape) == tuple(to.shape), (lo.shape, to.shape)
    assert str(lo.dtype).replace("lucid.", "") == str(to.dtype).replace("torch.", ""), (
        lo.dtype, to.dtype)
    np.testing.assert_allclose(_np(lo), _np(to), equal_nan=equal_nan, **tol)
    if not grad or not lo.dtype.is_floating_point:
        return lo, to
    v = rng(seed).standard_normal(tuple(to.shape)).astype(_np(to).dtype)
    lg = lucid.autograd.grad([lo], [la[i] for i in gidx], [lucid.tensor(v)], allow_unused=True)
    tg = torch.autograd.grad([to], [ta[i] for i in gidx], [torch.tensor(v)], allow_unused=True)
    for i, a, b in zip(gidx, lg, tg, strict=True):
        if b is None:
            assert a is None or np.all(_np(a) == 0), f"arg {i}: torch has no gradient"
            continue
        assert a is not None, f"arg {i}: lucid has no gradient"
        assert a.shape == tuple(b.shape)
        np.testing.assert_allclose(_np(a), _np(b), err_msg=f"gradient of arg {i}",
                                   equal_nan=equal_nan, **tol)
    return lo, to


def g64(a: np.ndarray) -> lucid.Tensor:
    return lucid.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


# ============================================================================ linear


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xshape", [(4,), (3, 4), (2, 3, 4), (2, 1, 3, 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(dtype, xshape, bias):
    x = rand(xshape, dtype, 0)
    w = rand((5, 4), dtype, 1)
    b = rand((5,), dtype, 2) if bias else None
    compare(F.linear, TF.linear, [x, w, b])


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_vector_weight(dtype):
    compare(F.linear, TF.linear, [rand((3, 4), dtype), rand((4,), dtype, 1), None])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lead", [(), (3,), (2, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_bilinear(dtype, lead, bias):
    x1 = rand((*lead, 4), dtype, 0)
    x2 = rand((*lead, 3), dtype, 1)
    w = rand((5, 4, 3), dtype, 2)
    b = rand((5,), dtype, 3) if bias else None
    if lead == ():  # torch's bilinear needs a batch dim; compare against the batched result
        compare(lambda *a: F.bilinear(*a), lambda p, q, wt, c: TF.bilinear(
            p[None], q[None], wt, c)[0], [x1, x2, w, b])
    else:
        compare(F.bilinear, TF.bilinear, [x1, x2, w, b])


# ============================================================================ activations

# Inputs include the kinks/ties (0, +-1, +-3, 6, 20) where gradient conventions matter.
TIES = np.array([-20.0, -6.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 6.0, 20.0, 25.0])

ACTS = [
    ("relu", F.relu, TF.relu, {}),
    ("relu6", F.relu6, TF.relu6, {}),
    ("hardtanh", F.hardtanh, TF.hardtanh, {}),
    ("hardtanh_bounds", F.hardtanh, TF.hardtanh, {"min_val": -0.5, "max_val": 3.0}),
    ("leaky_relu", F.leaky_relu, TF.leaky_relu, {}),
    ("leaky_relu_slope", F.leaky_relu, TF.leaky_relu, {"negative_slope": 0.2}),
    ("elu", F.elu, TF.elu, {}),
    ("elu_alpha", F.elu, TF.elu, {"alpha": 0.5}),
    ("selu", F.selu, TF.selu, {}),
    ("celu", F.celu, TF.celu, {}),
    ("celu_alpha", F.celu, TF.celu, {"alpha": 2.0}),
    ("gelu", F.gelu, TF.gelu, {}),
    ("gelu_tanh", F.gelu, TF.gelu, {"approximate": "tanh"}),
    ("silu", F.silu, TF.silu, {}),
    ("softplus", F.softplus, TF.softplus, {}),
    ("softplus_beta", F.softplus, TF.softplus, {"beta": 2.0, "threshold": 5.0}),
    ("softplus_beta_small", F.softplus, TF.softplus, {"beta": 0.5, "threshold": 3.0}),
    ("mish", F.mish, TF.mish, {}),
    ("sigmoid", F.sigmoid, torch.sigmoid, {}),
    ("tanh", F.tanh, torch.tanh, {}),
    ("logsigmoid", F.logsigmoid, TF.logsigmoid, {}),
    ("hardsigmoid", F.hardsigmoid, TF.hardsigmoid, {}),
    ("hardswish", F.hardswish, TF.hardswish, {}),
    ("threshold", F.threshold, TF.threshold, {"threshold": 0.5, "value": -2.0}),
    ("hardshrink", F.hardshrink, TF.hardshrink, {}),
    ("hardshrink_1", F.hardshrink, TF.hardshrink, {"lambd": 1.0}),
    ("softshrink", F.softshrink, TF.softshrink, {}),
    ("softshrink_1", F.softshrink, TF.softshrink, {"lambd": 1.0}),
    ("tanhshrink", F.tanhshrink, TF.tanhshrink, {}),
    ("softsign", F.softsign, TF.softsign, {}),
    ("rrelu_eval", F.rrelu, TF.rrelu, {"lower": 0.1, "upper": 0.3}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,lf,tf,kw", ACTS, ids=[a[0] for a in ACTS])
def test_activation(dtype, name, lf, tf, kw):
    for shape in [(), (7,), (3, 5), (2, 3, 4)]:
        compare(lf, tf, [rand(shape, dtype, 3, -5, 5)], kwargs=kw, tol=_act_tol(name, dtype))


def _act_tol(name, dtype):
    # torch's float64 hardsigmoid gradient uses a float32 1/6 (0.16666667163...).
    if name == "hardsigmoid" and dtype == np.float64:
        return {"rtol": 1e-7, "atol": 1e-10}
    return None


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,lf,tf,kw", ACTS, ids=[a[0] for a in ACTS])
def test_activation_ties_and_extremes(dtype, name, lf, tf, kw):
    x = np.concatenate([TIES, [-1e4, 1e4, -100.0, 100.0]]).astype(dtype)
    lo, _ = compare(lf, tf, [x], kwargs=kw, tol=_act_tol(name, dtype))
    assert np.all(np.isfinite(lo.detach().numpy()))


INPLACE = [
    ("relu", F.relu, TF.relu, {}),
    ("relu6", F.relu6, TF.relu6, {}),
    ("hardtanh", F.hardtanh, TF.hardtanh, {"min_val": -0.5, "max_val": 0.5}),
    ("leaky_relu", F.leaky_relu, TF.leaky_relu, {"negative_slope": 0.1}),
    ("elu", F.elu, TF.elu, {}),
    ("selu", F.selu, TF.selu, {}),
    ("celu", F.celu, TF.celu, {}),
    ("silu", F.silu, TF.silu, {}),
    ("mish", F.mish, TF.mish, {}),
    ("hardsigmoid", F.hardsigmoid, TF.hardsigmoid, {}),
    ("hardswish", F.hardswish, TF.hardswish, {}),
    ("dropout_eval", F.dropout, TF.dropout, {"training": False}),
    ("threshold", F.threshold, TF.threshold, {"threshold": 0.2, "value": 0.7}),
    ("rrelu_eval", F.rrelu, TF.rrelu, {}),
]


@pytest.mark.parametrize("name,lf,tf,kw", INPLACE, ids=[a[0] for a in INPLACE])
def test_inplace_variants(name, lf, tf, kw):
    x = rand((3, 4), np.float64, 5, -4, 4)

    def lrun(a):
        h = a * 1.0  # a non-leaf, so in-place is allowed and the graph passes through it
        out = lf(h, inplace=True, **kw)
        assert out is h, "inplace=True must return the input tensor itself"
        return h

    def trun(a):
        h = a * 1.0
        return tf(h, inplace=True, **kw)

    compare(lrun, trun, [x], tol=_act_tol(name, np.float64))
    # The in-place result equals the out-of-place one.
    lt = lucid.tensor(x)
    np.testing.assert_array_equal(lf(lt * 1.0, inplace=True, **kw).numpy(),
                                  lf(lt, **kw).numpy())


ALIASES = [("relu_", {}), ("elu_", {"alpha": 0.5}), ("leaky_relu_", {"negative_slope": 0.2}),
           ("hardtanh_", {"min_val": -0.5, "max_val": 0.5}), ("celu_", {}), ("selu_", {}),
           ("threshold_", {"threshold": 0.1, "value": 3.0}), ("rrelu_", {})]


@pytest.mark.parametrize("name,kw", ALIASES, ids=[a[0] for a in ALIASES])
def test_inplace_aliases(name, kw):
    x = rand((3, 4), np.float64, 6, -3, 3)

    def lrun(a):
        h = a * 1.0
        assert getattr(F, name)(h, **kw) is h
        return h

    def trun(a):
        h = a * 1.0
        return getattr(TF, name)(h, **kw)

    compare(lrun, trun, [x])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,wshape", [((3, 4), (4,)), ((2, 3, 5), (3,)), ((2, 3, 2, 2), (1,)),
                                          ((5,), (1,)), ((2, 3, 2, 2), (3,))])
def test_prelu(dtype, shape, wshape):
    x = rand(shape, dtype, 0, -3, 3)
    x.reshape(-1)[0] = 0.0  # the kink: slope w at 0, like torch
    compare(F.prelu, TF.prelu, [x, rand(wshape, dtype, 1, 0.0, 0.5)])


def test_prelu_bad_weight():
    with pytest.raises(ShapeError):
        F.prelu(lucid.ones(2, 3), lucid.ones(4))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dim", [((4,), 0), ((3, 4), -1), ((4, 3), 0), ((2, 6, 3), 1)])
def test_glu(dtype, shape, dim):
    compare(F.glu, TF.glu, [rand(shape, dtype, 0)], kwargs={"dim": dim})


def test_glu_odd_size():
    with pytest.raises(ShapeError):
        F.glu(lucid.ones(3, 5))


def test_rrelu_training_slopes():
    lucid.manual_seed(0)
    x = lucid.tensor(-np.ones((100, 100)), requires_grad=True)
    out = F.rrelu(x, 0.1, 0.3, training=True)
    slopes = -out.detach().numpy()
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3
    assert abs(slopes.mean() - 0.2) < 0.01 and slopes.std() > 0.04
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), slopes)  # the gradient uses the same slopes
    pos = F.rrelu(lucid.ones(3), training=True)
    np.testing.assert_array_equal(pos.numpy(), 1.0)


@pytest.mark.parametrize("fn", [F.relu, F.elu, F.silu])
def test_inplace_on_leaf_requiring_grad_raises(fn):
    x = lucid.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(lucid.errors.AutogradError, match="in-place"):
        fn(x, inplace=True)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(lucid.ones(2), approximate="fast")


# ---------------------------------------------------------------------------- softmax family

SOFT = [("softmax", F.softmax, TF.softmax), ("log_softmax", F.log_softmax, TF.log_softmax),
        ("softmin", F.softmin, TF.softmin)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,lf,tf", SOFT, ids=[s[0] for s in SOFT])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (2, 1, 3, 2)])
def test_softmax_every_dim(dtype, name, lf, tf, shape):
    x = rand(shape, dtype, 7, -4, 4)
    for dim in range(-len(shape), len(shape)):
        compare(lf, tf, [x], kwargs={"dim": dim})


@pytest.mark.parametrize("name,lf,tf", SOFT, ids=[s[0] for s in SOFT])
def test_softmax_zero_dim(name, lf, tf):
    x = np.array(1.5)
    for dim in (0, -1):
        compare(lf, tf, [x], kwargs={"dim": dim})
    compare(lf, tf, [x])


@pytest.mark.parametrize("name,lf,tf", SOFT, ids=[s[0] for s in SOFT])
@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 4), (2, 3, 2, 2)])
def test_softmax_implicit_dim_legacy_rule(name, lf, tf, shape):
    x = rand(shape, np.float64, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about the implicit dim
        compare(lf, tf, [x])


@pytest.mark.parametrize("name,lf,tf", SOFT, ids=[s[0] for s in SOFT])
def test_softmax_dtype_argument(name, lf, tf):
    x = rand((3, 4), np.float32, 9)
    lo = lf(lucid.tensor(x), dim=1, dtype=lucid.float64)
    to = tf(torch.tensor(x), dim=1, dtype=torch.float64)
    assert lo.dtype == lucid.float64
    np.testing.assert_allclose(lo.numpy(), to.numpy(), rtol=1e-12, atol=1e-12)
    # Integer inputs with a floating dtype.
    xi = np.arange(6).reshape(2, 3)
    lo = lf(lucid.tensor(xi), dim=-1, dtype=lucid.float32)
    to = tf(torch.tensor(xi), dim=-1, dtype=torch.float32)
    assert lo.dtype == lucid.float32
    np.testing.assert_allclose(lo.numpy(), to.numpy(), rtol=1e-6)
    # Gradients flow back through the cast to the original dtype.
    xl = lucid.tensor(x, requires_grad=True)
    lf(xl, dim=0, dtype=lucid.float64).sum().backward()
    assert xl.grad.dtype == lucid.float32


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,lf,tf", SOFT, ids=[s[0] for s in SOFT])
def test_softmax_large_and_infinite_logits(dtype, name, lf, tf):
    x = np.array([[1e4, 0.0, -1e4, 1e4 - 1.0], [-np.inf, 1.0, 2.0, -np.inf],
                  [3.0, -np.inf, -np.inf, -np.inf]], dtype=dtype)
    if name == "softmin":
        x = -x
    lo, _ = compare(lf, tf, [x], kwargs={"dim": -1})
    out = lo.detach().numpy()
    assert not np.any(np.isnan(out))
    if name != "log_softmax":
        assert np.all(np.isfinite(out))
        np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-6)


@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), data=st.data())
def test_softmax_hypothesis(shape, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = rand(tuple(shape), np.float64, len(shape) + dim, -3, 3)
    compare(F.log_softmax, TF.log_softmax, [x], kwargs={"dim": dim})
    compare(F.softmax, TF.softmax, [x], kwargs={"dim": dim})


@pytest.mark.parametrize("name,lf,tf", SOFT, ids=[s[0] for s in SOFT])
def test_softmax_nan_rows_like_torch(name, lf, tf):
    # A row holding +inf, NaN or only -inf is all NaN in torch; other rows are unaffected.
    x = np.array([[np.inf, 1.0, 2.0], [-np.inf] * 3, [np.nan, 1.0, 2.0], [1.0, 2.0, 3.0]])
    if name == "softmin":
        x = -x
    lo = lf(lucid.tensor(x), dim=-1).numpy()
    to = tf(torch.tensor(x), dim=-1).numpy()
    np.testing.assert_allclose(lo, to, equal_nan=True, rtol=1e-12)


def test_softmax_bad_dim():
    with pytest.raises((IndexError, ValueError, ShapeError)):
        F.softmax(lucid.ones(2, 3), dim=2)


# ============================================================================ dropout


@pytest.mark.parametrize("fn", [F.dropout, F.dropout2d])
def test_dropout_eval_and_p0_are_identity(fn):
    x = lucid.tensor(rand((2, 3, 4, 4)), requires_grad=True)
    for kw in ({"training": False}, {"p": 0.0}, {"p": 1.0, "training": False}):
        out = fn(x, **kw)
        np.testing.assert_array_equal(out.detach().numpy(), x.detach().numpy())
        (g,) = lucid.autograd.grad([out.sum()], [x])
        np.testing.assert_array_equal(g.numpy(), np.ones(x.shape))


@pytest.mark.parametrize("fn", [F.dropout, F.dropout2d])
def test_dropout_p1_zeroes_everything(fn):
    x = lucid.tensor(rand((2, 3, 4, 4)), requires_grad=True)
    out = fn(x, p=1.0)
    np.testing.assert_array_equal(out.detach().numpy(), np.zeros(x.shape))
    (g,) = lucid.autograd.grad([out.sum()], [x])
    np.testing.assert_array_equal(g.numpy(), np.zeros(x.shape))


@pytest.mark.parametrize("dtype", [lucid.float32, lucid.float64])
@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_training_statistics(dtype, p):
    lucid.manual_seed(0)
    x = lucid.ones(200, 100, dtype=dtype, requires_grad=True)
    out = F.dropout(x, p=p)
    assert out.dtype == dtype
    o = out.detach().numpy()
    kept = o != 0
    # Survivors are scaled by 1 / (1 - p); the kept fraction is 1 - p (20000 Bernoulli draws).
    np.testing.assert_allclose(o[kept], 1.0 / (1.0 - p), rtol=1e-6)
    assert abs(kept.mean() - (1.0 - p)) < 0.02
    assert abs(o.mean() - 1.0) < 0.05
    (g,) = lucid.autograd.grad([out.sum()], [x])
    np.testing.assert_allclose(g.numpy(), o, rtol=1e-6)  # gradient uses the same mask


def test_dropout_reproducible_after_manual_seed():
    x = lucid.ones(10, 10)
    lucid.manual_seed(123)
    a = F.dropout(x, 0.5).numpy()
    b2 = F.dropout2d(lucid.ones(4, 8, 2, 2), 0.5).numpy()
    lucid.manual_seed(123)
    np.testing.assert_array_equal(a, F.dropout(x, 0.5).numpy())
    np.testing.assert_array_equal(b2, F.dropout2d(lucid.ones(4, 8, 2, 2), 0.5).numpy())
    assert not np.array_equal(a, F.dropout(x, 0.5).numpy())  # the stream moved on


@pytest.mark.parametrize("shape", [(4, 8, 3, 3), (4, 8, 5)])
def test_dropout2d_drops_whole_channels(shape):
    # Like torch: a 4-D input is (N, C, H, wt); a 3-D input is treated as (N, C, L).
    lucid.manual_seed(1)
    p = 0.5
    o = F.dropout2d(lucid.ones(*shape), p=p).numpy()
    per_channel = o.reshape(shape[0], shape[1], -1)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 1 / (1 - p)).all(-1))
    frac = (per_channel[..., 0] == 0).mean()
    assert 0.2 < frac < 0.8


@pytest.mark.parametrize("fn,shape,lead", [
    (F.dropout1d, (4, 8, 5), 2), (F.dropout1d, (8, 5), 1),
    (F.dropout3d, (2, 8, 2, 2, 2), 2), (F.dropout3d, (8, 2, 2, 3), 1),
])
def test_dropout1d_3d_channels(fn, shape, lead):
    lucid.manual_seed(2)
    o = fn(lucid.ones(*shape), p=0.5).numpy()
    per_channel = o.reshape(*shape[:lead], -1)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1))
    assert 0.15 < (per_channel[..., 0] == 0).mean() < 0.85
    x = lucid.ones(*shape)
    assert fn(x, training=False) is x
    with pytest.raises(ShapeError):
        fn(lucid.ones(*shape[-1:]))


def test_alpha_dropout_keeps_mean_and_variance():
    lucid.manual_seed(0)
    x = lucid.tensor(rng(0).standard_normal((400, 250)))
    assert F.alpha_dropout(x, 0.3) is x  # training defaults to False, like torch
    out = F.alpha_dropout(x, 0.3, training=True).numpy()
    assert abs(out.mean()) < 0.02 and abs(out.std() - 1.0) < 0.02
    # Dropped entries all take one value: a * alpha' + b.
    alpha = -1.7580993408473766
    a = ((1 - 0.3) * (1 + 0.3 * alpha**2)) ** -0.5
    dropped = np.isclose(out, a * alpha - a * alpha * 0.3)
    assert abs(dropped.mean() - 0.3) < 0.01
    np.testing.assert_array_equal(F.alpha_dropout(x, 1.0, training=True).numpy(), 0.0)


def test_dropout_inplace_and_bad_p():
    lucid.manual_seed(3)
    x = lucid.ones(5, 5)
    h = x * 1.0
    out = F.dropout(h, 0.5, inplace=True)
    assert out is h
    assert set(np.unique(h.numpy())) <= {0.0, 2.0}
    for fn in (F.dropout, F.dropout2d):
        with pytest.raises(ValueError):
            fn(x, p=1.5)
        with pytest.raises(ValueError):
            fn(x, p=-0.1)


# ============================================================================ one_hot, embedding


@pytest.mark.parametrize("shape", [(), (5,), (2, 3)])
@pytest.mark.parametrize("num_classes", [-1, 7])
def test_one_hot(shape, num_classes):
    idx = rng(0).integers(0, 5, size=shape)
    lo = F.one_hot(lucid.tensor(idx), num_classes)
    to = TF.one_hot(torch.tensor(idx), num_classes)
    assert lo.dtype == lucid.int64
    np.testing.assert_array_equal(lo.numpy(), to.numpy())


def test_one_hot_errors():
    with pytest.raises(TypeError):
        F.one_hot(lucid.tensor([0.0, 1.0]))
    with pytest.raises((ValueError, IndexError)):
        F.one_hot(lucid.tensor([0, 3]), 3)
    with pytest.raises((ValueError, IndexError)):
        F.one_hot(lucid.tensor([0, -1]), 3)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
@pytest.mark.parametrize("ishape", [(), (4,), (2, 5)])
def test_embedding(dtype, padding_idx, ishape):
    w = rand((6, 3), dtype, 0)
    idx = rng(1).integers(0, 6, size=ishape)
    compare(lambda i, wt: F.embedding(i, wt, padding_idx=padding_idx),
            lambda i, wt: TF.embedding(i, wt, padding_idx=padding_idx), [idx, w])


def test_embedding_padding_row_gets_no_gradient_and_repeats_accumulate():
    w = lucid.tensor(rand((5, 2)), requires_grad=True)
    idx = lucid.tensor([[1, 1, 3], [3, 1, 0]])
    F.embedding(idx, w, padding_idx=3).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[1, 1], [3, 3], [0, 0], [0, 0], [0, 0]])
    # The padding row's values still come out unchanged.
    out = F.embedding(idx, w, padding_idx=3).detach().numpy()
    np.testing.assert_array_equal(out[0, 2], w.detach().numpy()[3])


@pytest.mark.parametrize("norm_type", [2.0, 1.0])
def test_embedding_max_norm_renormalises_in_place(norm_type):
    w0 = rand((6, 3), np.float64, 0, -3, 3)
    idx = np.array([[0, 2, 2], [5, 0, 1]])
    lw = lucid.tensor(w0.copy(), requires_grad=True)
    tw = torch.tensor(w0.copy(), requires_grad=True)
    lo = F.embedding(lucid.tensor(idx), lw, max_norm=1.5, norm_type=norm_type)
    to = TF.embedding(torch.tensor(idx), tw, max_norm=1.5, norm_type=norm_type)
    np.testing.assert_allclose(lo.detach().numpy(), to.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(lw.detach().numpy(), tw.detach().numpy(), rtol=1e-12)
    assert lw.is_leaf and lw.requires_grad
    np.testing.assert_array_equal(lw.detach().numpy()[3], w0[3])  # unreferenced row untouched
    v = rng(1).standard_normal(lo.shape)
    (lo * lucid.tensor(v)).sum().backward()
    (to * torch.tensor(v)).sum().backward()
    np.testing.assert_allclose(lw.grad.numpy(), tw.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("padding_idx", [None, 1])
def test_embedding_scale_grad_by_freq(padding_idx):
    w = rand((5, 2))
    idx = np.array([[1, 1, 3], [3, 1, 0]])
    compare(lambda i, wt: F.embedding(i, wt, padding_idx=padding_idx, scale_grad_by_freq=True),
            lambda i, wt: TF.embedding(i, wt, padding_idx=padding_idx, scale_grad_by_freq=True),
            [idx, w])


def test_embedding_errors():
    w = lucid.ones(4, 2)
    with pytest.raises(TypeError):
        F.embedding(lucid.tensor([0.0]), w)
    with pytest.raises(ValueError):
        F.embedding(lucid.tensor([0]), w, padding_idx=4)
    with pytest.raises(ValueError):
        F.embedding(lucid.tensor([0]), w, sparse=True)


# ============================================================================ normalisation


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dim", [((3, 4), 1), ((3, 4), 0), ((2, 3, 4), -1), ((5,), 0)])
def test_normalize(dtype, shape, dim):
    for p in [1.0, 2.0, 3.0, math.inf]:
        compare(F.normalize, TF.normalize, [rand(shape, dtype, 4)], kwargs={"p": p, "dim": dim})


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_normalize_zero_vectors(p):
    x = rand((3, 4), np.float64, 5)
    x[1] = 0.0
    lo, _ = compare(F.normalize, TF.normalize, [x], kwargs={"p": p, "dim": 1})
    np.testing.assert_array_equal(lo.detach().numpy()[1], 0.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xshape,nshape", [((3, 4), (4,)), ((2, 3, 4), (4,)),
                                           ((2, 3, 4), (3, 4)), ((2, 2, 3, 2), (2, 3, 2)),
                                           ((5,), (5,))])
def test_layer_norm(dtype, xshape, nshape):
    for affine in ["none", "weight", "both"]:
        x = rand(xshape, dtype, 0)
        w = rand(nshape, dtype, 1) if affine != "none" else None
        b = rand(nshape, dtype, 2) if affine == "both" else None
        compare(lambda a, wt, bs: F.layer_norm(a, nshape, wt, bs),
                lambda a, wt, bs: TF.layer_norm(a, nshape, wt, bs), [x, w, b])
        compare(lambda a, wt, bs: F.layer_norm(a, list(nshape), wt, bs, eps=1e-2),
                lambda a, wt, bs: TF.layer_norm(a, list(nshape), wt, bs, eps=1e-2), [x, w, b])


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), data=st.data())
def test_layer_norm_hypothesis(shape, data):
    k = data.draw(st.integers(1, len(shape)))
    nshape = tuple(shape[-k:])
    affine = data.draw(st.booleans())
    x = rand(tuple(shape), np.float64, k)
    w = rand(nshape, np.float64, 1) if affine else None
    b = rand(nshape, np.float64, 2) if affine else None
    compare(lambda a, wt, bs: F.layer_norm(a, nshape, wt, bs),
            lambda a, wt, bs: TF.layer_norm(a, nshape, wt, bs), [x, w, b],
            tol={"rtol": 1e-7, "atol": 1e-9})


def test_layer_norm_int_shape_and_mismatch():
    x = rand((2, 4))
    compare(lambda a: F.layer_norm(a, 4), lambda a: TF.layer_norm(a, (4,)), [x])
    with pytest.raises(ShapeError, match=r"\[3\]"):
        F.layer_norm(lucid.tensor(x), (3,))
    with pytest.raises(ShapeError):
        F.layer_norm(lucid.tensor(x), (1, 2, 4))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,groups", [((2, 6), 3), ((2, 6, 5), 2), ((2, 4, 3, 3), 4),
                                          ((1, 4, 2, 3), 1)])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm(dtype, shape, groups, affine):
    c = shape[1]
    w = rand((c,), dtype, 1) if affine else None
    b = rand((c,), dtype, 2) if affine else None
    # Groups of two elements are ill-conditioned; float32 torch itself is off by ~1e-4 there.
    tol = {"atol": 2e-4, "rtol": 1e-3} if dtype == np.float32 else None
    compare(lambda a, wt, bs: F.group_norm(a, groups, wt, bs),
            lambda a, wt, bs: TF.group_norm(a, groups, wt, bs), [rand(shape, dtype, 0), w, b],
            tol=tol)


def test_group_norm_bad_groups():
    with pytest.raises(ShapeError, match=r"\[2, 6, 3\]"):
        F.group_norm(lucid.ones(2, 6, 3), 4)
    with pytest.raises(ShapeError):
        F.group_norm(lucid.ones(6), 3)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 5), (3, 3, 2, 4)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training_updates_running_stats(dtype, shape, affine):
    for momentum in [0.1, 0.5]:
        c = shape[1]
        x = rand(shape, dtype, 0)
        w = rand((c,), dtype, 1) if affine else None
        b = rand((c,), dtype, 2) if affine else None
        rm0, rv0 = rand((c,), dtype, 3), rand((c,), dtype, 4, 0.5, 2.0)
        lrm, lrv = lucid.tensor(rm0.copy()), lucid.tensor(rv0.copy())
        trm, trv = torch.tensor(rm0.copy()), torch.tensor(rv0.copy())
        lrm_obj, lrv_obj = lrm, lrv
        compare(lambda a, wt, bs: F.batch_norm(a, lrm, lrv, wt, bs, True, momentum),
                lambda a, wt, bs: TF.batch_norm(a, trm, trv, wt, bs, True, momentum), [x, w, b])
        # Updated in place (same objects), with torch's unbiased variance and momentum.
        assert lrm is lrm_obj and lrv is lrv_obj
        assert not lrm.requires_grad and not lrv.requires_grad
        np.testing.assert_allclose(lrm.numpy(), trm.numpy(), **TOL[dtype])
        np.testing.assert_allclose(lrv.numpy(), trv.numpy(), **TOL[dtype])
        assert not np.allclose(lrv.numpy(), rv0)
        # Eval uses the running statistics (and leaves them alone).
        compare(lambda a, wt, bs: F.batch_norm(a, lrm, lrv, wt, bs, False, momentum),
                lambda a, wt, bs: TF.batch_norm(a, trm, trv, wt, bs, False, momentum), [x, w, b])
        np.testing.assert_allclose(lrm.numpy(), trm.numpy(), **TOL[dtype])


def test_batch_norm_training_without_running_stats_and_errors():
    x = rand((4, 3, 2))
    compare(lambda a: F.batch_norm(a, None, None, training=True),
            lambda a: TF.batch_norm(a, None, None, training=True), [x])
    with pytest.raises(ValueError):
        F.batch_norm(lucid.ones(1, 3), lucid.zeros(3), lucid.ones(3), training=True)
    with pytest.raises(ValueError):
        F.batch_norm(lucid.ones(4, 3), None, None, training=False)
    with pytest.raises(ShapeError):
        F.batch_norm(lucid.ones(3), lucid.zeros(3), lucid.ones(3))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 4), (1, 2, 3, 3), (2, 2, 2, 2, 3)])
@pytest.mark.parametrize("affine", [True, False])
def test_instance_norm(dtype, shape, affine):
    c = shape[1]
    w = rand((c,), dtype, 1) if affine else None
    b = rand((c,), dtype, 2) if affine else None
    x = rand(shape, dtype, 0)
    compare(lambda a, wt, bs: F.instance_norm(a, weight=wt, bias=bs),
            lambda a, wt, bs: TF.instance_norm(a, weight=wt, bias=bs), [x, w, b])
    rm0, rv0 = rand((c,), dtype, 3), rand((c,), dtype, 4, 0.5, 2.0)
    lrm, lrv = lucid.tensor(rm0.copy()), lucid.tensor(rv0.copy())
    trm, trv = torch.tensor(rm0.copy()), torch.tensor(rv0.copy())
    compare(lambda a, wt, bs: F.instance_norm(a, lrm, lrv, wt, bs, momentum=0.3),
            lambda a, wt, bs: TF.instance_norm(a, trm, trv, wt, bs, momentum=0.3), [x, w, b])
    np.testing.assert_allclose(lrm.numpy(), trm.numpy(), **TOL[dtype])
    np.testing.assert_allclose(lrv.numpy(), trv.numpy(), **TOL[dtype])
    compare(lambda a, wt, bs: F.instance_norm(a, lrm, lrv, wt, bs, use_input_stats=False),
            lambda a, wt, bs: TF.instance_norm(a, trm, trv, wt, bs, use_input_stats=False),
            [x, w, b])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xshape,nshape", [((3, 4), (4,)), ((2, 3, 4), (3, 4)), ((5,), (5,))])
@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("eps", [None, 1e-3])
def test_rms_norm(dtype, xshape, nshape, weighted, eps):
    w = rand(nshape, dtype, 1) if weighted else None
    compare(lambda a, wt: F.rms_norm(a, nshape, wt, eps),
            lambda a, wt: TF.rms_norm(a, nshape, wt, eps), [rand(xshape, dtype, 0), w])


def test_rms_norm_shape_mismatch():
    with pytest.raises(ShapeError):
        F.rms_norm(lucid.ones(2, 3), (4,))


# ============================================================================ attention


def _sdpa_args(dtype, batch, lq, lk, d=4, dv=3, seed=0):
    return (rand((*batch, lq, d), dtype, seed), rand((*batch, lk, d), dtype, seed + 1),
            rand((*batch, lk, dv), dtype, seed + 2))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", [(), (2,), (2, 3)])
@pytest.mark.parametrize("lq,lk", [(3, 3), (2, 5), (5, 2)])
def test_sdpa_plain_scale_and_causal(dtype, batch, lq, lk):
    q, k, v = _sdpa_args(dtype, batch, lq, lk)
    compare(F.scaled_dot_product_attention, TF.scaled_dot_product_attention, [q, k, v])
    compare(lambda *a: F.scaled_dot_product_attention(*a, scale=0.3),
            lambda *a: TF.scaled_dot_product_attention(*a, scale=0.3), [q, k, v])
    if True:  # the top-left aligned causal mask always leaves key 0 to every query row
        compare(lambda *a: F.scaled_dot_product_attention(*a, is_causal=True),
                lambda *a: TF.scaled_dot_product_attention(*a, is_causal=True), [q, k, v])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask_batch", [(), (1,), (2, 1)])
def test_sdpa_masks(dtype, mask_batch):
    q, k, v = _sdpa_args(dtype, (2, 3), 4, 5)
    bmask = rng(5).random((*mask_batch, 4, 5)) > 0.4
    bmask[..., 0] = True  # no fully masked rows
    fmask = rand((*mask_batch, 4, 5), dtype, 6)
    compare(lambda *a: F.scaled_dot_product_attention(*a[:3], attn_mask=a[3]),
            lambda *a: TF.scaled_dot_product_attention(*a[:3], attn_mask=a[3]),
            [q, k, v, bmask])
    compare(lambda *a: F.scaled_dot_product_attention(*a[:3], attn_mask=a[3]),
            lambda *a: TF.scaled_dot_product_attention(*a[:3], attn_mask=a[3]),
            [q, k, v, fmask])


@pytest.mark.parametrize("dtype", DTYPES)
def test_sdpa_fully_masked_rows_give_zeros_like_torch(dtype):
    q, k, v = _sdpa_args(dtype, (2,), 3, 4)
    bmask = np.ones((3, 4), dtype=bool)
    bmask[1] = False
    fmask = np.zeros((3, 4), dtype=dtype)
    fmask[2] = -np.inf
    for mask in (bmask, fmask):
        lo, _ = compare(lambda *a: F.scaled_dot_product_attention(*a[:3], attn_mask=a[3]),
                        lambda *a: TF.scaled_dot_product_attention(*a[:3], attn_mask=a[3]),
                        [q, k, v, mask], grad_args=[0, 1, 2])
        assert np.all(np.isfinite(lo.detach().numpy()))


@pytest.mark.parametrize("dtype", DTYPES)
def test_sdpa_grouped_query_attention(dtype):
    q = rand((2, 6, 3, 4), dtype, 0)
    k = rand((2, 2, 5, 4), dtype, 1)
    v = rand((2, 2, 5, 3), dtype, 2)
    compare(lambda *a: F.scaled_dot_product_attention(*a, enable_gqa=True),
            lambda *a: TF.scaled_dot_product_attention(*a, enable_gqa=True), [q, k, v])


def test_sdpa_causal_with_mask_raises():
    q = lucid.ones(2, 3, 4)
    with pytest.raises(ValueError):
        F.scaled_dot_product_attention(q, q, q, attn_mask=lucid.ones(3, 3), is_causal=True)


def test_sdpa_dropout_changes_result():
    q, k, v = (lucid.tensor(a) for a in _sdpa_args(np.float64, (2,), 4, 4))
    lucid.manual_seed(0)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    b = F.scaled_dot_product_attention(q, k, v).numpy()
    assert not np.allclose(a, b)


# ============================================================================ interpolate

def _itol(dtype):
    # Resampling is compared with torch to 1e-5 (values and gradients), float64 much tighter.
    return {"atol": 1e-5, "rtol": 1e-5} if dtype == np.float32 else None


INTERP_NEAREST = [
    {"size": 7}, {"size": 3}, {"size": 10}, {"size": 5}, {"scale_factor": 2},
    {"scale_factor": 0.5}, {"scale_factor": 1.7}, {"scale_factor": 0.3},
    {"scale_factor": 2.5}, {"scale_factor": 1.0 / 3.0}, {"scale_factor": 1.1},
    {"scale_factor": 2.9}, {"size": 13}, {"size": 11},
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", INTERP_NEAREST, ids=str)
def test_interpolate_nearest_1d(dtype, kw):
    # With scale_factor=1.1 on 5 pixels the output keeps 5 pixels but samples x[floor(i / 1.1)];
    # torch's backward kernel special-cases equal sizes as a copy, disagreeing with its own
    # forward, so there only the forward is compared with torch (gradcheck covers the gradient).
    same_size_resample = kw.get("scale_factor") == 1.1
    x = rand((2, 3, 5), dtype, 0)
    compare(lambda a: F.interpolate(a, **kw), lambda a: TF.interpolate(a, **kw), [x],
            grad=not same_size_resample, tol=_itol(dtype))
    if same_size_resample and dtype == np.float64:
        assert gradcheck(lambda a: F.interpolate(a, **kw), [g64(x)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("kw", [{"size": (7, 3)}, {"size": 4}, {"scale_factor": (2, 1.5)},
                                {"scale_factor": 0.6}, {"scale_factor": (1.3, 2.7)},
                                {"size": (2, 9)}, {"size": (10, 12)}], ids=str)
def test_interpolate_nearest_2d(dtype, mode, kw):
    compare(lambda a: F.interpolate(a, mode=mode, **kw),
            lambda a: TF.interpolate(a, mode=mode, **kw), [rand((2, 2, 5, 6), dtype, 0)],
            tol=_itol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_interpolate_nearest_index_arithmetic(dtype, mode):
    # Many sizes, so that products that torch floors in float32 land on integer boundaries.
    for n_in in (7, 13, 29):
        x = np.arange(1.0, n_in + 1.0, dtype=dtype).reshape(1, 1, n_in)
        for n_out in range(1, 3 * n_in + 2):
            compare(F.interpolate, TF.interpolate, [x], grad=False,
                    kwargs={"size": n_out, "mode": mode})
        for sf in np.linspace(0.1, 3.5, 35):
            if math.floor(n_in * sf) < 1:
                continue
            compare(F.interpolate, TF.interpolate, [x], grad=False,
                    kwargs={"scale_factor": float(sf), "mode": mode})


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("align", [True, False])
@pytest.mark.parametrize("kw", [{"size": 9}, {"size": 3}, {"size": 5}, {"size": 1},
                                {"scale_factor": 2}, {"scale_factor": 0.5},
                                {"scale_factor": 1.7}, {"scale_factor": 0.35},
                                {"scale_factor": 3.3}, {"scale_factor": 1.1}], ids=str)
def test_interpolate_linear(dtype, align, kw):
    compare(lambda a: F.interpolate(a, mode="linear", align_corners=align, **kw),
            lambda a: TF.interpolate(a, mode="linear", align_corners=align, **kw),
            [rand((2, 3, 5), dtype, 0)], tol=_itol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("align", [True, False])
@pytest.mark.parametrize("kw", [{"size": (7, 3)}, {"size": 8}, {"scale_factor": (2, 1.5)},
                                {"scale_factor": 0.6}, {"scale_factor": (1.3, 2.7)},
                                {"size": (1, 9)}], ids=str)
def test_interpolate_bilinear(dtype, align, kw):
    compare(lambda a: F.interpolate(a, mode="bilinear", align_corners=align, **kw),
            lambda a: TF.interpolate(a, mode="bilinear", align_corners=align, **kw),
            [rand((2, 2, 5, 6), dtype, 0)], tol=_itol(dtype))


def test_interpolate_recompute_scale_factor_and_errors():
    x = rand((1, 2, 5, 6))
    for mode, ac in (("nearest", None), ("bilinear", False)):
        compare(F.interpolate, TF.interpolate, [x],
                kwargs={"scale_factor": 1.7, "mode": mode, "align_corners": ac,
                        "recompute_scale_factor": True})
    lx = lucid.tensor(x)
    with pytest.raises(ValueError):
        F.interpolate(lx)
    with pytest.raises(ValueError):
        F.interpolate(lx, size=3, scale_factor=2)
    with pytest.raises(ValueError):
        F.interpolate(lx, size=3, mode="nearest", align_corners=True)
    with pytest.raises(ShapeError):
        F.interpolate(lx, size=3, mode="linear")
    with pytest.raises(ShapeError):
        F.interpolate(lx, size=(3, 4, 5))
    with pytest.raises(ValueError):
        F.interpolate(lx, size=3, mode="bicubic")
    with pytest.raises(ValueError):
        F.interpolate(lx, size=3, recompute_scale_factor=True)


def test_interpolate_trilinear():
    x = rand((1, 2, 3, 4, 2))
    for align in (True, False):
        compare(F.interpolate, TF.interpolate, [x],
                kwargs={"size": (5, 3, 4), "mode": "trilinear", "align_corners": align})


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,r", [((1, 8, 2, 3), 2), ((2, 3, 9, 2, 2), 3), ((4, 1, 1), 2)])
def test_pixel_shuffle_roundtrip(dtype, shape, r):
    x = rand(shape, dtype, 0)
    compare(lambda a: F.pixel_shuffle(a, r), lambda a: TF.pixel_shuffle(a, r), [x])
    y = np.asarray(TF.pixel_shuffle(torch.tensor(x), r))
    compare(lambda a: F.pixel_unshuffle(a, r), lambda a: TF.pixel_unshuffle(a, r), [y])
    with pytest.raises(ShapeError):
        F.pixel_shuffle(lucid.ones(1, 3, 2, 2), 2)


def test_upsample_alias():
    x = rand((1, 2, 3, 4))
    compare(lambda a: F.upsample(a, scale_factor=2, mode="bilinear", align_corners=True),
            lambda a: TF.interpolate(a, scale_factor=2, mode="bilinear", align_corners=True),
            [x])


# ============================================================================ distances


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("s1,s2,dim", [((3, 4), (3, 4), 1), ((3, 4), (1, 4), 1),
                                       ((2, 3, 4), (2, 3, 4), -1), ((5,), (5,), 0),
                                       ((2, 3, 4), (3, 1), 0)])
def test_cosine_similarity(dtype, s1, s2, dim):
    compare(F.cosine_similarity, TF.cosine_similarity,
            [rand(s1, dtype, 0), rand(s2, dtype, 1)], kwargs={"dim": dim})


def test_cosine_similarity_zero_and_tiny_vectors():
    x1 = rand((3, 4), np.float64, 0)
    x2 = rand((3, 4), np.float64, 1)
    x1[0] = 0.0
    x2[1] = 1e-10  # norm below eps: clamped in the forward pass, not in the gradient
    compare(F.cosine_similarity, TF.cosine_similarity, [x1, x2])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("s1,s2", [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 3, 4), (2, 3, 4))])
@pytest.mark.parametrize("keepdim", [False, True])
def test_pairwise_distance(dtype, s1, s2, keepdim):
    for p in [1.0, 2.0, 3.0]:
        compare(F.pairwise_distance, TF.pairwise_distance, [rand(s1, dtype, 0), rand(s2, dtype, 1)],
                kwargs={"p": p, "keepdim": keepdim})


# ============================================================================ losses

REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,lf,tf,kw", [
    ("mse", F.mse_loss, TF.mse_loss, {}),
    ("l1", F.l1_loss, TF.l1_loss, {}),
    ("huber", F.huber_loss, TF.huber_loss, {}),
    ("huber_delta", F.huber_loss, TF.huber_loss, {"delta": 0.3}),
    ("smooth_l1", F.smooth_l1_loss, TF.smooth_l1_loss, {}),
    ("smooth_l1_beta", F.smooth_l1_loss, TF.smooth_l1_loss, {"beta": 0.4}),
    ("smooth_l1_beta0", F.smooth_l1_loss, TF.smooth_l1_loss, {"beta": 0.0}),
], ids=lambda v: v if isinstance(v, str) else "")
def test_regression_losses(dtype, reduction, name, lf, tf, kw):
    for shape in [(), (5,), (3, 4), (2, 3, 2)]:
        x, t = rand(shape, dtype, 0), rand(shape, dtype, 1)
        compare(lf, tf, [x, t], kwargs=dict(reduction=reduction, **kw))


@pytest.mark.parametrize("name,lf,tf,kw", [
    ("l1", F.l1_loss, TF.l1_loss, {}),
    ("huber", F.huber_loss, TF.huber_loss, {"delta": 0.5}),
    ("smooth_l1", F.smooth_l1_loss, TF.smooth_l1_loss, {"beta": 0.5}),
    ("smooth_l1_beta0", F.smooth_l1_loss, TF.smooth_l1_loss, {"beta": 0.0}),
])
def test_regression_losses_at_kinks(name, lf, tf, kw):
    # Differences of exactly 0 and +-delta/beta: torch's gradient conventions.
    x = np.array([0.0, 0.5, -0.5, 1.0, 2.0, -3.0])
    t = np.array([0.0, 0.0, 0.0, 0.5, 2.0, -2.5])
    compare(lf, tf, [x, t], kwargs=dict(reduction="sum", **kw))


@pytest.mark.parametrize("fn", [F.mse_loss, F.l1_loss, F.huber_loss, F.smooth_l1_loss,
                                F.binary_cross_entropy, F.binary_cross_entropy_with_logits])
def test_loss_shape_mismatch_names_both_shapes(fn):
    x, t = lucid.rand(3, 4), lucid.rand(4, 3)
    with pytest.raises(ShapeError, match=r"\[3, 4\].*\[4, 3\]"):
        fn(x, t)
    with pytest.raises(ShapeError, match=r"\[3, 4\].*\[3\]"):
        fn(x, lucid.rand(3))


def test_loss_argument_errors():
    x = lucid.rand(3)
    with pytest.raises(ValueError):
        F.huber_loss(x, x, delta=0.0)
    with pytest.raises(ValueError):
        F.smooth_l1_loss(x, x, beta=-1.0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(lucid.tensor([0.5, 1.5]), lucid.tensor([0.0, 1.0]))


def test_bad_reduction():
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(lucid.ones(2), lucid.ones(2), reduction="avg")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy(dtype, weighted):
    for reduction in REDUCTIONS:
        p = rand((4, 3), dtype, 0, 0.02, 0.98)
        p[0, :] = [1e-6, 1 - 1e-6, 0.5]
        t = rand((4, 3), dtype, 1, 0.0, 1.0)
        t[1, :] = [0.0, 1.0, 1.0]
        w = rand((3,), dtype, 2, 0.1, 2.0) if weighted else None
        tol = {"atol": 1e-4, "rtol": 1e-4} if dtype == np.float32 else None
        compare(lambda a, b, c: F.binary_cross_entropy(a, b, c, reduction=reduction),
                lambda a, b, c: TF.binary_cross_entropy(a, b, c, reduction=reduction),
                [p, t, w], grad_args=[0, 1], tol=tol)  # torch does not differentiate weight


def test_binary_cross_entropy_at_exact_zero_and_one():
    p = np.array([0.0, 1.0, 0.0, 1.0])
    t = np.array([0.0, 1.0, 1.0, 0.0])
    lo = F.binary_cross_entropy(lucid.tensor(p), lucid.tensor(t), reduction="none")
    to = TF.binary_cross_entropy(torch.tensor(p), torch.tensor(t), reduction="none")
    np.testing.assert_allclose(lo.numpy(), to.numpy())  # log clamped at -100, like torch
    x = lucid.tensor(p, requires_grad=True)
    F.binary_cross_entropy(x, lucid.tensor(t)).backward()
    assert np.all(np.isfinite(x.grad.numpy()))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos_weighted", [False, True])
def test_bce_with_logits(dtype, weighted, pos_weighted):
    for reduction in REDUCTIONS:
        x = rand((4, 3), dtype, 0, -4, 4)
        x[0, :] = [1e4, -1e4, 0.0]
        t = rand((4, 3), dtype, 1, 0.0, 1.0)
        t[1, :] = [0.0, 1.0, 0.5]
        w = rand((4, 1), dtype, 2, 0.1, 2.0) if weighted else None
        pw = rand((3,), dtype, 3, 0.5, 3.0) if pos_weighted else None
        lo, _ = compare(lambda a, b, c, d: F.binary_cross_entropy_with_logits(
                            a, b, c, reduction=reduction, pos_weight=d),
                        lambda a, b, c, d: TF.binary_cross_entropy_with_logits(
                            a, b, c, reduction=reduction, pos_weight=d), [x, t, w, pw],
                        grad_args=[0, 1])  # torch does not differentiate weight / pos_weight
        assert np.all(np.isfinite(lo.detach().numpy()))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2)])
def test_kl_div(dtype, log_target, shape):
    for reduction in [*REDUCTIONS, "batchmean"]:
        inp = np.log(rand(shape, dtype, 0, 0.05, 1.0))
        if log_target:
            tgt = np.log(rand(shape, dtype, 1, 0.05, 1.0))
        else:
            tgt = rand(shape, dtype, 1, 0.05, 1.0)
            tgt[0, 0] = 0.0  # 0 * log(0) = 0
        compare(F.kl_div, TF.kl_div, [inp, tgt], grad_args=[0],
                kwargs={"reduction": reduction, "log_target": log_target})
        tgt[0, 0] = 0.5 if not log_target else tgt[0, 0]
        compare(F.kl_div, TF.kl_div, [inp, tgt],
                kwargs={"reduction": reduction, "log_target": log_target})


def _nll_case(dtype, shape, seed=0, ignore=None):
    c = shape[0] if len(shape) == 1 else shape[1]
    logits = rand(shape, dtype, seed, -3, 3)
    tshape = () if len(shape) == 1 else (shape[0], *shape[2:])
    t = rng(seed + 1).integers(0, c, size=tshape)
    if ignore is not None and t.ndim:
        t.reshape(-1)[::3] = ignore
    return logits, t, c


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4,), (5, 4), (3, 4, 2), (2, 4, 3, 2)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [-100, 1])
def test_nll_loss(dtype, shape, weighted, ignore_index):
    logits, t, c = _nll_case(dtype, shape, ignore=ignore_index)
    cdim = 0 if len(shape) == 1 else 1
    logp = (logits - np.log(np.exp(logits).sum(axis=cdim, keepdims=True))).astype(dtype)
    w = rand((c,), dtype, 7, 0.2, 2.0) if weighted else None
    for reduction in REDUCTIONS:
        # equal_nan: an unbatched target equal to ignore_index gives 0 / 0, like torch.
        compare(F.nll_loss, TF.nll_loss, [logp, t, w], grad_args=[0], equal_nan=True,
                kwargs={"ignore_index": ignore_index, "reduction": reduction})


def test_nll_loss_errors():
    with pytest.raises(ShapeError, match=r"\[3\].*\[2, 4\]"):
        F.nll_loss(lucid.rand(2, 4), lucid.tensor([0, 1, 2]))
    with pytest.raises(IndexError):
        F.nll_loss(lucid.rand(2, 4), lucid.tensor([0, 4]))
    with pytest.raises(TypeError):
        F.nll_loss(lucid.rand(2, 4), lucid.tensor([0.0, 1.0]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4,), (5, 4), (3, 4, 2), (2, 4, 3, 2)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_class_indices(dtype, shape, weighted, smoothing):
    for reduction in REDUCTIONS:
        logits, t, c = _nll_case(dtype, shape, ignore=2)
        w = rand((c,), dtype, 7, 0.2, 2.0) if weighted else None
        for ignore_index in (-100, 2):
            tt = np.where(t == 2, 0, t) if ignore_index == -100 else t
            compare(F.cross_entropy, TF.cross_entropy, [logits, tt, w], grad_args=[0],
                    kwargs={"ignore_index": ignore_index, "reduction": reduction,
                            "label_smoothing": smoothing}, equal_nan=True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4,), (5, 4), (2, 4, 3, 2)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_probability_targets(dtype, shape, weighted, smoothing):
    for reduction in REDUCTIONS:
        cdim = 0 if len(shape) == 1 else 1
        logits = rand(shape, dtype, 0, -3, 3)
        raw = rand(shape, dtype, 1, 0.0, 1.0)
        probs = (raw / raw.sum(axis=cdim, keepdims=True)).astype(dtype)
        w = rand((shape[cdim],), dtype, 7, 0.2, 2.0) if weighted else None
        compare(lambda a, b, wt: F.cross_entropy(a, b, wt, reduction=reduction,
                                                label_smoothing=smoothing),
                lambda a, b, wt: TF.cross_entropy(a, b, wt, reduction=reduction,
                                                 label_smoothing=smoothing),
                [logits, probs, w], grad_args=[0, 1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_huge_logits_are_finite(dtype):
    x = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 1e4], [0.0, 0.0, 0.0]], dtype=dtype)
    t = np.array([0, 2, 1])
    for tt in (t, np.eye(3, dtype=dtype)[[2, 0, 1]]):
        lo, _ = compare(F.cross_entropy, TF.cross_entropy, [x, tt], grad_args=[0])
        assert np.isfinite(lo.item())


def test_cross_entropy_errors():
    with pytest.raises(ValueError):
        F.cross_entropy(lucid.rand(2, 3), lucid.tensor([0, 1]), label_smoothing=1.5)
    with pytest.raises(ShapeError, match=r"\[2, 3\].*\[2, 4\]"):
        F.cross_entropy(lucid.rand(2, 3), lucid.rand(2, 4))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll_loss(dtype, log_input, full):
    for reduction in REDUCTIONS:
        x = rand((4, 3), dtype, 0, -1, 1) if log_input else rand((4, 3), dtype, 0, 0.1, 3)
        t = np.floor(rand((4, 3), dtype, 1, 0, 5)).astype(dtype)
        compare(F.poisson_nll_loss, TF.poisson_nll_loss, [x, t], grad_args=[0],
                kwargs={"log_input": log_input, "full": full, "reduction": reduction})


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("vshape", [(4, 3), (4, 1), (4,)])
@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll_loss(dtype, vshape, full):
    for reduction in REDUCTIONS:
        x, t = rand((4, 3), dtype, 0), rand((4, 3), dtype, 1)
        var = rand(vshape, dtype, 2, 0.1, 2.0)
        var.reshape(-1)[0] = 1e-9  # below eps: clamped, and torch ignores the clamp in backward
        compare(lambda a, b, v: F.gaussian_nll_loss(a, b, v, full=full, reduction=reduction),
                lambda a, b, v: TF.gaussian_nll_loss(a, b, v, full=full, reduction=reduction),
                [x, t, var], tol={"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else None)
        with pytest.raises(ValueError):
            F.gaussian_nll_loss(lucid.tensor(x), lucid.tensor(t), lucid.tensor(-np.ones((4, 3))))
        with pytest.raises(ShapeError):
            F.gaussian_nll_loss(lucid.tensor(x), lucid.tensor(t), lucid.ones(4, 2))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_and_embedding_losses(dtype, reduction):
    x1, x2 = rand((6,), dtype, 0), rand((6,), dtype, 1)
    y = np.array([1, -1, 1, -1, 1, -1], dtype=dtype)
    kw = {"reduction": reduction}
    compare(lambda a, b, c: F.margin_ranking_loss(a, b, c, margin=0.3, **kw),
            lambda a, b, c: TF.margin_ranking_loss(a, b, c, margin=0.3, **kw), [x1, x2, y],
            grad_args=[0, 1])
    compare(lambda a, c: F.hinge_embedding_loss(a, c, margin=0.5, **kw),
            lambda a, c: TF.hinge_embedding_loss(a, c, margin=0.5, **kw), [x1, y],
            grad_args=[0])
    xl = rand((6,), dtype, 2, -4, 4)
    xl[0] = 1e4
    compare(lambda a, c: F.soft_margin_loss(a, c, **kw),
            lambda a, c: TF.soft_margin_loss(a, c, **kw), [xl[1:], y[1:]], grad_args=[0])
    lo = F.soft_margin_loss(lucid.tensor(-xl), lucid.tensor(y), **kw)
    assert np.all(np.isfinite(lo.numpy()))
    e1, e2 = rand((6, 4), dtype, 3), rand((6, 4), dtype, 4)
    compare(lambda a, b, c: F.cosine_embedding_loss(a, b, c, margin=0.1, **kw),
            lambda a, b, c: TF.cosine_embedding_loss(a, b, c, margin=0.1, **kw), [e1, e2, y],
            grad_args=[0, 1])
    n = rand((6, 4), dtype, 5)
    for swap in (False, True):
        compare(F.triplet_margin_loss, TF.triplet_margin_loss, [e1, e2, n],
                kwargs={"margin": 0.5, "swap": swap, **kw})


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_soft_margin_loss(dtype, weighted):
    for reduction in REDUCTIONS:
        x = rand((4, 5), dtype, 0, -4, 4)
        t = (rng(1).random((4, 5)) > 0.5).astype(dtype)
        w = rand((5,), dtype, 2, 0.2, 2) if weighted else None
        compare(lambda a, b, c: F.multilabel_soft_margin_loss(a, b, c, reduction=reduction),
                lambda a, b, c: TF.multilabel_soft_margin_loss(a, b, c, reduction=reduction),
                [x, t, w], grad_args=[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(5, 4), (4,)])
def test_multi_margin_loss(dtype, p, weighted, shape):
    for reduction in REDUCTIONS:
        x = rand(shape, dtype, 0)
        t = rng(1).integers(0, 4, size=shape[:-1])
        w = rand((4,), dtype, 2, 0.2, 2) if weighted else None
        compare(lambda a, b, c: F.multi_margin_loss(a, b, p, 0.7, c, reduction=reduction),
                lambda a, b, c: TF.multi_margin_loss(a, b, p, 0.7, c, reduction=reduction),
                [x, t, w], grad_args=[0])


# ============================================================================ conv / pool (light)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_and_pool_reexports(dtype):
    x = rand((2, 3, 6, 6), dtype, 0)
    w = rand((4, 3, 3, 3), dtype, 1)
    b = rand((4,), dtype, 2)
    compare(lambda a, wt, bs: F.conv2d(a, wt, bs, padding=1),
            lambda a, wt, bs: TF.conv2d(a, wt, bs, padding=1), [x, w, b])
    compare(lambda a: F.max_pool2d(a, 2), lambda a: TF.max_pool2d(a, 2), [x])
    compare(lambda a: F.avg_pool2d(a, 2), lambda a: TF.avg_pool2d(a, 2), [x])
    compare(lambda a: F.pad(a, (1, 2)), lambda a: TF.pad(a, (1, 2)), [x])
    x1 = rand((2, 3, 8), dtype, 3)
    compare(lambda a, wt: F.conv1d(a, wt), lambda a, wt: TF.conv1d(a, wt),
            [x1, rand((2, 3, 3), dtype, 4)])


def test_all_exports_exist():
    for name in F.__all__:
        assert callable(getattr(F, name)), name


# ============================================================================ gradcheck


def _gc_inputs(*shapes, seed=0, low=-2.0, high=2.0):
    return [g64(rand(s, np.float64, seed + i, low, high)) for i, s in enumerate(shapes)]


GRADCHECK = [
    ("linear", lambda x, w, b: F.linear(x, w, b), [(3, 4), (2, 4), (2,)]),
    ("bilinear", lambda a, b, w: F.bilinear(a, b, w), [(2, 3), (2, 2), (2, 3, 2)]),
    ("elu", lambda x: F.elu(x, 0.7), [(3, 4)]),
    ("selu", F.selu, [(3, 4)]),
    ("gelu", F.gelu, [(3, 4)]),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), [(3, 4)]),
    ("silu", F.silu, [(3, 4)]),
    ("mish", F.mish, [(3, 4)]),
    ("softplus", lambda x: F.softplus(x, beta=1.5, threshold=2.0), [(3, 4)]),
    ("logsigmoid", F.logsigmoid, [(3, 4)]),
    ("softmax", lambda x: F.softmax(x, 1), [(3, 4)]),
    ("log_softmax", lambda x: F.log_softmax(x, 0), [(3, 4)]),
    ("softmin", lambda x: F.softmin(x, -1), [(3, 4)]),
    ("normalize", lambda x: F.normalize(x, 3.0, 1), [(3, 4)]),
    ("layer_norm", lambda x, w, b: F.layer_norm(x, (3, 4), w, b), [(2, 3, 4), (3, 4), (3, 4)]),
    ("group_norm", lambda x, w, b: F.group_norm(x, 2, w, b), [(2, 4, 3), (4,), (4,)]),
    ("batch_norm", lambda x, w, b: F.batch_norm(x, None, None, w, b, True),
     [(4, 3, 2), (3,), (3,)]),
    ("sdpa", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
     [(2, 3, 4), (2, 3, 4), (2, 3, 2)]),
    ("bilinear_interp", lambda x: F.interpolate(x, size=(3, 5), mode="bilinear"),
     [(1, 2, 4, 3)]),
    ("mse", F.mse_loss, [(3, 4), (3, 4)]),
    ("huber", lambda a, b: F.huber_loss(a, b, delta=0.5), [(3, 4), (3, 4)]),
    ("bce_logits", lambda a, b, w, pw: F.binary_cross_entropy_with_logits(
        a, b, w, pos_weight=pw), [(3, 4), (3, 4), (3, 1), (4,)]),
    ("kl_div_log_target", lambda a, b: F.kl_div(a, b, "batchmean", log_target=True),
     [(3, 4), (3, 4)]),
    ("prelu", F.prelu, [(2, 3, 2), (3,)]),
    ("glu", lambda x: F.glu(x, 1), [(2, 4, 3)]),
    ("softsign", F.softsign, [(3, 4)]),
    ("instance_norm", lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
     [(2, 3, 4), (3,), (3,)]),
    ("rms_norm", lambda x, w: F.rms_norm(x, (4,), w), [(3, 4), (4,)]),
    ("cosine_similarity", F.cosine_similarity, [(3, 4), (3, 4)]),
    ("triplet", F.triplet_margin_loss, [(3, 4), (3, 4), (3, 4)]),
    ("gaussian_nll", lambda a, b, v: F.gaussian_nll_loss(a, b, v * v + 0.1),
     [(3, 4), (3, 4), (3, 1)]),
    ("pixel_shuffle", lambda x: F.pixel_shuffle(x, 2), [(1, 4, 2, 3)]),
]


@pytest.mark.parametrize("name,fn,shapes", GRADCHECK, ids=[g[0] for g in GRADCHECK])
def test_gradcheck(name, fn, shapes):
    assert gradcheck(fn, _gc_inputs(*shapes))


def test_gradcheck_probability_losses():
    p = g64(rand((3, 4), np.float64, 0, 0.1, 0.9))
    t = g64(rand((3, 4), np.float64, 1, 0.0, 1.0))
    w = g64(rand((4,), np.float64, 2, 0.5, 1.5))
    assert gradcheck(lambda a, b, c: F.binary_cross_entropy(a, b, c), [p, t, w])
    tgt = lucid.tensor([0, 3, 1])
    x = g64(rand((3, 4)))
    assert gradcheck(lambda a, c: F.cross_entropy(a, tgt, c, label_smoothing=0.1), [x, w])
    assert gradcheck(lambda a, c: F.nll_loss(a, tgt, c), [x, w])
    probs = g64(rand((3, 4), np.float64, 3, 0.1, 1.0))
    assert gradcheck(lambda a, b: F.cross_entropy(a, b), [x, probs])


GRADGRAD = [
    ("softmax", lambda x: F.softmax(x, -1), [(3, 4)]),
    ("log_softmax", lambda x: F.log_softmax(x, 1), [(2, 3, 2)]),
    ("gelu", F.gelu, [(3, 4)]),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), [(3, 4)]),
    ("layer_norm", lambda x, w, b: F.layer_norm(x, (4,), w, b), [(3, 4), (4,), (4,)]),
    ("mse", F.mse_loss, [(3, 4), (3, 4)]),
    ("softplus", F.softplus, [(3, 4)]),
]


@pytest.mark.parametrize("name,fn,shapes", GRADGRAD, ids=[g[0] for g in GRADGRAD])
def test_gradgradcheck(name, fn, shapes):
    assert gradgradcheck(fn, _gc_inputs(*shapes))


def test_gradgradcheck_cross_entropy():
    tgt = lucid.tensor([0, 3, 1])
    w = lucid.tensor(rand((4,), np.float64, 2, 0.5, 1.5))
    x = g64(rand((3, 4)))
    assert gradgradcheck(lambda a: F.cross_entropy(a, tgt, w, label_smoothing=0.1), [x])
    probs = g64(rand((3, 4), np.float64, 3, 0.1, 1.0))
    assert gradgradcheck(lambda a, b: F.cross_entropy(a, b), [x, probs])


def test_second_derivative_matches_torch():
    # Hessian-vector products of cross_entropy and gelu against torch.
    x = rand((3, 4))
    t = np.array([1, 0, 3])
    v = rand((3, 4), np.float64, 9)
    lx = g64(x)
    (g,) = lucid.autograd.grad([F.cross_entropy(F.gelu(lx), lucid.tensor(t))], [lx],
                               create_graph=True)
    (hv,) = lucid.autograd.grad([(g * lucid.tensor(v)).sum()], [lx])
    tx = torch.tensor(x, requires_grad=True)
    (tg,) = torch.autograd.grad(TF.cross_entropy(TF.gelu(tx), torch.tensor(t)), tx,
                                create_graph=True)
    (thv,) = torch.autograd.grad((tg * torch.tensor(v)).sum(), tx)
    np.testing.assert_allclose(hv.numpy(), thv.numpy(), rtol=1e-8, atol=1e-10)
