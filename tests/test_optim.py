"""Tests for lucid.optim optimizers: every option against torch.optim, step for step."""

from __future__ import annotations

import copy
import itertools
import pickle
import warnings
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lucid
from lucid import optim

STEPS = 20
SHAPES = [(3, 4), (5,), ()]

# float64 runs agree with torch to rounding (torch's CPU kernels fuse some multiply-adds);
# float32 runs accumulate float32 rounding differences over the steps.
TOL = {
    np.float64: {"rtol": 1e-10, "atol": 1e-12},
    np.float32: {"rtol": 2e-5, "atol": 2e-6},
}

OPTIMIZERS = {
    "SGD": (optim.SGD, torch.optim.SGD),
    "Adam": (optim.Adam, torch.optim.Adam),
    "AdamW": (optim.AdamW, torch.optim.AdamW),
    "RMSprop": (optim.RMSprop, torch.optim.RMSprop),
    "Adagrad": (optim.Adagrad, torch.optim.Adagrad),
}


def _data(seed: int = 0, steps: int = STEPS) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(steps)]
    return init, grads


def _lucid_params(init: list[np.ndarray], dtype: Any) -> list[lucid.Tensor]:
    return [lucid.tensor(np.asarray(a, dtype=dtype), requires_grad=True) for a in init]


def _torch_params(init: list[np.ndarray], dtype: Any) -> list[torch.Tensor]:
    return [torch.tensor(np.asarray(a, dtype=dtype), requires_grad=True) for a in init]


def _set_grads(params: list[Any], grads: list[np.ndarray | None], dtype: Any,
               make: Any) -> None:
    for p, g in zip(params, grads, strict=True):
        p.grad = None if g is None else make(np.asarray(g, dtype=dtype))


def _np(t: Any) -> np.ndarray:
    return np.asarray(t.detach().numpy())


def _assert_close(lp: list[lucid.Tensor], tp: list[torch.Tensor], dtype: Any, where: str) -> None:
    for i, (a, b) in enumerate(zip(lp, tp, strict=True)):
        assert a.dtype.np == np.dtype(dtype)
        np.testing.assert_allclose(_np(a), _np(b), **TOL[dtype], err_msg=f"{where}, param {i}")


def _compare(name: str, kwargs: dict[str, Any], dtype: Any = np.float64, seed: int = 0,
             groups: list[dict[str, Any]] | None = None,
             none_grad: set[tuple[int, int]] = frozenset()) -> tuple[Any, Any]:
    """Run lucid's and torch's optimizer side by side, feeding identical gradients, and check
    the parameters after every step. ``none_grad`` holds (step, param) pairs left without a
    gradient; ``groups`` splits the params into groups (lists of indices + options)."""
    lcls, tcls = OPTIMIZERS[name]
    init, grads = _data(seed)
    lp, tp = _lucid_params(init, dtype), _torch_params(init, dtype)
    if groups is None:
        lo, to = lcls(lp, **kwargs), tcls(tp, foreach=False, **kwargs)
    else:
        def split(ps: list[Any]) -> list[dict[str, Any]]:
            return [{**g, "params": [ps[i] for i in g["params"]]} for g in groups]

        lo, to = lcls(split(lp), **kwargs), tcls(split(tp), foreach=False, **kwargs)
    for step, g in enumerate(grads):
        g = [None if (step, i) in none_grad else x for i, x in enumerate(g)]
        _set_grads(lp, g, dtype, lucid.tensor)
        _set_grads(tp, g, dtype, torch.tensor)
        lo.step()
        to.step()
        _assert_close(lp, tp, dtype, f"{name}{kwargs} step {step}")
    _assert_state_close(lo, to, lp, tp, dtype)
    return lo, to


def _assert_state_close(lo: optim.Optimizer, to: torch.optim.Optimizer,
                        lp: list[lucid.Tensor], tp: list[torch.Tensor], dtype: Any) -> None:
    for a, b in zip(lp, tp, strict=True):
        ls, ts = lo.state.get(a, {}), to.state.get(b, {})
        assert sorted(ls) == sorted(ts)
        for key, tv in ts.items():
            lv = ls[key]
            if key == "step":
                assert lv.shape == () and lv.dtype is lucid.float32
                assert lv.item() == tv.item()
            else:
                np.testing.assert_allclose(_np(lv), _np(tv), **TOL[dtype], err_msg=key)


