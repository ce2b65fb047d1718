"""Tests of tracing (``lucid.make_graph``, ``lucid.jit.trace``), the graph IR and its printer,
reverse mode on graphs (``lucid.jit.autodiff.backward_graph``), eager ``backward()`` inside a
trace with its mutations, and the errors a trace raises (``TracerError``)."""

from __future__ import annotations

import inspect
import os

import numpy as np
import pytest
import torch

import lucid
import lucid.nn as nn
from lucid.errors import DTypeError, TracerError
from lucid.jit import eval_graph
from lucid.jit.autodiff import backward_graph
from lucid.jit.graph import dce

HERE = os.path.abspath(__file__)


def _np(t: lucid.Tensor) -> np.ndarray:
    return t.detach().numpy()


def _f64(*shape: int) -> lucid.Tensor:
    return lucid.randn(*shape, dtype=lucid.float64)


def _count(graph, name: str) -> int:
    return sum(n.prim.name == name for n in graph.nodes)


def _line_of(fn, needle: str) -> int:
    """The line number of the source line of ``fn`` that contains ``needle``."""
    lines, start = inspect.getsourcelines(fn)
    for k, text in enumerate(lines):
        if needle in text:
            return start + k
    raise AssertionError(f"{needle!r} not in the source of {fn}")


# ============================================================================ printing


def test_graph_prints_like_a_program():
    x, w = lucid.randn(64, 128), lucid.randn(128, 256)
    g = lucid.make_graph(lambda x, w: (x @ w).relu().sum(), x, w)
    assert str(g) == (
        "graph(%0:f32[64,128], %1:f32[128,256]) {\n"
        "  %2:f32[64,256] = matmul %0 %1\n"
        "  %3:f32[64,256] = relu %2\n"
        "  %4:f32[] = sum[axes=(0, 1) keepdims=False] %3\n"
        "  return %4\n"
        "}"
    )
    assert [n.prim.name for n in g.nodes] == ["matmul", "relu", "sum"]
    assert [v.aval.shape for v in g.inputs] == [(64, 128), (128, 256)]


MLP_GOLDEN = """\
graph(%0:f32[3,4], %1:f32[8,4], %2:f32[8], %3:f32[2,8], %4:f32[2]) {
  %5:f32[4,8] = permute[perm=(1, 0)] %1
  %6:f32[3,8] = matmul %0 %5
  %7:f32[3,8] = broadcast_to[shape=(3, 8)] %2
  %8:f32[3,8] = add %6 %7
  %9:f32[3,8] = relu %8
  %10:f32[8,2] = permute[perm=(1, 0)] %3
  %11:f32[3,2] = matmul %9 %10
  %12:f32[3,2] = broadcast_to[shape=(3, 2)] %4
  %13:f32[3,2] = add %11 %12
  %14:f32[] = sum[axes=(0, 1) keepdims=False] %13
  return %14
}"""


def test_golden_mlp_graph_is_stable():
    lucid.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    x = lucid.randn(3, 4)
    first = str(lucid.make_graph(lambda x: model(x).sum(), x))
    assert first == MLP_GOLDEN
    # Numbering restarts at %0 for every graph, however many values were made before.
    lucid.make_graph(lambda x: (x * x).exp().sum(), x)
    assert str(lucid.make_graph(lambda x: model(x).sum(), x)) == MLP_GOLDEN
    # A module traced directly: its parameters follow the argument as inputs.
    assert str(lucid.make_graph(lambda x: model(x).sum(), lucid.randn(3, 4))) == MLP_GOLDEN


def test_python_scalars_fold_into_full_constants():
    x = lucid.randn(3, 4)
    g = lucid.make_graph(lambda x: (x * 2.5 + 1).sum(), x)
    text = str(g)
    assert len(g.inputs) == 1
    assert _count(g, "full") == 2
    assert "full[shape=() dtype=f32 value=2.5]" in text
    assert "full[shape=() dtype=f32 value=1]" in text
    assert [n.prim.name for n in g.nodes if not n.inputs] == ["full", "full"]
    np.testing.assert_allclose(_np(eval_graph(g, [x])[0]), (_np(x) * 2.5 + 1).sum(), rtol=1e-6)


