"""Tests of the container modules (``Sequential``, ``ModuleList``, ``ModuleDict``,
``ParameterList``, ``ParameterDict``), checked against ``torch.nn`` and against the seed
documents' examples (with ``nn.Linear`` & co. replaced by tiny modules defined here)."""

from __future__ import annotations

import copy
from collections import OrderedDict

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lucid
import lucid.nn as nn
import lucid.tree as tree
from lucid.nn import (
    Module,
    ModuleDict,
    ModuleList,
    Parameter,
    ParameterDict,
    ParameterList,
    Sequential,
)

# ---------------------------------------------------------------- tiny modules


class Linear(Module):
    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(lucid.randn(out_features, in_features) * 0.3)
        self.bias = Parameter(lucid.randn(out_features) * 0.1)

    def forward(self, x: lucid.Tensor) -> lucid.Tensor:
        return x @ self.weight.T + self.bias

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias=True"


class ReLU(Module):
    def forward(self, x: lucid.Tensor) -> lucid.Tensor:
        return x.relu()


class Tanh(Module):
    def forward(self, x: lucid.Tensor) -> lucid.Tensor:
        return x.tanh()


class Tag(Module):
    """A parameter-free module that remembers a number and adds it when called."""

    def __init__(self, tag: int) -> None:
        super().__init__()
        self.tag = tag

    def forward(self, x):
        return x + self.tag


class TTag(torch.nn.Module):
    def __init__(self, tag: int) -> None:
        super().__init__()
        self.tag = tag


def np_(t: lucid.Tensor) -> np.ndarray:
    return np.array(t.detach().numpy())


def np_linear(m: Linear, x: np.ndarray) -> np.ndarray:
    return x @ np_(m.weight).T + np_(m.bias)


def tags(container) -> list[int]:
    return [m.tag for m in container]


# ---------------------------------------------------------------- Sequential


def test_sequential_construction_and_forward_order():
    a, b, c = Tag(1), Tag(10), Tag(100)
    seq = Sequential(a, b, c)
    assert list(seq._modules) == ["0", "1", "2"] and len(seq) == 3
    assert seq[0] is a and seq[-1] is c and seq[-3] is a
    assert list(seq) == [a, b, c]
    with pytest.raises(IndexError, match="out of range"):
        seq[3]
    with pytest.raises(IndexError, match="out of range"):
        seq[-4]
    calls: list[int] = []
    for m in (a, b, c):
        m.register_forward_hook(lambda mod, args, out: calls.append(mod.tag))
    assert seq(lucid.zeros(1)).item() == 111
    assert calls == [1, 10, 100]
    named = Sequential(OrderedDict([("first", a), ("second", b)]))
    assert list(named._modules) == ["first", "second"]
    assert named.first is a and named[1] is b and named[-1] is b
    assert Sequential()(lucid.ones(1)).item() == 1.0  # empty: identity


def test_sequential_slicing_keeps_torch_keys():
    mods = [Tag(i) for i in range(5)]
    seq = Sequential(*mods)
    tseq = torch.nn.Sequential(*[TTag(i) for i in range(5)])
    for sl in (slice(1, 4), slice(None, None, 2), slice(-2, None), slice(3, 1)):
        part = seq[sl]
        assert type(part) is Sequential
        assert list(part._modules) == list(tseq[sl]._modules)
        assert tags(part) == [m.tag for m in tseq[sl]]
        assert all(x is y for x, y in zip(part, mods[sl], strict=True))  # same modules


