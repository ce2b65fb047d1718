"""Tests of the function transforms ``lucid.grad``, ``value_and_grad``, ``vjp``, ``jvp``,
``jacrev``, ``jacfwd`` and ``hessian``: against eager ``backward``, ``torch.func`` and
analytic or finite-difference values; over pytrees and modules (``functional_call``, tied
weights, BatchNorm side effects); composed with each other and with ``vmap``; and with
``lucid.config.disable_jit``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import torch.func as tfunc
from hypothesis import given, settings
from hypothesis import strategies as st

import lucid
import lucid.nn as nn
from lucid.errors import LucidError
from lucid.func import functional_call

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _np(t) -> np.ndarray:
    return t.detach().numpy()


def _f64(*shape: int) -> lucid.Tensor:
    return lucid.randn(*shape, dtype=lucid.float64)


def _torch_copy(lmodel: nn.Module, tmodel: torch.nn.Module) -> torch.nn.Module:
    """Copy lucid parameters into a torch model with the same parameter names."""
    state = {k: torch.tensor(_np(v)) for k, v in lmodel.state_dict().items()}
    tmodel.load_state_dict(state, strict=True)
    return tmodel


def _assert_tree_close(lucid_tree: dict, ref: dict, rtol: float = 1e-5, atol: float = 1e-6):
    assert set(lucid_tree) == set(ref)
    for k in ref:
        np.testing.assert_allclose(_np(lucid_tree[k]), np.asarray(ref[k]), rtol=rtol, atol=atol,
                                   err_msg=k)


def _named(module: nn.Module) -> dict:
    return dict(module.named_parameters())


# ============================================================================ models


def _mlp(seed: int = 0) -> nn.Sequential:
    lucid.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


def _torch_mlp() -> torch.nn.Sequential:
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))


class ConvNetwork(nn.Module):
    """The seed document's ModuleList CNN (3x32x32 inputs, 10 classes)."""

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
        x = self.fc(x)
        return x


class TorchConvNetwork(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_layers = torch.nn.ModuleList([
            torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2, 2),
            torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2, 2),
        ])
        self.fc = torch.nn.Linear(32 * 8 * 8, 10)

    def forward(self, x):
        for layer in self.conv_layers:
            x = layer(x)
        return self.fc(x.view(x.size(0), -1))


def _mse(out, y):
    return ((out - y) ** 2).mean()


# ============================================================================ grad of models


def test_grad_of_mlp_loss_matches_eager_and_torch_func():
    model, x, y = _mlp(), lucid.randn(5, 4), lucid.randn(5, 2)

    def loss_fn(model, x, y):
        return _mse(model(x), y)

    grads = lucid.grad(loss_fn)(model, x, y)
    assert type(grads) is nn.Sequential
    got = _named(grads)
    # eager backward
    model.zero_grad()
    loss_fn(model, x, y).backward()
    _assert_tree_close(got, {k: _np(p.grad) for k, p in model.named_parameters()}, 1e-6, 1e-7)
    # torch.func.grad with the same weights
    tm = _torch_copy(model, _torch_mlp())
    tx, ty = torch.tensor(_np(x)), torch.tensor(_np(y))
    ref = tfunc.grad(lambda p: _mse(tfunc.functional_call(tm, p, (tx,)), ty))(
        {k: v.detach() for k, v in tm.named_parameters()})
    _assert_tree_close(got, {k: v.numpy() for k, v in ref.items()})


def test_grad_of_cnn_loss_matches_eager_and_torch_func():
    lucid.manual_seed(0)
    model = ConvNetwork()
    x, y = lucid.randn(2, 3, 32, 32), lucid.randn(2, 10)

    def loss_fn(model, x, y):
        return _mse(model(x), y)

    value, grads = lucid.value_and_grad(loss_fn)(model, x, y)
    got = _named(grads)
    assert set(got) == {"conv_layers.0.weight", "conv_layers.0.bias", "conv_layers.3.weight",
                        "conv_layers.3.bias", "fc.weight", "fc.bias"}
    model.zero_grad()
    eager = loss_fn(model, x, y)
    eager.backward()
    np.testing.assert_allclose(_np(value), _np(eager), rtol=1e-6)
    _assert_tree_close(got, {k: _np(p.grad) for k, p in model.named_parameters()}, 1e-6, 1e-7)
    tm = _torch_copy(model, TorchConvNetwork())
    tx, ty = torch.tensor(_np(x)), torch.tensor(_np(y))
    ref = tfunc.grad(lambda p: _mse(tfunc.functional_call(tm, p, (tx,)), ty))(
        {k: v.detach() for k, v in tm.named_parameters()})
    _assert_tree_close(got, {k: v.numpy() for k, v in ref.items()}, rtol=1e-4, atol=1e-6)


