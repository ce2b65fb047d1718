"""The eager fast paths: each must give what the general path gives (values, dtypes, errors,
autograd bookkeeping), and the general path must still be taken under traces.

Covered: weak-scalar and same-dtype broadcasting shortcuts of the elementwise ops, in-place
``add_``/``sub_``/``mul_`` under ``no_grad``, the unweighted ``nll_loss``, and the matmul VJP
that keeps a linear layer's weight gradient in the weight's row-major layout.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lucid
import lucid.nn.functional as F
from lucid.errors import AutogradError, DTypeError, ShapeError
from lucid.ops import registry


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


class _BindCounter:
    """Counts the primitives bound eagerly while active."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def __enter__(self) -> _BindCounter:
        self._orig = registry._eager_bind

        def spy(prim, args, params):
            self.names.append(prim.name)
            return self._orig(prim, args, params)

        registry._eager_bind = spy
        return self

    def __exit__(self, *exc: object) -> None:
        registry._eager_bind = self._orig


# ------------------------------------------------------------------ elementwise promotion


@pytest.mark.parametrize(
    ("dtype", "scalar"),
    [(np.float32, 2.5), (np.float32, 3), (np.float32, True), (np.float64, -1.5),
     (np.int64, 7), (np.int32, True), (np.uint8, 200), (np.bool_, True)],
)
def test_tensor_scalar_ops_match_torch(dtype, scalar):
    a = (_rng().standard_normal((3, 4)) * 10).astype(dtype)
    x, tx = lucid.tensor(a), torch.from_numpy(a.copy())
    for op in (lambda u, s: u + s, lambda u, s: s * u, lambda u, s: u == s,
               lambda u, s: u > s):
        r, tr = op(x, scalar), op(tx, scalar)
        assert str(r.dtype).split(".")[-1] == str(tr.dtype).split(".")[-1]
        np.testing.assert_array_equal(r.numpy(), tr.numpy())


def test_scalar_of_a_higher_category_promotes():
    x = lucid.tensor(np.arange(6, dtype=np.int64).reshape(2, 3))
    r = x * 2.5
    assert r.dtype is lucid.float32
    np.testing.assert_array_equal(r.numpy(), np.arange(6).reshape(2, 3) * np.float32(2.5))
    b = lucid.tensor(np.array([True, False]))
    assert (b + 1).dtype is lucid.int64


def test_integer_scalar_that_does_not_fit_wraps_like_torch():
    a = np.array([1, 2, 250], dtype=np.uint8)
    np.testing.assert_array_equal((lucid.tensor(a) + 300).numpy(),
                                  (torch.from_numpy(a) + 300).numpy())


def test_scalar_constant_is_not_writable_and_gets_no_gradient():
    w = lucid.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    (w * 3.0).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.full((2, 3), 3.0, np.float32))


def test_same_dtype_broadcast_matches_numpy_and_differentiates():
    a = _rng(1).standard_normal((4, 5)).astype(np.float32)
    b = _rng(2).standard_normal((5,)).astype(np.float32)
    x = lucid.tensor(a, requires_grad=True)
    y = lucid.tensor(b, requires_grad=True)
    tx = torch.from_numpy(a).requires_grad_()
    ty = torch.from_numpy(b).requires_grad_()
    out, tout = (x + y) * (y - x), (tx + ty) * (ty - tx)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-6)
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), rtol=1e-6)


def test_same_dtype_shapes_that_do_not_broadcast_name_the_op():
    with pytest.raises(ShapeError, match="add"):
        lucid.ones(2, 3) + lucid.ones(4)


def test_traced_scalar_ops_record_constants():
    @lucid.jit
    def f(x):
        return x * 2.0 + 1

    x = lucid.tensor(np.arange(4, dtype=np.float32))
    np.testing.assert_array_equal(f(x).numpy(), np.arange(4, dtype=np.float32) * 2 + 1)


# ------------------------------------------------------------------ in-place updates


@pytest.mark.parametrize("method", ["add_", "sub_"])
@pytest.mark.parametrize("alpha", [1, -0.01, 3])
def test_inplace_update_under_no_grad_matches_torch(method, alpha):
    a = _rng(3).standard_normal((8, 6)).astype(np.float32)
    g = _rng(4).standard_normal((8, 6)).astype(np.float32)
    p, tp = lucid.tensor(a.copy()), torch.from_numpy(a.copy())
    out_of_place = getattr(lucid, method[:-1])
    version = p._vc.value
    for other in (lucid.tensor(g), 0.5):
        expected = out_of_place(p, other, alpha=alpha).numpy()  # the general path's value
        with lucid.no_grad():
            r = getattr(p, method)(other, alpha=alpha)
        getattr(tp, method)(torch.from_numpy(g) if isinstance(other, lucid.Tensor) else other,
                            alpha=alpha)
        assert r is p
        np.testing.assert_array_equal(p.numpy(), expected)
        np.testing.assert_allclose(p.numpy(), tp.numpy(), rtol=1e-6, atol=1e-7)
    assert p._vc.value == version + 2


def test_inplace_mul_under_no_grad_writes_through_a_view():
    base = lucid.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    row = base[1]
    with lucid.no_grad():
        row.mul_(2.0)
        row.mul_(lucid.tensor(np.array([1, 0, 1], np.float32)))
    np.testing.assert_array_equal(base.numpy(), [[0, 1, 2], [6, 0, 10]])