def test_sequential_mutation():
    seq = Sequential(Tag(0), Tag(1), Tag(2))
    assert seq.append(Tag(3)) is seq
    seq[1] = Tag(11)
    seq[-1] = Tag(33)
    assert tags(seq) == [0, 11, 2, 33]
    del seq[1]
    assert tags(seq) == [0, 2, 33] and list(seq._modules) == ["0", "1", "2"]
    seq.insert(1, Tag(5)).insert(-1, Tag(6)).insert(len(seq), Tag(7))
    assert tags(seq) == [0, 5, 2, 6, 33, 7]
    assert list(seq._modules) == [str(i) for i in range(6)]
    with pytest.raises(IndexError):
        seq.insert(10, Tag(0))
    with pytest.raises(TypeError, match="Module"):
        seq.insert(0, 3)  # type: ignore[arg-type]
    seq.extend([Tag(8), Tag(9)])
    assert tags(seq)[-2:] == [8, 9]
    popped = seq.pop(0)
    assert popped.tag == 0 and tags(seq)[0] == 5
    part = seq.pop(slice(0, 2))
    assert tags(part) == [5, 2] and tags(seq) == [6, 33, 7, 8, 9]
    del seq[::2]
    assert tags(seq) == [33, 8] and list(seq._modules) == ["0", "1"]
    both = seq + Sequential(Tag(1))
    assert type(both) is Sequential and tags(both) == [33, 8, 1] and tags(seq) == [33, 8]
    seq += Sequential(Tag(2))
    assert tags(seq) == [33, 8, 2]
    with pytest.raises(ValueError, match="Sequential"):
        seq + [Tag(1)]  # type: ignore[operator]  # noqa: RUF005
    twice = Sequential(Tag(1), Tag(2)) * 2
    assert tags(twice) == [1, 2, 1, 2] and twice[0] is twice[2]
    assert tags(2 * Sequential(Tag(4))) == [4, 4]
    with pytest.raises(ValueError, match="Non-positive"):
        Sequential(Tag(1)) * 0


def test_sequential_delete_renumbers_like_torch():
    named = Sequential(OrderedDict([("a", Tag(0)), ("b", Tag(1)), ("c", Tag(2))]))
    tnamed = torch.nn.Sequential(OrderedDict([("a", TTag(0)), ("b", TTag(1)), ("c", TTag(2))]))
    del named[0]
    del tnamed[0]
    assert list(named._modules) == list(tnamed._modules) == ["0", "1"]
    assert tags(named) == [1, 2]


_OPS = st.lists(
    st.tuples(st.sampled_from(["append", "extend", "insert", "pop", "del", "delslice", "set"]),
              st.integers(-6, 6), st.integers(-6, 6)),
    max_size=12,
)


def _apply_list_op(ours, theirs, op, i, j, new_tag, torch_insert_negative):
    """Apply one list operation to a lucid and a torch container; return False if skipped."""
    n = len(ours)
    if op == "append":
        ours.append(Tag(new_tag))
        theirs.append(TTag(new_tag))
    elif op == "extend":
        ours.extend([Tag(new_tag), Tag(new_tag + 1)])
        theirs.extend([TTag(new_tag), TTag(new_tag + 1)])
    elif op == "insert":
        if not (0 if not torch_insert_negative else -n) <= i <= n:
            return False
        ours.insert(i, Tag(new_tag))
        theirs.insert(i, TTag(new_tag))
    elif op in ("pop", "del", "set"):
        if not -n <= i < n:
            return False
        if op == "pop":
            assert ours.pop(i).tag == theirs.pop(i).tag
        elif op == "del":
            del ours[i]
            del theirs[i]
        else:
            ours[i] = Tag(new_tag)
            theirs[i] = TTag(new_tag)
    else:
        del ours[i:j]
        del theirs[i:j]
    return True


@settings(max_examples=40, deadline=None)
@given(_OPS)
def test_sequential_op_sequences_match_torch(ops):
    ours = Sequential(*[Tag(i) for i in range(3)])
    theirs = torch.nn.Sequential(*[TTag(i) for i in range(3)])
    for k, (op, i, j) in enumerate(ops):
        _apply_list_op(ours, theirs, op, i, j, 100 + 10 * k, torch_insert_negative=True)
        assert tags(ours) == [m.tag for m in theirs]
        assert list(ours._modules) == list(theirs._modules)
        assert len(ours) == len(theirs)


# ---------------------------------------------------------------- ModuleList


