"""Tests of the loss modules of ``lucid.nn`` against ``torch.nn``: every reduction and option,
values and gradients (with respect to the input and, where torch defines one, the target)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lucid
import lucid.nn as nn
from lucid.testing import gradcheck

tnn = torch.nn
REDUCTIONS = ["mean", "sum", "none"]


def _np(t: Any) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t.detach().numpy()


def _opt(value: Any) -> tuple[Any, Any]:
    """A keyword value for (lucid, torch): arrays become tensors of each library."""
    if isinstance(value, np.ndarray):
        return lucid.tensor(value), torch.tensor(value)
    return value, value


def _check(name: str, x: np.ndarray, target: np.ndarray, rtol: float = 1e-7,
           atol: float = 1e-10, target_grad: bool = False, **kwargs: Any) -> lucid.Tensor:
    """Compare ``name(**kwargs)(x, target)`` of both libraries: value, input gradient and (with
    ``target_grad``) target gradient. Returns lucid's loss."""
    lkw = {k: _opt(v)[0] for k, v in kwargs.items()}
    tkw = {k: _opt(v)[1] for k, v in kwargs.items()}
    lm, tm = getattr(nn, name)(**lkw), getattr(tnn, name)(**tkw)
    assert repr(lm) == repr(tm)
    floating_t = target.dtype.kind == "f"
    lx, tx = lucid.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    lt = lucid.tensor(target, requires_grad=target_grad and floating_t)
    tt = torch.tensor(target, requires_grad=target_grad and floating_t)
    lo, to = lm(lx, lt), tm(tx, tt)
    assert tuple(lo.shape) == tuple(to.shape)
    assert lo.dtype == lucid.float64
    np.testing.assert_allclose(_np(lo), _np(to), rtol=rtol, atol=atol, err_msg="loss")
    g = np.random.default_rng(7).standard_normal(tuple(to.shape))
    lo.backward(lucid.tensor(g))
    to.backward(torch.tensor(g))
    np.testing.assert_allclose(_np(lx.grad), _np(tx.grad), rtol=rtol, atol=atol,
                               err_msg="input grad")
    if target_grad and floating_t:
        np.testing.assert_allclose(_np(lt.grad), _np(tt.grad), rtol=rtol, atol=atol,
                                   err_msg="target grad")
    return lo


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ---------------------------------------------------------------- regression losses


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 4), (5,), ()])
def test_mse_and_l1(reduction: str, shape: tuple[int, ...]) -> None:
    r = _rng(1)
    x, t = r.standard_normal(shape), r.standard_normal(shape)
    for name in ("MSELoss", "L1Loss"):
        _check(name, x, t, reduction=reduction, target_grad=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [1.0, 0.3, 2.5])
def test_huber(reduction: str, delta: float) -> None:
    r = _rng(2)
    x, t = r.standard_normal((4, 5)) * 2, r.standard_normal((4, 5))
    _check("HuberLoss", x, t, reduction=reduction, delta=delta, target_grad=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [1.0, 0.5, 0.0])
def test_smooth_l1(reduction: str, beta: float) -> None:
    r = _rng(3)
    x, t = r.standard_normal((4, 5)) * 2, r.standard_normal((4, 5))
    _check("SmoothL1Loss", x, t, reduction=reduction, beta=beta, target_grad=True)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")  # torch's note
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction: str, log_target: bool) -> None:
    r = _rng(4)
    logits = r.standard_normal((3, 5))
    x = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    p = r.dirichlet(np.ones(5), size=3)
    p[0, 1] = 0.0  # 0 * log 0 = 0
    t = np.log(p + 1e-3) if log_target else p
    _check("KLDivLoss", x, t, reduction=reduction, log_target=log_target,
           target_grad=log_target)


# ---------------------------------------------------------------- binary cross-entropy


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce(reduction: str, weighted: bool) -> None:
    r = _rng(5)
    x = r.uniform(0.05, 0.95, (4, 3))
    t = r.uniform(0, 1, (4, 3))
    t[0] = [0.0, 1.0, 1.0]
    kwargs: dict[str, Any] = {"reduction": reduction}
    if weighted:
        kwargs["weight"] = r.uniform(0.5, 2.0, (3,))
    _check("BCELoss", x, t, **kwargs)