# ---------------------------------------------------------------------- option grids


def _sgd_cases() -> list[dict[str, Any]]:
    cases = []
    for mom, damp, nest, wd, maxi in itertools.product(
        [0.0, 0.9], [0.0, 0.3], [False, True], [0.0, 0.1], [False, True]
    ):
        if nest and (mom == 0 or damp != 0):
            continue
        cases.append({"lr": 0.05, "momentum": mom, "dampening": damp, "nesterov": nest,
                      "weight_decay": wd, "maximize": maxi})
    return cases


def _adam_cases() -> list[dict[str, Any]]:
    # betas (0.3, 0.9) makes 1 - beta1 >= 0.5, the other branch of torch's lerp.
    return [
        {"lr": 0.05, "betas": betas, "amsgrad": ams, "weight_decay": wd, "maximize": maxi}
        for betas, ams, wd, maxi in itertools.product(
            [(0.9, 0.999), (0.3, 0.9)], [False, True], [0.0, 0.1], [False, True]
        )
    ]


def _rmsprop_cases() -> list[dict[str, Any]]:
    return [
        {"lr": 0.01, "alpha": 0.9, "centered": c, "momentum": m, "weight_decay": wd,
         "maximize": maxi}
        for c, m, wd, maxi in itertools.product(
            [False, True], [0.0, 0.8], [0.0, 0.1], [False, True]
        )
    ]


def _adagrad_cases() -> list[dict[str, Any]]:
    return [
        {"lr": 0.1, "lr_decay": ld, "weight_decay": wd, "initial_accumulator_value": iv,
         "maximize": maxi}
        for ld, wd, iv, maxi in itertools.product([0.0, 0.05], [0.0, 0.1], [0.0, 0.5],
                                                  [False, True])
    ]


@pytest.mark.parametrize("kwargs", _sgd_cases(), ids=str)
def test_sgd_matches_torch(kwargs: dict[str, Any]) -> None:
    _compare("SGD", kwargs)


@pytest.mark.parametrize("kwargs", _adam_cases(), ids=str)
def test_adam_matches_torch(kwargs: dict[str, Any]) -> None:
    _compare("Adam", kwargs)


@pytest.mark.parametrize("kwargs", _adam_cases(), ids=str)
def test_adamw_matches_torch(kwargs: dict[str, Any]) -> None:
    _compare("AdamW", kwargs)


@pytest.mark.parametrize("kwargs", _rmsprop_cases(), ids=str)
def test_rmsprop_matches_torch(kwargs: dict[str, Any]) -> None:
    _compare("RMSprop", kwargs)


@pytest.mark.parametrize("kwargs", _adagrad_cases(), ids=str)
def test_adagrad_matches_torch(kwargs: dict[str, Any]) -> None:
    _compare("Adagrad", kwargs)


_unit = st.floats(0.0, 0.99)


@st.composite
def _random_config(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from(list(OPTIMIZERS)))
    kw: dict[str, Any] = {"lr": draw(st.floats(1e-4, 0.5)),
                          "weight_decay": draw(st.sampled_from([0.0, 0.01, 0.3])),
                          "maximize": draw(st.booleans())}
    if name == "SGD":
        kw["momentum"] = draw(st.sampled_from([0.0, draw(_unit)]))
        kw["nesterov"] = kw["momentum"] > 0 and draw(st.booleans())
        kw["dampening"] = 0.0 if kw["nesterov"] else draw(_unit)
    elif name in ("Adam", "AdamW"):
        kw["betas"] = (draw(_unit), draw(_unit))
        kw["eps"] = draw(st.sampled_from([1e-8, 1e-3]))
        kw["amsgrad"] = draw(st.booleans())
    elif name == "RMSprop":
        # Small alphas make centered RMSprop's variance (v - g_avg**2) cancel catastrophically;
        # torch's CPU kernels fuse multiply-adds there, so its result (even NaN) is noise.
        kw["alpha"] = draw(st.floats(0.5, 0.99))
        kw["momentum"] = draw(st.sampled_from([0.0, draw(_unit)]))
        kw["centered"] = draw(st.booleans())
    else:
        kw["lr_decay"] = draw(st.sampled_from([0.0, 0.1]))
        kw["initial_accumulator_value"] = draw(st.sampled_from([0.0, 0.2]))
    return name, kw


