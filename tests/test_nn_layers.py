"""Tests of the layer modules of ``lucid.nn`` (``lucid/nn/layers``) against ``torch.nn``.

Every layer is built in both libraries with the same arguments, torch's initialised parameters
are copied into the lucid layer (through ``load_state_dict``), and outputs, input gradients,
every parameter gradient and every buffer are compared; ``repr`` must equal torch's. Lazy
modules are checked on the seed document's examples, default initialisation against torch's
bounds, dropout statistically.
"""

from __future__ import annotations

import copy
import math
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lucid
import lucid.nn as nn
import lucid.nn.functional as F
from lucid.testing import gradcheck, gradgradcheck

tnn = torch.nn

# ---------------------------------------------------------------- helpers


def _np(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().numpy()
    return t.detach().numpy()


def _close(actual: Any, expected: Any, rtol: float = 1e-7, atol: float = 1e-9,
           what: str = "") -> None:
    a, e = _np(actual), _np(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != torch's {e.shape}"
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=what)


def _lucid_state(tm: torch.nn.Module) -> dict[str, lucid.Tensor]:
    return {k: lucid.tensor(v.detach().cpu().numpy().copy()) for k, v in tm.state_dict().items()}


def _pair(name: str, *args: Any, **kwargs: Any) -> tuple[nn.Module, torch.nn.Module]:
    """The lucid and the torch module ``name(*args, **kwargs)``, both float64, torch's
    parameters and buffers copied into the lucid one."""
    tm = getattr(tnn, name)(*args, **kwargs).double()
    lm = getattr(nn, name)(*args, **kwargs).double()
    result = lm.load_state_dict(_lucid_state(tm))
    assert not result.missing_keys and not result.unexpected_keys
    return lm, tm


def _randomize(tm: torch.nn.Module, seed: int = 0) -> None:
    """Give torch's parameters random values (ones/zeros would hide errors in gradients)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in tm.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.5 + 0.2)


def _compare(lm: nn.Module, tm: torch.nn.Module, inputs: list[np.ndarray],
             rtol: float = 1e-7, atol: float = 1e-9, call: Callable[..., Any] | None = None,
             seed: int = 0) -> None:
    """Run both modules on ``inputs``; compare outputs, input grads, parameter grads and
    buffers."""
    lx = [lucid.tensor(x, requires_grad=x.dtype.kind == "f") for x in inputs]
    tx = [torch.tensor(x, requires_grad=x.dtype.kind == "f") for x in inputs]
    lo = lm(*lx) if call is None else call(lm, *lx)
    to = tm(*tx) if call is None else call(tm, *tx)
    if isinstance(to, tuple):  # (values, indices) of return_indices
        for k, (a, b) in enumerate(zip(lo[1:], to[1:], strict=True)):
            np.testing.assert_array_equal(_np(a), _np(b), err_msg=f"output {k + 1}")
        lo, to = lo[0], to[0]
    _close(lo, to, rtol, atol, "output")
    assert lo.dtype == lucid.float64
    g = np.random.default_rng(seed).standard_normal(tuple(to.shape))
    lo.backward(lucid.tensor(g))
    to.backward(torch.tensor(g))
    for k, (a, b) in enumerate(zip(lx, tx, strict=True)):
        if b.grad is not None:
            _close(a.grad, b.grad, rtol, atol, f"grad of input {k}")
    lparams = dict(lm.named_parameters())
    tparams = dict(tm.named_parameters())
    assert sorted(lparams) == sorted(tparams)
    for name, p in tparams.items():
        if p.grad is None:
            assert lparams[name].grad is None, name
        else:
            _close(lparams[name].grad, p.grad, rtol, atol, f"grad of {name}")
    lbufs = dict(lm.named_buffers())
    tbufs = dict(tm.named_buffers())
    assert sorted(lbufs) == sorted(tbufs)
    for name, b in tbufs.items():
        _close(lbufs[name], b, rtol, atol, f"buffer {name}")
        assert str(lbufs[name].dtype) == str(b.dtype).replace("torch.", "lucid."), name


def _randn(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


# ---------------------------------------------------------------- layer table

# (class name, args, kwargs, input shapes); each case is compared with torch and its repr too.
CASES: list[tuple[str, tuple, dict, list[tuple[int, ...]]]] = [
    ("Identity", (3, 4), {"unused": 1}, [(2, 3)]),
    ("Linear", (5, 3), {}, [(4, 5)]),
    ("Linear", (5, 3), {"bias": False}, [(2, 3, 5)]),
    ("Linear", (5, 3), {}, [(5,)]),
    ("Linear", (5, 3), {}, [(1, 5)]),
    ("Bilinear", (4, 3, 2), {}, [(5, 4), (5, 3)]),
    ("Bilinear", (4, 3, 2), {"bias": False}, [(1, 4), (1, 3)]),
    ("Flatten", (), {}, [(2, 3, 4, 5)]),
    ("Flatten", (0, 2), {}, [(2, 3, 4, 5)]),
    ("Unflatten", (1, (2, 6)), {}, [(3, 12)]),
    ("Unflatten", (-1, [2, -1]), {}, [(3, 2, 8)]),
    # convolutions
    ("Conv1d", (4, 6, 3), {}, [(2, 4, 9)]),
    ("Conv1d", (4, 6, 3), {"stride": 2, "padding": 1, "dilation": 2, "groups": 2}, [(2, 4, 11)]),
    ("Conv1d", (4, 2, 4), {"padding": "same", "dilation": 2}, [(3, 4, 9)]),
    ("Conv1d", (4, 2, 3), {"padding": "valid", "bias": False}, [(4, 7)]),
    ("Conv1d", (3, 2, 3), {"padding": 2, "padding_mode": "reflect"}, [(2, 3, 8)]),
    ("Conv1d", (3, 2, 3), {"padding": 1, "padding_mode": "circular"}, [(2, 3, 8)]),
    ("Conv2d", (3, 4, 3), {}, [(2, 3, 7, 6)]),
    ("Conv2d", (4, 6, (2, 3)), {"stride": (2, 1), "padding": (1, 0), "groups": 2},
     [(2, 4, 7, 8)]),
    ("Conv2d", (2, 4, 3), {"stride": 2, "dilation": (2, 1), "padding": 1}, [(1, 2, 9, 8)]),
    ("Conv2d", (2, 3, 4), {"padding": "same", "dilation": 2}, [(2, 2, 9, 8)]),
    ("Conv2d", (2, 3, (2, 3)), {"padding": "same", "padding_mode": "reflect"}, [(1, 2, 6, 7)]),
    ("Conv2d", (2, 3, 3), {"padding": (1, 2), "padding_mode": "replicate"}, [(2, 2, 5, 6)]),
    ("Conv2d", (2, 3, 3), {"padding": 1, "padding_mode": "circular", "bias": False},
     [(2, 2, 5, 6)]),
    ("Conv2d", (4, 4, 3), {"groups": 4, "padding": "valid"}, [(4, 6, 6)]),
    ("Conv3d", (2, 4, (2, 3, 2)), {"stride": (1, 2, 1), "padding": 1}, [(2, 2, 4, 5, 4)]),
    ("ConvTranspose1d", (4, 6, 3), {"stride": 2, "padding": 1, "output_padding": 1},
     [(2, 4, 5)]),
    ("ConvTranspose1d", (4, 6, 3), {"groups": 2, "dilation": 2, "bias": False}, [(4, 5)]),
    ("ConvTranspose2d", (4, 2, 3), {}, [(2, 4, 4, 5)]),
    ("ConvTranspose2d", (4, 6, (3, 2)),
     {"stride": (2, 3), "padding": (1, 0), "output_padding": (1, 2), "groups": 2,
      "dilation": (1, 2)}, [(2, 4, 3, 4)]),
    ("ConvTranspose3d", (2, 3, 2), {"stride": 2}, [(1, 2, 2, 3, 2)]),
    # pooling
    ("MaxPool1d", (3,), {}, [(2, 3, 10)]),
    ("MaxPool1d", (3, 2, 1, 2), {"ceil_mode": True}, [(2, 3, 10)]),
    ("MaxPool1d", (2,), {"return_indices": True}, [(3, 9)]),
    ("MaxPool2d", (2,), {}, [(2, 3, 6, 7)]),
    ("MaxPool2d", ((3, 2), (2, 1), (1, 0), (1, 2)), {"ceil_mode": True}, [(2, 2, 7, 8)]),
    ("MaxPool2d", (3,), {"stride": 2, "padding": 1, "return_indices": True}, [(1, 2, 7, 7)]),
    ("MaxPool3d", (2,), {"stride": 1}, [(1, 2, 3, 4, 3)]),
    ("AvgPool1d", (3,), {}, [(2, 3, 10)]),
    ("AvgPool1d", (3, 2, 1), {"ceil_mode": True, "count_include_pad": False}, [(2, 3, 10)]),
    ("AvgPool2d", (2,), {}, [(2, 3, 6, 7)]),
    ("AvgPool2d", ((3, 2), (2, 1), (1, 0)), {"ceil_mode": True}, [(2, 2, 7, 8)]),
    ("AvgPool2d", (3, 2, 1), {"count_include_pad": False}, [(1, 2, 7, 7)]),
    ("AvgPool2d", (3, 2, 1), {"divisor_override": 5}, [(2, 7, 7)]),
    ("AvgPool3d", (2,), {}, [(1, 2, 4, 4, 5)]),
    ("AdaptiveAvgPool1d", (4,), {}, [(2, 3, 10)]),
    ("AdaptiveAvgPool2d", ((3, 2),), {}, [(2, 3, 7, 5)]),
    ("AdaptiveAvgPool2d", (1,), {}, [(2, 3, 7, 5)]),
    ("AdaptiveAvgPool2d", ((None, 3),), {}, [(3, 7, 5)]),
    ("AdaptiveAvgPool3d", (2,), {}, [(1, 2, 5, 4, 3)]),
    ("AdaptiveMaxPool1d", (3,), {"return_indices": True}, [(2, 3, 10)]),
    ("AdaptiveMaxPool2d", ((3, 2),), {}, [(2, 3, 7, 5)]),
    ("AdaptiveMaxPool2d", (2,), {"return_indices": True}, [(2, 3, 5, 5)]),
    ("AdaptiveMaxPool3d", (2,), {}, [(1, 2, 5, 4, 3)]),
    # normalisation (train mode: batch statistics, running stats updated)
    ("BatchNorm1d", (4,), {}, [(5, 4)]),
    ("BatchNorm1d", (4,), {"momentum": 0.3}, [(3, 4, 6)]),
    ("BatchNorm1d", (4,), {"affine": False}, [(5, 4)]),
    ("BatchNorm1d", (4,), {"bias": False}, [(5, 4)]),
    ("BatchNorm2d", (3,), {}, [(2, 3, 4, 5)]),
    ("BatchNorm2d", (3,), {}, [(1, 3, 4, 5)]),
    ("BatchNorm2d", (3,), {"track_running_stats": False, "eps": 1e-3}, [(2, 3, 4, 5)]),
    ("BatchNorm3d", (2,), {"momentum": None}, [(2, 2, 3, 2, 3)]),
    ("LayerNorm", (6,), {}, [(2, 3, 6)]),
    ("LayerNorm", ((3, 6),), {"eps": 1e-3}, [(2, 3, 6)]),
    ("LayerNorm", ([3, 6],), {"elementwise_affine": False}, [(2, 3, 6)]),
    ("LayerNorm", (6,), {"bias": False}, [(6,)]),
    ("GroupNorm", (2, 4), {}, [(3, 4, 5)]),
    ("GroupNorm", (3, 6), {"affine": False}, [(2, 6, 2, 3)]),
    ("GroupNorm", (1, 4), {"bias": False, "eps": 1e-4}, [(2, 4, 3, 3)]),
    # dropout in eval mode is the identity (train mode: statistical tests below)
    ("Dropout", (), {}, [(3, 4)]),
    ("Dropout", (0.2, True), {}, [(3, 4)]),
    ("Dropout2d", (0.3,), {}, [(2, 3, 4, 4)]),
    # activations
    ("ReLU", (), {}, [(3, 5)]),
    ("ReLU6", (), {}, [(3, 5)]),
    ("LeakyReLU", (), {}, [(3, 5)]),
    ("LeakyReLU", (0.2,), {}, [(3, 5)]),
    ("ELU", (), {}, [(3, 5)]),
    ("ELU", (0.5,), {}, [(3, 5)]),
    ("CELU", (1.5,), {}, [(3, 5)]),
    ("SELU", (), {}, [(3, 5)]),
    ("GELU", (), {}, [(3, 5)]),
    ("GELU", ("tanh",), {}, [(3, 5)]),
    ("SiLU", (), {}, [(3, 5)]),
    ("Mish", (), {}, [(3, 5)]),
    ("Sigmoid", (), {}, [(3, 5)]),
    ("Tanh", (), {}, [(3, 5)]),
    ("LogSigmoid", (), {}, [(3, 5)]),
    ("Softplus", (), {}, [(3, 5)]),
    ("Softplus", (2.0, 1.0), {}, [(3, 5)]),
    ("Hardtanh", (), {}, [(3, 5)]),
    ("Hardtanh", (-0.5, 2.0), {}, [(3, 5)]),
    ("Hardsigmoid", (), {}, [(3, 5)]),
    ("Hardswish", (), {}, [(3, 5)]),
    ("Softmax", (1,), {}, [(3, 5)]),
    ("Softmax", (-1,), {}, [(2, 3, 4)]),
    ("LogSoftmax", (0,), {}, [(3, 5)]),
    ("LogSoftmax", (2,), {}, [(2, 3, 4)]),
    ("Softmin", (1,), {}, [(3, 5)]),
]


def _case_id(case: tuple) -> str:
    name, args, kwargs, _ = case
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_layer_matches_torch(case: tuple) -> None:
    name, args, kwargs, shapes = case
    lm, tm = _pair(name, *args, **kwargs)
    assert repr(lm) == repr(tm)
    if "Dropout" in name:
        lm.eval()
        tm.eval()
    if name.startswith(("BatchNorm", "LayerNorm", "GroupNorm")):
        _randomize(tm)
        lm.load_state_dict(_lucid_state(tm))
    inputs = [_randn(*s, seed=i) * 2 for i, s in enumerate(shapes)]
    _compare(lm, tm, inputs)


def test_every_layer_class_is_covered() -> None:
    covered = {c[0] for c in CASES}
    lazy = {n for n in nn.layers.__all__ if n.startswith("Lazy")}
    losses = {n for n in nn.layers.__all__ if n.endswith("Loss")}
    aliases = {n for n in nn.layers.__all__ if n[-1] == "D" and n[-2].isdigit()}
    other = {"Embedding"}  # own tests below (integer inputs)
    missing = set(nn.layers.__all__) - covered - lazy - losses - aliases - other
    assert missing == set()


def test_aliases_are_the_same_classes() -> None:
    assert nn.Conv1D is nn.Conv1d and nn.Conv2D is nn.Conv2d and nn.Conv3D is nn.Conv3d
    assert nn.MaxPool1D is nn.MaxPool1d and nn.MaxPool2D is nn.MaxPool2d
    assert nn.AvgPool1D is nn.AvgPool1d and nn.AvgPool2D is nn.AvgPool2d
    assert nn.BatchNorm1D is nn.BatchNorm1d and nn.BatchNorm2D is nn.BatchNorm2d
    conv = nn.Conv2D(in_channels=3, out_channels=16, kernel_size=3, padding=1)
    assert type(conv) is nn.Conv2d
    assert repr(conv) == "Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"


def test_float32_layers_match_torch() -> None:
    for name, args, kwargs, shapes in [
        ("Linear", (5, 3), {}, [(4, 5)]),
        ("Conv2d", (3, 4, 3), {"padding": 1, "stride": 2}, [(2, 3, 7, 6)]),
        ("LayerNorm", (6,), {}, [(2, 6)]),
        ("BatchNorm1d", (4,), {}, [(5, 4)]),
    ]:
        tm = getattr(tnn, name)(*args, **kwargs)
        lm = getattr(nn, name)(*args, **kwargs)
        assert lm.weight.dtype == lucid.float32
        lm.load_state_dict(_lucid_state(tm))
        x = _randn(*shapes[0]).astype(np.float32)
        lo, to = lm(lucid.tensor(x)), tm(torch.tensor(x))
        assert lo.dtype == lucid.float32
        _close(lo, to, rtol=1e-5, atol=1e-5, what=name)


# ---------------------------------------------------------------- hypothesis: conv / pool


@settings(max_examples=30, deadline=None)
@given(
    k=st.integers(1, 3), s=st.integers(1, 3), p=st.integers(0, 2), d=st.integers(1, 2),
    groups=st.sampled_from([1, 2]), bias=st.booleans(), n=st.integers(1, 2),
    h=st.integers(6, 9), w=st.integers(6, 9),
    mode=st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
)
def test_conv2d_configurations(k: int, s: int, p: int, d: int, groups: int, bias: bool,
                               n: int, h: int, w: int, mode: str) -> None:
    lm, tm = _pair("Conv2d", 2 * groups, 2 * groups, k, stride=s, padding=p, dilation=d,
                   groups=groups, bias=bias, padding_mode=mode)
    _compare(lm, tm, [_randn(n, 2 * groups, h, w)])


@settings(max_examples=30, deadline=None)
@given(
    k=st.integers(1, 3), s=st.integers(1, 3), op=st.integers(0, 2), p=st.integers(0, 2),
    d=st.integers(1, 2), groups=st.sampled_from([1, 2]), h=st.integers(2, 5),
)
def test_conv_transpose2d_configurations(k: int, s: int, op: int, p: int, d: int, groups: int,
                                         h: int) -> None:
    if op >= max(s, d):
        op = 0
    lm, tm = _pair("ConvTranspose2d", 2 * groups, 3 * groups, k, stride=s, padding=p,
                   output_padding=op, groups=groups, dilation=d)
    try:
        tm(torch.zeros(1, 2 * groups, h, h + 1, dtype=torch.float64))
    except RuntimeError:  # output size not positive: lucid must refuse it too
        with pytest.raises(lucid.errors.ShapeError, match="not positive"):
            lm(lucid.zeros(1, 2 * groups, h, h + 1, dtype=lucid.float64))
        return
    _compare(lm, tm, [_randn(2, 2 * groups, h, h + 1)])


@settings(max_examples=30, deadline=None)
@given(
    k=st.integers(1, 4), s=st.integers(1, 3), p=st.integers(0, 2), d=st.integers(1, 2),
    ceil=st.booleans(), h=st.integers(5, 9), w=st.integers(5, 9), avg=st.booleans(),
    include_pad=st.booleans(),
)
def test_pool2d_configurations(k: int, s: int, p: int, d: int, ceil: bool, h: int, w: int,
                               avg: bool, include_pad: bool) -> None:
    if 2 * p > k:  # torch: pad should be at most half of the (effective) kernel size
        p = k // 2
    if avg:
        lm, tm = _pair("AvgPool2d", k, s, p, ceil_mode=ceil, count_include_pad=include_pad)
    else:
        lm, tm = _pair("MaxPool2d", k, s, p, d, ceil_mode=ceil, return_indices=True)
    x = _randn(2, 2, h, w)
    try:
        tm(torch.tensor(x))
    except RuntimeError:  # the (dilated) window does not fit: lucid must refuse it too
        with pytest.raises(lucid.errors.ShapeError, match="too small"):
            lm(lucid.tensor(x))
        return
    _compare(lm, tm, [x])


def test_conv_transpose_output_size() -> None:
    lm, tm = _pair("ConvTranspose2d", 2, 3, 3, stride=2, padding=1)
    x = _randn(1, 2, 4, 5)
    for size in ([8, 9], [1, 3, 7, 10], (8, 10)):
        _compare(lm, tm, [x], call=lambda m, t, size=size: m(t, output_size=size))
        lm.zero_grad()
        tm.zero_grad()
    with pytest.raises(ValueError, match="requested an output size"):
        lm(lucid.tensor(x), output_size=[12, 9])
    lm1, tm1 = _pair("ConvTranspose1d", 2, 3, 3, stride=3)
    _compare(lm1, tm1, [_randn(2, 2, 4)], call=lambda m, t: m(t, output_size=[13]))


def test_conv_argument_errors() -> None:
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        nn.Conv2d(4, 3, 3, groups=2)
    with pytest.raises(ValueError, match="groups must be a positive integer"):
        nn.Conv1d(4, 4, 3, groups=0)
    with pytest.raises(ValueError, match="not supported for strided convolutions"):
        nn.Conv2d(2, 2, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="Invalid padding string"):
        nn.Conv2d(2, 2, 3, padding="full")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(2, 2, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match='Only "zeros" padding mode'):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")


def test_conv_attributes() -> None:
    lm, tm = _pair("Conv2d", 4, 6, (2, 3), stride=2, padding="valid", groups=2)
    for attr in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
                 "groups", "padding_mode", "output_padding", "transposed",
                 "_reversed_padding_repeated_twice"):
        assert getattr(lm, attr) == getattr(tm, attr), attr
    lm, tm = _pair("Conv1d", 4, 6, 4, padding="same", dilation=3)
    assert lm._reversed_padding_repeated_twice == tm._reversed_padding_repeated_twice
    lm, tm = _pair("ConvTranspose3d", 2, 4, 3, stride=(1, 2, 3), output_padding=(0, 1, 2))
    assert (lm.kernel_size, lm.stride, lm.output_padding) == (tm.kernel_size, tm.stride,
                                                              tm.output_padding)
    assert tuple(lm.weight.shape) == tuple(tm.weight.shape) == (2, 4, 3, 3, 3)


# ---------------------------------------------------------------- batch norm


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("name,shape", [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (4, 3, 5)),
                                        ("BatchNorm2d", (3, 3, 4, 2))])
def test_batchnorm_train_then_eval(momentum: float | None, name: str,
                                   shape: tuple[int, ...]) -> None:
    lm, tm = _pair(name, 3, momentum=momentum)
    _randomize(tm)
    lm.load_state_dict(_lucid_state(tm))
    for step in range(4):  # each step updates the running statistics
        _compare(lm, tm, [_randn(*shape, seed=step) * 3 + step])
        lm.zero_grad()
        tm.zero_grad()
    assert int(lm.num_batches_tracked.item()) == 4
    assert lm.num_batches_tracked.dtype == lucid.int64
    assert lm.num_batches_tracked.shape == ()
    lm.eval()
    tm.eval()
    mean_before = lm.running_mean.numpy().copy()
    _compare(lm, tm, [_randn(*shape, seed=9)])  # eval: normalised by the running statistics
    np.testing.assert_array_equal(lm.running_mean.numpy(), mean_before)
    assert int(lm.num_batches_tracked.item()) == 4


def test_batchnorm_cumulative_average_is_the_plain_mean() -> None:
    bn = nn.BatchNorm1d(2, momentum=None).double()
    batches = [_randn(5, 2, seed=s) + s for s in range(3)]
    for b in batches:
        bn(lucid.tensor(b))
    expected = np.mean([b.mean(0) for b in batches], axis=0)
    np.testing.assert_allclose(bn.running_mean.numpy(), expected, rtol=1e-12)


def test_batchnorm_without_running_stats_and_errors() -> None:
    lm, tm = _pair("BatchNorm2d", 3, track_running_stats=False)
    assert lm.running_mean is None and lm.num_batches_tracked is None
    assert sorted(lm.state_dict()) == sorted(tm.state_dict()) == ["bias", "weight"]
    lm.eval()
    tm.eval()
    _compare(lm, tm, [_randn(2, 3, 3, 3)])  # eval without buffers: batch statistics
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        bn(lucid.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.BatchNorm2d(3)(lucid.randn(2, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(lucid.randn(1, 3))
    bn.eval()
    assert bn(lucid.randn(1, 3)).shape == (1, 3)  # fine in eval mode


def test_batchnorm_state_and_reset() -> None:
    lm, tm = _pair("BatchNorm1d", 4)
    assert list(lm.state_dict()) == list(tm.state_dict())
    lm(lucid.randn(5, 4, dtype=lucid.float64) * 3 + 1)
    assert not np.allclose(lm.running_mean.numpy(), 0)
    lm.reset_running_stats()
    np.testing.assert_array_equal(lm.running_mean.numpy(), np.zeros(4))
    np.testing.assert_array_equal(lm.running_var.numpy(), np.ones(4))
    assert lm.num_batches_tracked.item() == 0
    half = nn.BatchNorm2d(3).half()
    assert half.running_mean.dtype == lucid.float16
    assert half.num_batches_tracked.dtype == lucid.int64  # integer buffers keep their dtype


# ---------------------------------------------------------------- dropout


@pytest.mark.parametrize("cls", ["Dropout", "Dropout2d"])
def test_dropout_eval_is_identity(cls: str) -> None:
    m = getattr(nn, cls)(0.7)
    m.eval()
    x = lucid.randn(2, 3, 4, 4, requires_grad=True)
    y = m(x)
    np.testing.assert_array_equal(y.detach().numpy(), x.detach().numpy())
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 3, 4, 4), np.float32))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_train_statistics(p: float) -> None:
    lucid.manual_seed(0)
    m = nn.Dropout(p)
    x = lucid.ones(200, 500, dtype=lucid.float64, requires_grad=True)
    y = m(x)
    out = y.detach().numpy()
    zero = out == 0
    assert abs(zero.mean() - p) < 0.01
    np.testing.assert_allclose(out[~zero], 1 / (1 - p))  # survivors are scaled
    assert abs(out.mean() - 1.0) < 0.03  # the expectation is preserved
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), out)  # gradient flows through kept elements


def test_dropout_edge_probabilities_and_inplace() -> None:
    x = lucid.randn(4, 5)
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).numpy(), x.numpy())
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).numpy(), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout2d(-0.1)
    h = lucid.ones(50, 40) * 1.0
    y = nn.Dropout(0.5, inplace=True)(h)
    assert y is h
    assert set(np.unique(h.numpy())) <= {0.0, 2.0}


def test_dropout2d_drops_whole_channels() -> None:
    lucid.manual_seed(1)
    p = 0.4
    x = lucid.ones(40, 100, 3, 2, dtype=lucid.float64)
    out = nn.Dropout2d(p)(x).numpy()
    per_channel = out.reshape(40, 100, -1)
    assert np.all(per_channel.min(-1) == per_channel.max(-1))  # constant per channel
    dropped = per_channel[..., 0] == 0
    assert abs(dropped.mean() - p) < 0.03
    np.testing.assert_allclose(per_channel[~dropped], 1 / (1 - p))


# ---------------------------------------------------------------- embedding


def test_embedding_matches_torch() -> None:
    lm, tm = _pair("Embedding", 10, 4, padding_idx=2)
    assert repr(lm) == repr(tm) == "Embedding(10, 4, padding_idx=2)"
    np.testing.assert_array_equal(nn.Embedding(10, 4, padding_idx=2).weight.detach().numpy()[2], 0)
    idx = np.array([[1, 2, 3, 2], [9, 0, 2, 1], [1, 1, 5, 7]])
    _compare(lm, tm, [idx])
    assert np.all(lm.weight.grad.numpy()[2] == 0)  # the padding row gets no gradient
    np.testing.assert_allclose(lm.weight.grad.numpy()[1], tm.weight.grad.numpy()[1])


def test_embedding_options() -> None:
    lm, tm = _pair("Embedding", 6, 3, padding_idx=-1)
    assert lm.padding_idx == tm.padding_idx == 5
    _compare(lm, tm, [np.array([5, 0, 5, 3])])
    lm, tm = _pair("Embedding", 6, 3, scale_grad_by_freq=True)
    assert repr(lm) == repr(tm)
    _compare(lm, tm, [np.array([[1, 1, 2], [1, 4, 2]])])
    lm, tm = _pair("Embedding", 6, 3, max_norm=1.0, norm_type=1.0)
    assert repr(lm) == repr(tm)
    idx = np.array([0, 2, 2, 4])
    _compare(lm, tm, [idx])  # renormalises the looked-up rows in place, then looks up
    _close(lm.weight, tm.weight, what="renormalised weight")
    assert np.abs(lm.weight.detach().numpy()[[0, 2, 4]]).sum(1).max() <= 1.0 + 1e-6
    with pytest.raises(ValueError, match="sparse"):
        nn.Embedding(3, 2, sparse=True)
    with pytest.raises(ValueError, match="Padding_idx"):
        nn.Embedding(3, 2, padding_idx=3)
    with pytest.raises(ValueError, match="Padding_idx"):
        nn.Embedding(3, 2, padding_idx=-4)


def test_embedding_from_pretrained() -> None:
    w = lucid.tensor(_randn(5, 3))
    emb = nn.Embedding.from_pretrained(w)
    temb = tnn.Embedding.from_pretrained(torch.tensor(w.numpy()))
    assert repr(emb) == repr(temb)
    assert not emb.weight.requires_grad
    out = emb(lucid.tensor([4, 0]))
    np.testing.assert_array_equal(out.numpy(), w.numpy()[[4, 0]])
    emb2 = nn.Embedding.from_pretrained(w, freeze=False, padding_idx=1)
    assert emb2.weight.requires_grad
    np.testing.assert_array_equal(emb2.weight.detach().numpy()[1], w.numpy()[1])  # not zeroed
    emb2(lucid.tensor([1, 2, 1])).sum().backward()
    np.testing.assert_array_equal(emb2.weight.grad.numpy()[1], 0)
    np.testing.assert_array_equal(emb2.weight.grad.numpy()[2], 1)
    with pytest.raises(ValueError, match="2-dimensional"):
        nn.Embedding.from_pretrained(lucid.ones(3))


# ---------------------------------------------------------------- activations: inplace


@pytest.mark.parametrize("name,args", [
    ("ReLU", ()), ("ReLU6", ()), ("LeakyReLU", (0.1,)), ("ELU", (0.7,)), ("CELU", (0.7,)),
    ("SELU", ()), ("SiLU", ()), ("Mish", ()), ("Hardtanh", (-2.0, 0.5)), ("Hardsigmoid", ()),
    ("Hardswish", ()),
])
def test_inplace_activations(name: str, args: tuple) -> None:
    lm = getattr(nn, name)(*args, inplace=True)
    tm = getattr(tnn, name)(*args, inplace=True)
    assert repr(lm) == repr(tm)
    x = _randn(3, 4) * 3
    lx = lucid.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    lh, th = lx * 1.0, tx * 1.0  # in-place ops need a non-leaf
    lo, to = lm(lh), tm(th)
    assert lo is lh
    _close(lo, to, what="output")
    _close(lh, th, what="overwritten input")
    g = _randn(3, 4, seed=3)
    lo.backward(lucid.tensor(g))
    to.backward(torch.tensor(g))
    _close(lx.grad, tx.grad, what="input grad")


def test_activation_argument_handling() -> None:
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")
    m = nn.Hardtanh(min_value=-3.0, max_value=3.0)
    assert (m.min_val, m.max_val) == (-3.0, 3.0)
    with pytest.raises(ValueError, match="greater than"):
        nn.Hardtanh(1.0, -1.0)
    assert repr(nn.Softmax()) == repr(tnn.Softmax()) == "Softmax(dim=None)"
    x = _randn(2, 3, 4)
    # dim=None: PyTorch's legacy choice (dim 0 for 3-d inputs)
    _close(nn.Softmax()(lucid.tensor(x)), torch.softmax(torch.tensor(x), 0), what="softmax")
    _close(nn.LogSoftmax()(lucid.tensor(x[0])), torch.log_softmax(torch.tensor(x[0]), 1),
           what="log_softmax")


def test_activation_gradcheck() -> None:
    x = lucid.tensor(_randn(3, 4) * 2, requires_grad=True)
    for m in (nn.GELU(), nn.GELU("tanh"), nn.Mish(), nn.SiLU(), nn.ELU(0.5), nn.Softplus(2.0),
              nn.LogSoftmax(1), nn.Softmax(0)):
        gradcheck(m, [x])


# ---------------------------------------------------------------- gradcheck / double backward


def test_layers_gradcheck_and_double_backward() -> None:
    lucid.manual_seed(3)
    x2 = lucid.tensor(_randn(3, 4), requires_grad=True)
    x4 = lucid.tensor(_randn(2, 2, 5, 5), requires_grad=True)
    for m, x in [
        (nn.Linear(4, 3).double(), x2),
        (nn.LayerNorm(4).double(), x2),
        (nn.Conv2d(2, 3, 3, padding=1, stride=2).double(), x4),
        (nn.GroupNorm(2, 2).double(), x4),
        (nn.BatchNorm2d(2).double(), x4),
        (nn.AvgPool2d(3, 2, 1).double(), x4),
    ]:
        gradcheck(m, [x])
        gradgradcheck(m, [x])
    bil = nn.Bilinear(4, 2, 3).double()
    gradcheck(bil, [x2, lucid.tensor(_randn(3, 2), requires_grad=True)])


def test_parameter_gradients_flow_to_an_optimizer_like_update() -> None:
    lm, tm = _pair("Conv2d", 2, 3, 3, padding=1)
    x = _randn(2, 2, 4, 4)
    for m, mod, t in ((lm, lucid, lucid.tensor), (tm, torch, torch.tensor)):
        loss = (m(t(x)) ** 2).mean()
        loss.backward()
        with mod.no_grad():
            for p in m.parameters():
                p -= 0.1 * p.grad
    _close(lm.weight, tm.weight, what="updated weight")
    _close(lm.bias, tm.bias, what="updated bias")


# ---------------------------------------------------------------- lazy modules


def test_lazy_linear_seed_example() -> None:
    net = nn.Sequential(nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10))
    assert repr(net[0]) == repr(tnn.LazyLinear(256)) == \
        "LazyLinear(in_features=0, out_features=256, bias=True)"
    X = lucid.rand(2, 20)
    assert net(X).shape == (2, 10)
    assert type(net[0]) is nn.Linear and type(net[2]) is nn.Linear
    assert repr(net[0]) == "Linear(in_features=20, out_features=256, bias=True)"
    assert [(n, tuple(p.shape)) for n, p in net.named_parameters()] == [
        ("0.weight", (256, 20)), ("0.bias", (256,)), ("2.weight", (10, 256)), ("2.bias", (10,)),
    ]
    assert type(net[2].bias) is nn.Parameter
    assert net[2].weight.grad is None
    bound = 1 / math.sqrt(20)
    w = net[0].weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound  # Linear's init
    net(X).sum().backward()
    assert net[0].weight.grad.shape == (256, 20)


def test_lazy_linear_more_seed_examples() -> None:
    class MLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hidden = nn.LazyLinear(256)
            self.out = nn.LazyLinear(10)

        def forward(self, X: lucid.Tensor) -> lucid.Tensor:
            return self.out(F.relu(self.hidden(X)))

    X = lucid.rand(2, 20)
    assert MLP()(X).shape == (2, 10)

    class FixedHiddenMlp(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rand_weight = lucid.rand((20, 20))
            self.linear = nn.LazyLinear(20)

        def forward(self, X: lucid.Tensor) -> lucid.Tensor:
            X = self.linear(X)
            X = F.relu(X @ self.rand_weight + 1)
            X = self.linear(X)
            while X.abs().sum() > 1:
                X /= 2
            return X.sum()

    out = FixedHiddenMlp()(X)
    assert out.shape == () and out.grad_fn is not None

    shared = nn.LazyLinear(8)
    net = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(),
                        nn.LazyLinear(1))
    X = lucid.rand(size=(2, 4))
    assert net(X).shape == (2, 1)
    assert net[2] is net[4] and net[2].weight is net[4].weight
    assert len(list(net.parameters())) == 6
    assert sorted(net[6].state_dict()) == ["bias", "weight"]


def test_lazy_linear_details() -> None:
    m = nn.LazyLinear(3, bias=False)
    assert m.has_uninitialized_params() and nn.is_lazy(m.weight) and m.bias is None
    m.double()  # before materialisation: changes the pending dtype
    calls = []
    m.register_forward_pre_hook(lambda mod, args: calls.append(tuple(mod.weight.shape)))
    y = m(lucid.randn(2, 7, 5, dtype=lucid.float64))
    assert calls == [(3, 5)]  # user pre-hooks run after the parameters exist
    assert y.shape == (2, 7, 3) and y.dtype == lucid.float64
    assert type(m) is nn.Linear and m.in_features == 5
    assert not hasattr(m, "initialize_parameters")  # the lazy machinery is gone
    assert m.weight.dtype == lucid.float64
    # a lazy module filled from a checkpoint keeps the checkpoint's values
    src = nn.Linear(4, 2)
    lazy = nn.LazyLinear(2)
    lazy.load_state_dict(src.state_dict())
    x = lucid.randn(3, 4)
    np.testing.assert_allclose(lazy(x).detach().numpy(), src(x).detach().numpy())
    assert type(lazy) is nn.Linear and lazy.in_features == 4
    # copies and pickles of an uninitialised lazy module work independently
    lazy2 = nn.LazyLinear(3)
    c = copy.deepcopy(lazy2)
    p = pickle.loads(pickle.dumps(lazy2))
    assert c(lucid.randn(1, 6)).shape == (1, 3) and type(c) is nn.Linear
    assert p(lucid.randn(1, 2)).shape == (1, 3)
    assert type(lazy2) is nn.LazyLinear and nn.is_lazy(lazy2.weight)


@pytest.mark.parametrize("name,args,kwargs,shape", [
    ("LazyConv1d", (4, 3), {"stride": 2}, (2, 3, 9)),
    ("LazyConv2d", (4, 3), {"padding": "same", "groups": 2}, (2, 6, 5, 5)),
    ("LazyConv2d", (4, 3), {"padding": 1, "padding_mode": "reflect"}, (3, 5, 5)),
    ("LazyConv3d", (2, 2), {}, (1, 2, 3, 3, 3)),
    ("LazyConvTranspose1d", (4, 3), {"stride": 2}, (2, 3, 4)),
    ("LazyConvTranspose2d", (4, 3), {"groups": 2, "output_padding": 1, "stride": 2},
     (2, 4, 3, 3)),
    ("LazyConvTranspose3d", (2, 2), {}, (1, 2, 2, 2, 2)),
])
def test_lazy_convs(name: str, args: tuple, kwargs: dict, shape: tuple[int, ...]) -> None:
    lm = getattr(nn, name)(*args, **kwargs).double()
    tm = getattr(tnn, name)(*args, **kwargs).double()
    assert repr(lm) == repr(tm)
    x = _randn(*shape)
    to = tm(torch.tensor(x))
    lm(lucid.tensor(x))
    assert type(lm).__name__ == type(tm).__name__ == name.replace("Lazy", "")
    assert repr(lm) == repr(tm)
    for (ln, lp), (tn, tp) in zip(lm.named_parameters(), tm.named_parameters(), strict=True):
        assert ln == tn and tuple(lp.shape) == tuple(tp.shape)
    lm.load_state_dict(_lucid_state(tm))
    _close(lm(lucid.tensor(x)), to, what="output")

    # the materialised parameters were initialised like the eager layer's
    fresh = getattr(nn, name)(*args, **kwargs)
    fresh(lucid.tensor(x).float())
    fan_in = nn.init._calculate_fan_in_and_fan_out(fresh.weight)[0]
    bound = 1 / math.sqrt(fan_in)
    for p in (fresh.weight, fresh.bias):
        a = np.abs(p.detach().numpy())
        assert 0 < a.max() <= bound * (1 + 1e-6)


def test_lazy_conv_errors() -> None:
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.LazyConv2d(4, 3, groups=2)(lucid.randn(1, 3, 5, 5))
    with pytest.raises(ValueError, match="Expected 3D"):
        nn.LazyConv2d(4, 3)(lucid.randn(5, 5))


# ---------------------------------------------------------------- default initialisation


@pytest.mark.parametrize("name,args,fan_in", [
    ("Linear", (300, 200), 300),
    ("Conv1d", (12, 40, 5), 60),
    ("Conv2d", (8, 64, 3), 72),
    ("Conv2d", (8, 64, 3, 1, 0, 1, 4), 18),
    ("Conv3d", (4, 16, 2), 32),
    ("ConvTranspose2d", (16, 24, 3), 216),
    ("ConvTranspose2d", (16, 24, 3, 1, 0, 0, 2), 108),
    ("Bilinear", (50, 30, 40), 50),
])
def test_default_init_matches_torch_distribution(name: str, args: tuple, fan_in: int) -> None:
    lucid.manual_seed(0)
    lm = getattr(nn, name)(*args)
    tm = getattr(tnn, name)(*args)
    bound = 1 / math.sqrt(fan_in)
    for pname in ("weight", "bias"):
        lw = getattr(lm, pname).detach().numpy()
        tw = getattr(tm, pname).detach().numpy()
        assert lw.shape == tw.shape and lw.dtype == tw.dtype == np.float32
        for w in (lw, tw):  # torch's sample obeys the same bound: the formula is torch's
            assert np.abs(w).max() <= bound * (1 + 1e-6)
        assert np.abs(lw).max() > 0.8 * bound
        if lw.size > 1000:  # U(-b, b): mean 0, std b / sqrt(3)
            assert abs(lw.mean()) < 0.05 * bound
            assert abs(lw.std() / (bound / math.sqrt(3)) - 1) < 0.05


def test_default_init_of_other_layers() -> None:
    lucid.manual_seed(1)
    emb = nn.Embedding(400, 50).weight.detach().numpy()  # N(0, 1)
    assert abs(emb.mean()) < 0.02 and abs(emb.std() - 1) < 0.02
    for m in (nn.BatchNorm1d(5), nn.LayerNorm((2, 3)), nn.GroupNorm(1, 4)):
        np.testing.assert_array_equal(m.weight.detach().numpy(), 1)
        np.testing.assert_array_equal(m.bias.detach().numpy(), 0)
    bn = nn.BatchNorm2d(3)
    np.testing.assert_array_equal(bn.running_mean.numpy(), 0)
    np.testing.assert_array_equal(bn.running_var.numpy(), 1)
    lin = nn.Linear(4, 3)
    w0 = lin.weight.detach().numpy().copy()
    lin.reset_parameters()
    assert not np.array_equal(w0, lin.weight.detach().numpy())
    assert lin.weight.grad_fn is None and lin.weight.is_leaf


def test_factory_kwargs_and_conversion() -> None:
    for m in (nn.Linear(3, 2, dtype=lucid.float64), nn.Conv2d(1, 2, 3, dtype="float64"),
              nn.BatchNorm1d(3, dtype=lucid.float64), nn.LayerNorm(3, dtype=lucid.float64),
              nn.Embedding(4, 2, dtype=lucid.float64), nn.Bilinear(2, 2, 2, dtype=lucid.float64),
              nn.GroupNorm(1, 2, dtype=lucid.float64), nn.LazyLinear(2, dtype=lucid.float64)):
        for p in m.parameters():
            assert p.dtype == lucid.float64, type(m).__name__


# ---------------------------------------------------------------- repr, state, utilities


REPR_CASES = [
    ("Conv2d", (3, 8, 3), {"padding": "same", "padding_mode": "circular", "bias": False}),
    ("Conv1d", (4, 8, 3), {"padding": "valid", "dilation": 2, "groups": 4}),
    ("ConvTranspose2d", (4, 8, 3), {"output_padding": 1, "stride": 2, "dilation": 1}),
    ("MaxPool2d", ((2, 3),), {"padding": 1, "dilation": 2, "ceil_mode": True}),
    ("AvgPool1d", (4,), {"stride": 2, "padding": 1}),
    ("AvgPool2d", (3,), {"divisor_override": 2}),
    ("BatchNorm1d", (3,), {"eps": 1e-3, "momentum": None, "affine": False,
                           "track_running_stats": False}),
    ("LayerNorm", ((2, 3),), {"elementwise_affine": False}),
    ("GroupNorm", (2, 4), {"affine": False}),
    ("Embedding", (5, 2), {"norm_type": 1.0, "scale_grad_by_freq": True, "max_norm": 2.0}),
    ("LeakyReLU", (0.3, True), {}),
    ("Softplus", (), {"beta": 3, "threshold": 5}),
    ("Unflatten", (1, (2, 3)), {}),
    ("Dropout2d", (0.25, True), {}),
]


@pytest.mark.parametrize("case", REPR_CASES, ids=[_case_id((*c, None)) for c in REPR_CASES])
def test_repr_matches_torch(case: tuple) -> None:
    name, args, kwargs = case
    assert repr(getattr(nn, name)(*args, **kwargs)) == repr(getattr(tnn, name)(*args, **kwargs))


def test_nested_repr_matches_torch() -> None:
    def build(lib: Any) -> Any:
        return lib.Sequential(lib.Conv2d(1, 4, 3), lib.BatchNorm2d(4), lib.ReLU(inplace=True),
                              lib.MaxPool2d(2), lib.Flatten(), lib.Dropout(0.1),
                              lib.Linear(16, 2), lib.LogSoftmax(dim=1))

    assert repr(build(nn)) == repr(build(tnn))


def test_flatten_unflatten_errors() -> None:
    with pytest.raises(TypeError, match="tuple of ints"):
        nn.Unflatten(1, 6)
    with pytest.raises(TypeError, match="tuple of ints"):
        nn.Unflatten(1, (2, 3.0))
    m = nn.Unflatten(1, lucid.Size([2, 3]))
    assert m(lucid.ones(4, 6)).shape == (4, 2, 3)


def test_identity_returns_its_input() -> None:
    x = lucid.randn(3)
    assert nn.Identity(54, unused_argument1=0.1)(x) is x


def test_state_dict_keys_match_torch() -> None:
    for name, args in [("Linear", (3, 2)), ("Conv2d", (2, 3, 3)), ("BatchNorm2d", (3,)),
                       ("LayerNorm", (4,)), ("GroupNorm", (2, 4)), ("Embedding", (4, 2)),
                       ("Bilinear", (2, 3, 4)), ("ConvTranspose1d", (2, 3, 3))]:
        lsd = getattr(nn, name)(*args).state_dict()
        tsd = getattr(tnn, name)(*args).state_dict()
        assert list(lsd) == list(tsd), name
        for k in tsd:
            assert tuple(lsd[k].shape) == tuple(tsd[k].shape), (name, k)


def test_layers_deepcopy_pickle_and_tree_roundtrip() -> None:
    m = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                      nn.LazyLinear(4))
    x = lucid.randn(2, 2, 5, 5)
    y = m(x)
    assert y.shape == (2, 4)
    m.eval()
    expected = m(x).detach().numpy()
    for clone in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        clone.eval()
        assert type(clone[4]) is nn.Linear
        np.testing.assert_allclose(clone(x).detach().numpy(), expected, rtol=1e-6)
    scaled = lucid.tree.map(lambda t: t * 1.0, m)
    assert type(scaled[4]) is nn.Linear
    np.testing.assert_allclose(scaled(x).detach().numpy(), expected, rtol=1e-6)