def test_bce_saturated_inputs_are_clamped() -> None:
    # log(0) is clamped at -100, as in PyTorch: the loss stays finite.
    x = np.array([0.0, 1.0, 0.0, 1.0])
    t = np.array([1.0, 0.0, 0.0, 1.0])
    lo = nn.BCELoss(reduction="none")(lucid.tensor(x), lucid.tensor(t))
    to = tnn.BCELoss(reduction="none")(torch.tensor(x), torch.tensor(t))
    np.testing.assert_allclose(lo.numpy(), to.numpy())
    np.testing.assert_allclose(lo.numpy(), [100.0, 100.0, 0.0, 0.0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", ["plain", "weight", "pos_weight", "both"])
def test_bce_with_logits(reduction: str, options: str) -> None:
    r = _rng(6)
    x = r.standard_normal((4, 3)) * 3
    t = r.uniform(0, 1, (4, 3))
    t[1] = [0.0, 1.0, 0.0]
    kwargs: dict[str, Any] = {"reduction": reduction}
    if options in ("weight", "both"):
        kwargs["weight"] = r.uniform(0.5, 2.0, (4, 1))
    if options in ("pos_weight", "both"):
        kwargs["pos_weight"] = np.array([0.5, 1.0, 3.0])
    _check("BCEWithLogitsLoss", x, t, target_grad=True, **kwargs)


def test_bce_with_logits_extreme_logits_stay_finite() -> None:
    x = np.array([[1e4, -1e4, 50.0], [-1e4, 1e4, -50.0]])
    t = np.array([[1.0, 0.0, 1.0], [1.0, 0.0, 0.5]])
    for pos_weight in (None, np.array([2.0, 0.5, 1.0])):
        kwargs = {} if pos_weight is None else {"pos_weight": pos_weight}
        lo = _check("BCEWithLogitsLoss", x, t, reduction="none", **kwargs)
        assert np.isfinite(lo.detach().numpy()).all()


# ---------------------------------------------------------------- NLL / cross-entropy


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(5, 4), (2, 4, 3, 2), (4,)])
def test_nll_loss(reduction: str, weighted: bool, shape: tuple[int, ...]) -> None:
    r = _rng(8)
    logits = r.standard_normal(shape)
    cdim = 0 if len(shape) == 1 else 1
    x = logits - np.log(np.exp(logits).sum(cdim, keepdims=True))
    tshape = () if len(shape) == 1 else (shape[0], *shape[2:])
    t = r.integers(0, shape[cdim], tshape)
    kwargs: dict[str, Any] = {"reduction": reduction}
    if weighted:
        kwargs["weight"] = r.uniform(0.5, 2.0, (shape[cdim],))
    _check("NLLLoss", x, t, **kwargs)
    if t.ndim:
        t2 = t.copy()
        t2.flat[0] = 1 if t2.flat[0] != 1 else 2
        t2.flat[-1] = -100
        _check("NLLLoss", x, t2, **kwargs)  # default ignore_index
        _check("NLLLoss", x, t, ignore_index=int(t.flat[0]), **kwargs)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.35])
@pytest.mark.parametrize("shape", [(5, 4), (2, 4, 3), (4,)])
def test_cross_entropy_class_indices(reduction: str, weighted: bool, smoothing: float,
                                     shape: tuple[int, ...]) -> None:
    r = _rng(9)
    x = r.standard_normal(shape) * 2
    cdim = 0 if len(shape) == 1 else 1
    tshape = () if len(shape) == 1 else (shape[0], *shape[2:])
    t = r.integers(0, shape[cdim], tshape)
    kwargs: dict[str, Any] = {"reduction": reduction, "label_smoothing": smoothing}
    if weighted:
        kwargs["weight"] = r.uniform(0.5, 2.0, (shape[cdim],))
    _check("CrossEntropyLoss", x, t, **kwargs)
    if t.ndim:  # ignore_index, custom and default
        t2 = t.copy()
        t2.flat[0] = -100
        _check("CrossEntropyLoss", x, t2, **kwargs)
        _check("CrossEntropyLoss", x, t, ignore_index=int(t.flat[-1]), **kwargs)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("shape", [(5, 4), (2, 4, 3), (4,)])