@settings(max_examples=30, deadline=None)
@given(config=_random_config(), seed=st.integers(0, 2**16))
def test_random_hyper_parameters_match_torch(config: tuple[str, dict[str, Any]],
                                             seed: int) -> None:
    name, kwargs = config
    _compare(name, kwargs, seed=seed)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
        ("Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1}),
        ("AdamW", {"lr": 0.05, "betas": (0.3, 0.9)}),
        ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5}),
        ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "initial_accumulator_value": 0.1}),
    ],
)
def test_float32_matches_torch(name: str, kwargs: dict[str, Any]) -> None:
    _compare(name, kwargs, dtype=np.float32, seed=1)


def test_adam_decoupled_weight_decay_is_adamw() -> None:
    init, grads = _data()
    a, b = _lucid_params(init, np.float64), _lucid_params(init, np.float64)
    oa = optim.Adam(a, lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)
    ob = optim.AdamW(b, lr=0.05, weight_decay=0.1)
    for g in grads:
        _set_grads(a, g, np.float64, lucid.tensor)
        _set_grads(b, g, np.float64, lucid.tensor)
        oa.step()
        ob.step()
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(_np(x), _np(y))


def test_adamw_differs_from_adam_with_weight_decay() -> None:
    # Guards against AdamW silently falling back to coupled (L2) decay.
    init, grads = _data()
    a, b = _lucid_params(init, np.float64), _lucid_params(init, np.float64)
    oa, ob = optim.Adam(a, lr=0.05, weight_decay=0.1), optim.AdamW(b, lr=0.05, weight_decay=0.1)
    for g in grads[:3]:
        _set_grads(a, g, np.float64, lucid.tensor)
        _set_grads(b, g, np.float64, lucid.tensor)
        oa.step()
        ob.step()
    assert not np.allclose(_np(a[0]), _np(b[0]))


# ---------------------------------------------------------------------- groups and skipping


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_param_groups_with_own_options(name: str) -> None:
    extra = {"SGD": {"momentum": 0.5}, "Adam": {"amsgrad": True}, "AdamW": {"betas": (0.5, 0.9)},
             "RMSprop": {"centered": True}, "Adagrad": {"lr_decay": 0.1}}[name]
    groups = [{"params": [0, 2]}, {"params": [1], "lr": 0.3, **extra}]
    lo, _ = _compare(name, {"lr": 0.02}, groups=groups)
    assert [g["lr"] for g in lo.param_groups] == [0.02, 0.3]
    for key, value in extra.items():
        assert lo.param_groups[1][key] == value
        assert lo.param_groups[0][key] == lo.defaults[key]


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_params_without_grad_are_skipped(name: str) -> None:
    kwargs = {"lr": 0.05, "momentum": 0.9} if name in ("SGD", "RMSprop") else {"lr": 0.05}
    # Param 1 never gets a gradient; param 0 misses some steps.
    none = {(s, 1) for s in range(STEPS)} | {(3, 0), (4, 0), (11, 0)}
    lo, _ = _compare(name, kwargs, none_grad=none)
    p1 = lo.param_groups[0]["params"][1]
    if name != "Adagrad":  # Adagrad creates its state up front, as torch does
        assert p1 not in lo.state or len(lo.state[p1]) == 0


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_add_param_group_later(name: str) -> None:
    lcls, tcls = OPTIMIZERS[name]
    init, grads = _data()
    lp, tp = _lucid_params(init, np.float64), _torch_params(init, np.float64)
    lo = lcls(lp[:1], lr=0.05)
    to = tcls(tp[:1], lr=0.05, foreach=False)
    for step, g in enumerate(grads):
        if step == 5:
            lo.add_param_group({"params": lp[1:], "lr": 0.2})
            to.add_param_group({"params": tp[1:], "lr": 0.2})
        n = 1 if step < 5 else len(lp)
        _set_grads(lp[:n], g[:n], np.float64, lucid.tensor)
        _set_grads(tp[:n], g[:n], np.float64, torch.tensor)
        lo.step()
        to.step()
        _assert_close(lp, tp, np.float64, f"step {step}")
    assert lo.param_groups[1]["lr"] == 0.2
    assert all(lo.param_groups[1][k] == v for k, v in lo.defaults.items() if k != "lr")


