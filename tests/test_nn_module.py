"""Tests of ``lucid.nn.Parameter``, ``lucid.nn.Module`` (registration, iteration, state dicts,
modes, conversion, hooks, repr, copying), modules as pytrees, and ``lucid.func.functional_call``.

The layers used here are tiny modules defined in this file (layers proper live elsewhere), each
with a PyTorch twin when the test compares against torch.
"""

from __future__ import annotations

import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lucid
import lucid.func
import lucid.nn as nn
import lucid.tree as tree
from lucid.errors import DTypeError
from lucid.func import ReparametrizeError, functional_call
from lucid.nn import Module, Parameter, StateDictError, UninitializedParameter

# ---------------------------------------------------------------- tiny modules


class MyLinear(Module):
    """``x @ W.T + b`` with PyTorch's parameter names and extra_repr."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype: lucid.DType | None = None) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(lucid.randn(out_features, in_features, dtype=dtype))
        if bias:
            self.bias = Parameter(lucid.randn(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)

    def forward(self, x: lucid.Tensor) -> lucid.Tensor:
        y = x @ self.weight.T
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class ReLU(Module):
    def forward(self, x: lucid.Tensor) -> lucid.Tensor:
        return x.relu()


class Norm(Module):
    """Holds a persistent buffer, an integer buffer and a non-persistent buffer."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.scale = Parameter(lucid.ones(n))
        self.register_buffer("running_mean", lucid.zeros(n))
        self.register_buffer("num_batches_tracked", lucid.tensor(0))
        self.register_buffer("cache", lucid.ones(n), persistent=False)

    def forward(self, x: lucid.Tensor) -> lucid.Tensor:
        return (x - self.running_mean) * self.scale


