"""Tests of ``lucid.nn.init``: gains and fans against ``torch.nn.init``, the statistics of every
random initialiser against its formula, determinism with a generator, in-place semantics."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import pytest
import torch
from scipy import stats

import lucid
import lucid.nn as nn
from lucid.nn import init

tinit = torch.nn.init


def _values(t: lucid.Tensor) -> np.ndarray:
    return t.detach().numpy()


# ---------------------------------------------------------------- gains and fans


@pytest.mark.parametrize("nonlinearity,param", [
    ("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None),
    ("conv_transpose1d", None), ("conv_transpose2d", None), ("conv_transpose3d", None),
    ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
    ("leaky_relu", 0.2), ("leaky_relu", 3), ("leaky_relu", math.sqrt(5)), ("selu", None),
])
def test_calculate_gain_matches_torch(nonlinearity: str, param: float | None) -> None:
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        tinit.calculate_gain(nonlinearity, param), rel=1e-15)


def test_calculate_gain_errors() -> None:
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", True)
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", "0.1")


@pytest.mark.parametrize("shape", [(3, 4), (5, 2, 3), (6, 4, 3, 2), (2, 3, 1, 2, 2), (7, 1)])
def test_fan_in_and_fan_out_match_torch(shape: tuple[int, ...]) -> None:
    assert init._calculate_fan_in_and_fan_out(lucid.empty(*shape)) == \
        tinit._calculate_fan_in_and_fan_out(torch.empty(*shape))


def test_fan_needs_two_dims() -> None:
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(lucid.empty(5))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(lucid.empty(5))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(lucid.empty(3, 3), mode="fan_avg")


# ---------------------------------------------------------------- distributions

N_ROWS, N_COLS = 400, 500  # 200k samples: sample std within ~0.3% of the true one


def _check_uniform(v: np.ndarray, lo: float, hi: float) -> None:
    assert v.min() >= lo and v.max() <= hi
    width = hi - lo
    assert v.min() < lo + 0.01 * width and v.max() > hi - 0.01 * width
    assert abs(v.mean() - (lo + hi) / 2) < 0.01 * width
    assert v.std() == pytest.approx(width / math.sqrt(12), rel=0.01)


def _check_normal(v: np.ndarray, mean: float, std: float) -> None:
    assert abs(v.mean() - mean) < 0.01 * std + 1e-12
    assert v.std() == pytest.approx(std, rel=0.01)
    # a normal sample, not a uniform one with the same moments: kurtosis ~ 0
    assert abs(stats.kurtosis(v.ravel())) < 0.1


def test_uniform_and_normal() -> None:
    lucid.manual_seed(0)
    t = lucid.empty(N_ROWS, N_COLS)
    assert init.uniform_(t, -2.0, 3.0) is t
    _check_uniform(_values(t), -2.0, 3.0)
    _check_uniform(_values(init.uniform_(lucid.empty(N_ROWS, N_COLS))), 0.0, 1.0)
    _check_normal(_values(init.normal_(t, 1.5, 0.3)), 1.5, 0.3)
    _check_normal(_values(init.normal_(t)), 0.0, 1.0)


@pytest.mark.parametrize("gain", [1.0, 0.5, init.calculate_gain("relu")])
@pytest.mark.parametrize("shape", [(N_ROWS, N_COLS), (250, 40, 4, 5)])
def test_xavier(gain: float, shape: tuple[int, ...]) -> None:
    lucid.manual_seed(1)
    fan_in, fan_out = init._calculate_fan_in_and_fan_out(lucid.empty(*shape))
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    t = init.xavier_uniform_(lucid.empty(*shape), gain=gain)
    _check_uniform(_values(t), -math.sqrt(3) * std, math.sqrt(3) * std)
    _check_normal(_values(init.xavier_normal_(lucid.empty(*shape), gain=gain)), 0.0, std)
    # torch's samples obey the same bound (the formula is torch's)
    tt = tinit.xavier_uniform_(torch.empty(*shape), gain=gain)
    assert tt.abs().max().item() <= math.sqrt(3) * std * (1 + 1e-6)


@pytest.mark.parametrize("a,mode,nonlinearity", [
    (0, "fan_in", "leaky_relu"), (math.sqrt(5), "fan_in", "leaky_relu"),
    (0.2, "fan_out", "leaky_relu"), (0, "fan_in", "relu"), (0, "fan_out", "relu"),
    (0, "fan_in", "tanh"), (0, "FAN_OUT", "linear"), (0, "fan_in", "selu"),
])
def test_kaiming(a: float, mode: str, nonlinearity: str) -> None:
    lucid.manual_seed(2)
    shape = (250, 40, 4, 5)  # fan_in 800, fan_out 5000
    fan = 800 if mode.lower() == "fan_in" else 5000
    std = init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    assert std == pytest.approx(tinit.calculate_gain(nonlinearity, a) / math.sqrt(fan))
    t = lucid.empty(*shape)
    assert init.kaiming_uniform_(t, a=a, mode=mode, nonlinearity=nonlinearity) is t
    _check_uniform(_values(t), -math.sqrt(3) * std, math.sqrt(3) * std)
    tt = tinit.kaiming_uniform_(torch.empty(*shape), a=a, mode=mode, nonlinearity=nonlinearity)
    assert tt.abs().max().item() <= math.sqrt(3) * std * (1 + 1e-6)
    assert tt.abs().max().item() > 0.99 * math.sqrt(3) * std
    _check_normal(_values(init.kaiming_normal_(t, a=a, mode=mode, nonlinearity=nonlinearity)),
                  0.0, std)


def test_kaiming_default_is_linear_layer_bound() -> None:
    # a = sqrt(5) gives bound 1 / sqrt(fan_in): the default weight init of Linear / Conv
    t = init.kaiming_uniform_(lucid.empty(64, 36), a=math.sqrt(5))
    assert np.abs(_values(t)).max() <= 1 / 6 and np.abs(_values(t)).max() > 0.99 / 6


@pytest.mark.parametrize("mean,std,a,b", [
    (0.0, 1.0, -2.0, 2.0), (0.0, 0.02, -0.04, 0.04), (1.0, 2.0, 0.0, 5.0),
    (0.0, 1.0, -0.5, 3.0), (-1.0, 0.5, -1.2, -0.1),
])
def test_trunc_normal(mean: float, std: float, a: float, b: float) -> None:
    lucid.manual_seed(3)
    t = lucid.empty(N_ROWS, N_COLS)
    assert init.trunc_normal_(t, mean, std, a, b) is t
    v = _values(t)
    assert v.min() >= a and v.max() <= b
    dist = stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)
    assert abs(v.mean() - dist.mean()) < 0.01 * dist.std()
    assert v.std() == pytest.approx(dist.std(), rel=0.01)
    # the whole distribution, not just two moments
    assert stats.kstest(v.ravel()[:20000], dist.cdf).pvalue > 1e-3


def test_trunc_normal_defaults_and_warning() -> None:
    v = _values(init.trunc_normal_(lucid.empty(1000, 50)))
    assert v.min() >= -2 and v.max() <= 2 and v.std() == pytest.approx(0.8796, rel=0.02)
    with pytest.warns(UserWarning, match="mean is more than 2 std"):
        init.trunc_normal_(lucid.empty(3, 3), mean=10.0, std=1.0, a=-1.0, b=1.0)


@pytest.mark.parametrize("shape", [(6, 6), (4, 9), (9, 4), (6, 3, 2, 2), (2, 16), (1, 5)])
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_orthogonal(shape: tuple[int, ...], gain: float) -> None:
    lucid.manual_seed(4)
    t = lucid.empty(*shape, dtype=lucid.float64)
    assert init.orthogonal_(t, gain=gain) is t
    q = _values(t).reshape(shape[0], -1) / gain
    rows, cols = q.shape
    if rows <= cols:  # orthonormal rows
        np.testing.assert_allclose(q @ q.T, np.eye(rows), atol=1e-12)
    else:  # orthonormal columns: Q^T Q = I
        np.testing.assert_allclose(q.T @ q, np.eye(cols), atol=1e-12)


def test_orthogonal_is_haar_distributed() -> None:
    # The sign fix from R's diagonal makes Q Haar-distributed: its diagonal entries have mean 0
    # (without the fix, QR's convention would bias them).
    g = lucid.Generator().manual_seed(5)
    diag = np.array([np.diag(_values(init.orthogonal_(lucid.empty(3, 3), generator=g)))
                     for _ in range(2000)])
    assert np.abs(diag.mean(0)).max() < 0.06
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(lucid.empty(4))
    empty = lucid.empty(0, 3)
    assert init.orthogonal_(empty) is empty


# ---------------------------------------------------------------- deterministic initialisers


def test_constant_ones_zeros_eye() -> None:
    t = lucid.empty(3, 4)
    assert init.constant_(t, 0.7) is t
    np.testing.assert_allclose(_values(t), np.full((3, 4), 0.7, np.float32))
    np.testing.assert_array_equal(_values(init.ones_(t)), np.ones((3, 4)))
    np.testing.assert_array_equal(_values(init.zeros_(t)), np.zeros((3, 4)))
    np.testing.assert_array_equal(_values(init.eye_(t)), np.eye(3, 4))
    np.testing.assert_array_equal(_values(init.eye_(lucid.empty(4, 2))), np.eye(4, 2))
    with pytest.raises(ValueError, match="2 dimensions"):
        init.eye_(lucid.empty(2, 2, 2))
    i = init.constant_(lucid.empty(2, dtype=lucid.int64), 3)
    assert i.dtype == lucid.int64 and i.tolist() == [3, 3]


@pytest.mark.parametrize("shape,groups", [((4, 4, 3), 1), ((6, 3, 3, 3), 1), ((6, 2, 3, 3), 2),
                                          ((4, 6, 2, 3, 3), 2), ((3, 5, 4, 4), 1)])
def test_dirac_matches_torch(shape: tuple[int, ...], groups: int) -> None:
    t = init.dirac_(lucid.empty(*shape), groups)
    np.testing.assert_array_equal(_values(t), tinit.dirac_(torch.empty(*shape), groups).numpy())
    conv = nn.Conv2d(3, 3, 3, padding=1, bias=False)
    init.dirac_(conv.weight)
    x = lucid.randn(2, 3, 5, 5)
    np.testing.assert_allclose(conv(x).detach().numpy(), x.numpy(), atol=1e-6)  # identity


# ---------------------------------------------------------------- in-place semantics


def test_initialisers_work_on_parameters_without_recording_history() -> None:
    p = nn.Parameter(lucid.zeros(20, 30))
    version = p._vc.value
    for fn in (init.uniform_, init.normal_, init.xavier_uniform_, init.xavier_normal_,
               init.kaiming_uniform_, init.kaiming_normal_, init.trunc_normal_, init.orthogonal_,
               init.ones_, init.zeros_, init.eye_):
        out = fn(p)
        assert out is p and p.grad_fn is None and p.requires_grad and p.is_leaf
        assert type(p) is nn.Parameter
    assert p._vc.value > version  # in-place writes bump the version counter
    loss = (p * 2).sum()
    loss.backward()
    np.testing.assert_array_equal(p.grad.numpy(), np.full((20, 30), 2, np.float32))


@pytest.mark.parametrize("dtype", [lucid.float32, lucid.float64, lucid.float16])
def test_initialisers_keep_dtype(dtype: lucid.DType) -> None:
    for fn in (init.uniform_, init.normal_, init.xavier_uniform_, init.kaiming_normal_,
               init.trunc_normal_, init.orthogonal_):
        t = fn(lucid.empty(8, 6, dtype=dtype))
        assert t.dtype == dtype and np.isfinite(_values(t)).all()


def test_generator_makes_initialisation_reproducible() -> None:
    def draw(fn: Callable[..., lucid.Tensor], seed: int) -> np.ndarray:
        g = lucid.Generator().manual_seed(seed)
        return _values(fn(lucid.empty(5, 7), generator=g)).copy()

    for fn in (init.uniform_, init.normal_, init.xavier_uniform_, init.xavier_normal_,
               init.kaiming_uniform_, init.kaiming_normal_, init.trunc_normal_, init.orthogonal_):
        a, b, c = draw(fn, 11), draw(fn, 11), draw(fn, 12)
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
    # a private generator leaves the global stream alone
    lucid.manual_seed(0)
    first = lucid.rand(3).numpy().copy()
    lucid.manual_seed(0)
    init.normal_(lucid.empty(4, 4), generator=lucid.Generator().manual_seed(1))
    np.testing.assert_array_equal(lucid.rand(3).numpy(), first)
    # the global seed makes the default generator's draws reproducible
    lucid.manual_seed(21)
    a = _values(init.kaiming_uniform_(lucid.empty(4, 4))).copy()
    lucid.manual_seed(21)
    np.testing.assert_array_equal(_values(init.kaiming_uniform_(lucid.empty(4, 4))), a)


def test_zero_element_tensors_are_a_no_op() -> None:
    t = lucid.empty(0, 3)
    with pytest.warns(UserWarning, match="zero-element"):
        assert init.kaiming_uniform_(t) is t
    with pytest.warns(UserWarning, match="zero-element"):
        assert init.kaiming_normal_(t) is t
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert init.uniform_(t) is t and init.zeros_(t) is t