def test_grad_through_functional_call_with_a_parameter_dict():
    model, x, y = _mlp(1), lucid.randn(6, 4), lucid.randn(6, 2)
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss_fn(params, x, y):
        return _mse(functional_call(model, params, (x,)), y)

    grads = lucid.grad(loss_fn)(params, x, y)
    assert isinstance(grads, dict) and set(grads) == set(params)
    model.zero_grad()
    _mse(model(x), y).backward()
    _assert_tree_close(grads, {k: _np(p.grad) for k, p in model.named_parameters()}, 1e-6, 1e-7)
    tm = _torch_copy(model, _torch_mlp())
    tx, ty = torch.tensor(_np(x)), torch.tensor(_np(y))
    ref = tfunc.grad(lambda p: _mse(tfunc.functional_call(tm, p, (tx,)), ty))(
        {k: torch.tensor(_np(v)) for k, v in params.items()})
    _assert_tree_close(grads, {k: v.numpy() for k, v in ref.items()})
    # The module's own parameters were put back and not touched.
    assert all(p.grad is not None and p.is_leaf for p in model.parameters())


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(3, 3, bias=False)
        self.dec = nn.Linear(3, 3, bias=False)
        self.dec.weight = self.enc.weight

    def forward(self, x):
        return self.dec(self.enc(x).tanh())