def test_inplace_update_keeps_its_errors():
    w = lucid.tensor(np.ones(3, np.float32), requires_grad=True)
    with pytest.raises(AutogradError, match="leaf"):
        w.add_(lucid.ones(3))
    i = lucid.tensor(np.arange(3))
    with pytest.raises(DTypeError):
        i.add_(lucid.ones(3), alpha=0.5)
    with lucid.no_grad(), pytest.raises(DTypeError):
        i.add_(lucid.ones(3))  # a float result cannot be written into an int tensor
    f = lucid.ones(3)
    with lucid.no_grad(), pytest.raises(AutogradError):
        f.add_(lucid.ones(2, 3))  # broadcasting that would grow the tensor


def test_inplace_update_of_a_saved_tensor_is_still_detected():
    w = lucid.tensor(np.ones(3, np.float32), requires_grad=True)
    y = w * 1.0
    z = (y * y).sum()
    with lucid.no_grad():
        y.add_(lucid.ones(3))
    with pytest.raises(AutogradError, match="in-place"):
        z.backward()


def test_sgd_step_traced_by_jit_matches_the_eager_step():
    x = lucid.tensor(_rng(5).standard_normal((3, 4)).astype(np.float32))
    nets = []
    for jit in (False, True):
        lucid.manual_seed(0)
        net = lucid.nn.Linear(4, 2)
        opt = lucid.optim.SGD(net.parameters(), lr=0.1)

        def step(x, net=net, opt=opt):
            opt.zero_grad()
            loss = net(x).square().sum()
            loss.backward()
            opt.step()
            return loss

        run = lucid.jit(step) if jit else step
        for _ in range(3):
            run(x)
        nets.append(net)
    eager, jitted = nets
    np.testing.assert_allclose(_np(jitted.weight), _np(eager.weight), rtol=1e-5)
    np.testing.assert_allclose(_np(jitted.bias), _np(eager.bias), rtol=1e-5)


# ------------------------------------------------------------------ losses


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(5,), (6, 5), (3, 5, 2)])
def test_unweighted_nll_fast_path_matches_the_general_path(reduction, shape):
    logits = _rng(6).standard_normal(shape).astype(np.float32)
    tshape = () if len(shape) == 1 else (shape[0], *shape[2:])
    t = _rng(7).integers(0, 5, size=tshape)
    results = []
    for weight in (None, lucid.ones(5)):  # class weights of 1 take the general path
        x = lucid.tensor(logits, requires_grad=True)
        loss = F.cross_entropy(x, lucid.tensor(t), weight=weight, reduction=reduction)
        loss.sum().backward()
        results.append((loss.detach().numpy(), x.grad.numpy()))
    (l0, g0), (l1, g1) = results
    np.testing.assert_allclose(l0, l1, rtol=1e-6)
    np.testing.assert_allclose(g0, g1, rtol=1e-6, atol=1e-7)
    tx = torch.from_numpy(logits).requires_grad_()
    tl = torch.nn.functional.cross_entropy(tx, torch.from_numpy(t), reduction=reduction)
    tl.sum().backward()
    np.testing.assert_allclose(l0, tl.detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(g0, tx.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_unweighted_nll_fast_path_binds_few_ops():
    x = lucid.tensor(_rng(8).standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    t = lucid.tensor(np.array([0, 2, 1, 2]))
    with _BindCounter() as c:
        F.cross_entropy(x, t)
    assert len(c.names) <= 5, c.names
    # An ignored target takes the general path and still gives torch's value.
    t2 = lucid.tensor(np.array([0, -100, 1, 2]))
    tl = torch.nn.functional.cross_entropy(torch.from_numpy(_np(x)),
                                           torch.from_numpy(t2.numpy()))
    np.testing.assert_allclose(F.cross_entropy(x, t2).item(), tl.item(), rtol=1e-6)


def _np(t: lucid.Tensor) -> np.ndarray:
    return t.detach().numpy()


# ------------------------------------------------------------------ matmul gradient layout


def test_linear_weight_gradient_is_row_major_and_matches_torch():
    x = _rng(9).standard_normal((7, 5)).astype(np.float32)
    w = _rng(10).standard_normal((3, 5)).astype(np.float32)
    lw = lucid.tensor(w, requires_grad=True)
    tw = torch.from_numpy(w.copy()).requires_grad_()
    (F.linear(lucid.tensor(x), lw) ** 2).sum().backward()
    (torch.nn.functional.linear(torch.from_numpy(x), tw) ** 2).sum().backward()
    assert lw.grad._data.flags.c_contiguous
    np.testing.assert_allclose(lw.grad.numpy(), tw.grad.numpy(), rtol=1e-5)


def test_matmul_gradient_through_a_transposed_operand_differentiates_twice():
    x = lucid.tensor(_rng(11).standard_normal((4, 3)))
    w = lucid.tensor(_rng(12).standard_normal((2, 3)), requires_grad=True)
    y = (x @ w.mT).square().sum()
    (gw,) = lucid.autograd.grad(y, [w], create_graph=True)
    (ggw,) = lucid.autograd.grad(gw.sum(), [w])
    tx = torch.from_numpy(x.numpy())
    tw = torch.from_numpy(_np(w).copy()).requires_grad_()
    ty = (tx @ tw.mT).square().sum()
    (tgw,) = torch.autograd.grad(ty, [tw], create_graph=True)
    (tggw,) = torch.autograd.grad(tgw.sum(), [tw])
    np.testing.assert_allclose(_np(gw), tgw.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(ggw.numpy(), tggw.numpy(), rtol=1e-10)