def test_adagrad_add_param_group_creates_state() -> None:
    a, b = lucid.tensor([1.0, 2.0], requires_grad=True), lucid.tensor([3.0], requires_grad=True)
    opt = optim.Adagrad([a], lr=0.1, initial_accumulator_value=0.25)
    opt.add_param_group({"params": [b]})
    assert opt.state[b]["sum"].tolist() == [0.25]
    b.grad = lucid.tensor([1.0])
    opt.step()
    # sum = 0.25 + 1 = 1.25; b = 3 - 0.1 * 1 / (sqrt(1.25) + 1e-10)
    np.testing.assert_allclose(b.tolist(), [3 - 0.1 / np.sqrt(1.25)], rtol=1e-6)


# ---------------------------------------------------------------------- in-place semantics


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_step_updates_parameters_in_place(name: str) -> None:
    p = lucid.tensor([1.0, -2.0, 3.0], requires_grad=True)
    data_before, version_before = p._data, p._vc.value
    opt = OPTIMIZERS[name][0]([p], lr=0.1)
    p.grad = lucid.tensor([0.5, 0.5, -0.5])
    opt.step()
    assert opt.param_groups[0]["params"][0] is p
    assert p._data is data_before  # same storage, written in place
    assert p._vc.value > version_before  # autograd sees the write
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    assert not np.allclose(p.tolist(), [1.0, -2.0, 3.0])
    # State tensors are plain buffers, outside autograd.
    for v in opt.state[p].values():
        assert isinstance(v, lucid.Tensor) and not v.requires_grad


def test_step_runs_under_no_grad_even_if_grad_mode_is_on() -> None:
    p = lucid.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    (p * p).sum().backward(create_graph=True)  # a grad that itself has a graph
    assert p.grad.grad_fn is not None
    with lucid.enable_grad():
        opt.step()
    assert p.grad_fn is None and p.is_leaf
    assert not opt.state[p]["momentum_buffer"].requires_grad
    np.testing.assert_allclose(p.tolist(), [1 - 0.1 * 2, 2 - 0.1 * 4])


def test_zero_grad_set_to_none() -> None:
    a, b = lucid.tensor([1.0, 2.0], requires_grad=True), lucid.tensor([3.0], requires_grad=True)
    opt = optim.SGD([a, b], lr=0.1)
    (a.sum() * 2 + b.sum()).backward()
    assert a.grad is not None and b.grad is not None
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    opt.zero_grad()  # grads already None: nothing to do
    assert a.grad is None


def test_zero_grad_in_place() -> None:
    a = lucid.tensor([1.0, 2.0], requires_grad=True)
    b = lucid.tensor([3.0], requires_grad=True)  # never gets a grad
    opt = optim.SGD([a, b], lr=0.1)
    (a * a).sum().backward(create_graph=True)
    g = a.grad
    assert g.grad_fn is not None
    opt.zero_grad(set_to_none=False)
    assert a.grad is g  # the same tensor, zeroed in place
    assert a.grad.tolist() == [0.0, 0.0]
    assert a.grad.grad_fn is None and not a.grad.requires_grad
    assert b.grad is None
    # Accumulation starts again from zero.
    (a * 3).sum().backward()
    assert a.grad.tolist() == [3.0, 3.0]


def test_zero_grad_in_place_with_read_only_grad() -> None:
    p = lucid.tensor([1.0, 2.0, 3.0], requires_grad=True)
    p.grad = lucid.tensor(1.0).expand(3)  # a broadcast view: not writable
    optim.SGD([p], lr=0.1).zero_grad(set_to_none=False)
    assert p.grad.tolist() == [0.0, 0.0, 0.0]


def test_nn_parameters_stay_the_same_objects() -> None:
    nn = pytest.importorskip("lucid.nn")
    w = nn.Parameter(lucid.tensor([1.0, 2.0]))
    opt = optim.Adam([w], lr=0.1)
    w.grad = lucid.tensor([1.0, 1.0])
    opt.step()
    assert opt.param_groups[0]["params"][0] is w and isinstance(w, nn.Parameter)
    np.testing.assert_allclose(w.tolist(), [0.9, 1.9], rtol=1e-6)


