"""Tests of eager autograd semantics: accumulation, graph retention, higher order, grad mode,
in-place checks, ``autograd.grad``, graph shapes (fan-out, diamonds, long chains), and
gradients of compositions compared with torch."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

import lucid
from lucid.errors import AutogradError, DTypeError


def _t(data, **kw):
    return lucid.tensor(np.asarray(data, dtype=np.float64), **kw)


def _tt(x: lucid.Tensor) -> torch.Tensor:
    return torch.tensor(x.detach().numpy(), requires_grad=True)


# ---------------------------------------------------------------- accumulation


def test_gradients_accumulate_until_zeroed():
    x = _t([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]
    (x * 3).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0]  # added, not replaced
    x.grad.zero_()
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    x.grad = None
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]
    assert x.grad.dtype is lucid.float64 and not x.grad.requires_grad


def test_grad_is_a_plain_tensor_with_own_storage():
    a = _t([1.0, 2.0], requires_grad=True)
    b = _t([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()  # the same cotangent flows to both leaves
    a.grad.add_(10)
    assert b.grad.tolist() == [1.0, 1.0]
    assert a.grad.is_leaf and a.grad.grad_fn is None


# ---------------------------------------------------------------- retain_graph


def test_second_backward_through_freed_graph_raises():
    x = _t([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(AutogradError, match=r"second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_another_backward():
    x = _t([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.tolist()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array(first))
    with pytest.raises(AutogradError, match="second time"):
        y.backward()


def test_grad_frees_graph_by_default():
    x = _t([1.0], requires_grad=True)
    y = (x * x).sum()
    lucid.autograd.grad(y, [x], retain_graph=True)
    lucid.autograd.grad(y, [x])
    with pytest.raises(AutogradError, match="second time"):
        lucid.autograd.grad(y, [x])


# ---------------------------------------------------------------- higher order


def test_grad_of_grad_of_cube():
    x = _t([1.0, -2.0, 3.0], requires_grad=True)
    y = (x**3).sum()
    (g,) = lucid.autograd.grad(y, [x], create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 3 * x.detach().numpy() ** 2)
    assert g.requires_grad and g.grad_fn is not None
    (gg,) = lucid.autograd.grad(g.sum(), [x], create_graph=True)
    np.testing.assert_allclose(gg.detach().numpy(), 6 * x.detach().numpy())
    (ggg,) = lucid.autograd.grad(gg.sum(), [x])
    np.testing.assert_allclose(ggg.numpy(), [6.0, 6.0, 6.0])


def test_backward_create_graph_then_backward_again():
    x = _t([2.0], requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad and g.tolist() == [12.0]
    x.grad = None
    g.sum().backward()
    assert x.grad.tolist() == [12.0]  # d/dx 3x^2 = 6x


def test_higher_order_matches_torch():
    x = lucid.randn(4, dtype=lucid.float64, requires_grad=True)
    y = (x.tanh() * x.sigmoid() + x.exp() * x.sin()).sum()
    (g,) = lucid.autograd.grad(y, [x], create_graph=True)
    (h,) = lucid.autograd.grad((g * g).sum(), [x])
    tx = _tt(x)
    ty = (tx.tanh() * tx.sigmoid() + tx.exp() * tx.sin()).sum()
    (tg,) = torch.autograd.grad(ty, [tx], create_graph=True)
    (th,) = torch.autograd.grad((tg * tg).sum(), [tx])
    np.testing.assert_allclose(g.detach().numpy(), tg.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(h.numpy(), th.numpy(), rtol=1e-10)


# ---------------------------------------------------------------- grad mode


def test_no_grad_context_and_decorator():
    x = _t([1.0], requires_grad=True)
    assert lucid.is_grad_enabled()
    with lucid.no_grad():
        assert not lucid.is_grad_enabled()
        y = x * 2
    assert lucid.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None

    @lucid.no_grad()
    def f(t):
        assert not lucid.is_grad_enabled()
        return t * 2

    assert not f(x).requires_grad and f.__name__ == "f"
    assert lucid.is_grad_enabled()


def test_no_grad_restores_on_exception():
    with pytest.raises(KeyError), lucid.no_grad():
        raise KeyError("boom")
    assert lucid.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = _t([1.0], requires_grad=True)
    with lucid.no_grad():
        with lucid.enable_grad():
            assert lucid.is_grad_enabled()
            y = x * 2
        assert not lucid.is_grad_enabled()
        z = x * 2

        @lucid.enable_grad()
        def g(t):
            return t * 3

        w = g(x)
    assert y.requires_grad and not z.requires_grad and w.requires_grad


def test_set_grad_enabled():
    x = _t([1.0], requires_grad=True)
    try:
        lucid.set_grad_enabled(False)  # takes effect immediately, like PyTorch
        assert not lucid.is_grad_enabled()
        assert not (x * 2).requires_grad
    finally:
        lucid.set_grad_enabled(True)
    assert lucid.is_grad_enabled()
    with lucid.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert lucid.is_grad_enabled()
    with lucid.no_grad(), lucid.set_grad_enabled(True):
        assert (x * 2).requires_grad
    assert lucid.is_grad_enabled()


def test_grad_mode_is_thread_local():
    seen = []

    def worker():
        seen.append(lucid.is_grad_enabled())

    with lucid.no_grad():
        th = threading.Thread(target=worker)
        th.start()
        th.join()
    assert seen == [True]


# ---------------------------------------------------------------- seeds


def test_non_scalar_backward_seeds_ones():
    w = _t([[1.0, 2.0]], requires_grad=True)
    x = _t([[3.0], [4.0]])
    out = w @ x  # shape (1, 1), as in the seed documents
    assert out.shape == (1, 1)
    out.backward()
    assert w.grad.tolist() == [[3.0, 4.0]]
    y = _t([1.0, 2.0, 3.0], requires_grad=True)
    (y * 2).backward()  # (3,): the gradient of (y * 2).sum()
    assert y.grad.tolist() == [2.0, 2.0, 2.0]


def test_backward_with_explicit_gradient():
    x = _t([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).backward(gradient=_t([1.0, 0.0, -1.0]))
    assert x.grad.tolist() == [2.0, 0.0, -6.0]
    with pytest.raises(AutogradError, match="does not match"):
        (x * x).backward(_t([1.0, 2.0]))


def test_backward_on_leaf():
    x = _t([1.0, 2.0], requires_grad=True)
    x.backward(_t([3.0, 4.0]))
    assert x.grad.tolist() == [3.0, 4.0]


# ---------------------------------------------------------------- in-place operations


def test_inplace_modification_of_saved_tensor_detected():
    x = _t([1.0, 2.0], requires_grad=True)
    a = x * 2
    b = a * a  # mul saves a for its backward
    a.add_(1)
    with pytest.raises(AutogradError, match="modified by an in-place operation") as e:
        b.sum().backward()
    msg = str(e.value)
    assert "version 1" in msg and "expected version 0" in msg and "MulBackward" in msg


def test_inplace_modification_of_saved_output_detected():
    x = _t([1.0, 2.0], requires_grad=True)
    y = x.exp()  # exp's backward reads its output
    y.mul_(2)
    with pytest.raises(AutogradError, match="modified by an in-place operation"):
        y.sum().backward()


def test_inplace_through_view_of_saved_constant_detected():
    x = _t([1.0, 2.0, 3.0], requires_grad=True)
    c = _t([1.0, 2.0, 3.0])
    y = x * c  # x's gradient needs c
    c.view(3, 1).add_(1)  # a view shares its base's version counter
    with pytest.raises(AutogradError, match="in-place"):
        y.sum().backward()


def test_inplace_allowed_when_backward_does_not_need_old_value():
    # The seed pattern: shrink a layer's output in place until it is small, then backward.
    lucid.manual_seed(0)
    w = lucid.randn(3, 4, dtype=lucid.float64, requires_grad=True)
    b = lucid.zeros(3, dtype=lucid.float64, requires_grad=True)
    x0 = lucid.randn(5, 4, dtype=lucid.float64) * 10

    def lin(t):
        return t @ w.T + b

    X = lin(x0)
    halvings = 0
    while X.abs().sum() > 1:
        X /= 2
        halvings += 1
    X.sum().backward()
    assert halvings > 0

    tw, tb = _tt(w), _tt(b)
    TX = torch.from_numpy(x0.numpy()) @ tw.T + tb
    for _ in range(halvings):
        TX = TX / 2
    TX.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-12)


def test_inplace_chain_on_non_leaf_matches_out_of_place():
    x = _t([0.5, -1.5], requires_grad=True)
    y = x * 3
    y += 1
    z = y * x  # mul saves y at its current version; later writes to z are fine
    z -= 2
    z /= 4
    z.sum().backward()
    tx = _tt(x)
    ty = ((((tx * 3 + 1) * tx) - 2) / 4).sum()
    ty.backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


def test_inplace_op_whose_backward_needs_the_old_self():
    x = _t([0.5, -1.5], requires_grad=True)
    y = x * 3
    y *= x  # d/dx needs the old y
    y.sum().backward()
    tx = _tt(x)
    ((tx * 3) * tx).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())

    x.grad = None
    c = _t([3.0, 4.0])  # a constant scaled in place by a differentiable factor
    c *= x
    c.sum().backward()
    assert x.grad.tolist() == [3.0, 4.0]

    x.grad = None
    z = x * 1
    z.square_()  # square's backward reads its input
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy())


def test_leaf_inplace_refused_but_allowed_under_no_grad():
    w = _t([1.0, 2.0], requires_grad=True)
    with pytest.raises(AutogradError, match="leaf Tensor that requires grad"):
        w += 1
    with pytest.raises(AutogradError, match="leaf Tensor that requires grad"):
        w.mul_(2)
    assert w.tolist() == [1.0, 2.0]
    v = w._vc.value
    with lucid.no_grad():
        w -= 0.5  # what an optimizer step does
        w.mul_(2)
    assert w.tolist() == [1.0, 3.0]
    assert w._vc.value == v + 2
    assert w.requires_grad and w.is_leaf and w.grad_fn is None


def test_stale_leaf_after_optimizer_step_detected():
    w = _t([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    with lucid.no_grad():
        w.add_(1)
    with pytest.raises(AutogradError, match="modified by an in-place operation"):
        y.backward()


# ---------------------------------------------------------------- retain_grad, grad, inputs


def test_retain_grad_on_non_leaves():
    x = _t([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    z = x + 1  # not retained
    out = (h * h + z).sum()
    out.backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.detach().numpy())
    assert z.grad is None
    np.testing.assert_allclose(x.grad.numpy(), 18 * x.detach().numpy() + 1)


def test_autograd_grad_and_allow_unused():
    x = _t([1.0, 2.0], requires_grad=True)
    u = _t([5.0], requires_grad=True)
    y = (x * x).sum()
    gx, gu = lucid.autograd.grad(y, [x, u], allow_unused=True, retain_graph=True)
    assert gx.tolist() == [2.0, 4.0] and gu is None
    assert x.grad is None and u.grad is None  # grad() does not accumulate
    with pytest.raises(AutogradError, match="allow_unused=True"):
        lucid.autograd.grad(y, [x, u])
    with pytest.raises(AutogradError, match="does not require grad"):
        lucid.autograd.grad(y, [_t([1.0])])


def test_autograd_grad_with_grad_outputs_and_non_leaf_inputs():
    x = _t([1.0, 2.0], requires_grad=True)
    h = x * 2
    y = h * h
    gh, gx = lucid.autograd.grad([y], [h, x], grad_outputs=[_t([1.0, -1.0])])
    assert gh.tolist() == [4.0, -8.0]
    assert gx.tolist() == [8.0, -16.0]


def test_backward_inputs_limits_accumulation():
    a = _t([1.0], requires_grad=True)
    b = _t([2.0], requires_grad=True)
    (a * b).sum().backward(inputs=[a])
    assert a.grad.tolist() == [2.0] and b.grad is None
    (a * b).sum().backward(inputs=[b])
    assert a.grad.tolist() == [2.0] and b.grad.tolist() == [1.0]


# ---------------------------------------------------------------- graph shapes


def test_fan_out_accumulates():
    x = _t([1.0, 2.0], requires_grad=True)
    y = x * x + x * 2 + x.exp()  # x used three times (four with x * x)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy() + 2 +
                               np.exp(x.detach().numpy()))


def test_diamond_graph():
    x = _t([0.3, -0.7], requires_grad=True)
    a = x * 2
    b = a.sin()
    c = a.cos()
    out = (b * c).sum()
    out.backward()
    tx = _tt(x)
    ta = tx * 2
    (ta.sin() * ta.cos()).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_same_tensor_both_operands():
    x = _t([3.0], requires_grad=True)
    (x * x).backward()
    assert x.grad.tolist() == [6.0]
    x.grad = None
    (x / x).backward()
    assert x.grad.tolist() == [0.0]


def test_long_chain_has_no_recursion_limit():
    x = _t([1.0], requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001**5000], rtol=1e-9)


def test_detach_stops_gradients():
    x = _t([1.0, 2.0], requires_grad=True)
    y = x * x.detach()  # only the first factor is differentiated
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 2.0]
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None
    with pytest.raises(AutogradError, match="does not require grad"):
        d.sum().backward()


def test_integer_outputs_cannot_backward():
    with pytest.raises(AutogradError, match="does not require grad"):
        lucid.tensor([1, 2]).sum().backward()
    x = _t([1.0, -2.0], requires_grad=True)
    for out in ((x > 0).sum(), x.long().sum(), x.argmax()):
        assert not out.requires_grad
        with pytest.raises(AutogradError, match="does not require grad"):
            out.backward()


def test_requires_grad_propagation():
    x = _t([1.0, 2.0], requires_grad=True)
    c = _t([3.0, 4.0])
    assert (x + c).requires_grad and (c * x).requires_grad
    assert not (c + c).requires_grad
    assert (x * 2).requires_grad and (2 - x).requires_grad
    assert not (x > c).requires_grad and (x > c).dtype is lucid.bool
    assert not x.long().requires_grad
    assert x.float().requires_grad  # float-to-float casts keep the graph
    assert not x.detach().requires_grad
    with lucid.no_grad():
        assert not (x * 2).requires_grad
    assert (x @ c).requires_grad and not (c @ c).requires_grad
    with pytest.raises(DTypeError, match="floating point"):
        lucid.tensor([1, 2]).requires_grad_()


def test_non_differentiable_branch_of_graph():
    x = _t([1.0, -2.0, 3.0], requires_grad=True)
    mask = (x > 0).double()  # no gradient flows through the comparison
    (x * mask).sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 1.0]


def test_gradient_through_repeated_indices():
    x = _t([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    x[[0, 0, 1]].sum().backward()
    assert x.grad.tolist() == [2.0, 1.0, 0.0, 0.0]
    x.grad = None
    x[lucid.tensor([3, 3, 3])].sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0, 3.0]


# ---------------------------------------------------------------- against torch


def test_mlp_gradients_match_torch():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 4))
    W1, b1 = rng.standard_normal((4, 5)), rng.standard_normal(5)
    W2, b2 = rng.standard_normal((5, 3)), rng.standard_normal(3)
    lp = [lucid.tensor(p, requires_grad=True) for p in (W1, b1, W2, b2)]
    tp = [torch.tensor(p, requires_grad=True) for p in (W1, b1, W2, b2)]

    def net(x, w1, c1, w2, c2, lib):
        h = (x @ w1 + c1).relu()
        out = h @ w2 + c2
        return (out * out).sum() / 6 + lib.tanh(out).sum()

    net(lucid.tensor(X), *lp, lucid).backward()
    net(torch.tensor(X), *tp, torch).backward()
    for a, b in zip(lp, tp, strict=True):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "fn",
    [
        lambda m, x, y: (x * y + x / (y * y + 1)).sum(),
        lambda m, x, y: (m.exp(x) - m.log(y * y + 1) * m.sqrt(x * x + 1)).sum(),
        lambda m, x, y: (m.sigmoid(x) * m.tanh(y) ** 2).sum(),
        lambda m, x, y: (m.maximum(x, y) + m.minimum(x, y * 0.5)).sum(),
        lambda m, x, y: (x.abs() ** 1.5 + m.clamp(y, -0.5, 0.5)).sum(),
        lambda m, x, y: (x[None, :] * y[:, None]).sum(),  # broadcasting both ways
    ],
)
def test_compositions_match_torch(fn):
    rng = np.random.default_rng(1)
    xd, yd = rng.standard_normal(4), rng.standard_normal(4)
    x, y = lucid.tensor(xd, requires_grad=True), lucid.tensor(yd, requires_grad=True)
    tx, ty = torch.tensor(xd, requires_grad=True), torch.tensor(yd, requires_grad=True)
    lo, to = fn(lucid, x, y), fn(torch, tx, ty)
    lo.backward()
    to.backward()
    np.testing.assert_allclose(lo.item(), to.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_float32_gradients_stay_float32():
    x = lucid.randn(3, requires_grad=True)
    (x * 2.0 + 1).sum().backward()
    assert x.grad.dtype is lucid.float32
    i = lucid.tensor([1, 2, 3])
    y = lucid.randn(3, requires_grad=True)
    (i * y).sum().backward()  # int64 * float32 -> float32
    assert y.grad.dtype is lucid.float32 and y.grad.tolist() == [1.0, 2.0, 3.0]
