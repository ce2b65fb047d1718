"""Tests for lucid.optim.lr_scheduler: every scheduler against torch's, value for value.

Each scheduler is built by the same function applied to ``lucid.optim.lr_scheduler`` and to
``torch.optim.lr_scheduler`` (the two modules share names and signatures), on optimizers with
two parameter groups, and the learning rates must be EQUAL (the arithmetic is the same Python
float code) after every step.
"""

from __future__ import annotations

import copy
import itertools
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch

import lucid
from lucid import optim
from lucid.optim import lr_scheduler as lsch

tsch = torch.optim.lr_scheduler
LRS = (0.1, 0.05)
STEPS = 40

Make = Callable[[Any, Any], Any]


def _optimizers(kind: str = "SGD", lrs: tuple[float, ...] = LRS) -> tuple[Any, Any]:
    """A lucid and a torch optimizer with one group per lr."""
    lp = [lucid.tensor([1.0], requires_grad=True) for _ in lrs]
    tp = [torch.tensor([1.0], requires_grad=True) for _ in lrs]
    kwargs: dict[str, Any] = {"momentum": 0.9} if kind == "SGD" else {}
    lcls, tcls = {"SGD": (optim.SGD, torch.optim.SGD), "Adam": (optim.Adam, torch.optim.Adam),
                  "Adagrad": (optim.Adagrad, torch.optim.Adagrad)}[kind]
    lo = lcls([{"params": [p], "lr": lr} for p, lr in zip(lp, lrs, strict=True)], lr=lrs[0],
              **kwargs)
    to = tcls([{"params": [p], "lr": lr} for p, lr in zip(tp, lrs, strict=True)], lr=lrs[0],
              **kwargs)
    return lo, to


def _momenta(opt: Any) -> list[Any]:
    return [(g.get("momentum"), g.get("betas")) for g in opt.param_groups]


def _check_equal(ls: Any, ts: Any, lo: Any, to: Any, where: str) -> None:
    assert ls.get_last_lr() == ts.get_last_lr(), where
    assert [g["lr"] for g in lo.param_groups] == [g["lr"] for g in to.param_groups], where
    assert _momenta(lo) == _momenta(to), where
    assert getattr(ls, "last_epoch", None) == getattr(ts, "last_epoch", None), where


def _run(make: Make, kind: str = "SGD", steps: int = STEPS) -> tuple[Any, Any, Any, Any]:
    lo, to = _optimizers(kind)
    ls, ts = make(lsch, lo), make(tsch, to)
    _check_equal(ls, ts, lo, to, "after construction")
    for step in range(steps):
        lo.step()
        to.step()
        ls.step()
        ts.step()
        _check_equal(ls, ts, lo, to, f"step {step}")
    return ls, ts, lo, to