def test_module_list_interface():
    a, b, c = Tag(0), Tag(1), Tag(2)
    ml = ModuleList([a, b])
    assert len(ml) == 2 and ml[0] is a and ml[-1] is b and list(ml) == [a, b]
    assert ModuleList() is not None and len(ModuleList()) == 0
    assert ml.append(c) is ml and ml[2] is c
    assert ml.index(b) == 1 and ml.index(c, 1) == 2
    with pytest.raises(ValueError, match="not in the ModuleList"):
        ml.index(Tag(0))
    with pytest.raises(IndexError, match="out of range"):
        ml[3]
    part = ml[1:]
    assert type(part) is ModuleList and list(part) == [b, c] and list(part._modules) == ["0",
                                                                                         "1"]
    assert list(ml[::-1]) == [c, b, a]
    ml.insert(0, Tag(9))
    ml.insert(-1, Tag(8))  # negative counts from the end, like list.insert
    assert tags(ml) == [9, 0, 1, 8, 2]
    assert list(ml._modules) == [str(i) for i in range(5)]
    assert ml.pop(1) is a and tags(ml) == [9, 1, 8, 2]
    del ml[-1]
    assert tags(ml) == [9, 1, 8]
    del ml[0:2]
    assert tags(ml) == [8] and list(ml._modules) == ["0"]
    ml[0] = Tag(5)
    ml[-1] = Tag(6)
    assert tags(ml) == [6]
    ml += [Tag(7)]
    assert tags(ml) == [6, 7]
    combined = ml + ModuleList([Tag(3)])
    assert type(combined) is ModuleList and tags(combined) == [6, 7, 3] and tags(ml) == [6, 7]
    assert tags(ml.extend((Tag(1), Tag(2)))) == [6, 7, 1, 2]
    with pytest.raises(TypeError, match="iterable"):
        ml.extend(Tag(1))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not a Module subclass"):
        ml.append(lucid.ones(1))  # type: ignore[arg-type]
    assert Tag(1) not in ml and ml[0] in ml


def test_module_list_call_applies_in_order():
    ml = ModuleList([Tag(1), Tag(10)])
    assert ml(lucid.zeros(1)).item() == 11
    lin = Linear(2, 3)
    x = lucid.randn(4, 2)
    np.testing.assert_allclose(np_(ModuleList([lin, ReLU()])(x)),
                               np.maximum(np_linear(lin, np_(x)), 0), rtol=1e-5, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(_OPS)
def test_module_list_op_sequences_match_torch(ops):
    ours = ModuleList([Tag(i) for i in range(3)])
    theirs = torch.nn.ModuleList([TTag(i) for i in range(3)])
    for k, (op, i, j) in enumerate(ops):
        # torch's ModuleList.insert mishandles negative indices; only compare the others.
        _apply_list_op(ours, theirs, op, i, j, 100 + 10 * k, torch_insert_negative=False)
        assert tags(ours) == [m.tag for m in theirs]
        assert list(ours._modules) == list(theirs._modules)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["insert", "pop", "del"]), st.integers(-8, 8)),
                max_size=10))
def test_module_list_behaves_like_a_python_list(ops):
    items = [Tag(i) for i in range(4)]
    ml = ModuleList(items)
    ref = list(items)
    for k, (op, i) in enumerate(ops):
        if op == "insert":
            m = Tag(50 + k)
            ml.insert(i, m)
            ref.insert(i, m)
        elif ref and -len(ref) <= i < len(ref):
            if op == "pop":
                assert ml.pop(i) is ref.pop(i)
            else:
                del ml[i]
                del ref[i]
        assert list(ml) == ref and list(ml._modules) == [str(n) for n in range(len(ref))]


