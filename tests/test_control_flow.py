"""lucid.cond and lucid.while_loop: eager, traced, differentiated and vectorised."""

from __future__ import annotations

import numpy as np
import pytest

import lucid
from lucid.errors import LucidError, ShapeError


def branchy(x):
    return lucid.cond(x.sum() > 0, lambda v: v * v, lambda v: -v * 3.0, x)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_cond_eager_traced_and_grad_agree(sign):
    x = lucid.tensor([1.0, 2.0, 0.5]) * sign
    expected = (x * x) if sign > 0 else (-x * 3.0)
    np.testing.assert_allclose(branchy(x).numpy(), expected.numpy())
    traced = lucid.jit.trace(branchy, (x,))
    assert any(n.prim.name == "cond" for n in traced.graph.nodes)
    # One traced graph serves both branches.
    np.testing.assert_allclose(traced(x).numpy(), expected.numpy())
    np.testing.assert_allclose(traced(-x).numpy(), branchy(-x).numpy())
    g = lucid.grad(lambda v: branchy(v).sum())(x)
    xe = x.detach().requires_grad_()
    branchy(xe).sum().backward()
    np.testing.assert_allclose(g.numpy(), xe.grad.numpy())


def test_cond_second_derivative_and_closure_capture():
    w = lucid.tensor(3.0)

    def f(s):
        return lucid.cond(s > 0, lambda v: w * v ** 3, lambda v: v, s)

    # d2/ds2 (3 s^3) = 18 s
    assert lucid.grad(lucid.grad(f))(lucid.tensor(2.0)).item() == pytest.approx(36.0)
    assert lucid.grad(lucid.grad(f))(lucid.tensor(-2.0)).item() == pytest.approx(0.0)
    graph = lucid.make_graph(f, lucid.tensor(1.0))
    assert len(graph.inputs) == 2  # the captured w is an input, not a constant


def test_cond_pytree_operands_and_outputs():
    def f(a, b):
        return lucid.cond(a.sum() > b.sum(), lambda a, b: {"hi": a, "lo": b},
                          lambda a, b: {"hi": b, "lo": a}, a, b)

    a, b = lucid.tensor([5.0]), lucid.tensor([1.0])
    out = lucid.jit.trace(f, (a, b))(a, b)
    assert out["hi"].item() == 5.0 and out["lo"].item() == 1.0


def test_cond_vmap_with_batched_predicate():
    xs = lucid.tensor([[1.0, 2.0], [-1.0, -3.0], [0.5, -0.1]])
    out = lucid.vmap(branchy)(xs)
    loop = lucid.stack([branchy(x) for x in xs])
    np.testing.assert_allclose(out.numpy(), loop.numpy())


def test_cond_branches_must_match():
    x = lucid.ones(2)
    with pytest.raises(ShapeError, match="cond: the branches"):
        lucid.make_graph(lambda v: lucid.cond(v.sum() > 0, lambda u: u, lambda u: u.sum(), v), x)


def halve(x):
    return lucid.while_loop(lambda v: v.abs().sum() > 1, lambda v: v / 2, x)


def test_while_loop_eager_traced_and_grad():
    x = lucid.tensor([3.0, 4.0])
    np.testing.assert_allclose(halve(x).numpy(), [0.375, 0.5])
    traced = lucid.jit.trace(halve, (x,))
    assert traced.graph.nodes[-1].prim.name == "while"
    np.testing.assert_allclose(traced(x).numpy(), [0.375, 0.5])
    np.testing.assert_allclose(traced(x * 10).numpy(), halve(x * 10).numpy())
    g = lucid.grad(lambda v: (halve(v) ** 2).sum())(x)
    xe = x.detach().requires_grad_()
    (halve(xe) ** 2).sum().backward()
    np.testing.assert_allclose(g.numpy(), xe.grad.numpy())


def test_while_loop_carries_a_pytree_and_captures_weights():
    w = lucid.tensor([0.5, 2.0])

    def f(x):
        def body(state):
            i, v = state
            return i + 1, v * w

        return lucid.while_loop(lambda s: s[0] < 3, body, (lucid.tensor(0), x))

    x = lucid.tensor([1.0, 1.0])
    i, v = lucid.jit.trace(f, (x,))(x)
    assert i.item() == 3
    np.testing.assert_allclose(v.numpy(), [0.125, 8.0])
    # d/dx sum(x * w^3) = w^3
    g = lucid.grad(lambda x: f(x)[1].sum())(x)
    np.testing.assert_allclose(g.numpy(), [0.125, 8.0])


def test_while_loop_errors():
    x = lucid.ones(2)
    with pytest.raises(ShapeError, match="body_fn must return"):
        lucid.make_graph(lambda v: lucid.while_loop(lambda u: u.sum() > 0,
                                                    lambda u: u.sum(), v), x)
    with pytest.raises(LucidError, match="second derivatives"):
        lucid.grad(lucid.grad(lambda s: halve(s * 4.0).sum()))(lucid.tensor(1.0))