def test_cross_entropy_probabilities(reduction: str, weighted: bool, smoothing: float,
                                     shape: tuple[int, ...]) -> None:
    r = _rng(10)
    x = r.standard_normal(shape) * 2
    cdim = 0 if len(shape) == 1 else 1
    p = np.moveaxis(r.dirichlet(np.ones(shape[cdim]), size=int(np.prod(shape)) // shape[cdim]),
                    -1, 0).reshape((shape[cdim], -1))
    t = np.moveaxis(p.reshape((shape[cdim], *(s for i, s in enumerate(shape) if i != cdim))),
                    0, cdim)
    kwargs: dict[str, Any] = {"reduction": reduction, "label_smoothing": smoothing}
    if weighted:
        kwargs["weight"] = r.uniform(0.5, 2.0, (shape[cdim],))
    _check("CrossEntropyLoss", x, np.ascontiguousarray(t), target_grad=True, **kwargs)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 4), c=st.integers(2, 5), extra=st.sampled_from([(), (3,), (2, 2)]),
    reduction=st.sampled_from(REDUCTIONS), smoothing=st.sampled_from([0.0, 0.15]),
    weighted=st.booleans(), n_ignored=st.integers(0, 2), seed=st.integers(0, 10_000),
)
def test_cross_entropy_random_configurations(n: int, c: int, extra: tuple[int, ...],
                                             reduction: str, smoothing: float, weighted: bool,
                                             n_ignored: int, seed: int) -> None:
    r = _rng(seed)
    x = r.standard_normal((n, c, *extra)) * 3
    t = r.integers(0, c, (n, *extra))
    flat = t.reshape(-1)
    flat[: min(n_ignored, flat.size - 1)] = 1  # ignored below, keep one target at least
    kwargs: dict[str, Any] = {"reduction": reduction, "label_smoothing": smoothing,
                              "ignore_index": 1}
    if weighted:
        kwargs["weight"] = r.uniform(0.5, 2.0, (c,))
    if (t != 1).any():
        _check("CrossEntropyLoss", x, t, **kwargs)


def test_cross_entropy_large_logits_stay_finite() -> None:
    x = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 3.0], [5.0, 5.0, 1e4]])
    t = np.array([0, 2, 1])
    for kwargs in ({}, {"label_smoothing": 0.1}, {"weight": np.array([1.0, 2.0, 0.5])}):
        lo = _check("CrossEntropyLoss", x, t, reduction="none", **kwargs)
        assert np.isfinite(lo.detach().numpy()).all()
    probs = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0], [0.2, 0.3, 0.5]])
    lo = _check("CrossEntropyLoss", x, probs, reduction="sum")
    assert np.isfinite(lo.detach().numpy()).all()


def test_cross_entropy_float32() -> None:
    r = _rng(11)
    x = r.standard_normal((6, 5)).astype(np.float32)
    t = r.integers(0, 5, 6)
    lo = nn.CrossEntropyLoss(label_smoothing=0.1)(lucid.tensor(x), lucid.tensor(t))
    to = tnn.CrossEntropyLoss(label_smoothing=0.1)(torch.tensor(x), torch.tensor(t))
    assert lo.dtype == lucid.float32
    np.testing.assert_allclose(lo.numpy(), to.numpy(), rtol=1e-6)


# ---------------------------------------------------------------- module behaviour