# ---------------------------------------------------------------------- closure


def test_closure_returns_loss_and_matches_torch() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((8, 3)), rng.standard_normal(8)
    w0 = rng.standard_normal(3)
    lw = lucid.tensor(w0, requires_grad=True)
    tw = torch.tensor(w0, requires_grad=True)
    lx, ly, tx, ty = lucid.tensor(x), lucid.tensor(y), torch.tensor(x), torch.tensor(y)
    lo = optim.SGD([lw], lr=0.05, momentum=0.9)
    to = torch.optim.SGD([tw], lr=0.05, momentum=0.9, foreach=False)
    calls = []

    def lclosure() -> lucid.Tensor:
        calls.append(lucid.is_grad_enabled())
        lo.zero_grad()
        loss = (((lx * lw).sum(1) - ly) ** 2).sum()
        loss.backward()
        return loss

    def tclosure() -> torch.Tensor:
        to.zero_grad()
        loss = (((tx * tw).sum(1) - ty) ** 2).sum()
        loss.backward()
        return loss

    for _ in range(10):
        with lucid.no_grad():  # the closure must still record its graph
            lloss = lo.step(lclosure)
        tloss = to.step(tclosure)
        assert isinstance(lloss, lucid.Tensor)
        np.testing.assert_allclose(lloss.item(), tloss.item(), rtol=1e-12)
        np.testing.assert_allclose(_np(lw), _np(tw), rtol=1e-12)
    assert calls == [True] * 10
    assert lo.step() is None


# ---------------------------------------------------------------------- state dicts


def _optimizer_cases() -> list[tuple[str, dict[str, Any]]]:
    return [
        ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
        ("Adam", {"lr": 0.05, "amsgrad": True}),
        ("AdamW", {"lr": 0.05, "weight_decay": 0.2}),
        ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5}),
        ("Adagrad", {"lr": 0.1, "lr_decay": 0.05}),
    ]


@pytest.mark.parametrize(("name", "kwargs"), _optimizer_cases())
def test_state_dict_round_trip_continues_identically(name: str, kwargs: dict[str, Any]) -> None:
    cls = OPTIMIZERS[name][0]
    init, grads = _data(seed=5)

    def groups(ps: list[lucid.Tensor]) -> list[dict[str, Any]]:
        return [{"params": ps[:2]}, {"params": ps[2:], "lr": 0.02}]

    ref = _lucid_params(init, np.float64)
    ref_opt = cls(groups(ref), **kwargs)
    live = _lucid_params(init, np.float64)
    live_opt = cls(groups(live), **kwargs)
    for g in grads[:10]:
        for ps, o in ((ref, ref_opt), (live, live_opt)):
            _set_grads(ps, g, np.float64, lucid.tensor)
            o.step()
    sd = live_opt.state_dict()
    # torch's format: int keys, groups with int param lists, hyper-parameters alongside.
    assert sorted(sd) == ["param_groups", "state"]
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1]["lr"] == 0.02
    assert sorted(sd["state"]) == [0, 1, 2]
    step = sd["state"][0].get("step")
    if step is not None:
        assert step.dtype is lucid.float32 and step.shape == () and step.item() == 10.0

    # A fresh optimizer over fresh parameters (holding the current values) resumes exactly.
    saved = copy.deepcopy(sd)
    resumed = [lucid.tensor(p.tolist(), dtype=lucid.float64, requires_grad=True) for p in live]
    res_opt = cls(groups(resumed), lr=123.0)  # hyper-parameters come from the state dict
    res_opt.load_state_dict(saved)
    assert res_opt.param_groups[0]["lr"] == kwargs["lr"]
    assert res_opt.param_groups[1]["lr"] == 0.02
    assert res_opt.param_groups[0]["params"][0] is resumed[0]
    for k, pstate in res_opt.state_dict()["state"].items():  # deep copies, not the saved ones
        for key, v in pstate.items():
            assert v is not saved["state"][k][key]
    for g in grads[10:]:
        for ps, o in ((ref, ref_opt), (resumed, res_opt)):
            _set_grads(ps, g, np.float64, lucid.tensor)
            o.step()
    for a, b in zip(ref, resumed, strict=True):
        np.testing.assert_array_equal(_np(a), _np(b))