def test_closure_tensors_become_inputs_not_constants():
    lucid.manual_seed(1)
    rand_weight = lucid.rand(20, 20)
    lin = nn.Linear(20, 20)

    def f(x):
        return nn.functional.relu(lin(x) @ rand_weight + 1).sum()

    x = lucid.rand(2, 20)
    tf = lucid.jit.trace(f, (x,))
    g = tf.graph
    # x, then the captured tensors (the weight, the bias, rand_weight) as implicit inputs.
    assert [v.aval.shape for v in g.inputs] == [(2, 20), (20, 20), (20,), (20, 20)]
    assert any(t is rand_weight for t in tf.lifted)
    assert any(t is lin.weight for t in tf.lifted)
    # The only constant is the scalar 1; nothing of rand_weight's size is baked in.
    consts = [n for n in g.nodes if n.prim.name == "full"]
    assert [n.out.aval.shape for n in consts] == [()]
    np.testing.assert_allclose(_np(tf(x)), _np(f(x)), rtol=1e-5)
    # A later call sees the tensors' current values.
    with lucid.no_grad():
        rand_weight.mul_(2.0)
        lin.weight.add_(0.5)
    np.testing.assert_allclose(_np(tf(x)), _np(f(x)), rtol=1e-5)


def test_pytree_arguments_and_outputs():
    params = {"w": lucid.randn(3, 2), "b": lucid.randn(2)}
    x = lucid.randn(4, 3)

    def f(params, x, scale=2.0):
        y = x @ params["w"] + params["b"]
        return {"y": y * scale, "n": 3, "s": [y.sum()]}

    tf = lucid.jit.trace(f, (params, x))
    out = tf(params, x)
    ref = f(params, x)
    assert out["n"] == 3
    np.testing.assert_allclose(_np(out["y"]), _np(ref["y"]), rtol=1e-6)
    np.testing.assert_allclose(_np(out["s"][0]), _np(ref["s"][0]), rtol=1e-5)
    with pytest.raises(TypeError, match="traced as"):
        tf(params, lucid.randn(5, 3))


def test_eval_graph_checks_arity_and_matches_eager():
    a, b = _f64(3, 3), _f64(3)
    g = lucid.make_graph(lambda a, b: (a.tanh() @ b).exp(), a, b)
    np.testing.assert_allclose(_np(eval_graph(g, [a, b])[0]), np.exp(np.tanh(_np(a)) @ _np(b)))
    with pytest.raises(TypeError, match="expects 2 inputs"):
        eval_graph(g, [a])


def test_dce_drops_dead_nodes_only():
    x = lucid.randn(3)
    g = lucid.make_graph(lambda x: (x.exp(), x.sin())[1], x)
    assert _count(g, "exp") == 1
    clean = dce(g)
    assert [n.prim.name for n in clean.nodes] == ["sin"]
    assert dce(clean) is clean


# ============================================================================ backward graphs