class MLP(Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = MyLinear(3, 4)
        self.act = ReLU()
        self.norm = Norm(4)
        self.fc2 = MyLinear(4, 2)

    def forward(self, x: lucid.Tensor) -> lucid.Tensor:
        return self.fc2(self.norm(self.act(self.fc1(x))))


class Tied(Module):
    """One Parameter used by two sub-modules (``b.weight is a.weight``)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = MyLinear(3, 3)
        self.b = MyLinear(3, 3)
        self.b.weight = self.a.weight

    def forward(self, x: lucid.Tensor) -> lucid.Tensor:
        return self.b(self.a(x).relu())


class SharedChild(Module):
    """One sub-module reachable under two names."""

    def __init__(self) -> None:
        super().__init__()
        self.first = MyLinear(2, 2)
        self.act = ReLU()
        self.second = self.first

    def forward(self, x: lucid.Tensor) -> lucid.Tensor:
        return self.second(self.act(self.first(x)))


def np_(t: lucid.Tensor) -> np.ndarray:
    return np.array(t.detach().numpy())


def all_tensors(m: Module) -> dict[str, np.ndarray]:
    out = {k: np_(v) for k, v in m.named_parameters()}
    out.update({k: np_(v) for k, v in m.named_buffers()})
    return out


# ---------------------------------------------------------------- Parameter


def test_parameter_shares_data_and_is_a_leaf_tensor():
    t = lucid.randn(3, 2)
    p = Parameter(t)
    assert isinstance(p, lucid.Tensor) and isinstance(p, Parameter)
    assert p.is_leaf and p.requires_grad and p.grad is None
    assert p._data is t._data  # no copy
    with lucid.no_grad():
        t.add_(1.0)
    np.testing.assert_array_equal(np_(p), np_(t))
    assert not Parameter(t, requires_grad=False).requires_grad


def test_parameter_of_a_non_leaf_is_a_leaf():
    a = lucid.randn(3, requires_grad=True)
    y = a * 2
    p = Parameter(y)
    assert p.is_leaf and p.grad_fn is None and p.requires_grad
    np.testing.assert_array_equal(np_(p), np_(y))


def test_ops_on_parameter_return_plain_tensors():
    p = Parameter(lucid.randn(2, 2))
    for out in (p * 2, p + p, p.T, p.sum(), p.detach(), p.data, p.relu(), p.reshape(4)):
        assert type(out) is lucid.Tensor
    assert (p * 2).grad_fn is not None


def test_parameter_repr_matches_torch_layout():
    p = Parameter(lucid.tensor([1.0, 2.0]))
    assert repr(p) == "Parameter containing:\n" + repr(lucid.tensor([1.0, 2.0],
                                                                   requires_grad=True))
    tp = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    assert repr(tp).split("\n")[0] == repr(p).split("\n")[0]
    assert repr(p).split("\n")[1].endswith("requires_grad=True)")


def test_parameter_construction_edge_cases():
    empty = Parameter()
    assert empty.shape == (0,) and empty.dtype is lucid.get_default_dtype()
    with pytest.raises(DTypeError):
        Parameter(lucid.tensor([1, 2]))  # ints cannot require grad
    ip = Parameter(lucid.tensor([1, 2]), requires_grad=False)
    assert ip.dtype is lucid.int64 and not ip.requires_grad
    with pytest.raises(TypeError, match=r"lucid.Tensor"):
        Parameter([1.0, 2.0])  # type: ignore[arg-type]
    p = Parameter(lucid.ones(2))
    p.note = "attrs allowed"  # Parameters have a __dict__
    assert p.note == "attrs allowed"


def test_parameter_gradient_accumulates():
    p = Parameter(lucid.tensor([1.0, 2.0, 3.0]))
    (p * p).sum().backward()
    np.testing.assert_allclose(np_(p.grad), [2.0, 4.0, 6.0])


def test_parameter_deepcopy_and_pickle():
    p = Parameter(lucid.randn(2, 3))
    p.grad = lucid.ones(2, 3)
    p.tag = 7
    q = copy.deepcopy(p)
    assert type(q) is Parameter and q is not p and q._data is not p._data
    np.testing.assert_array_equal(np_(q), np_(p))
    assert q.requires_grad and q.tag == 7
    np.testing.assert_array_equal(np_(q.grad), np.ones((2, 3)))
    r = pickle.loads(pickle.dumps(p))
    assert type(r) is Parameter and r.requires_grad and r.tag == 7
    np.testing.assert_array_equal(np_(r), np_(p))
    frozen = pickle.loads(pickle.dumps(Parameter(lucid.ones(1), requires_grad=False)))
    assert not frozen.requires_grad


def test_uninitialized_parameter():
    u = UninitializedParameter()
    assert isinstance(u, Parameter) and nn.is_lazy(u)
    assert repr(u) == "<UninitializedParameter>"
    assert u.dtype is lucid.float32 and u.requires_grad
    with pytest.raises(RuntimeError, match="uninitialized parameter"):
        _ = u.shape
    with pytest.raises(RuntimeError, match="uninitialized parameter"):
        _ = u * 2
    ref = u
    u.materialize((3, 2))
    assert ref is u and type(u) is Parameter and not nn.is_lazy(u)
    assert u.shape == (3, 2) and u.dtype is lucid.float32 and u.requires_grad
    assert np.all(np_(u) == 0)
    (u * 2).sum().backward()
    np.testing.assert_array_equal(np_(u.grad), np.full((3, 2), 2.0))
    d = UninitializedParameter(requires_grad=False, dtype=lucid.float64)
    d.materialize(4)
    assert d.shape == (4,) and d.dtype is lucid.float64 and not d.requires_grad
    c = copy.deepcopy(UninitializedParameter(dtype=lucid.float64))
    assert nn.is_lazy(c) and c.dtype is lucid.float64
    assert nn.is_lazy(pickle.loads(pickle.dumps(UninitializedParameter())))


# ---------------------------------------------------------------- registration


def test_attribute_assignment_registers_state():
    m = MLP()
    assert list(m._modules) == ["fc1", "act", "norm", "fc2"]
    assert list(m.fc1._parameters) == ["weight", "bias"]
    assert list(m.norm._buffers) == ["running_mean", "num_batches_tracked", "cache"]
    assert "weight" not in m.fc1.__dict__  # registered, not a plain attribute
    assert m.fc1.weight is m.fc1._parameters["weight"]
    assert m.norm.running_mean is m.norm._buffers["running_mean"]
    assert m.fc1 is m._modules["fc1"]
    m.plain = 3
    assert m.__dict__["plain"] == 3


def test_assigning_tensors_none_and_wrong_types():
    m = Norm(2)
    new = lucid.full((2,), 5.0)
    m.running_mean = new  # a plain tensor assigned to a buffer name updates the buffer
    assert m._buffers["running_mean"] is new
    m.running_mean = None
    assert m._buffers["running_mean"] is None and "running_mean" in m._buffers
    with pytest.raises(TypeError, match="buffer"):
        m.cache = 3.0
    with pytest.raises(TypeError, match="parameter 'scale'"):
        m.scale = lucid.ones(2)  # not a Parameter
    m.scale = None
    assert m.scale is None and m._parameters["scale"] is None
    lin = MyLinear(2, 2)
    with pytest.raises(TypeError, match="child module"):
        lin_parent = MLP()
        lin_parent.fc1 = lucid.ones(1)
    lin.weight = Parameter(lucid.ones(2, 2))
    assert lin.weight.tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_reassigning_a_name_moves_it_between_kinds():
    m = MLP()
    m.fc1 = Parameter(lucid.ones(1))  # module -> parameter
    assert "fc1" not in m._modules and "fc1" in m._parameters
    with pytest.raises(TypeError, match="as parameter 'fc1'"):
        m.fc1 = MyLinear(3, 4)  # as in torch, a parameter name only takes Parameters / None
    del m.fc1
    m.fc1 = MyLinear(3, 4)
    assert "fc1" in m._modules and "fc1" not in m._parameters
    m.register_buffer("buf", lucid.ones(1))
    m.buf = Parameter(lucid.ones(1))  # buffer -> parameter
    assert "buf" in m._parameters and "buf" not in m._buffers
    m.x = 1
    m.x = Parameter(lucid.ones(1))  # plain attribute -> parameter
    assert "x" not in m.__dict__ and "x" in m._parameters


def test_assignment_before_init_is_an_error():
    class Early(Module):
        def __init__(self) -> None:
            self.w = Parameter(lucid.ones(1))
            super().__init__()

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\)"):
        Early()

    class EarlyMod(Module):
        def __init__(self) -> None:
            self.child = ReLU()
            super().__init__()

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\)"):
        EarlyMod()
    with pytest.raises(TypeError, match="takes none"):
        Module(3)


def test_register_parameter_buffer_module_errors():
    m = ReLU()
    m.register_parameter("w", Parameter(lucid.ones(1)))
    with pytest.raises(KeyError, match="can't contain"):
        m.register_parameter("a.b", Parameter(lucid.ones(1)))
    with pytest.raises(KeyError, match="empty"):
        m.register_buffer("", lucid.ones(1))
    with pytest.raises(TypeError, match="should be a string"):
        m.register_parameter(1, None)  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("w", lucid.ones(1))
    with pytest.raises(KeyError, match="already exists"):
        m.register_parameter("forward", None)
    with pytest.raises(TypeError, match=r"nn.Parameter"):
        m.register_parameter("v", lucid.ones(1))  # type: ignore[arg-type]
    a = lucid.ones(2, requires_grad=True)
    nonleaf = Parameter(a)
    nonleaf.grad_fn = (a * 2).grad_fn  # simulate a parameter that is not a leaf
    with pytest.raises(ValueError, match="non-leaf"):
        m.register_parameter("bad", nonleaf)
    with pytest.raises(TypeError, match="Tensor or None"):
        m.register_buffer("b", np.ones(2))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not a Module subclass"):
        m.add_module("c", lucid.ones(1))  # type: ignore[arg-type]
    m.add_module("c", None)
    assert m._modules["c"] is None
    m.register_module("d", ReLU())
    assert isinstance(m.d, ReLU)
    m.register_buffer("w2", None)
    assert m.w2 is None


def test_getattr_and_delattr():
    m = MLP()
    with pytest.raises(AttributeError, match="'MLP' object has no attribute 'nope'"):
        _ = m.nope
    del m.fc1.bias
    assert "bias" not in m.fc1._parameters
    del m.norm.cache
    assert "cache" not in m.norm._buffers and "cache" not in m.norm._non_persistent_buffers_set
    del m.act
    assert "act" not in m._modules
    m.plain = 1
    del m.plain
    assert not hasattr(m, "plain")
    with pytest.raises(AttributeError):
        del m.missing


def test_dir_lists_registered_names():
    seq = nn.Sequential(MyLinear(2, 2))
    names = dir(MLP())
    for n in ("fc1", "norm", "forward", "training", "state_dict"):
        assert n in names
    assert "0" not in dir(seq)
    assert "weight" in dir(MyLinear(1, 1)) and "running_mean" in dir(Norm(1))


# ---------------------------------------------------------------- iteration


def test_named_parameters_buffers_modules_orders():
    m = MLP()
    assert [n for n, _ in m.named_parameters()] == [
        "fc1.weight", "fc1.bias", "norm.scale", "fc2.weight", "fc2.bias",
    ]
    assert [n for n, _ in m.named_parameters(prefix="model")] == [
        "model.fc1.weight", "model.fc1.bias", "model.norm.scale", "model.fc2.weight",
        "model.fc2.bias",
    ]
    assert list(m.named_parameters(recurse=False)) == []
    assert [n for n, _ in m.fc1.named_parameters(recurse=False)] == ["weight", "bias"]
    assert [n for n, _ in m.named_buffers()] == [
        "norm.running_mean", "norm.num_batches_tracked", "norm.cache",
    ]
    assert next(iter(m.parameters())) is m.fc1.weight
    assert len(list(m.buffers())) == 3
    assert [n for n, _ in m.named_children()] == ["fc1", "act", "norm", "fc2"]
    assert list(m.children())[2] is m.norm
    assert [n for n, _ in m.named_modules()] == ["", "fc1", "act", "norm", "fc2"]
    assert next(iter(m.modules())) is m
    assert [n for n, _ in m.named_modules(prefix="root")][:2] == ["root", "root.fc1"]


def test_none_parameters_are_skipped():
    lin = MyLinear(2, 3, bias=False)
    assert [n for n, _ in lin.named_parameters()] == ["weight"]
    assert list(lin.state_dict()) == ["weight"]
    assert "bias=False" in repr(lin)
    assert lin(lucid.ones(1, 2)).shape == (1, 3)


def test_shared_modules_and_parameters_listed_once():
    s = SharedChild()
    assert [n for n, _ in s.named_modules()] == ["", "first", "act"]
    assert [n for n, _ in s.named_modules(remove_duplicate=False)] == [
        "", "first", "act", "second",
    ]
    assert [n for n, _ in s.named_children()] == ["first", "act"]
    assert [n for n, _ in s.named_parameters()] == ["first.weight", "first.bias"]
    assert [n for n, _ in s.named_parameters(remove_duplicate=False)] == [
        "first.weight", "first.bias", "second.weight", "second.bias",
    ]
    t = Tied()
    assert [n for n, _ in t.named_parameters()] == ["a.weight", "a.bias", "b.bias"]
    assert [n for n, _ in t.named_parameters(remove_duplicate=False)] == [
        "a.weight", "a.bias", "b.weight", "b.bias",
    ]


def test_tied_parameter_gradient_is_the_sum_of_both_uses():
    m = Tied()
    x = lucid.randn(5, 3)
    m(x).sum().backward()
    # The same computation in torch, with torch's own tied weight.
    tw = torch.tensor(np_(m.a.weight), requires_grad=True)
    ta = torch.tensor(np_(m.a.bias), requires_grad=True)
    tb = torch.tensor(np_(m.b.bias), requires_grad=True)
    tx = torch.tensor(np_(x))
    (torch.relu(tx @ tw.T + ta) @ tw.T + tb).sum().backward()
    assert m.b.weight.grad is m.a.weight.grad
    np.testing.assert_allclose(np_(m.a.weight.grad), tw.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np_(m.b.bias.grad), tb.grad.numpy(), rtol=1e-5, atol=1e-5)
    # And it is the sum of the two partial gradients.
    W = lucid.tensor(np_(m.a.weight), requires_grad=True)
    W2 = lucid.tensor(np_(m.a.weight), requires_grad=True)
    ((x @ W.T + m.a.bias.detach()).relu() @ W2.T + m.b.bias.detach()).sum().backward()
    np.testing.assert_allclose(np_(m.a.weight.grad), np_(W.grad) + np_(W2.grad), rtol=1e-5,
                               atol=1e-5)


# ---------------------------------------------------------------- state_dict


def test_state_dict_contents():
    m = MLP()
    sd = m.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd) == [
        "fc1.weight", "fc1.bias", "norm.scale", "norm.running_mean",
        "norm.num_batches_tracked", "fc2.weight", "fc2.bias",
    ]  # the non-persistent "norm.cache" is left out
    w = sd["fc1.weight"]
    assert type(w) is lucid.Tensor and not w.requires_grad and w.grad_fn is None
    with lucid.no_grad():
        m.fc1.weight.mul_(0.0)
    assert np.all(np_(w) == 0)  # detached, but sharing memory
    kv = m.state_dict(keep_vars=True)
    assert kv["fc1.weight"] is m.fc1.weight and kv["norm.running_mean"] is m.norm.running_mean
    assert next(iter(m.state_dict(prefix="p."))) == "p.fc1.weight"
    dest: OrderedDict = OrderedDict(extra=1)
    assert m.state_dict(dest) is dest and list(dest)[:2] == ["extra", "fc1.weight"]


def test_state_dict_lists_shared_tensors_under_every_name_like_torch():
    t = Tied()
    assert list(t.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]
    s = SharedChild()
    assert list(s.state_dict()) == ["first.weight", "first.bias", "second.weight",
                                    "second.bias"]
    # torch does the same for a shared sub-module
    ts = torch.nn.Module()
    ts.first = torch.nn.Linear(2, 2)
    ts.act = torch.nn.ReLU()
    ts.second = ts.first
    assert list(ts.state_dict()) == list(s.state_dict())


def test_state_dict_round_trip():
    a, b = MLP(), MLP()
    with lucid.no_grad():
        a.norm.running_mean.copy_(lucid.randn(4))
        a.norm.num_batches_tracked.fill_(7)
    x = lucid.randn(2, 3)
    assert not np.allclose(np_(a(x)), np_(b(x)))
    params_before = dict(b.named_parameters())
    res = b.load_state_dict(a.state_dict())
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert repr(res) == "<All keys matched successfully>"
    np.testing.assert_allclose(np_(a(x)), np_(b(x)), rtol=1e-6)
    assert b.norm.num_batches_tracked.item() == 7
    # Values were copied into the same Parameter objects.
    assert all(p is params_before[n] for n, p in b.named_parameters())
    assert b.fc1.weight._data is not a.fc1.weight._data


def test_load_state_dict_keeps_module_dtype():
    m = MyLinear(2, 2)
    src = {k: v.double() for k, v in m.state_dict().items()}
    src["weight"] = lucid.tensor(np.arange(4.0).reshape(2, 2))  # float64
    m.load_state_dict(src)
    assert m.weight.dtype is lucid.float32 and m.weight.requires_grad
    np.testing.assert_array_equal(np_(m.weight), np.arange(4.0).reshape(2, 2))
    m.load_state_dict({"weight": np.ones((2, 2)), "bias": np.zeros(2)})  # arrays accepted
    np.testing.assert_array_equal(np_(m.weight), np.ones((2, 2)))


def test_load_state_dict_reports_every_problem_at_once_and_changes_nothing():
    m = MLP()
    before = all_tensors(m)
    sd = MLP().state_dict()
    del sd["fc1.bias"], sd["norm.running_mean"]
    sd["fc2.weight"] = lucid.zeros(3, 4)  # shape mismatch
    sd["norm.scale"] = lucid.zeros(5)  # shape mismatch
    sd["extra.weight"] = lucid.zeros(1)
    sd["fc9"] = lucid.zeros(1)
    with pytest.raises(StateDictError) as info:
        m.load_state_dict(sd)
    assert isinstance(info.value, RuntimeError)
    msg = str(info.value)
    assert msg.splitlines() == [
        "Error(s) in loading state_dict for MLP:",
        '\tMissing key(s) in state_dict: "fc1.bias", "norm.running_mean". ',
        '\tUnexpected key(s) in state_dict: "extra.weight", "fc9". ',
        "\tsize mismatch for norm.scale: copying a param with shape lucid.Size([5]) from "
        "checkpoint, the shape in current model is lucid.Size([4]).",
        "\tsize mismatch for fc2.weight: copying a param with shape lucid.Size([3, 4]) from "
        "checkpoint, the shape in current model is lucid.Size([2, 4]).",
    ]
    after = all_tensors(m)
    assert before.keys() == after.keys()
    for k in before:  # fc1.weight was valid, yet nothing was copied
        np.testing.assert_array_equal(before[k], after[k])


def test_load_state_dict_message_matches_torch():
    # Same structure in torch: the message differs only in the Size spelling.
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    lm = nn.Sequential(MyLinear(3, 4), MyLinear(4, 2))
    tsd = tm.state_dict()
    del tsd["0.bias"]
    tsd["1.weight"] = torch.zeros(5, 4)
    tsd["junk"] = torch.zeros(1)
    lsd = {k: lucid.tensor(v.numpy()) for k, v in tsd.items()}
    with pytest.raises(RuntimeError) as t_err:
        tm.load_state_dict(tsd)
    with pytest.raises(RuntimeError) as l_err:
        lm.load_state_dict(lsd)
    assert str(l_err.value) == str(t_err.value).replace("torch.Size", "lucid.Size")


def test_load_state_dict_non_strict():
    m = MLP()
    sd = m.state_dict()
    w = lucid.randn(4, 3)
    res = m.load_state_dict({"fc1.weight": w, "bogus": lucid.ones(1)}, strict=False)
    assert res.unexpected_keys == ["bogus"]
    assert res.missing_keys == [k for k in sd if k != "fc1.weight"]
    assert "missing_keys=" in repr(res)
    np.testing.assert_array_equal(np_(m.fc1.weight), np_(w))
    before = all_tensors(m)
    with pytest.raises(StateDictError, match=r"size mismatch for fc1.weight"):
        m.load_state_dict({"fc1.weight": lucid.ones(2, 2), "fc1.bias": lucid.ones(4)},
                          strict=False)
    np.testing.assert_array_equal(before["fc1.bias"], np_(m.fc1.bias))  # unchanged
    with pytest.raises(StateDictError, match=r"expected a lucid.Tensor"):
        m.load_state_dict({"fc1.weight": [1.0]}, strict=False)
    with pytest.raises(TypeError, match="mapping"):
        m.load_state_dict([("fc1.weight", w)])  # type: ignore[arg-type]


def test_load_state_dict_assign_and_tied():
    t = Tied()
    sd = {k: v.clone() * 0 + i for i, (k, v) in enumerate(t.state_dict().items())}
    sd["b.weight"] = sd["a.weight"]
    t.load_state_dict(sd)
    assert t.a.weight is t.b.weight
    np.testing.assert_array_equal(np_(t.a.weight), np.zeros((3, 3)))
    new = {k: lucid.full(tuple(v.shape), 3.0, dtype=lucid.float64)
           for k, v in t.state_dict().items()}
    new["b.weight"] = new["a.weight"]
    old = t.a.weight
    t.load_state_dict(new, assign=True)
    assert t.a.weight is not old and isinstance(t.a.weight, Parameter)
    assert t.a.weight is t.b.weight  # still tied
    assert t.a.weight.dtype is lucid.float64 and t.a.weight.requires_grad
    m = Norm(2)
    buf = lucid.full((2,), 9.0)
    m.load_state_dict({"scale": lucid.ones(2), "running_mean": buf,
                       "num_batches_tracked": lucid.tensor(1)}, assign=True)
    assert m.running_mean is buf


def test_load_state_dict_materializes_lazy_parameters():
    m = ReLU()
    m.weight = UninitializedParameter()
    m.load_state_dict({"weight": lucid.ones(2, 3, dtype=lucid.float64)})
    assert type(m.weight) is Parameter and m.weight.shape == (2, 3)
    assert m.weight.dtype is lucid.float32  # the module's dtype is kept
    lazy = ReLU()
    lazy.weight = UninitializedParameter()
    assert lazy.state_dict()["weight"] is lazy.weight  # no data to detach yet


# ---------------------------------------------------------------- modes, grads, conversion


def test_train_eval_recursive():
    m = nn.Sequential(MLP(), ReLU())
    assert all(x.training for x in m.modules())
    assert m.eval() is m
    assert not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())
    m[0].train(False)
    assert m.training and not m[0].fc1.training
    with pytest.raises(ValueError, match="boolean"):
        m.train(1)  # type: ignore[arg-type]


def test_zero_grad_and_requires_grad_():
    m = MLP()
    m(lucid.randn(2, 3)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    grad_obj = m.fc1.weight.grad
    m.zero_grad(set_to_none=False)
    assert m.fc1.weight.grad is grad_obj and np.all(np_(grad_obj) == 0)
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    assert m.requires_grad_(False) is m
    assert not any(p.requires_grad for p in m.parameters())
    m.requires_grad_()
    assert all(p.requires_grad for p in m.parameters())


def test_to_casts_in_place_keeping_parameter_objects():
    m = MLP()
    m(lucid.randn(2, 3)).sum().backward()
    params = list(m.parameters())
    assert m.to(lucid.float64) is m
    assert all(a is b for a, b in zip(m.parameters(), params, strict=True))
    assert all(p.dtype is lucid.float64 and p.requires_grad for p in m.parameters())
    assert all(p.grad.dtype is lucid.float64 for p in m.parameters())
    assert m.norm.running_mean.dtype is lucid.float64
    assert m.norm.num_batches_tracked.dtype is lucid.int64  # integer buffers are untouched
    assert m(lucid.randn(2, 3, dtype=lucid.float64)).dtype is lucid.float64
    m.float()
    assert all(p.dtype is lucid.float32 for p in m.parameters())
    m.half()
    assert m.fc1.weight.dtype is lucid.float16
    m.double()
    assert m.fc1.weight.dtype is lucid.float64
    m.to(dtype=lucid.float32)
    assert m.fc1.weight.dtype is lucid.float32
    m.to(lucid.zeros(1, dtype=lucid.float64))
    assert m.fc1.weight.dtype is lucid.float64
    assert m.cpu() is m and m.to("cpu") is m
    with pytest.raises(TypeError, match="floating point"):
        m.to(lucid.int64)
    with pytest.raises(TypeError, match="unexpected"):
        m.to(memory_format=None)


def test_to_keeps_tied_parameters_tied_and_updates_lazy_dtype():
    t = Tied()
    t.double()
    assert t.a.weight is t.b.weight and t.a.weight.dtype is lucid.float64
    lazy = ReLU()
    lazy.weight = UninitializedParameter()
    lazy.double()
    assert nn.is_lazy(lazy.weight) and lazy.weight.dtype is lucid.float64
    lazy.weight.materialize((2,))
    assert lazy.weight.dtype is lucid.float64


def test_apply_visits_children_first():
    m = MLP()
    seen: list[str] = []
    assert m.apply(lambda mod: seen.append(type(mod).__name__)) is m
    assert seen == ["MyLinear", "ReLU", "Norm", "MyLinear", "MLP"]


def test_get_submodule_parameter_buffer():
    m = nn.Sequential(MLP(), ReLU())
    assert m.get_submodule("") is m
    assert m.get_submodule("0.fc1") is m[0].fc1
    assert m.get_parameter("0.fc2.bias") is m[0].fc2.bias
    assert m.get_buffer("0.norm.running_mean") is m[0].norm.running_mean
    with pytest.raises(AttributeError, match="MLP has no attribute `nope`"):
        m.get_submodule("0.nope")
    with pytest.raises(AttributeError, match=r"is not an nn.Module"):
        m.get_submodule("0.fc1.weight")
    with pytest.raises(AttributeError, match=r"is not an nn.Parameter"):
        m.get_parameter("0.norm.running_mean")
    with pytest.raises(AttributeError, match="has no attribute `zz`"):
        m.get_parameter("0.fc1.zz")
    with pytest.raises(AttributeError, match="is not a buffer"):
        m.get_buffer("0.fc1.weight")


def test_default_forward_names_the_class():
    class NoForward(Module):
        pass

    with pytest.raises(NotImplementedError, match=r"Module \[NoForward\] is missing"):
        NoForward()(lucid.ones(1))


# ---------------------------------------------------------------- hooks


def test_forward_hooks():
    m = MyLinear(2, 2)
    calls: list[str] = []

    def pre(mod, args):
        calls.append("pre")
        return args[0] * 0  # replaces the input (a single value is wrapped in a tuple)

    def post(mod, args, out):
        calls.append("post")
        assert np.all(np_(args[0]) == 0)
        return out + 1

    h1 = m.register_forward_pre_hook(pre)
    h2 = m.register_forward_hook(post)
    out = m(lucid.ones(1, 2))
    np.testing.assert_allclose(np_(out), np_(m.bias)[None] + 1, rtol=1e-6)
    assert calls == ["pre", "post"]
    h1.remove()
    h2.remove()
    h2.remove()  # a second remove does nothing
    np.testing.assert_allclose(np_(m(lucid.ones(1, 2))),
                               np_(lucid.ones(1, 2) @ m.weight.T + m.bias), rtol=1e-6)
    assert calls == ["pre", "post"]


def test_forward_hooks_with_kwargs_prepend_and_context_manager():
    class Scale(Module):
        def forward(self, x, factor=1.0):
            return x * factor

    m = Scale()
    order: list[str] = []
    m.register_forward_pre_hook(lambda mod, args: order.append("a"))
    m.register_forward_pre_hook(lambda mod, args: order.append("b"), prepend=True)

    def kw_pre(mod, args, kwargs):
        order.append("kw")
        return args, {**kwargs, "factor": 3.0}

    m.register_forward_pre_hook(kw_pre, with_kwargs=True)
    seen = {}

    def kw_post(mod, args, kwargs, out):
        seen["factor"] = kwargs["factor"]

    with m.register_forward_hook(kw_post, with_kwargs=True):
        out = m(lucid.ones(2), factor=2.0)
    assert order == ["b", "a", "kw"] and seen["factor"] == 3.0
    np.testing.assert_array_equal(np_(out), [3.0, 3.0])
    seen.clear()
    m(lucid.ones(2))
    assert seen == {}  # the context manager removed the forward hook

    def bad(mod, args, kwargs):
        return 5

    m.register_forward_pre_hook(bad, with_kwargs=True)
    with pytest.raises(RuntimeError, match="tuple"):
        m(lucid.ones(2))


# ---------------------------------------------------------------- repr


def _torch_twin(name: str, extra: str) -> type:
    return type(name, (torch.nn.Module,), {"extra_repr": lambda self: extra})


def test_repr_matches_torch_for_a_nested_model():
    lin_extra = "in_features=4, out_features=8, bias=True"
    TLin = _torch_twin("MyLinear", lin_extra)
    TBlock = _torch_twin("Block", "first line\nsecond line")
    TMLP = _torch_twin("MLP", "")

    class Block(Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = nn.Sequential(MyLinear(4, 8), ReLU())

        def extra_repr(self) -> str:
            return "first line\nsecond line"

    lucid_model = nn.Sequential(OrderedDict([
        ("stem", MyLinear(4, 8)),
        ("act", ReLU()),
        ("blocks", nn.ModuleList([Block(), Block(), MLP()])),
        ("heads", nn.ModuleDict({"a": MyLinear(4, 8), "b": ReLU()})),
        ("empty", nn.Sequential()),
    ]))
    lucid_model.add_module("nothing", None)

    def tblock() -> torch.nn.Module:
        b = TBlock()
        b.inner = torch.nn.Sequential(TLin(), torch.nn.ReLU())
        return b

    def tmlp() -> torch.nn.Module:
        m = TMLP()
        m.fc1 = _torch_twin("MyLinear", "in_features=3, out_features=4, bias=True")()
        m.act = torch.nn.ReLU()
        m.norm = _torch_twin("Norm", "")()
        m.fc2 = _torch_twin("MyLinear", "in_features=4, out_features=2, bias=True")()
        return m

    torch_model = torch.nn.Sequential(OrderedDict([
        ("stem", TLin()),
        ("act", torch.nn.ReLU()),
        ("blocks", torch.nn.ModuleList([tblock(), tblock(), tmlp()])),
        ("heads", torch.nn.ModuleDict({"a": TLin(), "b": torch.nn.ReLU()})),
        ("empty", torch.nn.Sequential()),
    ]))
    torch_model.add_module("nothing", None)
    assert repr(lucid_model) == repr(torch_model)
    assert repr(nn.Sequential(MyLinear(4, 8), ReLU())) == (
        "Sequential(\n  (0): MyLinear(in_features=4, out_features=8, bias=True)\n"
        "  (1): ReLU()\n)"
    )


# ---------------------------------------------------------------- copying


def test_deepcopy_copies_parameters_and_preserves_sharing():
    m = nn.Sequential(Tied(), SharedChild())
    m[0](lucid.randn(1, 3)).sum().backward()
    c = copy.deepcopy(m)
    for (n1, p1), (n2, p2) in zip(m.named_parameters(), c.named_parameters(), strict=True):
        assert n1 == n2 and p1 is not p2 and type(p2) is Parameter
        np.testing.assert_array_equal(np_(p1), np_(p2))
    assert c[0].a.weight is c[0].b.weight
    assert c[1].first is c[1].second
    np.testing.assert_array_equal(np_(c[0].a.weight.grad), np_(m[0].a.weight.grad))
    with lucid.no_grad():
        c[0].a.weight.fill_(0.0)
    assert not np.all(np_(m[0].a.weight) == 0)  # independent storage
    x = lucid.randn(2, 3)
    np.testing.assert_allclose(np_(copy.deepcopy(m[0])(x)), np_(m[0](x)), rtol=1e-6)


def test_pickle_round_trip():
    m = MLP()
    with lucid.no_grad():
        m.norm.running_mean.copy_(lucid.randn(4))
    r = pickle.loads(pickle.dumps(m))
    assert type(r) is MLP and repr(r) == repr(m)
    x = lucid.randn(2, 3)
    np.testing.assert_allclose(np_(r(x)), np_(m(x)), rtol=1e-6)
    assert list(r.state_dict()) == list(m.state_dict())
    assert [n for n, _ in r.named_buffers()] == [n for n, _ in m.named_buffers()]
    assert "cache" in r.norm._non_persistent_buffers_set
    t = pickle.loads(pickle.dumps(Tied()))
    assert t.a.weight is t.b.weight


def test_copy_keeps_hooks_working():
    m = MyLinear(2, 2)
    m.register_forward_hook(lambda mod, a, out: out * 0)
    c = copy.deepcopy(m)
    assert np.all(np_(c(lucid.ones(1, 2))) == 0)


# ---------------------------------------------------------------- pytrees


def _paths(m: object) -> list[str]:
    return [tree.keystr(p, simple=True, separator=".") for p, _ in tree.leaves_with_path(m)]


def test_flatten_gives_parameters_then_buffers_with_state_dict_names():
    m = MLP()
    leaves, td = tree.flatten(m)
    expected = list(m.named_parameters()) + list(m.named_buffers())
    assert len(leaves) == len(expected) == td.num_leaves
    assert all(a is b for a, (_, b) in zip(leaves, expected, strict=True))
    assert _paths(m) == [n for n, _ in expected]
    # Every state_dict entry is a leaf under its own name (the order differs: state_dict
    # interleaves each module's buffers, flattening puts all parameters first).
    sd = m.state_dict(keep_vars=True)
    by_path = dict(zip(_paths(m), leaves, strict=True))
    assert set(sd) <= set(by_path) and all(by_path[k] is v for k, v in sd.items())
    assert set(by_path) - set(sd) == {"norm.cache"}  # the non-persistent buffer
    assert tree.leaves(m)[0] is m.fc1.weight
    # Nested in other containers, the names extend the outer path.
    assert _paths({"model": nn.Sequential(MyLinear(1, 1))}) == ["model.0.weight",
                                                                "model.0.bias"]


def test_flatten_lists_shared_tensors_once():
    t = Tied()
    assert _paths(t) == ["a.weight", "a.bias", "b.bias"]
    s = SharedChild()
    assert _paths(s) == ["first.weight", "first.bias"]


def test_treedefs_equal_for_equal_architectures():
    td1 = tree.structure(MyLinear(4, 8))
    td2 = tree.structure(MyLinear(4, 8))
    assert td1 == td2 and hash(td1) == hash(td2)
    assert tree.structure(MLP()) == tree.structure(MLP())
    assert tree.structure(Tied()) == tree.structure(Tied())
    assert tree.structure(MyLinear(4, 8)) != tree.structure(MyLinear(4, 9))
    assert tree.structure(MyLinear(4, 8)) != tree.structure(MyLinear(4, 8, bias=False))
    assert tree.structure(MyLinear(4, 8).eval()) != td1  # the training flag is static
    assert tree.structure(Tied()) != tree.structure(nn.Sequential(
        OrderedDict([("a", MyLinear(3, 3)), ("b", MyLinear(3, 3))])))

    class Untied(Tied):
        pass

    untied = Tied()
    untied.b.weight = Parameter(lucid.randn(3, 3))
    assert tree.structure(untied) != tree.structure(Tied())
    assert tree.structure(Untied()) != tree.structure(Tied())  # the class is part of it
    # Unhashable configuration (lists, dicts) compares by value.
    a, b = MyLinear(1, 1), MyLinear(1, 1)
    a.sizes, b.sizes = [1, [2, 3]], [1, [2, 3]]
    a.opts, b.opts = {"k": (1, 2)}, {"k": (1, 2)}
    a.eps, b.eps = np.float32(1e-5), np.float32(1e-5)
    assert tree.structure(a) == tree.structure(b)
    b.sizes = [1, [2, 4]]
    assert tree.structure(a) != tree.structure(b)
    assert "MyLinear" in repr(td1)


def test_map_returns_a_new_model_and_leaves_the_original_untouched():
    m = MLP()
    before = all_tensors(m)
    doubled = tree.map(lambda t: t * 2, m)
    assert type(doubled) is MLP and doubled is not m and doubled.fc1 is not m.fc1
    after = all_tensors(m)
    for k in before:
        np.testing.assert_array_equal(before[k], after[k])
    assert m.fc1.weight is m.fc1._parameters["weight"] and isinstance(m.fc1.weight, Parameter)
    for k, v in all_tensors(doubled).items():
        np.testing.assert_allclose(v, before[k] * 2)
    assert tree.structure(doubled) == tree.structure(m)
    assert repr(doubled) == repr(m)
    # The copy is a working module; its configuration is the original's.
    assert doubled.fc1.in_features == 3 and doubled.training
    x = lucid.randn(2, 3)
    h = (x @ doubled.fc1.weight.T + doubled.fc1.bias).relu()
    h = (h - doubled.norm.running_mean) * doubled.norm.scale
    np.testing.assert_allclose(np_(doubled(x)),
                               np_(h @ doubled.fc2.weight.T + doubled.fc2.bias), rtol=1e-5)


def test_structure_mismatch_error_names_the_differing_attribute():
    a, b = MyLinear(2, 2), MyLinear(2, 2).eval()
    with pytest.raises(ValueError, match="training=False"):
        tree.map(lambda x, y: x, a, b)


def test_map_over_model_and_gradients():
    m = MyLinear(3, 2)
    x = lucid.randn(4, 3)
    m(x).sum().backward()
    grads = tree.map(lambda p: p.grad, m)
    new = tree.map(lambda p, g: (p - 0.1 * g).detach(), m, grads)
    np.testing.assert_allclose(np_(new.weight), np_(m.weight) - 0.1 * np_(m.weight.grad),
                               rtol=1e-6)
    assert isinstance(grads, MyLinear) and grads.weight is m.weight.grad


def test_tied_parameters_stay_tied_after_map():
    t = Tied()
    t2 = tree.map(lambda p: p + 1, t)
    assert t2.a.weight is t2.b.weight and t2.a.weight is not t.a.weight
    assert [n for n, _ in t2.named_parameters()] == ["a.weight", "a.bias", "b.bias"]
    s2 = tree.map(lambda p: p, SharedChild())
    assert s2.first is s2.second
    assert tree.structure(t2) == tree.structure(t)


def test_unflatten_accepts_any_leaves_and_copies_are_independent():
    m = MLP()
    leaves, td = tree.flatten(m)
    objs = [object() for _ in leaves]
    c = td.unflatten(objs)
    assert c.fc1._parameters["weight"] is objs[0]
    assert c.norm._buffers["cache"] is objs[-1]
    none = td.unflatten([None] * len(leaves))
    assert none.fc1._parameters["weight"] is None
    # Hooks and mutable config of a copy are its own.
    c.register_forward_hook(lambda *a: None)
    assert len(m._forward_hooks) == 0
    c.norm._non_persistent_buffers_set.add("x")
    assert "x" not in m.norm._non_persistent_buffers_set
    with pytest.raises(ValueError, match="expected"):
        td.unflatten(leaves[:-1])


def test_module_with_plain_tensor_attribute_and_hooks():
    class Fixed(Module):
        def __init__(self) -> None:
            super().__init__()
            self.rand_weight = lucid.rand(2, 2)  # a plain attribute: a constant, not a leaf
            self.linear = MyLinear(2, 2)

        def forward(self, x):
            return self.linear(x @ self.rand_weight)

    f = Fixed()
    assert len(tree.leaves(f)) == 2
    f2 = tree.map(lambda p: p, f)
    assert f2.rand_weight is f.rand_weight and tree.structure(f2) == tree.structure(f)
    np.testing.assert_allclose(np_(f2(lucid.ones(1, 2))), np_(f(lucid.ones(1, 2))), rtol=1e-6)
    h = f.register_forward_pre_hook(lambda mod, args: None)
    with_hook = tree.structure(f)
    assert with_hook != tree.structure(f2)  # hooks change behavior: part of the structure
    h.remove()
    assert tree.structure(f) == tree.structure(f2)


def test_lazy_style_modules_have_equal_treedefs_once_initialized():
    class LazyScale(Module):
        """Infers its parameter's shape on the first call, as lazy layers do."""

        def __init__(self) -> None:
            super().__init__()
            self.weight = UninitializedParameter()
            self._handle = self.register_forward_pre_hook(self._infer)

        def _infer(self, module, args):
            module.weight.materialize(args[0].shape[-1:])
            with lucid.no_grad():
                module.weight.fill_(2.0)
            self._handle.remove()

        def forward(self, x):
            return x * self.weight

    a, b = LazyScale(), LazyScale()
    assert tree.structure(a) != tree.structure(b)  # each holds its own (bound) pre-hook
    x = lucid.ones(2, 3)
    np.testing.assert_array_equal(np_(a(x)), np.full((2, 3), 2.0))
    b(x)
    assert type(a.weight) is Parameter and a.weight.shape == (3,)
    assert tree.structure(a) == tree.structure(b)
    np.testing.assert_array_equal(np_(tree.map(lambda p: p * 3, a)(x)), np.full((2, 3), 6.0))
    seq = nn.Sequential(LazyScale(), LazyScale())
    seq(x)
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "1.weight"]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4), st.booleans()), min_size=1, max_size=4))
def test_random_mlps_flatten_round_trip(layers):
    def build():
        mods = []
        n_in = 2
        for n_out, bias in layers:
            mods += [MyLinear(n_in, n_out, bias=bias), ReLU()]
            n_in = n_out
        return nn.Sequential(*mods)

    m = build()
    leaves, td = tree.flatten(m)
    assert td == tree.structure(build())
    assert _paths(m) == [n for n, _ in m.named_parameters()]
    back = td.unflatten(leaves)
    assert [n for n, _ in back.named_parameters()] == [n for n, _ in m.named_parameters()]
    assert all(a is b for a, b in zip(back.parameters(), m.parameters(), strict=True))
    x = lucid.randn(3, 2)
    np.testing.assert_allclose(np_(back(x)), np_(m(x)), rtol=1e-6)