class TorchTied(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = torch.nn.Linear(3, 3, bias=False)
        self.dec = torch.nn.Linear(3, 3, bias=False)
        self.dec.weight = self.enc.weight

    def forward(self, x):
        return self.dec(self.enc(x).tanh())


def test_tied_parameters_receive_one_summed_gradient():
    lucid.manual_seed(2)
    model, x = Tied(), lucid.randn(4, 3)
    grads = lucid.grad(lambda m, x: m(x).sum())(model, x)
    assert grads.enc.weight is grads.dec.weight  # one leaf, as in the model
    assert [k for k, _ in grads.named_parameters()] == ["enc.weight"]
    model(x).sum().backward()
    np.testing.assert_allclose(_np(grads.enc.weight), _np(model.enc.weight.grad), rtol=1e-6)
    # It is the sum of the two uses' gradients (computed separately with untied weights).
    w = model.enc.weight.detach()
    g_enc, g_dec = lucid.grad(
        lambda a, b: (x @ a.T).tanh().matmul(b.T).sum(), argnums=(0, 1))(w, w)
    np.testing.assert_allclose(_np(grads.enc.weight), _np(g_enc + g_dec), rtol=1e-5, atol=1e-7)
    tm = TorchTied()
    tm.enc.weight.data = torch.tensor(_np(w))
    ref = tfunc.grad(lambda p: tfunc.functional_call(tm, p, (torch.tensor(_np(x)),)).sum())(
        {"enc.weight": torch.tensor(_np(w))})
    np.testing.assert_allclose(_np(grads.enc.weight), ref["enc.weight"].numpy(), rtol=1e-5)


def test_sgd_update_by_tree_map_equals_manual_sgd():
    model, x, y = _mlp(3), lucid.randn(5, 4), lucid.randn(5, 2)
    grads = lucid.grad(lambda m, x, y: _mse(m(x), y))(model, x, y)
    new = lucid.tree.map(lambda p, g: (p - 0.1 * g).detach(), model, grads)
    assert type(new) is nn.Sequential and new is not model
    model.zero_grad()
    _mse(model(x), y).backward()
    for (k, p), (k2, q) in zip(model.named_parameters(), new.named_parameters()):
        assert k == k2
        np.testing.assert_allclose(_np(q), _np(p) - 0.1 * _np(p.grad), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(_np(new(x)), _np(functional_call(
        model, {k: _np_t(p) - 0.1 * _np_t(p.grad) for k, p in model.named_parameters()}, (x,))),
        rtol=1e-5)


def _np_t(t):
    return lucid.tensor(_np(t))


def test_batchnorm_running_stats_update_like_one_eager_call():
    lucid.manual_seed(5)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    twin = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    twin.load_state_dict(model.state_dict())
    x = lucid.randn(8, 3)
    grads = lucid.grad(lambda m, x: (m(x) ** 2).sum())(model, x)
    (twin(x) ** 2).sum().backward()
    bn, tbn = model[1], twin[1]
    assert _np(tbn.running_mean).any()
    np.testing.assert_allclose(_np(bn.running_mean), _np(tbn.running_mean), rtol=1e-6)
    np.testing.assert_allclose(_np(bn.running_var), _np(tbn.running_var), rtol=1e-6)
    assert bn.num_batches_tracked.item() == 1 and bn.num_batches_tracked.dtype is lucid.int64
    np.testing.assert_allclose(_np(grads[0].weight), _np(twin[0].weight.grad), rtol=1e-5,
                               atol=1e-6)
    # Buffers are carried in the gradient tree: zeros of their own dtype.
    assert grads[1].num_batches_tracked.dtype is lucid.int64
    assert grads[1].num_batches_tracked.item() == 0
    assert not _np(grads[1].running_mean).any()
    # Stats are also updated when the module is read from the closure.
    lucid.grad(lambda x: (model(x) ** 2).sum())(x)
    (twin(x) ** 2).sum().backward()
    np.testing.assert_allclose(_np(bn.running_var), _np(tbn.running_var), rtol=1e-6)
    assert bn.num_batches_tracked.item() == 2


def test_closure_parameters_are_lifted_not_differentiated():
    lucid.manual_seed(6)
    lin = nn.Linear(3, 2)
    x = lucid.randn(5, 3)
    value, gx = lucid.value_and_grad(lambda x: lin(x).tanh().sum())(x)
    assert gx.shape == (5, 3)
    assert lin.weight.grad is None and lin.bias.grad is None
    xr = x.detach().requires_grad_()
    ref = lin(xr).tanh().sum()
    ref.backward()
    np.testing.assert_allclose(_np(value), _np(ref), rtol=1e-6)
    np.testing.assert_allclose(_np(gx), _np(xr.grad), rtol=1e-5)
    # Side effects on the closure are applied like an eager call: zero_grad clears .grad.
    lin(x).sum().backward()

    def loss_and_clear(x):
        lin.zero_grad()
        return lin(x).sum()

    lucid.grad(loss_and_clear)(x)
    assert lin.weight.grad is None and lin.bias.grad is None
    # The closure's current values are used on every call.
    with lucid.no_grad():
        lin.weight.mul_(-1.0)
    gx2 = lucid.grad(lambda x: lin(x).sum())(x)
    np.testing.assert_allclose(_np(gx2), np.tile(_np(lin.weight).sum(0), (5, 1)), rtol=1e-5)


# ============================================================================ API details


def test_value_and_grad_argnums_has_aux_and_kwargs():
    a, b = _f64(3), _f64(3)

    def f(a, b, scale=1.0):
        loss = (a * b).sum() * scale
        return loss, {"prod": a * b}

    (value, aux), (ga, gb) = lucid.value_and_grad(f, argnums=(0, 1), has_aux=True)(
        a, b, scale=2.0)
    np.testing.assert_allclose(_np(value), 2 * (_np(a) * _np(b)).sum())
    np.testing.assert_allclose(_np(aux["prod"]), _np(a) * _np(b))
    np.testing.assert_allclose(_np(ga), 2 * _np(b))
    np.testing.assert_allclose(_np(gb), 2 * _np(a))
    g, aux2 = lucid.grad(f, argnums=-1, has_aux=True)(a, b)
    np.testing.assert_allclose(_np(g), _np(a))
    assert set(aux2) == {"prod"}


def test_grad_of_pytree_argument_keeps_its_structure():
    params = {"w": _f64(3, 2), "layers": [_f64(2), (_f64(2), 3)]}
    x = _f64(4, 3)

    def f(p, x):
        h = (x @ p["w"]).tanh()
        return (h * p["layers"][0] + p["layers"][1][0] * p["layers"][1][1]).sum()

    g = lucid.grad(f)(params, x)
    assert lucid.tree.structure(g) == lucid.tree.structure(
        lucid.tree.map(lambda v: v if isinstance(v, lucid.Tensor) else None, params))
    assert g["layers"][1][1] is None  # a non-tensor leaf has no gradient
    tp = {"w": torch.tensor(_np(params["w"])), "l0": torch.tensor(_np(params["layers"][0])),
          "l1": torch.tensor(_np(params["layers"][1][0]))}
    tx = torch.tensor(_np(x))
    ref = tfunc.grad(lambda p: ((tx @ p["w"]).tanh() * p["l0"] + p["l1"] * 3).sum())(tp)
    np.testing.assert_allclose(_np(g["w"]), ref["w"].numpy(), rtol=1e-10)
    np.testing.assert_allclose(_np(g["layers"][0]), ref["l0"].numpy(), rtol=1e-10)
    np.testing.assert_allclose(_np(g["layers"][1][0]), ref["l1"].numpy(), rtol=1e-10)


def test_grad_errors():
    x = _f64(3)
    with pytest.raises(LucidError, match=r"argument 'n' \(argnums=0\) is a int64 tensor"):
        lucid.grad(lambda n: n.sum().double())(lucid.tensor([1, 2]))
    with pytest.raises(LucidError, match="must return a scalar floating tensor, got f64\\[3\\]"):
        lucid.grad(lambda x: x * 2)(x)
    with pytest.raises(LucidError, match="must return a scalar"):
        lucid.grad(lambda x: (x.sum(), x.sum()))(x)
    with pytest.raises(LucidError, match="has_aux=True"):
        lucid.grad(lambda x: x.sum(), has_aux=True)(x)
    with pytest.raises(LucidError, match="out of range"):
        lucid.grad(lambda x: x.sum(), argnums=2)(x)
    with pytest.raises(LucidError, match="only bool tensors"):
        lucid.grad(lambda m: x.sum())({"mask": lucid.tensor([True])})


def test_unused_argument_gets_zeros():
    x, y = _f64(3), _f64(2, 2)
    gx, gy = lucid.grad(lambda x, y: x.sum(), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(_np(gx), np.ones(3))
    assert gy.shape == (2, 2) and gy.dtype is lucid.float64 and not _np(gy).any()


def test_vjp_with_pytrees_against_torch():
    a, b = _f64(3, 2), _f64(2)

    def f(p, x):
        return {"y": (x @ p["a"]) * p["b"], "s": p["b"].exp().sum()}

    x = _f64(4, 3)
    out, vjp_fn = lucid.vjp(f, {"a": a, "b": b}, x)
    cy, cs = _f64(4, 2), _f64()
    gp, gx = vjp_fn({"y": cy, "s": cs})
    tp = {"a": torch.tensor(_np(a)), "b": torch.tensor(_np(b))}
    tx = torch.tensor(_np(x))
    tout, tvjp = tfunc.vjp(lambda p, x: {"y": (x @ p["a"]) * p["b"], "s": p["b"].exp().sum()},
                           tp, tx)
    rp, rx = tvjp({"y": torch.tensor(_np(cy)), "s": torch.tensor(_np(cs))})
    np.testing.assert_allclose(_np(out["y"]), tout["y"].numpy())
    np.testing.assert_allclose(_np(gp["a"]), rp["a"].numpy(), rtol=1e-10)
    np.testing.assert_allclose(_np(gp["b"]), rp["b"].numpy(), rtol=1e-10)
    np.testing.assert_allclose(_np(gx), rx.numpy(), rtol=1e-10)
    # vjp_fn is reusable and linear in the cotangent.
    gp2, _ = vjp_fn({"y": 2 * cy, "s": 2 * cs})
    np.testing.assert_allclose(_np(gp2["a"]), 2 * _np(gp["a"]), rtol=1e-10)
    with pytest.raises(LucidError, match="structure"):
        vjp_fn(cy)
    with pytest.raises(LucidError, match="shape and dtype"):
        vjp_fn({"y": _f64(2, 2), "s": cs})


def test_vjp_has_aux_and_replay_sees_inputs_before_mutation():
    buf = lucid.ones(3, dtype=lucid.float64)

    def f(x):
        y = x * buf
        with lucid.no_grad():
            buf.add_(1.0)
        return y.sum(), "aux"

    x = _f64(3)
    _, vjp_fn, aux = lucid.vjp(f, x, has_aux=True)
    assert aux == "aux"
    np.testing.assert_array_equal(_np(buf), [2.0, 2.0, 2.0])  # applied once
    (g,) = vjp_fn(lucid.tensor(1.0, dtype=lucid.float64))
    np.testing.assert_array_equal(_np(g), [1.0, 1.0, 1.0])  # d(x * old buf)/dx
    vjp_fn(lucid.tensor(1.0, dtype=lucid.float64))
    np.testing.assert_array_equal(_np(buf), [2.0, 2.0, 2.0])  # vjp_fn has no side effects


# ============================================================================ higher order


@pytest.mark.parametrize("case", ["cubic", "quadratic_form", "rosenbrock", "logsumexp"])
def test_hessian_of_small_functions_against_analytic_values(case):
    lucid.manual_seed(7)
    x = _f64(3)
    xn = _np(x)
    if case == "cubic":
        f, expected = (lambda x: (x ** 3).sum()), np.diag(6 * xn)
    elif case == "quadratic_form":
        a = _f64(3, 3)
        f, expected = (lambda x: x @ (a @ x)), _np(a) + _np(a).T
    elif case == "rosenbrock":
        def f(x):
            return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2 + x[2] ** 2 * x[0]

        a0, a1, a2 = xn
        expected = np.array([
            [2 - 400 * (a1 - a0 ** 2) + 800 * a0 ** 2, -400 * a0, 2 * a2],
            [-400 * a0, 200, 0],
            [2 * a2, 0, 2 * a0],
        ])
    else:
        def f(x):
            return x.exp().sum().log()

        p = np.exp(xn) / np.exp(xn).sum()
        expected = np.diag(p) - np.outer(p, p)
    h = lucid.hessian(f)(x)
    assert h.shape == (3, 3)
    np.testing.assert_allclose(_np(h), expected, rtol=1e-9, atol=1e-10)


def test_grad_of_grad():
    x = lucid.tensor(0.7, dtype=lucid.float64)
    d2 = lucid.grad(lucid.grad(lambda x: x ** 3 + x.sin()))(x)
    np.testing.assert_allclose(_np(d2), 6 * 0.7 - np.sin(0.7), rtol=1e-12)
    d3 = lucid.grad(lucid.grad(lucid.grad(lambda x: x.exp() * x)))(x)
    np.testing.assert_allclose(_np(d3), np.exp(0.7) * (0.7 + 3), rtol=1e-12)
    # A gradient that is a vector, summed, then differentiated again.
    v = _f64(4)
    h_diag = lucid.grad(lambda v: lucid.grad(lambda u: (u.tanh() ** 2).sum())(v).sum())(v)
    tv = torch.tensor(_np(v), requires_grad=True)
    (g,) = torch.autograd.grad((tv.tanh() ** 2).sum(), tv, create_graph=True)
    (ref,) = torch.autograd.grad(g.sum(), tv)
    np.testing.assert_allclose(_np(h_diag), ref.numpy(), rtol=1e-10)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 4), st.integers(1, 3), st.integers(0, 2 ** 16))
def test_jvp_against_finite_differences(n, m, seed):
    rng = np.random.default_rng(seed)
    w = lucid.tensor(rng.standard_normal((n, m)))
    x = lucid.tensor(rng.standard_normal(n))
    t = lucid.tensor(rng.standard_normal(n))

    def f(x):
        return (x @ w).sin() * x.sum() + (x ** 2).sum().sqrt()

    out, tangent = lucid.jvp(f, (x,), (t,))
    eps = 1e-6
    fd = (_np(f(x + eps * t)) - _np(f(x - eps * t))) / (2 * eps)
    np.testing.assert_allclose(_np(out), _np(f(x)), rtol=1e-12)
    np.testing.assert_allclose(_np(tangent), fd, rtol=1e-5, atol=1e-7)


def test_jvp_with_pytree_primals_and_integer_leaves():
    p = {"w": _f64(2), "k": lucid.tensor(3)}
    t = {"w": _f64(2), "k": lucid.tensor(0)}

    def f(p):
        return {"out": p["w"].exp() * p["k"].double()}

    _, tan = lucid.jvp(f, (p,), (t,))
    np.testing.assert_allclose(_np(tan["out"]), np.exp(_np(p["w"])) * 3 * _np(t["w"]))
    with pytest.raises(LucidError, match="shape and dtype"):
        lucid.jvp(f, (p,), ({"w": _f64(3), "k": lucid.tensor(0)},))
    with pytest.raises(LucidError, match="structure"):
        lucid.jvp(f, (p,), ({"w": _f64(2)},))


def test_jacrev_equals_jacfwd_and_torch():
    lucid.manual_seed(8)
    a = _f64(2, 3)

    def f(x):
        return (a @ x.sin()) * x[:2]

    x = _f64(3)
    jr, jf = lucid.jacrev(f)(x), lucid.jacfwd(f)(x)
    assert jr.shape == jf.shape == (2, 3)
    np.testing.assert_allclose(_np(jr), _np(jf), rtol=1e-10, atol=1e-12)
    ta = torch.tensor(_np(a))
    ref = tfunc.jacrev(lambda x: (ta @ x.sin()) * x[:2])(torch.tensor(_np(x)))
    np.testing.assert_allclose(_np(jr), ref.numpy(), rtol=1e-10)
    # Matrix input, matrix output, several argnums.
    m, v = _f64(2, 2), _f64(2)
    jr2 = lucid.jacrev(lambda m, v: m @ v.exp(), argnums=(0, 1))(m, v)
    jf2 = lucid.jacfwd(lambda m, v: m @ v.exp(), argnums=(0, 1))(m, v)
    assert jr2[0].shape == (2, 2, 2) and jr2[1].shape == (2, 2)
    for r, f_ in zip(jr2, jf2):
        np.testing.assert_allclose(_np(r), _np(f_), rtol=1e-10, atol=1e-12)


# ============================================================================ composition


def test_grad_of_vmap_and_vmap_of_grad():
    x = _f64(4, 3)

    def per_row(r):
        return (r.sin() * r).sum()

    # vmap(grad): per-example gradients.
    pe = lucid.vmap(lucid.grad(per_row))(x)
    xn = _np(x)
    np.testing.assert_allclose(_np(pe), np.cos(xn) * xn + np.sin(xn), rtol=1e-12)
    # grad(vmap): the gradient of the summed per-example values is the same here.
    g = lucid.grad(lambda x: lucid.vmap(per_row)(x).sum())(x)
    np.testing.assert_allclose(_np(g), _np(pe), rtol=1e-12)
    # Per-example gradients of a model's loss, against torch.func.
    model, xs, ys = _mlp(9), lucid.randn(5, 4), lucid.randn(5, 2)
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss1(params, x, y):
        return _mse(functional_call(model, params, (x[None],)), y[None])

    pg = lucid.vmap(lucid.grad(loss1), in_axes=(None, 0, 0))(params, xs, ys)
    tm = _torch_copy(model, _torch_mlp())
    tp = {k: v.detach() for k, v in tm.named_parameters()}
    ref = torch.vmap(tfunc.grad(
        lambda p, x, y: _mse(tfunc.functional_call(tm, p, (x[None],)), y[None])),
        in_dims=(None, 0, 0))(tp, torch.tensor(_np(xs)), torch.tensor(_np(ys)))
    _assert_tree_close(pg, {k: v.numpy() for k, v in ref.items()})


# ============================================================================ disable_jit


def _all_transform_results(x):
    def f(x):
        return (x.sin() * x).sum()

    out, vjp_fn = lucid.vjp(lambda x: x.exp() * x, x)
    return {
        "grad": lucid.grad(f)(x),
        "vg": lucid.value_and_grad(f)(x)[0],
        "gg": lucid.grad(lambda x: lucid.grad(f)(x).sum())(x),
        "vjp": vjp_fn(lucid.ones_like(out))[0],
        "jvp": lucid.jvp(lambda x: x.exp() * x, (x,), (lucid.ones_like(x),))[1],
        "hessian": lucid.hessian(f)(x),
    }


def test_disable_jit_runs_eagerly_with_the_same_results():
    x = _f64(3)
    traced = _all_transform_results(x)
    assert lucid.config.disable_jit is False
    import lucid.func.transforms as transforms

    traces = []
    real_trace = transforms.trace
    transforms.trace = lambda *a, **k: traces.append(1) or real_trace(*a, **k)
    try:
        lucid.config.disable_jit = True
        eager = _all_transform_results(x)
    finally:
        lucid.config.disable_jit = False
        transforms.trace = real_trace
    assert traces == []  # nothing was traced
    for k in traced:
        np.testing.assert_allclose(_np(eager[k]), _np(traced[k]), rtol=1e-12, err_msg=k)
    # BatchNorm side effects and module gradient trees also match.
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    twin = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    twin.load_state_dict(model.state_dict())
    xb = lucid.randn(4, 3)
    g_jit = lucid.grad(lambda m, x: m(x).pow(2).sum())(model, xb)
    try:
        lucid.config.disable_jit = True
        g_eager = lucid.grad(lambda m, x: m(x).pow(2).sum())(twin, xb)
    finally:
        lucid.config.disable_jit = False
    np.testing.assert_allclose(_np(model[1].running_mean), _np(twin[1].running_mean))
    assert twin[1].num_batches_tracked.item() == 1
    for (k, a), (_, b) in zip(g_jit.named_parameters(), g_eager.named_parameters()):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-5, atol=1e-7, err_msg=k)


