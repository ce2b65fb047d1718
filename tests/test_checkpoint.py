"""lucid.save / lucid.load: round-trips, safetensors compatibility, atomicity, corruption."""

from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np
import pytest

import lucid
from lucid.errors import CheckpointError
from lucid.io import load, save


def _same(a: lucid.Tensor, b: lucid.Tensor) -> bool:
    return a.dtype is b.dtype and tuple(a.shape) == tuple(b.shape) and np.array_equal(
        a.detach().numpy(), b.detach().numpy()
    )


def test_state_dict_round_trip_and_plain_safetensors(tmp_path):
    sd = OrderedDict([
        ("0.weight", lucid.randn(3, 4)),
        ("0.bias", lucid.zeros(3)),
        ("steps", lucid.tensor(7)),
        ("mask", lucid.tensor([True, False])),
        ("half", lucid.randn(2, dtype=lucid.float16)),
        ("scalar", lucid.tensor(2.5, dtype=lucid.float64)),
    ])
    path = tmp_path / "model.safetensors"
    save(sd, path)
    back = load(path)
    assert isinstance(back, OrderedDict) and list(back) == list(sd)
    for k in sd:
        assert _same(back[k], sd[k]), k
    # A flat state_dict is an ordinary safetensors file, readable by other tools by name.
    from safetensors.numpy import load_file

    raw = load_file(str(path))
    assert sorted(raw) == sorted(sd)
    np.testing.assert_array_equal(raw["0.weight"], sd["0.weight"].numpy())


def test_nested_optimizer_like_state(tmp_path):
    obj = {
        "state": {0: {"step": lucid.tensor(3.0), "exp_avg": lucid.ones(2, 2)},
                  1: {"momentum_buffer": None}},
        "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": float("inf"),
                          "params": [0, 1], "nesterov": False, "name": "g0"}],
        "dtype": lucid.float64,
        "array": np.arange(3),
    }
    save(obj, tmp_path / "opt.ckpt")
    back = load(tmp_path / "opt.ckpt")
    assert set(back["state"]) == {0, 1}
    assert _same(back["state"][0]["exp_avg"], obj["state"][0]["exp_avg"])
    assert back["state"][0]["step"].shape == ()
    assert back["state"][1]["momentum_buffer"] is None
    g = back["param_groups"][0]
    assert g["betas"] == (0.9, 0.999) and isinstance(g["betas"], tuple)
    assert g["lr"] == 1e-3 and g["eps"] == float("inf") and g["params"] == [0, 1]
    assert g["nesterov"] is False and g["name"] == "g0"
    assert back["dtype"] is lucid.float64
    np.testing.assert_array_equal(back["array"], np.arange(3))


def test_requires_grad_of_leaves_is_kept(tmp_path):
    w = lucid.randn(2, requires_grad=True)
    save({"w": w, "plain": lucid.ones(1)}, tmp_path / "a")
    back = load(tmp_path / "a")
    assert back["w"].requires_grad and not back["plain"].requires_grad


def test_unsupported_objects_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="cannot save a object"):
        save({"x": object()}, tmp_path / "bad")
    with pytest.raises(CheckpointError, match="dict keys"):
        save({(1, 2): lucid.ones(1)}, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_files_raise_checkpoint_error_naming_the_file(tmp_path, damage):
    path = tmp_path / "c.ckpt"
    save({"w": lucid.randn(8, 8)}, path)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00\x01garbage" * 10)
    else:
        path.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"c\.ckpt"):
        load(path)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="nope"):
        load(tmp_path / "nope")


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "ckpt"
    save({"w": lucid.ones(3)}, path)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        save({"w": lucid.zeros(3)}, path)
    monkeypatch.undo()
    # The old checkpoint is intact and no temporary file is left behind.
    assert _same(load(path)["w"], lucid.ones(3))
    assert sorted(os.listdir(tmp_path)) == ["ckpt"]


def test_model_and_optimizer_checkpoint_resumes_training_exactly(tmp_path):
    import lucid.nn as nn

    def make():
        lucid.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.BatchNorm1d(8), nn.Linear(8, 2))
        return model, lucid.optim.Adam(model.parameters(), lr=1e-2, amsgrad=True)

    x, y = lucid.randn(16, 3), lucid.randn(16, 2)

    def step(model, opt):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        return loss.item()

    model, opt = make()
    for _ in range(3):
        step(model, opt)
    save({"model": model.state_dict(), "opt": opt.state_dict()}, tmp_path / "ck")
    reference = [step(model, opt) for _ in range(3)]

    model2, opt2 = make()
    ck = load(tmp_path / "ck")
    model2.load_state_dict(ck["model"])
    opt2.load_state_dict(ck["opt"])
    resumed = [step(model2, opt2) for _ in range(3)]
    assert resumed == reference