def test_weights_are_buffers() -> None:
    w = lucid.tensor([1.0, 2.0, 3.0])
    for name, kw in [("CrossEntropyLoss", {"weight": w}), ("NLLLoss", {"weight": w}),
                     ("BCELoss", {"weight": w}), ("BCEWithLogitsLoss", {"pos_weight": w})]:
        m = getattr(nn, name)(**kw)
        tm = getattr(tnn, name)(**{k: torch.tensor(v.numpy()) for k, v in kw.items()})
        assert list(m.state_dict()) == list(tm.state_dict())
        assert dict(m.named_buffers()).keys() == dict(tm.named_buffers()).keys()
        assert list(m.parameters()) == []
        m.double()
        for b in m.buffers():
            assert b.dtype == lucid.float64
    assert nn.CrossEntropyLoss().weight is None
    assert list(nn.CrossEntropyLoss().state_dict()) == []
    m = nn.BCEWithLogitsLoss()
    assert m.weight is None and m.pos_weight is None


def test_loss_attributes_and_repr() -> None:
    pairs = [
        (nn.CrossEntropyLoss(ignore_index=3, label_smoothing=0.2, reduction="sum"),
         tnn.CrossEntropyLoss(ignore_index=3, label_smoothing=0.2, reduction="sum")),
        (nn.NLLLoss(ignore_index=0), tnn.NLLLoss(ignore_index=0)),
        (nn.HuberLoss(delta=0.5), tnn.HuberLoss(delta=0.5)),
        (nn.SmoothL1Loss(beta=0.1), tnn.SmoothL1Loss(beta=0.1)),
        (nn.KLDivLoss(reduction="batchmean", log_target=True),
         tnn.KLDivLoss(reduction="batchmean", log_target=True)),
        (nn.MSELoss(reduction="none"), tnn.MSELoss(reduction="none")),
        (nn.L1Loss(), tnn.L1Loss()), (nn.BCELoss(), tnn.BCELoss()),
    ]
    for lm, tm in pairs:
        assert repr(lm) == repr(tm)
        for attr in ("reduction", "ignore_index", "label_smoothing", "delta", "beta",
                     "log_target"):
            if hasattr(tm, attr):
                assert getattr(lm, attr) == getattr(tm, attr), (type(lm).__name__, attr)


@pytest.mark.parametrize("size_average,reduce", [(None, False), (False, None), (True, True),
                                                 (False, True), (True, False)])
def test_legacy_size_average_and_reduce(size_average: bool | None, reduce: bool | None) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tm = tnn.MSELoss(size_average=size_average, reduce=reduce)
    with pytest.warns(UserWarning, match="reduction"):
        lm = nn.MSELoss(size_average=size_average, reduce=reduce)
    assert lm.reduction == tm.reduction
    with pytest.warns(UserWarning):
        assert nn.CrossEntropyLoss(size_average=size_average, reduce=reduce).reduction == \
            tm.reduction


def test_invalid_reduction_and_shape_errors() -> None:
    x = lucid.randn(3, 4)
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")(x, x)
    with pytest.raises(lucid.errors.ShapeError):
        nn.L1Loss()(x, lucid.randn(4, 3))
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=1.5)(x, lucid.tensor([0, 1, 2]))


def test_losses_gradcheck() -> None:
    r = _rng(12)
    x = lucid.tensor(r.standard_normal((3, 4)), requires_grad=True)
    t_idx = lucid.tensor(np.array([1, 3, 0]))
    t_prob = lucid.tensor(r.dirichlet(np.ones(4), size=3))
    t_bin = lucid.tensor(r.uniform(0, 1, (3, 4)))
    w = lucid.tensor(r.uniform(0.5, 2, 4))
    checks = [
        (nn.CrossEntropyLoss(weight=w, label_smoothing=0.1), t_idx),
        (nn.CrossEntropyLoss(label_smoothing=0.3), t_prob),
        (nn.BCEWithLogitsLoss(pos_weight=w), t_bin),
        (nn.HuberLoss(delta=0.5), t_bin),
        (nn.SmoothL1Loss(beta=0.5), t_bin),
    ]
    for m, t in checks:
        gradcheck(lambda a, m=m, t=t: m(a, t), [x])