def test_module_list_repr_compresses_repeats_like_torch():
    ours = ModuleList([ReLU(), ReLU(), Linear(2, 2), Linear(2, 2), Linear(2, 3), ReLU()])
    TLin = type("Linear", (torch.nn.Module,), {
        "extra_repr": lambda self: self.text, "__init__": lambda self, t: (
            torch.nn.Module.__init__(self), setattr(self, "text", t))[0],
    })
    lin22 = "in_features=2, out_features=2, bias=True"
    theirs = torch.nn.ModuleList([torch.nn.ReLU(), torch.nn.ReLU(), TLin(lin22), TLin(lin22),
                                  TLin("in_features=2, out_features=3, bias=True"),
                                  torch.nn.ReLU()])
    assert repr(ours) == repr(theirs)
    assert repr(ModuleList()) == repr(torch.nn.ModuleList()) == "ModuleList()"
    nested_ours = Sequential(ModuleList([ModuleList([ReLU()]), ModuleList([ReLU()])]))
    nested_theirs = torch.nn.Sequential(torch.nn.ModuleList([
        torch.nn.ModuleList([torch.nn.ReLU()]), torch.nn.ModuleList([torch.nn.ReLU()])]))
    assert repr(nested_ours) == repr(nested_theirs)


# ---------------------------------------------------------------- ModuleDict


def test_module_dict_interface():
    a, b, c = Tag(0), Tag(1), Tag(2)
    md = ModuleDict({"b": b, "a": a})
    assert list(md) == ["b", "a"] and list(md.keys()) == ["b", "a"]  # insertion order
    tmd = torch.nn.ModuleDict({"b": TTag(1), "a": TTag(0)})
    assert list(md.keys()) == list(tmd.keys())
    assert md["a"] is a and md.a is a and "a" in md and "z" not in md and len(md) == 2
    md["c"] = c
    assert list(md.values()) == [b, a, c] and list(md.items())[2] == ("c", c)
    md.update([("d", Tag(3)), ["e", Tag(4)]])
    md.update(OrderedDict([("f", Tag(5))]))
    md.update(ModuleDict({"g": Tag(6)}))
    assert list(md) == ["b", "a", "c", "d", "e", "f", "g"]
    assert md.pop("a") is a and "a" not in md
    del md["b"]
    assert list(md) == ["c", "d", "e", "f", "g"]
    assert [n for n, _ in md.named_children()] == list(md)
    with pytest.raises(TypeError, match="iterable"):
        md.update(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="element #0 should be Iterable"):
        md.update([3])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="element #0 has length 3"):
        md.update([("x", Tag(1), 3)])  # type: ignore[list-item]
    with pytest.raises(NotImplementedError, match="index it by name"):
        md(lucid.ones(1))
    md.clear()
    assert len(md) == 0 and list(md) == []


def test_module_dict_parameters_and_repr():
    md = ModuleDict({"enc": Linear(2, 3), "act": ReLU()})
    assert [n for n, _ in md.named_parameters()] == ["enc.weight", "enc.bias"]
    assert repr(md) == (
        "ModuleDict(\n  (enc): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (act): ReLU()\n)"
    )


# ---------------------------------------------------------------- ParameterList / Dict


def test_parameter_list_interface():
    t0, t1 = lucid.randn(2, 3), lucid.randn(4)
    pl = ParameterList([t0, t1])
    assert len(pl) == 2 and all(type(p) is Parameter for p in pl)
    assert pl[0]._data is t0._data  # wrapped without copying
    assert pl[-1] is pl[1] and [n for n, _ in pl.named_parameters()] == ["0", "1"]
    p2 = Parameter(lucid.ones(1))
    assert pl.append(p2) is pl and pl[2] is p2  # a Parameter is kept as is
    pl.extend([lucid.zeros(2)])
    pl += [lucid.zeros(3)]
    assert len(pl) == 5 and pl[4].shape == (3,)
    pl[0] = lucid.ones(5)
    assert type(pl[0]) is Parameter and pl[0].shape == (5,)
    part = pl[1:3]
    assert type(part) is ParameterList and len(part) == 2 and part[0] is pl[1]
    assert list(pl[::-2]) == [pl[4], pl[2], pl[0]]
    with pytest.raises(IndexError):
        pl[5]
    with pytest.raises(TypeError, match="iterable"):
        pl.extend(lucid.ones(2))
    with pytest.raises(RuntimeError, match="should not be called"):
        pl(lucid.ones(1))
    pl.append("not a tensor")
    assert pl[5] == "not a tensor" and len(list(pl.parameters())) == 5
    assert list(pl.state_dict()) == ["0", "1", "2", "3", "4"]