def test_disable_jit_from_the_environment():
    code = textwrap.dedent("""
        import numpy as np
        import lucid
        import lucid.func.transforms as transforms
        assert lucid.config.disable_jit is True
        transforms.trace = None  # would fail if called
        x = lucid.tensor([0.5, 1.0, 2.0], dtype=lucid.float64)
        g = lucid.grad(lambda x: (x ** 3).sum())(x)
        np.testing.assert_allclose(g.numpy(), 3 * x.numpy() ** 2)
        _, t = lucid.jvp(lambda x: x.sin(), (x,), (lucid.ones_like(x),))
        np.testing.assert_allclose(t.numpy(), np.cos(x.numpy()))
        out, f = lucid.vjp(lambda x: x * x, x)
        np.testing.assert_allclose(f(lucid.ones_like(x))[0].numpy(), 2 * x.numpy())
        print("ok")
    """)
    env = dict(os.environ, LUCID_DISABLE_JIT="1", PYTHONPATH=ROOT)
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


def test_jacobians_of_pytree_arguments_and_outputs():
    """jacrev/jacfwd over a dict of parameters and a dict of outputs: blocks are nested output
    structure outside, argument structure inside, each of shape out.shape + in.shape."""
    lucid.manual_seed(0)
    p = {"w": lucid.randn(2, 3, dtype=lucid.float64), "b": lucid.randn(2, dtype=lucid.float64)}
    x = lucid.randn(3, dtype=lucid.float64)

    def g(p, x):
        return {"y": p["w"] @ x + p["b"], "s": (p["w"] ** 2).sum()}

    jr, jf = lucid.jacrev(g)(p, x), lucid.jacfwd(g)(p, x)
    assert jr["y"]["w"].shape == (2, 2, 3) and jr["y"]["b"].shape == (2, 2)
    assert jr["s"]["w"].shape == (2, 3) and jr["s"]["b"].shape == (2,)
    for k in jr:
        for kk in jr[k]:
            np.testing.assert_allclose(jr[k][kk].numpy(), jf[k][kk].numpy(), atol=1e-12)
    # Analytic blocks: dy/db = I, dy_i/dw_jk = [i == j] x_k, ds/dw = 2 w, ds/db = 0.
    np.testing.assert_allclose(jr["y"]["b"].numpy(), np.eye(2))
    expected = np.einsum("ij,k->ijk", np.eye(2), x.numpy())
    np.testing.assert_allclose(jr["y"]["w"].numpy(), expected)
    np.testing.assert_allclose(jr["s"]["w"].numpy(), 2 * p["w"].numpy())
    np.testing.assert_allclose(jr["s"]["b"].numpy(), 0)
    # argnums as a tuple: the inner structure is the tuple of arguments.
    both = lucid.jacrev(g, argnums=(0, 1))(p, x)
    np.testing.assert_allclose(both["y"][1].numpy(), p["w"].numpy())
