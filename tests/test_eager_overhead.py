"""The eager step's overhead cuts: each must leave values, errors and aliasing as they were.

Covered: gradients stored without a copy only when nothing else refers to their memory, the
untracked transposes of backward passes that record nothing, the floating-point error state
set through NumPy's context variable, relu's contiguous-zeros ``maximum`` and its VJP, the 2-d
gather / scatter-add impls, bias and full-reduction gradients with fewer ops, the unweighted
mean ``nll_loss`` binding its primitives directly, and SciPy's OpenBLAS thread timeout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

import lucid
import lucid.nn.functional as F
from lucid.errors import AutogradError
from lucid.ops import index as index_ops
from lucid.ops import registry
from lucid.ops.rules import quiet, restore_fp, silence_fp
from lucid.ops.unary import _relu_impl


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


class _BindCounter:
    """The primitives bound eagerly while active, in order."""

    def __enter__(self) -> list[str]:
        self._orig = registry._eager_bind
        self.names: list[str] = []

        def spy(prim, args, params):
            self.names.append(prim.name)
            return self._orig(prim, args, params)

        registry._eager_bind = spy
        return self.names

    def __exit__(self, *exc: object) -> None:
        registry._eager_bind = self._orig


# ------------------------------------------------------------------ gradients without copies


def _linear_setup(seed: int = 0) -> tuple[lucid.Tensor, lucid.Tensor, lucid.Tensor]:
    r = _rng(seed)
    x = lucid.tensor(r.standard_normal((6, 5)).astype(np.float32))
    w = lucid.tensor(r.standard_normal((3, 5)).astype(np.float32), requires_grad=True)
    b = lucid.tensor(r.standard_normal(3).astype(np.float32), requires_grad=True)
    return x, w, b


def test_unshared_weight_and_bias_gradients_are_stored_without_a_copy():
    x, w, b = _linear_setup()
    (F.linear(x, w, b) ** 2).sum().backward()
    # A view of the buffer the matmul VJP allocated (a copy would own its memory).
    assert w.grad._data.base is not None
    tw = torch.from_numpy(w.detach().numpy().copy()).requires_grad_()
    tb = torch.from_numpy(b.detach().numpy().copy()).requires_grad_()
    (torch.nn.functional.linear(torch.from_numpy(x.numpy()), tw, tb) ** 2).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-4, atol=1e-5)
    first = w.grad.numpy().copy()
    # A second backward accumulates into the stored buffers.
    (F.linear(x, w, b) ** 2).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), first + first)


def test_gradient_viewing_a_callers_seed_is_copied():
    w = lucid.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    seed = lucid.tensor(np.arange(6, dtype=np.float32).reshape(3, 2))
    w.mT.backward(seed)  # w's cotangent is seed.mT: a view of the caller's memory
    expected = seed.numpy().T.copy()
    with lucid.no_grad():
        seed.mul_(0.0)
    np.testing.assert_array_equal(w.grad.numpy(), expected)


def test_leaves_fed_by_views_of_one_buffer_get_their_own_gradients():
    a = lucid.tensor(np.ones(3, np.float32), requires_grad=True)
    b = lucid.tensor(np.ones(2, np.float32), requires_grad=True)
    (lucid.cat([a, b]) * 2.0).sum().backward()  # both cotangents slice one buffer
    with lucid.no_grad():
        a.grad.add_(1.0)
    np.testing.assert_array_equal(a.grad.numpy(), [3, 3, 3])
    np.testing.assert_array_equal(b.grad.numpy(), [2, 2])


def test_gradient_that_is_a_callers_tensor_is_copied():
    w = lucid.tensor(np.ones(4, np.float32), requires_grad=True)
    seed = lucid.tensor(np.full(4, 3.0, np.float32))
    (w * 1.0).backward(seed)
    with lucid.no_grad():
        w.grad.add_(1.0)
    np.testing.assert_array_equal(seed.numpy(), [3, 3, 3, 3])


# ------------------------------------------------------------------ untracked transposes


def test_weight_gradient_binds_one_matmul_and_no_transpose():
    x, w, b = _linear_setup(1)
    loss = F.linear(x, w, b).sum()
    with _BindCounter() as names:
        loss.backward()
    assert names.count("permute") == 0
    assert names.count("matmul") == 1  # x needs no gradient


def test_recorded_backward_still_binds_its_transposes():
    x, w, b = _linear_setup(2)
    loss = (F.linear(x, w, b) ** 2).sum()
    with _BindCounter() as names:
        (gw,) = lucid.autograd.grad(loss, [w], create_graph=True)
    assert "permute" in names
    assert gw.grad_fn is not None
    tw = torch.from_numpy(w.detach().numpy().copy()).requires_grad_()
    tl = (torch.nn.functional.linear(torch.from_numpy(x.numpy()), tw,
                                     torch.from_numpy(b.detach().numpy())) ** 2).sum()
    (tgw,) = torch.autograd.grad(tl, [tw], create_graph=True)
    np.testing.assert_allclose(gw.detach().numpy(), tgw.detach().numpy(), rtol=1e-5)
    (ggw,) = lucid.autograd.grad(gw.square().sum(), [w])
    (tggw,) = torch.autograd.grad(tgw.square().sum(), [tw])
    np.testing.assert_allclose(ggw.numpy(), tggw.numpy(), rtol=1e-4)


def test_permute_gradient_of_a_3d_tensor_matches_torch():
    a = _rng(3).standard_normal((2, 3, 4))
    x = lucid.tensor(a, requires_grad=True)
    g = _rng(4).standard_normal((4, 2, 3))
    x.permute(2, 0, 1).backward(lucid.tensor(g))
    tx = torch.from_numpy(a.copy()).requires_grad_()
    tx.permute(2, 0, 1).backward(torch.from_numpy(g))
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


def test_stale_input_is_still_reported_through_the_matmul_vjp():
    x = lucid.tensor(np.ones((2, 3), np.float32))
    w = lucid.tensor(np.ones((4, 3), np.float32), requires_grad=True)
    y = (x @ w.mT).sum()
    with lucid.no_grad():
        x.add_(1.0)
    with pytest.raises(AutogradError, match="in-place"):
        y.backward()


# ------------------------------------------------------------------ floating-point errors


def test_ops_are_silent_and_leave_numpys_error_state_alone():
    before = np.geterr()
    x = lucid.tensor(np.array([1e38, 0.0, -1.0], np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = (x * 10.0).numpy()
        lg = lucid.log(x).numpy()
        q = (x / 0.0).numpy()
    np.testing.assert_array_equal(r, [np.inf, 0, -10])
    assert lg[1] == -np.inf and np.isnan(lg[2])
    assert q[0] == np.inf and np.isnan(q[1])
    assert np.geterr() == before
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning):
            np.array([1e38], np.float32) * np.float32(10)  # NumPy itself still warns


def test_callers_errstate_is_kept_around_ops():
    x = lucid.tensor(np.array([1e38], np.float32))
    with np.errstate(over="raise"):
        assert (x * 10.0).numpy()[0] == np.inf
        with pytest.raises(FloatingPointError):
            np.array([1e38], np.float32) * np.float32(10)
    old = np.setbufsize(16384)
    try:
        with np.errstate(over="raise"):
            assert (x * 10.0).numpy()[0] == np.inf
            assert np.getbufsize() == 16384
            assert np.geterr()["over"] == "raise"
    finally:
        np.setbufsize(old)


def test_quiet_restores_the_state_when_the_impl_raises():
    def boom(a):
        np.array([1e38], np.float32) * np.float32(10)  # silenced
        raise ValueError("boom")

    before = np.geterr()
    with pytest.raises(ValueError):
        quiet(boom)(np.zeros(1))
    assert np.geterr() == before
    token = silence_fp()
    assert np.geterr()["over"] == "ignore"
    restore_fp(token)
    assert np.geterr() == before


# ------------------------------------------------------------------ relu


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(64, 256), (8192,), (3, 1024, 2), (10, 7), (5,)])
def test_relu_impl_gives_maximums_bits(dtype, shape):
    x = _rng(5).standard_normal(shape).astype(dtype)
    flat = x.reshape(-1)
    for step, v in ((7, -0.0), (11, np.nan), (13, -np.nan), (17, np.inf), (19, -np.inf),
                    (23, 0.0)):
        flat[::step] = v
    got, ref = _relu_impl(x), np.maximum(x, 0)
    assert got.dtype == ref.dtype and got.shape == ref.shape
    np.testing.assert_array_equal(got.view(np.uint8), ref.view(np.uint8))
    # A non-contiguous input takes NumPy's scalar path.
    np.testing.assert_array_equal(_relu_impl(x.T), np.maximum(x.T, 0))


def test_relu_gradient_matches_torch_at_zero():
    a = np.array([[-1.0, 0.0, 2.0, 5.0], [3.0, -0.0, -2.0, 1.0]], np.float32)
    x = lucid.tensor(a, requires_grad=True)
    lucid.relu(x).backward(lucid.tensor(np.full(a.shape, 2.0, np.float32)))
    tx = torch.from_numpy(a.copy()).requires_grad_()
    torch.relu(tx).backward(torch.full(a.shape, 2.0))
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


def test_relu_gradient_differentiates_twice_and_traces():
    x = lucid.tensor(_rng(6).standard_normal((3, 4)), requires_grad=True)
    (g,) = lucid.autograd.grad(lucid.relu(x).square().sum(), [x], create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 2 * np.maximum(x.detach().numpy(), 0))
    (gg,) = lucid.autograd.grad(g.sum(), [x])
    np.testing.assert_allclose(gg.numpy(), 2.0 * (x.detach().numpy() > 0))
    f = lucid.func.grad(lambda t: lucid.relu(t).sum())
    np.testing.assert_array_equal(f(x.detach()).numpy(), (x.detach().numpy() > 0) * 1.0)


# ------------------------------------------------------------------ gather / scatter_add


@pytest.mark.parametrize(("xshape", "ishape", "dim"), [
    ((6, 5), (6, 1), 1), ((6, 5), (4, 3), 1), ((6, 5), (1, 5), 0), ((6, 5), (7, 2), 0),
    ((3, 4, 5), (2, 4, 1), 2), ((3, 4, 5), (3, 1, 5), 1), ((3, 4, 5), (5, 2, 3), 0),
])
def test_gather_and_scatter_add_impls_match_numpy(xshape, ishape, dim):
    r = _rng(7)
    x = r.standard_normal(xshape).astype(np.float32)
    index = r.integers(0, xshape[dim], ishape).astype(np.int64)
    cut = x[tuple(slice(None) if k == dim else slice(0, m) for k, m in enumerate(ishape))]
    np.testing.assert_array_equal(index_ops._gather_impl(x, index, dim=dim),
                                  np.take_along_axis(cut, index, axis=dim))
    src = r.standard_normal(ishape).astype(np.float32)
    ref = x.copy()
    np.add.at(ref, index_ops._coords(index, dim), src)
    np.testing.assert_array_equal(index_ops._scatter_add_impl(x, index, src, dim=dim), ref)


# ------------------------------------------------------------------ fewer ops


def test_bias_gradient_is_one_sum():
    x, w, b = _linear_setup(8)
    w.requires_grad_(False)
    loss = F.linear(x, w, b).sum()
    with _BindCounter() as names:
        loss.backward()
    assert names == ["broadcast_to", "sum"]  # the loss sum's VJP, then the bias's
    np.testing.assert_array_equal(b.grad.numpy(), np.full(3, 6.0, np.float32))


def test_broadcast_gradient_over_inner_dims_matches_torch():
    a, c = _rng(9).standard_normal((4, 1, 3)), _rng(10).standard_normal((2, 4, 5, 3))
    x = lucid.tensor(a, requires_grad=True)
    (x * lucid.tensor(c)).sum().backward()
    tx = torch.from_numpy(a.copy()).requires_grad_()
    (tx * torch.from_numpy(c)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize(("dim", "keepdim"), [(None, False), ((0, 1), False), (1, False),
                                              ((0, 2), False), (0, True)])
def test_sum_gradient_matches_torch(dim, keepdim):
    a = _rng(11).standard_normal((2, 3, 4))
    x = lucid.tensor(a, requires_grad=True)
    tx = torch.from_numpy(a.copy()).requires_grad_()
    s = x.sum() if dim is None else x.sum(dim, keepdim=keepdim)
    ts = tx.sum() if dim is None else tx.sum(dim, keepdim=keepdim)
    g = _rng(12).standard_normal(tuple(ts.shape))
    s.backward(lucid.tensor(g))
    ts.backward(torch.from_numpy(g))
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


def test_full_sum_gradient_broadcasts_without_a_reshape():
    x = lucid.tensor(np.ones((3, 2), np.float32), requires_grad=True)
    y = x.sum()
    with _BindCounter() as names:
        y.backward()
    assert names == ["broadcast_to"]


# ------------------------------------------------------------------ nll_loss


def test_mean_nll_binds_gather_sum_div():
    logits = lucid.tensor(_rng(13).standard_normal((5, 4)).astype(np.float32),
                          requires_grad=True)
    target = lucid.tensor(np.array([0, 3, 1, 1, 2]))
    logp = F.log_softmax(logits, 1)
    with _BindCounter() as names:
        loss = F.nll_loss(logp, target)
    assert names == ["gather", "sum", "div"]
    tl = torch.nn.functional.nll_loss(torch.from_numpy(logp.detach().numpy()),
                                      torch.from_numpy(target.numpy()))
    np.testing.assert_allclose(loss.item(), tl.item(), rtol=1e-6)


def test_mean_nll_target_changed_in_place_is_reported():
    logp = lucid.tensor(np.log(np.full((3, 4), 0.25, np.float32)), requires_grad=True)
    target = lucid.tensor(np.array([0, 1, 2]))
    loss = F.nll_loss(logp, target)
    with lucid.no_grad():
        target.add_(1)
    with pytest.raises(AutogradError, match="in-place"):
        loss.backward()


# ------------------------------------------------------------------ OpenBLAS thread timeout


_PROBE = """
import os, numpy as np, lucid
from lucid.kernels.cpu import blas
blas.gemm(np.ones((2, 2), np.float32), np.ones((2, 2), np.float32))
print(os.environ.get("OPENBLAS_THREAD_TIMEOUT"))
"""


@pytest.mark.parametrize(("given", "after"), [(None, "None"), ("7", "7")])
def test_blas_load_leaves_the_thread_timeout_setting_as_it_found_it(given, after):
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    if given is not None:
        env["OPENBLAS_THREAD_TIMEOUT"] = given
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True,
                         text=True, check=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == after