def test_state_dict_survives_pickling() -> None:
    p = lucid.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.RMSprop([p], lr=0.1, momentum=0.9, centered=True)
    p.grad = lucid.tensor([1.0, -3.0])
    opt.step()
    sd = pickle.loads(pickle.dumps(opt.state_dict()))
    q = lucid.tensor(p.tolist(), requires_grad=True)
    opt2 = optim.RMSprop([q], lr=0.1, momentum=0.9, centered=True)
    opt2.load_state_dict(sd)
    for o, t in ((opt, p), (opt2, q)):
        t.grad = lucid.tensor([0.5, 0.5])
        o.step()
    assert p.tolist() == q.tolist()


def test_load_state_dict_does_not_alias_the_source() -> None:
    p = lucid.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = lucid.tensor([1.0, 1.0])
    opt.step()
    sd = opt.state_dict()
    q = lucid.tensor([1.0, 2.0], requires_grad=True)
    opt2 = optim.SGD([q], lr=0.1, momentum=0.9)
    opt2.load_state_dict(sd)
    buf = sd["state"][0]["momentum_buffer"]
    assert opt2.state[q]["momentum_buffer"] is not buf
    q.grad = lucid.tensor([1.0, 1.0])
    opt2.step()
    assert buf.tolist() == [1.0, 1.0]  # the source state is untouched by opt2's steps
    opt2.param_groups[0]["lr"] = 5.0
    assert sd["param_groups"][0]["lr"] == 0.1


def test_load_state_dict_casts_state_to_param_dtype() -> None:
    p64 = lucid.tensor([1.0, 2.0], dtype=lucid.float64, requires_grad=True)
    opt = optim.Adam([p64], lr=0.1)
    p64.grad = lucid.tensor([0.5, -1.0], dtype=lucid.float64)
    opt.step()
    p32 = lucid.tensor([1.0, 2.0], dtype=lucid.float32, requires_grad=True)
    opt32 = optim.Adam([p32], lr=0.1)
    opt32.load_state_dict(opt.state_dict())
    st = opt32.state[p32]
    assert st["exp_avg"].dtype is lucid.float32 and st["exp_avg_sq"].dtype is lucid.float32
    assert st["step"].dtype is lucid.float32  # the step counter keeps its own dtype
    p32.grad = lucid.tensor([0.5, -1.0])
    opt32.step()
    assert p32.dtype is lucid.float32