def test_parameter_list_repr_and_gradients_match_torch():
    ours = ParameterList([lucid.ones(3, 4), Parameter(lucid.ones(2), requires_grad=False)])
    ours.append("x")
    theirs = torch.nn.ParameterList([torch.ones(3, 4),
                                     torch.nn.Parameter(torch.ones(2), requires_grad=False)])
    theirs.append("x")
    assert repr(ours) == repr(theirs).replace("torch.", "lucid.")

    class Holder(Module):
        def __init__(self) -> None:
            super().__init__()
            self.ws = ParameterList([lucid.tensor([1.0, 2.0]), lucid.tensor([3.0, 4.0])])

        def forward(self):
            return (self.ws[0] * self.ws[1]).sum()

    h = Holder()
    h().backward()
    np.testing.assert_array_equal(np_(h.ws[0].grad), [3.0, 4.0])
    assert [n for n, _ in h.named_parameters()] == ["ws.0", "ws.1"]


def test_parameter_dict_interface():
    pd = ParameterDict({"b": lucid.ones(2), "a": lucid.zeros(3)})
    tpd = torch.nn.ParameterDict({"b": torch.ones(2), "a": torch.zeros(3)})
    assert list(pd) == list(tpd) == ["a", "b"]  # a plain dict is added in sorted order
    od = ParameterDict(OrderedDict([("z", lucid.ones(1)), ("y", lucid.ones(1))]))
    assert list(od.keys()) == ["z", "y"]
    assert type(pd["a"]) is Parameter and pd.a is pd["a"] and "a" in pd and len(pd) == 2
    pd["c"] = lucid.ones(4)
    assert type(pd["c"]) is Parameter and list(pd) == ["a", "b", "c"]
    assert [k for k, _ in pd.items()] == ["a", "b", "c"] and len(list(pd.values())) == 3
    assert [n for n, _ in pd.named_parameters()] == ["a", "b", "c"]
    assert pd.get("zz") is None and pd.get("a") is pd["a"]
    assert pd.setdefault("d", lucid.ones(1)).shape == (1,)
    assert pd.setdefault("d", lucid.ones(7)).shape == (1,)
    c = pd.pop("c")
    assert c.shape == (4,) and "c" not in pd and not hasattr(pd, "c")
    assert pd.popitem()[0] == "d" and list(pd) == ["a", "b"]
    del pd["a"]
    assert list(pd) == ["b"] and list(reversed(ParameterDict(od))) == ["y", "z"]
    cp = pd.copy()
    assert cp["b"] is pd["b"] and cp is not pd
    merged = pd | od
    assert list(merged) == ["b", "z", "y"] and list(pd) == ["b"]
    assert list(od.__ror__(pd)) == ["b", "z", "y"]
    pd |= od
    assert list(pd) == ["b", "z", "y"]
    fk = pd.fromkeys(["p", "q"], lucid.ones(1))
    assert list(fk) == ["p", "q"] and type(fk["p"]) is Parameter
    pd.update([("e", lucid.ones(1))])
    assert "e" in pd
    with pytest.raises(TypeError, match="not a string"):
        pd[1] = lucid.ones(1)  # type: ignore[index]
    with pytest.raises(ValueError, match="has length 1"):
        pd.update([("x",)])
    with pytest.raises(RuntimeError, match="should not be called"):
        pd()
    pd.clear()
    assert len(pd) == 0 and list(pd.parameters()) == []
    with pytest.raises(KeyError, match="empty"):
        pd.popitem()


def test_parameter_dict_repr():
    pd = ParameterDict({"w": lucid.ones(2, 3), "s": Parameter(lucid.ones(1, dtype=lucid.float64))})
    assert repr(pd) == (
        "ParameterDict(\n"
        "    (s): Parameter containing: [lucid.float64 of size 1]\n"
        "    (w): Parameter containing: [lucid.float32 of size 2x3]\n"
        ")"
    )