# ---------------------------------------------------------------- functional_call


def test_functional_call_equals_manual_forward_and_restores():
    m = MyLinear(3, 2)
    x = lucid.randn(4, 3)
    w, b = lucid.randn(2, 3), lucid.randn(2)
    out = functional_call(m, {"weight": w, "bias": b}, (x,))
    np.testing.assert_allclose(np_(out), np_(x @ w.T + b), rtol=1e-6)
    assert isinstance(m.weight, Parameter) and m.weight is m._parameters["weight"]
    np.testing.assert_allclose(np_(m(x)), np_(x @ m.weight.T + m.bias), rtol=1e-6)
    # Partial binding: the module's own bias is used.
    out = lucid.func.functional_call(m, {"weight": w}, x)
    np.testing.assert_allclose(np_(out), np_(x @ w.T + m.bias), rtol=1e-6)


def test_functional_call_matches_torch_func():
    m = MLP()
    tm = torch.nn.Module()
    params = {k: lucid.randn(*v.shape) for k, v in m.named_parameters()}
    x = lucid.randn(2, 3)
    out = functional_call(m, (params, {"norm.running_mean": lucid.ones(4)}), (x,))

    def tfwd(p, xx):
        h = torch.relu(xx @ p["fc1.weight"].T + p["fc1.bias"])
        h = (h - torch.ones(4)) * p["norm.scale"]
        return h @ p["fc2.weight"].T + p["fc2.bias"]

    tp = {k: torch.tensor(np_(v)) for k, v in params.items()}
    np.testing.assert_allclose(np_(out), tfwd(tp, torch.tensor(np_(x))).numpy(), rtol=1e-5,
                               atol=1e-6)
    assert tm is not None