def test_backward_graph_is_an_ordinary_graph():
    x, w = _f64(3, 4), _f64(4, 5)
    g = lucid.make_graph(lambda x, w: (x @ w).tanh().sum(), x, w)
    bg = backward_graph(g)
    assert len(bg.inputs) == 3 and len(bg.outputs) == 3  # (x, w, ct) -> (loss, dx, dw)
    text = str(bg)
    assert text.startswith("graph(%0:f64[3,4], %1:f64[4,5], %2:f64[]) {")
    assert text.endswith("}")
    loss, dx, dw = eval_graph(bg, [x, w, lucid.tensor(1.0, dtype=lucid.float64)])
    tx, tw = torch.tensor(_np(x), requires_grad=True), torch.tensor(_np(w), requires_grad=True)
    tl = (tx @ tw).tanh().sum()
    tl.backward()
    np.testing.assert_allclose(_np(loss), tl.item())
    np.testing.assert_allclose(_np(dx), tx.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(_np(dw), tw.grad.numpy(), rtol=1e-10)


def test_backward_of_backward_gives_second_derivatives():
    x = _f64(4)
    g = lucid.make_graph(lambda x: (x.sin() * x).sum(), x)
    bg = backward_graph(g, [0])  # (x, ct) -> (y, dy/dx)
    bbg = backward_graph(bg, [0], cotangents=[1])  # pull a vector v back through dy/dx
    v = _f64(4)
    one = lucid.tensor(1.0, dtype=lucid.float64)
    _, dydx, hv = eval_graph(bbg, [x, one, v])
    xn = _np(x)
    np.testing.assert_allclose(_np(dydx), np.cos(xn) * xn + np.sin(xn), rtol=1e-10)
    # The Hessian is diagonal: d2/dx2 (x sin x) = 2 cos x - x sin x.
    np.testing.assert_allclose(_np(hv), (2 * np.cos(xn) - xn * np.sin(xn)) * _np(v), rtol=1e-10)
    # And a third time, through the whole double-backward graph.
    assert len(backward_graph(bbg).outputs) == len(bbg.outputs) + 3


def test_only_needed_cotangents_are_computed():
    x, w = lucid.randn(3, 4), lucid.randn(4, 5)
    g = lucid.make_graph(lambda x, w: (x @ w).sum(), x, w)
    assert _count(backward_graph(g, [0, 1]), "matmul") == 3  # forward, dx, dw
    only_x = backward_graph(g, [0])
    only_w = backward_graph(g, [1])
    assert _count(only_x, "matmul") == 2 and _count(only_w, "matmul") == 2
    # dx = ct @ w.T reads w, not x; dw = x.T @ ct reads x.
    (dx_node,) = [n for n in only_x.nodes if n.prim.name == "matmul"][1:]
    assert only_x.inputs[0] not in dx_node.inputs
    assert not any(n.prim.name == "permute" and n.inputs[0] is only_w.inputs[1]
                   for n in only_w.nodes)
    _, dx = eval_graph(only_x, [x, w, lucid.tensor(1.0)])
    np.testing.assert_allclose(_np(dx), np.ones((3, 5)) @ _np(w).T, rtol=1e-5)


def test_fan_out_accumulates_and_unused_inputs_get_zeros():
    x, unused = _f64(5), _f64(2, 2)
    g = lucid.make_graph(lambda x, u: (x * x + x.exp() + x).sum(), x, unused)
    _, dx, du = eval_graph(backward_graph(g), [x, unused, lucid.tensor(1.0, dtype=lucid.float64)])
    np.testing.assert_allclose(_np(dx), 2 * _np(x) + np.exp(_np(x)) + 1, rtol=1e-12)
    assert du.shape == (2, 2) and du.dtype is lucid.float64
    assert not _np(du).any()


def test_integer_inputs_get_no_gradient():
    x, idx = _f64(4), lucid.tensor([0, 2, 2])
    mask = lucid.tensor([True, False, True, True])
    g = lucid.make_graph(lambda x, i, m: (x[i].sum() + lucid.where(m, x, 0.0).sum()), x, idx,
                         mask)
    bg = backward_graph(g)  # only the float input by default
    assert len(bg.outputs) == 2
    _, dx = eval_graph(bg, [x, idx, mask, lucid.tensor(1.0, dtype=lucid.float64)])
    np.testing.assert_allclose(_np(dx), [2.0, 0.0, 3.0, 1.0])
    for i, what in ((1, "i64"), (2, "bool")):
        with pytest.raises(DTypeError, match=rf"input {i} of type {what}\[.*have gradients"):
            backward_graph(g, [0, i])


def test_vjp_rules_with_saved_outputs_and_cotangent_for_several_outputs():
    x = _f64(3)
    g = lucid.make_graph(lambda x: (x.exp(), x.sigmoid()), x)
    bg = backward_graph(g)
    c1, c2 = _f64(3), _f64(3)
    _, _, dx = eval_graph(bg, [x, c1, c2])
    s = 1 / (1 + np.exp(-_np(x)))
    np.testing.assert_allclose(_np(dx), np.exp(_np(x)) * _np(c1) + s * (1 - s) * _np(c2))


# ============================================================================ eager backward
# inside a trace


def _linear_model(seed: int = 0) -> nn.Linear:
    lucid.manual_seed(seed)
    return nn.Linear(4, 3)


def test_eager_backward_inside_a_trace():
    model = _linear_model()

    def f(x):
        model.zero_grad()
        loss = model(x).sum()
        loss.backward()
        return model.weight.grad

    w_before = _np(model.weight).copy()
    x = lucid.randn(5, 4)
    model(x).sum().backward()  # gradients from an earlier step, that tracing must keep
    old_w_grad, old_b_grad = model.weight.grad, model.bias.grad
    old_values = _np(old_w_grad).copy()
    tf = lucid.jit.trace(f, (x,))
    # The backward pass is in the graph: the forward matmul, then the weight's gradient.
    assert _count(tf.graph, "matmul") == 2
    assert "stop_gradient" in str(tf.graph)
    # Tracing left the model as it was (zero_grad ran before any read of the weights).
    assert model.weight.grad is old_w_grad and model.bias.grad is old_b_grad
    np.testing.assert_array_equal(_np(model.weight.grad), old_values)
    assert model.weight.is_concrete and model.weight.grad.is_concrete
    np.testing.assert_array_equal(_np(model.weight), w_before)
    assert {(m.kind, m.target is model.weight) for m in tf.mutations} == {
        ("grad", True), ("grad", False)}
    # Calling it on new inputs equals eager, and writes .grad like the eager call.
    x2 = lucid.randn(5, 4)
    out = tf(x2)
    got_w, got_b = _np(model.weight.grad).copy(), _np(model.bias.grad).copy()
    ref = f(x2)
    np.testing.assert_allclose(_np(out), _np(ref), rtol=1e-5)
    np.testing.assert_allclose(got_w, _np(model.weight.grad), rtol=1e-5)
    np.testing.assert_allclose(got_b, _np(model.bias.grad), rtol=1e-5)
    np.testing.assert_allclose(got_b, [5.0, 5.0, 5.0])


def test_optimizer_step_inside_a_trace_is_a_mutation():
    model, twin = _linear_model(3), _linear_model(3)
    opt = lucid.optim.SGD(model.parameters(), lr=0.1, momentum=0.0)
    twin_opt = lucid.optim.SGD(twin.parameters(), lr=0.1, momentum=0.0)

    def step(m, o, x):
        o.zero_grad()
        loss = (m(x) ** 2).mean()
        loss.backward()
        o.step()
        return loss

    x = lucid.randn(6, 4)
    w0 = _np(model.weight).copy()
    tf = lucid.jit.trace(lambda x: step(model, opt, x), (x,))
    np.testing.assert_array_equal(_np(model.weight), w0)  # restored after tracing
    assert model.weight.grad is None
    kinds = sorted((m.kind, id(m.target)) for m in tf.mutations)
    assert kinds == sorted([("data", id(model.weight)), ("grad", id(model.weight)),
                            ("data", id(model.bias)), ("grad", id(model.bias))])
    for _ in range(3):
        xb = lucid.randn(6, 4)
        loss = tf(xb)
        ref = step(twin, twin_opt, xb)
        np.testing.assert_allclose(_np(loss), _np(ref), rtol=1e-5)
        np.testing.assert_allclose(_np(model.weight), _np(twin.weight), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(_np(model.bias.grad), _np(twin.bias.grad), rtol=1e-5)
    assert model.weight.grad_fn is None and model.weight.is_leaf


def test_mutating_a_module_argument_is_applied_to_the_call_arguments():
    lucid.manual_seed(4)
    bn_a, bn_b = nn.BatchNorm1d(3), nn.BatchNorm1d(3)
    x = lucid.randn(8, 3)
    tf = lucid.jit.trace(lambda m, x: m(x).sum(), (bn_a, x))
    assert not _np(bn_a.running_mean).any() and bn_a.num_batches_tracked.item() == 0
    assert {m.kind for m in tf.mutations} == {"data"}
    assert all(m.arg is not None for m in tf.mutations)
    tf(bn_b, x)  # a later call updates the module it is given
    assert not _np(bn_a.running_mean).any()
    np.testing.assert_allclose(_np(bn_b.running_mean), 0.1 * _np(x).mean(0), rtol=1e-5)
    assert bn_b.num_batches_tracked.item() == 1
    assert bn_b.num_batches_tracked.dtype is lucid.int64


def test_writes_before_any_read_are_mutations_and_undone():
    buf = lucid.arange(3.0)
    counter = lucid.tensor(5)

    def f(x):
        buf.fill_(2.0)  # written before it is read
        counter.zero_()
        return x * buf

    x = lucid.ones(3)
    tf = lucid.jit.trace(f, (x,))
    np.testing.assert_array_equal(_np(buf), [0.0, 1.0, 2.0])
    assert counter.item() == 5
    assert {(m.kind, id(m.target)) for m in tf.mutations} == {("data", id(buf)),
                                                              ("data", id(counter))}
    assert len(tf.graph.inputs) == 1  # neither value is read: no implicit inputs
    np.testing.assert_array_equal(_np(tf(x)), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(_np(buf), [2.0, 2.0, 2.0])
    assert counter.item() == 0 and counter.dtype is lucid.int64


def test_a_failing_trace_restores_what_it_changed():
    buf = lucid.zeros(3)

    def f(x):
        buf.add_(x)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        lucid.jit.trace(f, (lucid.ones(3),))
    assert buf.is_concrete and not _np(buf).any()
    assert lucid.ops.constant.current_interpreter() is None


# ============================================================================ errors


def _concrete_uses():
    def use_bool(x):
        return bool(x.sum() > 0)

    def use_if(x):
        if x.sum() > 0:
            return x
        return -x

    def use_while(x):
        while x.sum() > 0:
            x = x - 1
        return x

    def use_float(x):
        return float(x.sum())

    def use_int(x):
        return int(x.sum())

    def use_item(x):
        return x.sum().item()

    def use_numpy(x):
        return x.numpy()

    def use_tolist(x):
        return x.tolist()

    return [
        (use_bool, "bool(x.sum() > 0)", "bool()"),
        (use_if, "if x.sum() > 0:", "bool()"),
        (use_while, "while x.sum() > 0:", "bool()"),
        (use_float, "float(x.sum())", "float()"),
        (use_int, "int(x.sum())", "int()"),
        (use_item, "x.sum().item()", "item()"),
        (use_numpy, "x.numpy()", "numpy()"),
        (use_tolist, "x.tolist()", "tolist()"),
    ]


@pytest.mark.parametrize("fn,source,what", _concrete_uses(),
                         ids=[c[0].__name__ for c in _concrete_uses()])
def test_python_control_flow_on_a_traced_value(fn, source, what):
    with pytest.raises(TracerError) as info:
        lucid.make_graph(fn, lucid.randn(3))
    msg = str(info.value)
    assert what in msg
    assert "depends on argument 'x'" in msg
    assert f'File "{HERE}", line {_line_of(fn, source)}, in {fn.__name__}' in msg
    assert source in msg
    assert "lucid.where" in msg and "instead" in msg.lower()


def test_error_names_pytree_key_paths():
    def f(params, x):
        if (params["w"] * x).sum() > 0:
            return x.sum()
        return params["b"].sum()

    with pytest.raises(TracerError, match=r"depends on arguments 'params\['w'\]', 'x'\."):
        lucid.make_graph(f, {"w": lucid.randn(3), "b": lucid.randn(3)}, lucid.randn(3))

    model = nn.Linear(3, 1, bias=False)

    def loss(model, x):
        return float(model(x).sum())

    with pytest.raises(TracerError, match=r"arguments 'model\.weight', 'x'\.") as info:
        lucid.grad(loss)(model, lucid.randn(2, 3))
    assert "return float(model(x).sum())" in str(info.value)


class FixedHiddenMlp(nn.Module):
    """The seed notebook's module: a constant random weight and a data-dependent loop."""

    def __init__(self):
        super().__init__()
        self.rand_weight = lucid.rand(20, 20)
        self.linear = nn.Linear(20, 20)

    def forward(self, X):
        X = self.linear(X)
        X = nn.functional.relu(X @ self.rand_weight + 1)
        X = self.linear(X)
        while X.abs().sum() > 1:
            X /= 2
        return X.sum()


def test_seed_fixed_hidden_mlp_loop_is_reported_with_its_source_line():
    lucid.manual_seed(0)
    net = FixedHiddenMlp()
    X = lucid.rand(2, 20)
    net(X)  # fine eagerly
    with pytest.raises(TracerError) as info:
        lucid.make_graph(net, X)
    msg = str(info.value)
    line = _line_of(FixedHiddenMlp.forward, "while X.abs().sum() > 1:")
    assert f'File "{HERE}", line {line}, in forward' in msg
    assert "while X.abs().sum() > 1:" in msg
    assert "depends on argument 'X'" in msg
    assert "FixedHiddenMlp" in msg and "lucid.while_loop" in msg
    # Without the loop the module traces; rand_weight is an input, not a constant.
    g = lucid.make_graph(lambda X: nn.functional.relu(
        net.linear(X) @ net.rand_weight + 1).sum(), X)
    assert any(v.aval.shape == (20, 20) for v in g.inputs[1:])
    assert all(n.out.aval.shape == () for n in g.nodes if n.prim.name == "full")


def test_escaped_tracer_is_reported():
    leaked = []

    def f(x):
        y = x * 2
        leaked.append(y)
        return y.sum()

    lucid.make_graph(f, lucid.randn(3))
    (y,) = leaked
    assert not y.is_concrete
    with pytest.raises(TracerError, match="escaped its trace") as info:
        y + 1
    assert "Return the value from the function instead" in str(info.value)
    with pytest.raises(TracerError, match="escaped"):
        y.numpy()
    with pytest.raises(TracerError, match="escaped"):
        bool(y)
    with pytest.raises(TracerError, match="escaped"):
        lucid.make_graph(lambda x: x + y, lucid.randn(3))
    with pytest.raises(TracerError, match="escaped"):
        lucid.grad(lambda x: (x * y).sum())(lucid.randn(3))