# ---------------------------------------------------------------- containers as pytrees


def test_containers_flatten_with_their_names():
    model = Sequential(OrderedDict([
        ("blocks", ModuleList([Linear(2, 2), ReLU()])),
        ("heads", ModuleDict({"cls": Linear(2, 1)})),
        ("scales", ParameterList([lucid.ones(1)])),
        ("extra", ParameterDict({"t": lucid.ones(1)})),
    ]))
    paths = [tree.keystr(p, simple=True, separator=".") for p, _ in tree.leaves_with_path(model)]
    assert paths == [n for n, _ in model.named_parameters()] == [
        "blocks.0.weight", "blocks.0.bias", "heads.cls.weight", "heads.cls.bias", "scales.0",
        "extra.t",
    ]
    copy_ = tree.map(lambda p: p * 0, model)
    assert type(copy_.scales) is ParameterList and len(copy_.scales) == 1
    assert list(copy_.extra) == ["t"] and copy_.extra._keys is not model.extra._keys
    assert np.all(np_(copy_.heads["cls"].weight) == 0) and copy_.heads is not model.heads
    assert tree.structure(copy_) == tree.structure(model)


def test_deepcopy_of_containers_preserves_sharing():
    shared = Linear(2, 2)
    seq = Sequential(shared, ReLU(), shared)
    c = copy.deepcopy(seq)
    assert c[0] is c[2] and c[0] is not shared
    assert len(list(c.parameters())) == 2


# ---------------------------------------------------------------- the seed documents


def test_seed_dynamic_network():
    class DynamicNetwork(nn.Module):
        def __init__(self, input_size, hidden_sizes, output_size):
            super(DynamicNetwork, self).__init__()  # noqa: UP008 - as the seed writes it
            self.layers = nn.ModuleList()
            for hidden_size in hidden_sizes:
                self.layers.append(Linear(input_size, hidden_size))
                self.layers.append(ReLU())
                input_size = hidden_size
            self.layers.append(Linear(input_size, output_size))

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    model = DynamicNetwork(input_size=10, hidden_sizes=[20, 30], output_size=5)
    input_tensor = lucid.Tensor([[1.0] * 10], requires_grad=True)
    output = model(input_tensor)
    assert output.shape == (1, 5)
    h = np.ones((1, 10))
    for layer in model.layers:
        h = np_linear(layer, h) if isinstance(layer, Linear) else np.maximum(h, 0)
    np.testing.assert_allclose(np_(output), h, rtol=1e-4, atol=1e-5)
    output.sum().backward()
    assert input_tensor.grad.shape == (1, 10)
    assert len(list(model.parameters())) == 6
    assert [n for n, _ in model.named_parameters()][:2] == ["layers.0.weight", "layers.0.bias"]


def test_seed_hierarchical_network_nested_module_lists():
    class HierarchicalNetwork(nn.Module):
        def __init__(self):
            super(HierarchicalNetwork, self).__init__()  # noqa: UP008
            self.layer_groups = nn.ModuleList()
            group1 = nn.ModuleList([Linear(10, 20), ReLU(), Linear(20, 10)])
            group2 = nn.ModuleList([Linear(10, 5), Tanh(), Linear(5, 1)])
            self.layer_groups.append(group1)
            self.layer_groups.append(group2)

        def forward(self, x):
            for group in self.layer_groups:
                for layer in group:
                    x = layer(x)
            return x

    model = HierarchicalNetwork()
    input_tensor = lucid.Tensor([[1.0] * 10], requires_grad=True)
    output = model(input_tensor)
    assert output.shape == (1, 1)
    g1, g2 = model.layer_groups
    h = np.maximum(np_linear(g1[0], np.ones((1, 10))), 0)
    h = np.tanh(np_linear(g2[0], np_linear(g1[2], h)))
    np.testing.assert_allclose(np_(output), np_linear(g2[2], h), rtol=1e-4, atol=1e-5)
    output.backward()
    assert input_tensor.grad.shape == (1, 10)
    assert "layer_groups.1.2.bias" in dict(model.named_parameters())
    # The nested lists applied in order equal calling the outer list (lucid's extension).
    np.testing.assert_allclose(np_(model.layer_groups(lucid.ones(1, 10))), np_(output),
                               rtol=1e-6)