class _Decay:
    """A callable object lr_lambda (its __dict__ is saved in state dicts)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def __call__(self, epoch: int) -> float:
        return self.rate**epoch


CASES: dict[str, Make] = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=3, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[2, 5, 5, 9, 30], gamma=0.3),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
    "CosineAnnealingLR-odd": lambda m, o: m.CosineAnnealingLR(o, T_max=7),
    "LambdaLR": lambda m, o: m.LambdaLR(o, lambda e: 0.95**e),
    "LambdaLR-per-group": lambda m, o: m.LambdaLR(o, [lambda e: 1 / (e + 1), _Decay(0.9)]),
    "MultiplicativeLR": lambda m, o: m.MultiplicativeLR(o, lambda e: 0.95),
    "ConstantLR": lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=4),
    "LinearLR-warmup": lambda m, o: m.LinearLR(o, start_factor=0.25, total_iters=8),
    "LinearLR-decay": lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.1,
                                             total_iters=10),
    "PolynomialLR": lambda m, o: m.PolynomialLR(o, total_iters=12, power=2.0),
    "SequentialLR": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.1, total_iters=5), m.CosineAnnealingLR(o, T_max=20)],
        milestones=[5]),
    "SequentialLR-three": lambda m, o: m.SequentialLR(
        o, [m.ConstantLR(o, factor=0.5, total_iters=2), m.ExponentialLR(o, gamma=0.8),
            m.StepLR(o, step_size=4, gamma=0.5)], milestones=[3, 10]),
    "ChainedScheduler": lambda m, o: m.ChainedScheduler(
        [m.ExponentialLR(o, gamma=0.9), m.StepLR(o, step_size=4, gamma=0.5)]),
    "CosineAnnealingWarmRestarts": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=5),
    "CosineAnnealingWarmRestarts-mult": lambda m, o: m.CosineAnnealingWarmRestarts(
        o, T_0=3, T_mult=2, eta_min=0.01),
    "CyclicLR-triangular": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1,
                                                   step_size_up=4),
    "CyclicLR-triangular2": lambda m, o: m.CyclicLR(
        o, base_lr=[0.01, 0.02], max_lr=[0.1, 0.3], step_size_up=3, step_size_down=5,
        mode="triangular2"),
    "CyclicLR-exp_range": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4,
                                                  mode="exp_range", gamma=0.95),
    "CyclicLR-scale_fn": lambda m, o: m.CyclicLR(
        o, base_lr=0.01, max_lr=0.1, step_size_up=4, scale_fn=lambda x: 0.97**x,
        scale_mode="iterations", cycle_momentum=False),
    "OneCycleLR-cos": lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=STEPS),
    "OneCycleLR-linear": lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=STEPS + 5,
                                                   anneal_strategy="linear", pct_start=0.25),
    "OneCycleLR-three_phase": lambda m, o: m.OneCycleLR(
        o, max_lr=0.8, epochs=4, steps_per_epoch=10, three_phase=True, div_factor=10.0,
        final_div_factor=100.0, base_momentum=[0.8, 0.7], max_momentum=0.95),
    "OneCycleLR-no-momentum": lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=STEPS,
                                                        cycle_momentum=False),
}


@pytest.mark.parametrize("name", list(CASES))
def test_scheduler_matches_torch(name: str) -> None:
    _run(CASES[name])


@pytest.mark.parametrize(
    "make",
    [
        lambda m, o: m.OneCycleLR(o, max_lr=0.01, total_steps=STEPS),
        lambda m, o: m.OneCycleLR(o, max_lr=0.01, total_steps=STEPS, three_phase=True,
                                  anneal_strategy="linear"),
        lambda m, o: m.CyclicLR(o, base_lr=0.001, max_lr=0.01, step_size_up=5),
    ],
    ids=["OneCycleLR", "OneCycleLR-three_phase", "CyclicLR"],
)
def test_momentum_cycling_drives_adam_beta1(make: Make) -> None:
    ls, _, lo, _ = _run(make, kind="Adam")
    assert ls.use_beta1
    # beta2 is left alone.
    assert all(g["betas"][1] == 0.999 for g in lo.param_groups)


def test_scheduled_lr_is_used_by_the_optimizer() -> None:
    # End to end: the same training loop with an lr schedule gives torch's parameters.
    lp = lucid.tensor([1.0, -2.0], dtype=lucid.float64, requires_grad=True)
    tp = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    lo = optim.SGD([lp], lr=0.1, momentum=0.9)
    to = torch.optim.SGD([tp], lr=0.1, momentum=0.9, foreach=False)
    ls = lsch.OneCycleLR(lo, max_lr=0.5, total_steps=30)
    ts = tsch.OneCycleLR(to, max_lr=0.5, total_steps=30)
    for _ in range(30):
        lo.zero_grad()
        to.zero_grad()
        (lp * lp * lp).sum().backward()
        (tp * tp * tp).sum().backward()
        lo.step()
        to.step()
        ls.step()
        ts.step()
    assert lp.tolist() == pytest.approx(tp.tolist(), rel=1e-12)


def test_initial_lr_and_base_lrs() -> None:
    lo, _ = _optimizers()
    s = lsch.StepLR(lo, step_size=2)
    assert [g["initial_lr"] for g in lo.param_groups] == list(LRS)
    assert s.base_lrs == list(LRS)
    assert s.last_epoch == 0
    assert s.get_last_lr() == list(LRS)
    lo.step()
    s.step()
    lo.step()
    s.step()
    assert s.last_epoch == 2
    assert s.get_last_lr() == [LRS[0] * 0.1, LRS[1] * 0.1]


# ---------------------------------------------------------------------- ReduceLROnPlateau

METRICS = [1.0, 0.9, 0.9, 0.95, 0.9, 0.89995, 0.8, 0.8, 0.81, 0.85, 0.79, 0.79, 0.5, 0.6, 0.7,
           0.8, 0.9, 1.0, 0.49, 0.5, 0.5, 0.5, 0.5, 0.5, 0.3, 2.0, 2.1, 2.2, 0.1, 0.1, 0.1,
           0.1, 0.1, 0.1, 0.1, 0.1]


@pytest.mark.parametrize(
    ("mode", "threshold_mode", "patience", "cooldown", "min_lr"),
    list(itertools.product(["min", "max"], ["rel", "abs"], [0, 2], [0, 2], [0.0, [0.01, 0.02]])),
)
def test_reduce_lr_on_plateau_matches_torch(mode: str, threshold_mode: str, patience: int,
                                            cooldown: int, min_lr: Any) -> None:
    lo, to = _optimizers()
    kwargs = {"mode": mode, "factor": 0.5, "patience": patience, "threshold": 0.01,
              "threshold_mode": threshold_mode, "cooldown": cooldown, "min_lr": min_lr}
    ls, ts = lsch.ReduceLROnPlateau(lo, **kwargs), tsch.ReduceLROnPlateau(to, **kwargs)
    reductions = 0
    for i, m in enumerate(METRICS):
        before = ls.get_last_lr()
        lo.step()
        to.step()
        ls.step(lucid.tensor(m, dtype=lucid.float64) if i % 2 else m)  # 0-d tensors work too
        ts.step(m)
        reductions += ls.get_last_lr() != before
        assert ls.get_last_lr() == ts.get_last_lr(), i
        assert [g["lr"] for g in lo.param_groups] == [g["lr"] for g in to.param_groups]
        assert (ls.best, ls.num_bad_epochs, ls.cooldown_counter, ls.last_epoch) == (
            ts.best, ts.num_bad_epochs, ts.cooldown_counter, ts.last_epoch)
    assert reductions > 0  # the metric sequence does exercise the reduction path


def test_reduce_lr_on_plateau_state_dict() -> None:
    lo, _ = _optimizers()
    s = lsch.ReduceLROnPlateau(lo, mode="max", patience=1)
    for m in METRICS[:7]:
        s.step(m)
    sd = copy.deepcopy(s.state_dict())
    assert "optimizer" not in sd
    lo2, _ = _optimizers()
    s2 = lsch.ReduceLROnPlateau(lo2)
    s2.load_state_dict(sd)
    assert (s2.mode, s2.best, s2.patience, s2.mode_worse) == ("max", s.best, 1, -float("inf"))


def test_reduce_lr_on_plateau_errors() -> None:
    lo, _ = _optimizers()
    with pytest.raises(ValueError, match=r"Factor should be < 1\.0"):
        lsch.ReduceLROnPlateau(lo, factor=1.0)
    with pytest.raises(ValueError, match="mode bad is unknown"):
        lsch.ReduceLROnPlateau(lo, mode="bad")
    with pytest.raises(ValueError, match="threshold mode bad is unknown"):
        lsch.ReduceLROnPlateau(lo, threshold_mode="bad")
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 1"):
        lsch.ReduceLROnPlateau(lo, min_lr=[0.1])
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lsch.ReduceLROnPlateau(object())


# ---------------------------------------------------------------------- state dicts and resuming


@pytest.mark.parametrize(
    "name",
    ["StepLR", "MultiStepLR", "CosineAnnealingLR", "LinearLR-warmup", "SequentialLR",
     "ChainedScheduler", "CosineAnnealingWarmRestarts-mult", "CyclicLR-triangular2",
     "OneCycleLR-three_phase", "LambdaLR-per-group"],
)
def test_state_dict_round_trip_continues_identically(name: str) -> None:
    make = CASES[name]
    ref_opt, _ = _optimizers()
    ref = make(lsch, ref_opt)
    live_opt, _ = _optimizers()
    live = make(lsch, live_opt)
    for _ in range(10):
        for o, s in ((ref_opt, ref), (live_opt, live)):
            o.step()
            s.step()
    sd = copy.deepcopy(live.state_dict())
    opt_sd = copy.deepcopy(live_opt.state_dict())
    assert "optimizer" not in sd
    # torch's recipe: build the scheduler, then load the optimizer's and the scheduler's states.
    new_opt, _ = _optimizers()
    new = make(lsch, new_opt)
    new_opt.load_state_dict(opt_sd)
    new.load_state_dict(sd)
    assert new.get_last_lr() == ref.get_last_lr()
    for step in range(20):
        for o, s in ((ref_opt, ref), (new_opt, new)):
            o.step()
            s.step()
        assert new.get_last_lr() == ref.get_last_lr(), step
        assert [g["lr"] for g in new_opt.param_groups] == [g["lr"] for g in ref_opt.param_groups]


def test_lambda_state_dict_saves_callable_objects_only() -> None:
    lo, _ = _optimizers()
    decay = _Decay(0.9)
    s = lsch.LambdaLR(lo, [lambda e: 1.0, decay])
    sd = s.state_dict()
    assert sd["lr_lambdas"] == [None, {"rate": 0.9}]
    decay.rate = 0.5
    s.load_state_dict(sd)
    assert decay.rate == 0.9
    assert sd["lr_lambdas"] == [None, {"rate": 0.9}]  # the given dict is left intact


@pytest.mark.parametrize(
    "make",
    [
        lambda m, o, e: m.ExponentialLR(o, gamma=0.9, last_epoch=e),
        lambda m, o, e: m.StepLR(o, step_size=3, gamma=0.5, last_epoch=e),
        lambda m, o, e: m.CosineAnnealingLR(o, T_max=10, eta_min=0.001, last_epoch=e),
        lambda m, o, e: m.LinearLR(o, start_factor=0.2, total_iters=8, last_epoch=e),
        lambda m, o, e: m.PolynomialLR(o, total_iters=12, last_epoch=e),
    ],
    ids=["ExponentialLR", "StepLR", "CosineAnnealingLR", "LinearLR", "PolynomialLR"],
)
def test_resume_with_last_epoch_matches_torch(make: Make) -> None:
    lo, to = _optimizers()
    for o in (lo, to):
        for g in o.param_groups:
            g["initial_lr"] = g["lr"] * 2
    ls, ts = make(lsch, lo, 5), make(tsch, to, 5)
    _check_equal(ls, ts, lo, to, "after construction")
    for step in range(20):
        lo.step()
        to.step()
        ls.step()
        ts.step()
        _check_equal(ls, ts, lo, to, f"step {step}")


def test_resume_without_initial_lr_raises() -> None:
    lo, _ = _optimizers()
    with pytest.raises(KeyError, match="initial_lr"):
        lsch.StepLR(lo, step_size=2, last_epoch=3)


@pytest.mark.parametrize(
    "make",
    [
        lambda m, o: m.StepLR(o, step_size=3, gamma=0.5),
        lambda m, o: m.MultiStepLR(o, milestones=[2, 6], gamma=0.5),
        lambda m, o: m.CosineAnnealingLR(o, T_max=10),
        lambda m, o: m.ExponentialLR(o, gamma=0.9),
        lambda m, o: m.LinearLR(o, start_factor=0.5, total_iters=4),
        lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2),
    ],
    ids=["StepLR", "MultiStepLR", "CosineAnnealingLR", "ExponentialLR", "LinearLR", "SGDR"],
)
def test_step_with_epoch_uses_closed_form_like_torch(make: Make) -> None:
    lo, to = _optimizers()
    ls, ts = make(lsch, lo), make(tsch, to)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for epoch in [1, 2, 7, 3, 12, 0]:
            lo.step()
            to.step()
            ls.step(epoch)
            ts.step(epoch)
            assert ls.get_last_lr() == ts.get_last_lr(), epoch


# ---------------------------------------------------------------------- warnings and errors


def test_warns_when_stepped_before_the_optimizer() -> None:
    lo, _ = _optimizers()
    s = lsch.StepLR(lo, step_size=2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        s.step()


def test_no_warning_in_the_right_order() -> None:
    lo, _ = _optimizers()
    s = lsch.StepLR(lo, step_size=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            lo.step()
            s.step()


def test_warns_when_optimizer_step_is_replaced() -> None:
    lo, _ = _optimizers()
    s = lsch.ExponentialLR(lo, gamma=0.9)
    lo.step = lambda closure=None: None  # type: ignore[method-assign]
    with pytest.warns(UserWarning, match="overridden"):
        s.step()


def test_wrapped_optimizer_step_still_works() -> None:
    p = lucid.tensor([1.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.5)
    lsch.StepLR(opt, step_size=1)
    lsch.StepLR(opt, step_size=1)  # wrapping twice must not nest
    assert getattr(opt.step, "_wrapped_by_lr_sched", False)
    p.grad = lucid.tensor([1.0])
    assert opt.step(lambda: 7) == 7
    assert p.tolist() == [0.5]


def test_get_lr_outside_step_warns() -> None:
    lo, _ = _optimizers()
    s = lsch.StepLR(lo, step_size=2)
    with pytest.warns(UserWarning, match="get_last_lr"):
        s.get_lr()


def test_constructor_errors() -> None:
    lo, _ = _optimizers()
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lsch.StepLR(object(), step_size=1)
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        lsch.LinearLR(lo, start_factor=0.0)
    with pytest.raises(ValueError, match="Ending multiplicative factor"):
        lsch.LinearLR(lo, end_factor=1.5)
    with pytest.raises(ValueError, match="Constant multiplicative factor"):
        lsch.ConstantLR(lo, factor=2.0)
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        lsch.LambdaLR(lo, [lambda e: 1.0])
    with pytest.raises(TypeError, match="lr_lambda should be a function"):
        lsch.MultiplicativeLR(lo, 0.5)
    with pytest.raises(ValueError, match="positive integer T_0"):
        lsch.CosineAnnealingWarmRestarts(lo, T_0=0)
    with pytest.raises(ValueError, match="integer T_mult >= 1"):
        lsch.CosineAnnealingWarmRestarts(lo, T_0=2, T_mult=0)
    with pytest.raises(ValueError, match="mode is invalid"):
        lsch.CyclicLR(lo, base_lr=0.1, max_lr=1.0, mode="bad")
    with pytest.raises(ValueError, match="max_lr must have the same length"):
        lsch.CyclicLR(lo, base_lr=0.1, max_lr=[1.0])


def test_one_cycle_errors() -> None:
    lo, _ = _optimizers()
    with pytest.raises(ValueError, match="either total_steps OR"):
        lsch.OneCycleLR(lo, max_lr=1.0)
    with pytest.raises(ValueError, match="positive integer total_steps"):
        lsch.OneCycleLR(lo, max_lr=1.0, total_steps=0)
    with pytest.raises(ValueError, match="positive integer epochs"):
        lsch.OneCycleLR(lo, max_lr=1.0, epochs=0, steps_per_epoch=3)
    with pytest.raises(ValueError, match="pct_start"):
        lsch.OneCycleLR(lo, max_lr=1.0, total_steps=10, pct_start=1.5)
    with pytest.raises(ValueError, match="anneal_strategy"):
        lsch.OneCycleLR(lo, max_lr=1.0, total_steps=10, anneal_strategy="exp")
    adagrad, _ = _optimizers("Adagrad")
    with pytest.raises(ValueError, match="must support momentum or beta1"):
        lsch.OneCycleLR(adagrad, max_lr=1.0, total_steps=10)
    s = lsch.OneCycleLR(lo, max_lr=1.0, total_steps=3)
    for _ in range(3):
        lo.step()
        s.step()
    lo.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        s.step()


def test_composite_scheduler_errors() -> None:
    lo, _ = _optimizers()
    other, _ = _optimizers()
    a, b = lsch.ExponentialLR(lo, gamma=0.9), lsch.StepLR(other, step_size=2)
    with pytest.raises(ValueError, match="same optimizer"):
        lsch.SequentialLR(lo, [a, b], milestones=[3])
    with pytest.raises(ValueError, match="number of milestones"):
        lsch.SequentialLR(lo, [a], milestones=[3])
    with pytest.raises(ValueError, match="at least one scheduler"):
        lsch.SequentialLR(lo, [], milestones=[])
    with pytest.raises(ValueError, match="does not support `ReduceLROnPlateau`"):
        lsch.ChainedScheduler([a, lsch.ReduceLROnPlateau(lo)])
    with pytest.raises(ValueError, match="same optimizer"):
        lsch.ChainedScheduler([a, b])


def test_warm_restarts_fractional_epochs_match_torch() -> None:
    lo, to = _optimizers()
    ls = lsch.CosineAnnealingWarmRestarts(lo, T_0=4, T_mult=2, eta_min=0.001)
    ts = tsch.CosineAnnealingWarmRestarts(to, T_0=4, T_mult=2, eta_min=0.001)
    for i in range(60):  # per-batch stepping: 5 batches per epoch
        lo.step()
        to.step()
        ls.step(i / 5)
        ts.step(i / 5)
        assert ls.get_last_lr() == ts.get_last_lr(), i
        assert (ls.T_cur, ls.T_i) == (ts.T_cur, ts.T_i)


def test_exports() -> None:
    assert optim.lr_scheduler is lsch
    for name in lsch.__all__:
        assert hasattr(tsch, name), name
