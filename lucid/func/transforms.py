"""Function transforms: ``grad``, ``value_and_grad``, ``vjp``, ``jvp``, ``jacrev``, ``jacfwd``,
``hessian``.

Reverse mode traces the function into a graph (:mod:`lucid.jit.trace`), derives the joint
forward+backward graph from the primitives' VJP rules (:mod:`lucid.jit.autodiff`) and evaluates
it. Evaluation binds primitives, so the transforms compose with each other and with ``vmap``:
``grad(grad(f))``, ``vmap(grad(f))``, ``grad(vmap(f))`` all work.

Forward mode uses the transpose trick: ``vjp_fn(ct)`` is linear in ``ct``, so the VJP of
``vjp_fn`` applied to a tangent is the JVP. It needs no forward rules of its own.

Arguments and outputs are pytrees; a Module is a pytree, so ``grad(loss)(model, x)`` returns a
Module-shaped tree of gradients. With ``lucid.config.disable_jit`` (``LUCID_DISABLE_JIT=1``) the
transforms run on the eager tape instead, for debugging.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .. import config, tree
from ..autograd import grad as _tape_grad
from ..dtypes import FLOAT
from ..errors import LucidError
from ..jit.autodiff import backward_graph
from ..jit.graph import eval_graph
from ..jit.trace import apply_mutations, trace
from ..ops.constant import constant
from ..tensor import Tensor
from .vmap import vmap


def _argnums_tuple(argnums: int | Sequence[int], n_args: int, op: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not -n_args <= i < n_args:
            raise LucidError(f"{op}: argnums {argnums} is out of range for {n_args} arguments")
    return tuple(i % n_args for i in nums)


def _check_float_leaves(leaves: Sequence[Any], op: str, what: str) -> None:
    for x in leaves:
        if isinstance(x, Tensor) and x.dtype.category != FLOAT:
            raise LucidError(
                f"{op}: {what} contains a {x.dtype.name} tensor of shape {list(x.shape)}; only "
                f"floating-point inputs have gradients (integer and boolean values do not). "
                f"Move it to an argument that is not differentiated (argnums)."
            )


def value_and_grad(fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False
                   ) -> Callable:
    """``fn``'s value and its gradient with respect to argument(s) ``argnums``.

    ``fn`` must return a scalar floating tensor (or ``(scalar, aux)`` with ``has_aux``). The
    gradient has the structure of the differentiated argument (a tuple of them when
    ``argnums`` is a tuple). Side effects of ``fn`` on tensors it closes over (BatchNorm
    running statistics) are applied, as an eager call would.
    """

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums_tuple(argnums, len(args), "grad")
        diff_args = tuple(args[i] for i in nums)
        _check_float_leaves(tree.leaves(diff_args), "grad", "the differentiated argument")
        if config.disable_jit:
            return _eager_value_and_grad(fn, args, kwargs, nums, argnums, has_aux)

        def partial(*diff: Any) -> Any:
            full = list(args)
            for i, d in zip(nums, diff):
                full[i] = d
            return fn(*full, **kwargs)

        tf = trace(partial, diff_args, {}, name=f"grad of {_name(fn)}", requires_grad=False)
        n_out = len(tf.out_pos)
        loss_index = 0
        out_leaves_count = n_out
        if n_out == 0:
            raise LucidError(f"grad: {_name(fn)} returned no tensor")
        loss_aval = tf.graph.outputs[loss_index].aval
        if loss_aval.shape != () or loss_aval.dtype.category != FLOAT:
            raise LucidError(
                f"grad: {_name(fn)} must return a scalar floating tensor"
                f"{' (as the first element, with has_aux=True)' if has_aux else ''}, got "
                f"{loss_aval!r}; use vjp or jacrev for other outputs"
            )
        n_explicit = len(tf.tensor_pos)
        joint = backward_graph(tf.graph, list(range(n_explicit)))
        cts = [constant(1, (), loss_aval.dtype)] + [
            constant(0, v.aval.shape, v.aval.dtype) for v in tf.graph.outputs[1:]
        ]
        res = eval_graph(joint, tf.flat_inputs(diff_args, {}) + cts)
        outs, grads = res[: len(tf.graph.outputs)], res[len(tf.graph.outputs):]
        apply_mutations(tf.mutations, outs)
        value = tf.unflatten_outputs(outs[:out_leaves_count])
        grad_tree = _regroup(diff_args, tf.tensor_pos, grads)
        g = grad_tree[0] if isinstance(argnums, int) else grad_tree
        if has_aux:
            loss, aux = value
            return (loss, aux), g
        return value, g

    return wrapped


def grad(fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The gradient of scalar-valued ``fn`` with respect to argument(s) ``argnums``
    (``(grad, aux)`` with ``has_aux``)."""
    vg = value_and_grad(fn, argnums, has_aux)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapped


def _regroup(diff_args: tuple, tensor_pos: list[int], flat: Sequence[Tensor]) -> tuple:
    """Put gradients back into the structure of the differentiated arguments."""
    leaves, td = tree.flatten((diff_args, {}))
    out = [None] * len(leaves)
    for k, i in enumerate(tensor_pos):
        out[i] = flat[k]
    return tree.unflatten(td, out)[0]


def _name(fn: Callable) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


def vjp(fn: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """``(fn(*primals), vjp_fn)`` where ``vjp_fn(cotangent)`` returns one cotangent per primal
    (each shaped like its primal; None for non-tensor leaves). With ``has_aux``, ``fn`` returns
    ``(out, aux)`` and the result is ``(out, vjp_fn, aux)``."""
    if config.disable_jit:
        return _eager_vjp(fn, primals, has_aux)
    tf = trace(fn, primals, {}, name=f"vjp of {_name(fn)}", requires_grad=False)
    flat_in = tf.flat_inputs(primals, {})
    outs = eval_graph(tf.graph, flat_in)
    apply_mutations(tf.mutations, outs)
    n_user = len(tf.out_pos)
    value = tf.unflatten_outputs(outs[:n_user])
    out, aux = value if has_aux else (value, None)
    out_leaves, out_td = tree.flatten(out)
    n_primal_out = sum(isinstance(x, Tensor) for x in out_leaves)
    wrt = [i for i in range(len(tf.tensor_pos)) if tf.graph.inputs[i].aval.dtype.category == FLOAT]
    joint = backward_graph(tf.graph, wrt)
    graph = tf.graph

    def vjp_fn(ct: Any) -> tuple:
        ct_leaves, ct_td = tree.flatten(ct)
        if ct_td != out_td:
            raise LucidError(f"vjp: the cotangent's structure {ct_td} differs from the output's "
                             f"{out_td}")
        cts: list[Tensor] = []
        for c, o in zip(ct_leaves, out_leaves):
            if isinstance(o, Tensor):
                if tuple(c.shape) != tuple(o.shape):
                    raise LucidError(f"vjp: cotangent of shape {list(c.shape)} for an output "
                                     f"of shape {list(o.shape)}")
                cts.append(c)
        cts += [constant(0, v.aval.shape, v.aval.dtype) for v in graph.outputs[n_primal_out:]]
        res = eval_graph(joint, flat_in + cts)
        grads = res[len(graph.outputs):]
        flat_g: list[Any] = [None] * len(tf.tensor_pos)
        for k, i in enumerate(wrt):
            flat_g[i] = grads[k]
        return _regroup(tuple(primals), tf.tensor_pos, flat_g)

    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


def jvp(fn: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple:
    """``(fn(*primals), J @ tangents)``: forward-mode derivative along ``tangents``."""
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise LucidError(f"jvp: got {len(primals)} primals and {len(tangents)} tangents")
    out, vjp_fn = vjp(fn, *primals)
    # vjp_fn is linear in its cotangent: differentiating it at any point (zeros) and pulling
    # the tangents back through that gives J @ tangents.
    zeros = tree.map(lambda o: constant(0, tuple(o.shape), o.dtype) if isinstance(o, Tensor)
                     else o, out)
    _, vjp_of_vjp = vjp(vjp_fn, zeros)
    (tangent_out,) = vjp_of_vjp(tangents)
    return out, tangent_out


def _single_tensor(x: Any, op: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise LucidError(f"{op}: expected a Tensor, got {type(x).__name__}")
    return x


def jacrev(fn: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The Jacobian of tensor-valued ``fn`` by reverse mode: shape ``out.shape + x.shape``."""

    def jac(*args: Any) -> Any:
        nums = _argnums_tuple(argnums, len(args), "jacrev")

        def partial(*diff: Tensor) -> Tensor:
            full = list(args)
            for i, d in zip(nums, diff):
                full[i] = d
            return fn(*full)

        diff = tuple(_single_tensor(args[i], "jacrev") for i in nums)
        out, vjp_fn = vjp(partial, *diff)
        out = _single_tensor(out, "jacrev")
        n = out.numel()
        basis = _eye_basis(n, tuple(out.shape), out.dtype)
        rows = vmap(vjp_fn)(basis)  # one row of the Jacobian per output element
        jacs = tuple(r.reshape(tuple(out.shape) + tuple(d.shape)) for r, d in zip(rows, diff))
        return jacs[0] if isinstance(argnums, int) else jacs

    return jac


def jacfwd(fn: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The Jacobian of tensor-valued ``fn`` by forward mode: shape ``out.shape + x.shape``."""

    def jac(*args: Any) -> Any:
        nums = _argnums_tuple(argnums, len(args), "jacfwd")
        results = []
        for i in nums:
            x = _single_tensor(args[i], "jacfwd")

            def along(t: Tensor, i: int = i, x: Tensor = x) -> Tensor:
                def partial(xi: Tensor) -> Tensor:
                    full = list(args)
                    full[i] = xi
                    return fn(*full)

                return jvp(partial, (x,), (t,))[1]

            basis = _eye_basis(x.numel(), tuple(x.shape), x.dtype)
            cols = vmap(along)(basis)  # (n_in, *out.shape): one column per input element
            out_shape = tuple(cols.shape[1:])
            jac = cols.movedim(0, -1) if out_shape else cols
            results.append(jac.reshape(out_shape + tuple(x.shape)))
        return results[0] if isinstance(argnums, int) else tuple(results)

    return jac


def _eye_basis(n: int, shape: tuple[int, ...], dtype: Any) -> Tensor:
    from ..creation import eye

    return eye(n, dtype=dtype).reshape((n, *shape))


def hessian(fn: Callable, argnums: int = 0) -> Callable:
    """The Hessian of scalar-valued ``fn``: ``jacfwd(jacrev(fn))``."""
    return jacfwd(jacrev(fn, argnums), argnums)


# ----------------------------------------------------------------------------- eager fallbacks


def _fresh_leaf(x: Any) -> Any:
    if isinstance(x, Tensor):
        return x.detach().requires_grad_(x.dtype.category == FLOAT)
    return x


def _eager_value_and_grad(fn: Callable, args: tuple, kwargs: dict, nums: tuple[int, ...],
                          argnums: Any, has_aux: bool) -> Any:
    full = list(args)
    for i in nums:
        full[i] = tree.map(_fresh_leaf, args[i])
    value = fn(*full, **kwargs)
    loss = value[0] if has_aux else value
    diff = tuple(full[i] for i in nums)
    leaves, td = tree.flatten(diff)
    tensors = [x for x in leaves if isinstance(x, Tensor)]
    gs = _tape_grad(loss, tensors, allow_unused=True)
    it = iter(gs)
    filled = [
        (next(it) if isinstance(x, Tensor) else None) for x in leaves
    ]
    filled = [
        constant(0, tuple(x.shape), x.dtype) if isinstance(x, Tensor) and g is None else g
        for x, g in zip(leaves, filled)
    ]
    g_tree = tree.unflatten(td, filled)
    g = g_tree[0] if isinstance(argnums, int) else g_tree
    value = tree.map(lambda v: v.detach() if isinstance(v, Tensor) else v, value)
    return value, g


def _eager_vjp(fn: Callable, primals: tuple, has_aux: bool) -> tuple:
    fresh = tuple(tree.map(_fresh_leaf, p) for p in primals)
    value = fn(*fresh)
    out, aux = value if has_aux else (value, None)
    leaves, td = tree.flatten(fresh)
    tensors = [x for x in leaves if isinstance(x, Tensor) and x.requires_grad]

    def vjp_fn(ct: Any) -> tuple:
        outs = [o for o in tree.leaves(out) if isinstance(o, Tensor)]
        cts = [c for c in tree.leaves(ct) if isinstance(c, Tensor)]
        gs = _tape_grad(outs, tensors, cts, retain_graph=True, create_graph=True,
                        allow_unused=True)
        it = iter(gs)
        flat = [
            (next(it) if isinstance(x, Tensor) and x.requires_grad else None) for x in leaves
        ]
        flat = [
            constant(0, tuple(x.shape), x.dtype) if isinstance(x, Tensor) and g is None
            and x.requires_grad else g
            for x, g in zip(leaves, flat)
        ]
        return tree.unflatten(td, flat)

    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacrev", "jacfwd", "hessian"]