def test_load_state_dict_validates_groups() -> None:
    a, b = lucid.tensor([1.0], requires_grad=True), lucid.tensor([2.0], requires_grad=True)
    sd = optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD([a, b], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.SGD([{"params": [a, b]}, {"params": [lucid.tensor([0.0], requires_grad=True)]}],
                  lr=0.1).load_state_dict(sd)


@pytest.mark.parametrize(("name", "kwargs"), _optimizer_cases())
def test_load_torch_state_dict(name: str, kwargs: dict[str, Any]) -> None:
    lcls, tcls = OPTIMIZERS[name]
    init, grads = _data(seed=7)
    tp = _torch_params(init, np.float64)
    to = tcls(tp, foreach=False, **kwargs)
    for g in grads[:8]:
        _set_grads(tp, g, np.float64, torch.tensor)
        to.step()
    lp = [lucid.tensor(_np(t), requires_grad=True) for t in tp]
    lo = lcls(lp, lr=1.0)
    lo.load_state_dict(to.state_dict())
    for g in grads[8:]:
        _set_grads(tp, g, np.float64, torch.tensor)
        _set_grads(lp, g, np.float64, lucid.tensor)
        to.step()
        lo.step()
    _assert_close(lp, tp, np.float64, "after loading torch's state")


def test_state_dict_keeps_scheduler_keys_and_names() -> None:
    a, b = lucid.tensor([1.0], requires_grad=True), lucid.tensor([2.0], requires_grad=True)
    opt = optim.SGD([("w", a), ("b", b)], lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["w", "b"]
    opt.param_groups[0]["initial_lr"] = 0.1
    sd = opt.state_dict()
    assert sd["param_groups"][0]["param_names"] == ["w", "b"]
    assert sd["param_groups"][0]["initial_lr"] == 0.1
    assert sd["state"] == {}


# ---------------------------------------------------------------------- argument checking


@pytest.mark.parametrize(
    ("cls", "kwargs", "match"),
    [
        (optim.SGD, {"lr": -0.1}, "Invalid learning rate: -0.1"),
        (optim.SGD, {"momentum": -0.5}, "Invalid momentum value"),
        (optim.SGD, {"weight_decay": -1.0}, "Invalid weight_decay value"),
        (optim.SGD, {"nesterov": True}, "Nesterov momentum requires a momentum"),
        (optim.SGD, {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "zero dampening"),
        (optim.Adam, {"lr": -1.0}, "Invalid learning rate"),
        (optim.Adam, {"lr": float("nan")}, "Invalid learning rate"),
        (optim.Adam, {"eps": -1e-8}, "Invalid epsilon value"),
        (optim.Adam, {"betas": (1.0, 0.999)}, "Invalid beta parameter at index 0"),
        (optim.Adam, {"betas": (0.9, -0.1)}, "Invalid beta parameter at index 1"),
        (optim.AdamW, {"weight_decay": -0.1}, "Invalid weight_decay value"),
        (optim.RMSprop, {"alpha": -0.1}, "Invalid alpha value"),
        (optim.RMSprop, {"momentum": -0.1}, "Invalid momentum value"),
        (optim.RMSprop, {"eps": -0.1}, "Invalid epsilon value"),
        (optim.Adagrad, {"lr_decay": -0.1}, "Invalid lr_decay value"),
        (optim.Adagrad, {"initial_accumulator_value": -1.0}, "initial_accumulator_value"),
    ],
)
def test_invalid_hyper_parameters(cls: Any, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cls([lucid.tensor([1.0], requires_grad=True)], **kwargs)


def test_invalid_params() -> None:
    p = lucid.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD({p}, lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD([{"params": {p}}], lr=0.1)
    q = lucid.tensor([2.0], requires_grad=True)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p, q]}, {"params": [q]}], lr=0.1)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(TypeError, match="must be a dict"):
        optim.SGD([p], lr=0.1).add_param_group([q])


def test_required_hyper_parameter() -> None:
    class Needy(optim.Optimizer):
        def __init__(self, params: Any, lr: Any = optim.required) -> None:
            super().__init__(params, {"lr": lr})

    p = lucid.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="didn't specify a value of required"):
        Needy([p])
    assert Needy([{"params": [p], "lr": 0.5}]).param_groups[0]["lr"] == 0.5
    with pytest.raises(NotImplementedError):
        Needy([p], lr=0.1).step()


def test_repr_lists_groups() -> None:
    opt = optim.Adam([lucid.tensor([1.0], requires_grad=True)], lr=0.01)
    text = repr(opt)
    assert text.startswith("Adam (") and "Parameter Group 0" in text and "lr: 0.01" in text


def test_lr_can_be_changed_between_steps() -> None:
    # Schedulers write group["lr"]; the next step must use it.
    p = lucid.tensor([1.0], dtype=lucid.float64, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.grad = lucid.tensor([1.0], dtype=lucid.float64)
    opt.step()
    opt.param_groups[0]["lr"] = 0.5
    opt.step()
    np.testing.assert_allclose(p.tolist(), [1.0 - 0.1 - 0.5])


# ---------------------------------------------------------------------- end to end


def test_linear_regression_converges_with_adam() -> None:
    rng = np.random.default_rng(0)
    x = lucid.tensor(rng.uniform(-1, 1, size=(64,)).astype(np.float32))
    y = 3 * x + 1
    w = lucid.zeros((), requires_grad=True)
    b = lucid.zeros((), requires_grad=True)
    opt = optim.Adam([w, b], lr=0.1)
    losses = []
    for _ in range(300):
        opt.zero_grad()
        loss = ((w * x + b - y) ** 2).sum() / x.shape[0]  # MSE
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 1e-5 < losses[0]
    np.testing.assert_allclose([w.item(), b.item()], [3.0, 1.0], atol=1e-3)


def test_no_warnings_in_ordinary_use() -> None:
    p = lucid.tensor([1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name, (cls, _) in OPTIMIZERS.items():
            opt = cls([p], lr=0.01)
            p.grad = lucid.tensor([0.1, 0.2])
            opt.step()
            opt.zero_grad()
            assert p.grad is None, name