def test_functional_call_gradients_flow_to_the_bound_tensors():
    m = MyLinear(3, 2)
    w = lucid.randn(2, 3, requires_grad=True)
    x = lucid.randn(4, 3)
    (g,) = lucid.autograd.grad(functional_call(m, {"weight": w}, (x,)).sum(), [w])
    np.testing.assert_allclose(np_(g), np.broadcast_to(np_(x).sum(0), (2, 3)), rtol=1e-5)
    assert m.weight.grad is None


def test_functional_call_restores_on_exception():
    class Boom(Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = Parameter(lucid.ones(2))
            self.register_buffer("buf", lucid.zeros(2))

        def forward(self, x):
            seen.append((self.w, self.buf))
            raise KeyError("boom")

    seen: list = []
    m = Boom()
    orig_w, orig_b = m.w, m.buf
    with pytest.raises(KeyError, match="boom"):
        functional_call(m, {"w": lucid.zeros(2), "buf": lucid.ones(2)}, (lucid.ones(2),))
    assert seen[0][0] is not orig_w and seen[0][1] is not orig_b  # the bound ones were used
    assert m.w is orig_w and m.buf is orig_b


def test_functional_call_kwargs_and_buffers():
    class Scale(Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("s", lucid.tensor(2.0))

        def forward(self, x, *, extra=0.0):
            return x * self.s + extra

    m = Scale()
    out = functional_call(m, {"s": lucid.tensor(5.0)}, (lucid.ones(2),), {"extra": 1.0})
    np.testing.assert_array_equal(np_(out), [6.0, 6.0])
    assert m.s.item() == 2.0


def test_functional_call_tied_names():
    t = Tied()
    x = lucid.randn(2, 3)
    w = lucid.randn(3, 3)

    def manual(wa, wb):
        return (x @ wa.T + t.a.bias).relu() @ wb.T + t.b.bias

    # Binding either name replaces both uses.
    for name in ("a.weight", "b.weight"):
        np.testing.assert_allclose(np_(functional_call(t, {name: w}, (x,))),
                                   np_(manual(w, w)), rtol=1e-5)
    same = functional_call(t, {"a.weight": w, "b.weight": w}, (x,))
    np.testing.assert_allclose(np_(same), np_(manual(w, w)), rtol=1e-5)
    with pytest.raises(ReparametrizeError, match="tied"):
        functional_call(t, {"a.weight": w, "b.weight": w + 1}, (x,))
    # Untied: only the given name changes.
    out = functional_call(t, {"b.weight": w}, (x,), tie_weights=False)
    np.testing.assert_allclose(np_(out), np_(manual(t.a.weight, w)), rtol=1e-5)
    assert t.a.weight is t.b.weight
    # A shared sub-module is one slot: two different values for it cannot be honored.
    s = SharedChild()
    with pytest.raises(ReparametrizeError, match="same slot"):
        functional_call(s, {"first.bias": lucid.ones(2), "second.bias": lucid.zeros(2)},
                        (lucid.ones(1, 2),), tie_weights=False)


def test_functional_call_strict_and_unknown_names():
    m = MLP()
    x = lucid.randn(1, 3)
    with pytest.raises(ReparametrizeError, match="missing") as info:
        functional_call(m, {"fc1.weight": lucid.randn(4, 3)}, (x,), strict=True)
    assert isinstance(info.value, RuntimeError)
    assert '"norm.running_mean"' in str(info.value) and '"norm.cache"' in str(info.value)
    full = {**{k: v.detach() for k, v in m.named_parameters()},
            **dict(m.named_buffers())}
    np.testing.assert_allclose(np_(functional_call(m, full, (x,), strict=True)), np_(m(x)),
                               rtol=1e-6)
    with pytest.raises(ReparametrizeError, match=r"'fc1.wieght' \(did you mean 'fc1.weight'"):
        functional_call(m, {"fc1.wieght": lucid.randn(4, 3)}, (x,))
    with pytest.raises(ValueError, match="has no parameter or buffer"):
        functional_call(m, {"zzz": lucid.ones(1)}, (x,))

    class Fixed(Module):
        def __init__(self) -> None:
            super().__init__()
            self.rand_weight = lucid.ones(2, 2)

        def forward(self, x):
            return x @ self.rand_weight

    with pytest.raises(ReparametrizeError, match="plain attribute"):
        functional_call(Fixed(), {"rand_weight": lucid.zeros(2, 2)}, (lucid.ones(1, 2),))
    with pytest.raises(ReparametrizeError, match="more than one"):
        functional_call(m, ({"fc1.bias": lucid.ones(4)}, {"fc1.bias": lucid.ones(4)}), (x,))
    with pytest.raises(TypeError, match="dict"):
        functional_call(m, [("fc1.bias", lucid.ones(4))], (x,))  # type: ignore[list-item]
    with pytest.raises(TypeError, match="Module"):
        functional_call(lambda v: v, {}, (x,))