def test_seed_module_list_inside_sequential_ordered_dict():
    layers = nn.ModuleList([Linear(10, 20), ReLU(), Linear(20, 10)])
    model = nn.Sequential(OrderedDict([
        ("layer_sequence", layers),
        ("output_layer", Linear(in_features=10, out_features=1)),
    ]))
    input_tensor = lucid.Tensor([[1.0] * 10], requires_grad=True)
    output = model(input_tensor)
    h = np_linear(layers[2], np.maximum(np_linear(layers[0], np.ones((1, 10))), 0))
    np.testing.assert_allclose(np_(output), np_linear(model.output_layer, h), rtol=1e-4,
                               atol=1e-5)
    output.backward()
    # d output / d input, computed by hand: W_out @ W2 @ diag(relu') @ W1
    w1, w2, wo = np_(layers[0].weight), np_(layers[2].weight), np_(model.output_layer.weight)
    mask = (np_linear(layers[0], np.ones((1, 10))) > 0).astype(np.float32)
    expected = (wo @ w2) * mask @ w1
    np.testing.assert_allclose(np_(input_tensor.grad), expected, rtol=1e-4, atol=1e-5)
    assert model.layer_sequence is layers and model[0] is layers
    assert [n for n, _ in model.named_parameters()][:2] == ["layer_sequence.0.weight",
                                                            "layer_sequence.0.bias"]


def test_seed_my_sequential_with_add_module_and_children():
    class MySequential(nn.Module):
        def __init__(self, *args):
            super().__init__()
            for idx, module in enumerate(args):
                self.add_module(str(idx), module)

        def forward(self, X):
            for module in self.children():
                X = module(X)
            return X

    l1, l2 = Linear(20, 8), Linear(8, 3)
    net = MySequential(l1, ReLU(), l2)
    X = lucid.rand(2, 20)
    assert net(X).shape == (2, 3)
    np.testing.assert_allclose(np_(net(X)), np_linear(l2, np.maximum(np_linear(l1, np_(X)), 0)),
                               rtol=1e-4, atol=1e-5)
    assert [n for n, _ in net.named_children()] == ["0", "1", "2"]


def test_seed_parameter_access_and_sharing():
    net = nn.Sequential(Linear(4, 8), ReLU(), Linear(8, 1))
    X = lucid.rand(2, 4)
    assert net(X).shape == (2, 1)
    sd = net[2].state_dict()
    assert list(sd) == ["weight", "bias"] and sd["bias"].shape == (1,)
    assert type(net[2].bias) is Parameter and type(net[2].bias.data) is lucid.Tensor
    assert net[2].weight.grad is None
    assert [(name, tuple(p.shape)) for name, p in net.named_parameters()] == [
        ("0.weight", (8, 4)), ("0.bias", (8,)), ("2.weight", (1, 8)), ("2.bias", (1,)),
    ]
    shared = Linear(8, 8)
    net = nn.Sequential(Linear(4, 8), ReLU(), shared, ReLU(), shared, ReLU(), Linear(8, 1))
    out = net(X)
    assert out.shape == (2, 1)
    assert net[2].weight is net[4].weight
    tshared = torch.nn.Linear(8, 8)
    tnet = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), tshared, torch.nn.ReLU(),
                               tshared, torch.nn.ReLU(), torch.nn.Linear(8, 1))
    assert [n for n, _ in net.named_parameters()] == [n for n, _ in tnet.named_parameters()]
    assert list(net.state_dict()) == list(tnet.state_dict())
    out.sum().backward()
    assert shared.weight.grad is not None  # the shared layer's gradient sums both uses
