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
from ..jit.graph import Var, eval_graph
from ..jit.trace import (
    TracedFunction,
    apply_mutations,
    argument_labeler,
    fn_name,
    positional_namer,
    trace,
)
from ..ops.constant import constant
from ..tensor import Tensor
from .vmap import vmap


def _argnums_tuple(argnums: int | Sequence[int], n_args: int, op: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums:
        raise LucidError(f"{op}: argnums must name at least one argument")
    for i in nums:
        if not isinstance(i, int) or not -n_args <= i < n_args:
            raise LucidError(f"{op}: argnums {argnums} is out of range for {n_args} arguments")
    nums = tuple(i % n_args for i in nums)
    if len(set(nums)) != len(nums):
        raise LucidError(f"{op}: argnums {argnums} names an argument twice")
    return nums


def _check_differentiable(fn: Callable, args: tuple, nums: tuple[int, ...], op: str) -> None:
    """Each differentiated argument must hold a floating tensor. An integer or boolean tensor
    as the argument itself is an error; inside a pytree (a module's ``num_batches_tracked``)
    such a leaf is carried along and gets a zero "gradient" of its own dtype."""
    name = positional_namer(fn)
    for i in nums:
        leaves = [x for x in tree.leaves(args[i]) if isinstance(x, Tensor)]
        if any(x.dtype.category == FLOAT for x in leaves):
            continue
        if isinstance(args[i], Tensor):
            what = f"a {args[i].dtype.name} tensor of shape {list(args[i].shape)}"
        elif leaves:
            what = f"only {', '.join(sorted({x.dtype.name for x in leaves}))} tensors"
        else:
            what = f"no tensor (a {type(args[i]).__name__})"
        raise LucidError(
            f"{op}: argument '{name(i)}' (argnums={i}) is {what}; only floating-point tensors "
            f"have gradients (integer and boolean values do not). Differentiate with respect to "
            f"another argument (argnums), or pass a floating-point tensor."
        )


def _substitute(args: tuple, nums: Sequence[int], values: Sequence[Any]) -> list[Any]:
    full = list(args)
    for i, v in zip(nums, values):
        full[i] = v
    return full


def _captured_names(fn: Callable, args: tuple, kwargs: dict, nums: Sequence[int]
                    ) -> list[tuple[Tensor, str]]:
    """Names of the tensors in the arguments that are not differentiated (they are captured
    by the trace rather than traced), so that errors can name them."""
    name = positional_namer(fn)
    out: list[tuple[Tensor, str]] = []
    for i, a in enumerate(args):
        if i not in nums:
            out += [(x, name(i) + tree.keystr(p)) for p, x in tree.leaves_with_path(a)
                    if isinstance(x, Tensor)]
    for k, a in kwargs.items():
        out += [(x, k + tree.keystr(p)) for p, x in tree.leaves_with_path(a)
                if isinstance(x, Tensor)]
    return out


def _zeros_like(x: Tensor) -> Tensor:
    return constant(0, tuple(x.shape), x.dtype, like=x)


def _grad_leaves(inputs: Sequence[Tensor], grads: dict[int, Tensor]) -> list[Tensor]:
    """One gradient per flattened tensor input: the computed one, or zeros of the input's
    own dtype for a tensor that gets none (an integer buffer)."""
    return [grads[k] if k in grads else _zeros_like(x) for k, x in enumerate(inputs)]


def value_and_grad(fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False
                   ) -> Callable:
    """``fn``'s value and its gradient with respect to argument(s) ``argnums``.

    ``fn`` must return a scalar floating tensor (or ``(scalar, aux)`` with ``has_aux``).
    Arguments are pytrees (a Module is one): the gradient has the structure of the
    differentiated argument (a tuple of them when ``argnums`` is a tuple); integer and boolean
    tensors inside it get zeros of their own dtype. Tensors ``fn`` reads from its closure (a
    module's parameters) are inputs of the trace, not differentiated. Side effects of ``fn``
    on tensors (BatchNorm's running statistics, ``p.grad``) are applied, as an eager call would.
    Returns ``(value, grad)``, or ``((value, aux), grad)`` with ``has_aux``.
    """

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums_tuple(argnums, len(args), "grad")
        _check_differentiable(fn, args, nums, "grad")
        if config.disable_jit:
            return _eager_value_and_grad(fn, args, kwargs, nums, argnums, has_aux)
        diff_args = tuple(args[i] for i in nums)

        def partial(*diff: Any) -> Any:
            return fn(*_substitute(args, nums, diff), **kwargs)

        tf = trace(partial, diff_args, {}, name=f"grad of {fn_name(fn)}", requires_grad=False,
                   label=argument_labeler(fn, nums),
                   captured=_captured_names(fn, args, kwargs, nums))
        loss_aval = _check_scalar_output(tf, fn, has_aux)
        inputs = tf.flat_inputs(diff_args, {})
        n_explicit = len(tf.tensor_pos)
        wrt = [k for k in range(n_explicit) if tf.graph.inputs[k].aval.dtype.category == FLOAT]
        joint = backward_graph(tf.graph, wrt, [0])
        res = eval_graph(joint, [*inputs, constant(1, (), loss_aval.dtype)])
        n_out = len(tf.graph.outputs)
        outs, grads = res[:n_out], res[n_out:]
        apply_mutations(tf.mutations, outs, inputs)
        value = tf.unflatten_outputs(outs[: len(tf.out_pos)])
        flat_g = _grad_leaves(inputs[:n_explicit], dict(zip(wrt, grads)))
        grad_tree = _regroup(diff_args, tf.tensor_pos, flat_g)
        return value, (grad_tree[0] if isinstance(argnums, int) else grad_tree)

    return wrapped


def _check_scalar_output(tf: TracedFunction, fn: Callable, has_aux: bool) -> Any:
    """The loss's aval; it must be the first (with has_aux) or only output of ``fn``, and a
    floating scalar."""
    value = tf.unflatten_outputs(tf.graph.outputs[: len(tf.out_pos)])
    if has_aux:
        if not (isinstance(value, tuple) and len(value) == 2):
            raise LucidError(f"grad: with has_aux=True, {fn_name(fn)} must return a pair "
                             f"(loss, aux), got {type(value).__name__}")
        value = value[0]
    if not isinstance(value, Var):
        raise LucidError(
            f"grad: {fn_name(fn)} must return a scalar tensor"
            f"{' as the first element of (loss, aux)' if has_aux else ''}, got "
            f"{type(value).__name__}; use has_aux=True to return extra values, or vjp / "
            f"jacrev for non-scalar outputs"
        )
    aval = value.aval
    if aval.shape != () or aval.dtype.category != FLOAT:
        raise LucidError(
            f"grad: {fn_name(fn)} must return a scalar floating tensor, got {aval!r}; reduce it "
            f"(.sum(), .mean()) or use vjp / jacrev for other outputs"
        )
    return aval


def grad(fn: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The gradient of scalar-valued ``fn`` with respect to argument(s) ``argnums``
    (``(grad, aux)`` with ``has_aux``); see :func:`value_and_grad`."""
    vg = value_and_grad(fn, argnums, has_aux)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapped


def _regroup(diff_args: tuple, tensor_pos: list[int], flat: Sequence[Any]) -> tuple:
    """Put gradients back into the structure of the differentiated arguments (non-tensor
    leaves become None)."""
    leaves, td = tree.flatten((diff_args, {}))
    out: list[Any] = [None] * len(leaves)
    for k, i in enumerate(tensor_pos):
        out[i] = flat[k]
    return tree.unflatten(td, out)[0]


def vjp(fn: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """``(fn(*primals), vjp_fn)`` where ``vjp_fn(cotangent)`` returns a tuple with one
    cotangent per primal. Primals and outputs are pytrees; the cotangent has the structure of
    the output, and each returned cotangent the structure of its primal (zeros of their own
    dtype for integer and boolean tensors, None for non-tensor leaves). With ``has_aux``,
    ``fn`` returns ``(out, aux)`` and the result is ``(out, vjp_fn, aux)``."""
    if config.disable_jit:
        return _eager_vjp(fn, primals, has_aux)
    tf = trace(fn, primals, {}, name=f"vjp of {fn_name(fn)}", requires_grad=False)
    flat_in = tf.flat_inputs(primals, {})
    outs = eval_graph(tf.graph, flat_in)
    # vjp_fn replays the forward pass on the inputs as they were: keep a copy of the tensors
    # the function writes in place before those writes are applied.
    mutated = {id(m.tensor(flat_in)) for m in tf.mutations if m.kind == "data"}
    originals = flat_in
    flat_in = [x.clone() if id(x) in mutated else x for x in flat_in]
    apply_mutations(tf.mutations, outs, originals)
    value = tf.unflatten_outputs(outs[: len(tf.out_pos)])
    if has_aux:
        if not (isinstance(value, tuple) and len(value) == 2):
            raise LucidError(f"vjp: with has_aux=True, {fn_name(fn)} must return a pair "
                             f"(out, aux), got {type(value).__name__}")
        out, aux = value
    else:
        out, aux = value, None
    out_leaves, out_td = tree.flatten(out)
    out_tensors = [o for o in out_leaves if isinstance(o, Tensor)]
    n_explicit = len(tf.tensor_pos)
    wrt = [k for k in range(n_explicit) if tf.graph.inputs[k].aval.dtype.category == FLOAT]
    joint = backward_graph(tf.graph, wrt, list(range(len(out_tensors))))
    n_graph_out = len(tf.graph.outputs)

    def vjp_fn(ct: Any) -> tuple:
        ct_leaves, ct_td = tree.flatten(ct)
        if ct_td != out_td:
            raise LucidError(f"vjp: the cotangent's structure {ct_td} differs from the "
                             f"output's {out_td}")
        cts: list[Tensor] = []
        for c, o in zip(ct_leaves, out_leaves):
            if not isinstance(o, Tensor):
                continue
            if not isinstance(c, Tensor):
                raise LucidError(f"vjp: expected a Tensor cotangent for an output of shape "
                                 f"{list(o.shape)}, got {type(c).__name__}")
            if tuple(c.shape) != tuple(o.shape) or c.dtype is not o.dtype:
                raise LucidError(
                    f"vjp: a cotangent must have its output's shape and dtype: got "
                    f"{c.dtype.name}{list(c.shape)} for an output of {o.dtype.name}"
                    f"{list(o.shape)}"
                )
            cts.append(c)
        grads = eval_graph(joint, flat_in + cts)[n_graph_out:]
        flat_g = _grad_leaves(flat_in[:n_explicit], dict(zip(wrt, grads)))
        return _regroup(tuple(primals), tf.tensor_pos, flat_g)

    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


def jvp(fn: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple:
    """``(fn(*primals), J @ tangents)``: the forward-mode derivative along ``tangents``.

    ``tangents`` has the structure of ``primals`` (pytrees), each tensor the shape and dtype
    of its primal; tangents of integer and boolean primals are ignored. The tangent output has
    the structure of the output.
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise LucidError("jvp: primals and tangents must be tuples (one entry per argument)")
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise LucidError(f"jvp: got {len(primals)} primals and {len(tangents)} tangents")
    p_leaves, p_td = tree.flatten(primals)
    t_leaves, t_td = tree.flatten(tangents)
    if p_td != t_td:
        raise LucidError(f"jvp: the tangents' structure {t_td} differs from the primals' {p_td}")
    cts: list[Any] = []
    for p, t in zip(p_leaves, t_leaves):
        if not isinstance(p, Tensor):
            cts.append(None)
        elif p.dtype.category != FLOAT:
            cts.append(_zeros_like(p))  # integer inputs have no tangent space
        elif not isinstance(t, Tensor) or tuple(t.shape) != tuple(p.shape) \
                or t.dtype is not p.dtype:
            got = f"{t.dtype.name}{list(t.shape)}" if isinstance(t, Tensor) \
                else type(t).__name__
            raise LucidError(f"jvp: a tangent must have its primal's shape and dtype: got "
                             f"{got} for a primal of {p.dtype.name}{list(p.shape)}")
        else:
            cts.append(t)
    out, vjp_fn = vjp(fn, *primals)
    # vjp_fn is linear in its cotangent: differentiating it at any point (zeros) and pulling
    # the tangents back through that gives J @ tangents. No forward-mode rules are needed.
    zeros = tree.map(lambda o: _zeros_like(o) if isinstance(o, Tensor) else o, out)
    _, vjp_of_vjp = vjp(vjp_fn, zeros)
    (tangent_out,) = vjp_of_vjp(tree.unflatten(p_td, cts))
    return out, tangent_out


def _single_tensor(x: Any, op: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise LucidError(f"{op}: expected a Tensor, got {type(x).__name__}")
    return x


def _flat_problem(fn: Callable, args: tuple, nums: tuple[int, ...], op: str
                  ) -> tuple[list[Tensor], Any, Callable[..., Tensor], list[Any]]:
    """The Jacobian problem as ``h(*in_leaves) -> y``: ``in_leaves`` are the tensor leaves of
    the differentiated arguments, ``y`` every output leaf flattened and concatenated. Returns
    (in_leaves, in_treedef, h, box) where ``box`` receives ``(out_treedef, out_shapes)``."""
    diff = tuple(args[i] for i in nums)
    in_leaves, in_td = tree.flatten(diff)
    for x in in_leaves:
        if not isinstance(x, Tensor):
            raise LucidError(f"{op}: the differentiated arguments must be (pytrees of) tensors, "
                             f"found {type(x).__name__}")
    box: list[Any] = []

    def h(*xs: Tensor) -> Tensor:
        out = fn(*_substitute(args, nums, tree.unflatten(in_td, list(xs))))
        leaves, out_td = tree.flatten(out)
        if not leaves or any(not isinstance(o, Tensor) for o in leaves):
            raise LucidError(f"{op}: {fn_name(fn)} must return (a pytree of) tensors")
        if not box:
            box.append((out_td, [tuple(o.shape) for o in leaves]))
        dtype = leaves[0].dtype
        from ..ops.shape import cat

        return cat([o.reshape(-1) if o.dtype is dtype else o.reshape(-1).to(dtype)
                    for o in leaves], 0)

    return in_leaves, in_td, h, box


def _assemble(blocks: list[list[Tensor]], in_td: Any, box: list[Any], argnums: Any) -> Any:
    """Jacobian blocks ``blocks[out_leaf][in_leaf]`` into the output structure (outer) of the
    differentiated arguments' structure (inner), as JAX returns them."""
    out_td, _ = box[0]
    inner = [tree.unflatten(in_td, row) for row in blocks]
    if isinstance(argnums, int):
        inner = [x[0] for x in inner]
    return tree.unflatten(out_td, inner)


def _split_rows(mat: Tensor, out_shapes: list[tuple[int, ...]], in_shape: tuple[int, ...]
                ) -> list[Tensor]:
    """Rows of an ``(N_out, n_in)`` Jacobian cut per output leaf and reshaped."""
    blocks, start = [], 0
    for shape in out_shapes:
        n = 1
        for d in shape:
            n *= d
        blocks.append(mat[start:start + n].reshape(shape + in_shape))
        start += n
    return blocks


def jacrev(fn: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The Jacobian of ``fn`` by reverse mode (one VJP per output element, vectorised with
    ``vmap``). For a tensor ``x`` and output ``y`` it has shape ``y.shape + x.shape``; pytree
    arguments and outputs give a pytree of blocks, output structure outside."""

    def jac(*args: Any) -> Any:
        nums = _argnums_tuple(argnums, len(args), "jacrev")
        in_leaves, in_td, h, box = _flat_problem(fn, args, nums, "jacrev")
        y, vjp_fn = vjp(h, *in_leaves)
        basis = _eye_basis(y.numel(), tuple(y.shape), y.dtype)
        rows = vmap(vjp_fn)(basis)  # per input leaf: (N_out, *leaf.shape)
        out_shapes = box[0][1]
        per_in = [_split_rows(r.reshape((y.numel(), -1)), out_shapes, tuple(x.shape))
                  for r, x in zip(rows, in_leaves)]
        blocks = [[per_in[j][k] for j in range(len(in_leaves))] for k in range(len(out_shapes))]
        return _assemble(blocks, in_td, box, argnums)

    return jac


def jacfwd(fn: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The Jacobian of ``fn`` by forward mode (one JVP per input element, vectorised with
    ``vmap``); same layout as :func:`jacrev`."""

    def jac(*args: Any) -> Any:
        nums = _argnums_tuple(argnums, len(args), "jacfwd")
        in_leaves, in_td, h, box = _flat_problem(fn, args, nums, "jacfwd")
        columns = []
        for j, x in enumerate(in_leaves):

            def along(t: Tensor, j: int = j) -> Tensor:
                tangents = [t if k == j else constant(0, tuple(v.shape), v.dtype)
                            for k, v in enumerate(in_leaves)]
                return jvp(h, tuple(in_leaves), tuple(tangents))[1]

            basis = _eye_basis(x.numel(), tuple(x.shape), x.dtype)
            columns.append(vmap(along)(basis).mT)  # (N_out, n_in)
        out_shapes = box[0][1]
        per_in = [_split_rows(c, out_shapes, tuple(x.shape)) for c, x in zip(columns, in_leaves)]
        blocks = [[per_in[j][k] for j in range(len(in_leaves))] for k in range(len(out_shapes))]
        return _assemble(blocks, in_td, box, argnums)

    return jac


def _eye_basis(n: int, shape: tuple[int, ...], dtype: Any) -> Tensor:
    from ..creation import eye

    return eye(n, dtype=dtype).reshape((n, *shape))


def hessian(fn: Callable, argnums: int = 0) -> Callable:
    """The Hessian of scalar-valued ``fn``: ``jacfwd(jacrev(fn))``."""
    return jacfwd(jacrev(fn, argnums), argnums)


# ----------------------------------------------------------------------------- eager fallbacks
# With ``config.disable_jit`` the transforms run on the eager tape: each differentiated float
# tensor that is not already on the tape becomes a fresh leaf sharing its data (so in-place
# buffer updates reach the caller's tensors); one that is (an outer transform's leaf) is used
# as it is, with ``create_graph``, so that eager transforms nest like traced ones.


def _eager_leaf(x: Any) -> Any:
    if isinstance(x, Tensor) and x.dtype.category == FLOAT and not x.requires_grad:
        return x.detach().requires_grad_(True)
    return x


def _eager_grads(outs: Sequence[Tensor], cts: Sequence[Tensor], leaves: Sequence[Any],
                 create_graph: bool) -> list[Any]:
    """Cotangents of the float tensor leaves (zeros where none arrives, zeros of their own
    dtype for integer tensors, None for non-tensors)."""
    wanted = [x for x in leaves if isinstance(x, Tensor) and x.requires_grad]
    pairs = [(o, c) for o, c in zip(outs, cts) if o.requires_grad]
    gs: Sequence[Tensor | None] = [None] * len(wanted)
    if pairs and wanted:
        gs = _tape_grad([o for o, _ in pairs], wanted, [c for _, c in pairs],
                        retain_graph=True, create_graph=create_graph, allow_unused=True)
    found = {id(x): g for x, g in zip(wanted, gs)}
    out: list[Any] = []
    for x in leaves:
        if not isinstance(x, Tensor):
            out.append(None)
        else:
            g = found.get(id(x))
            out.append(_zeros_like(x) if g is None else g)
    return out


def _eager_value_and_grad(fn: Callable, args: tuple, kwargs: dict, nums: tuple[int, ...],
                          argnums: Any, has_aux: bool) -> Any:
    connected = any(isinstance(x, Tensor) and x.requires_grad
                    for i in nums for x in tree.leaves(args[i]))
    fresh = {i: tree.map(_eager_leaf, args[i]) for i in nums}
    value = fn(*_substitute(args, nums, [fresh[i] for i in nums]), **kwargs)
    if has_aux:
        if not (isinstance(value, tuple) and len(value) == 2):
            raise LucidError(f"grad: with has_aux=True, {fn_name(fn)} must return a pair "
                             f"(loss, aux), got {type(value).__name__}")
        loss = value[0]
    else:
        loss = value
    if not isinstance(loss, Tensor) or loss.shape != () or loss.dtype.category != FLOAT:
        raise LucidError(f"grad: {fn_name(fn)} must return a scalar floating tensor, got "
                         f"{loss!r}; use vjp or jacrev for other outputs")
    grads = []
    for i in nums:
        leaves, td = tree.flatten(fresh[i])
        g = _eager_grads([loss], [constant(1, (), loss.dtype)], leaves, create_graph=connected)
        grads.append(tree.unflatten(td, g))
    if not connected:  # nothing outside depends on these: plain values, as the traced path
        value = _detached(value)
        grads = [_detached(g) for g in grads]
    return value, (grads[0] if isinstance(argnums, int) else tuple(grads))


def _detached(tree_: Any) -> Any:
    return tree.map(lambda v: v.detach() if isinstance(v, Tensor) else v, tree_)


def _eager_vjp(fn: Callable, primals: tuple, has_aux: bool) -> tuple:
    connected = any(isinstance(x, Tensor) and x.requires_grad for x in tree.leaves(primals))
    fresh = tuple(tree.map(_eager_leaf, p) for p in primals)
    value = fn(*fresh)
    if has_aux:
        if not (isinstance(value, tuple) and len(value) == 2):
            raise LucidError(f"vjp: with has_aux=True, {fn_name(fn)} must return a pair "
                             f"(out, aux), got {type(value).__name__}")
        out, aux = value
    else:
        out, aux = value, None
    leaves, td = tree.flatten(fresh)
    out_leaves, out_td = tree.flatten(out)

    def vjp_fn(ct: Any) -> tuple:
        ct_leaves, ct_td = tree.flatten(ct)
        if ct_td != out_td:
            raise LucidError(f"vjp: the cotangent's structure {ct_td} differs from the "
                             f"output's {out_td}")
        pairs = [(o, c) for o, c in zip(out_leaves, ct_leaves) if isinstance(o, Tensor)]
        # Keep the backward pass on the tape only when something outside needs it (an outer
        # transform differentiating through this one); otherwise return plain values, as the
        # traced path does.
        create = connected or any(isinstance(c, Tensor) and c.requires_grad for _, c in pairs)
        flat = _eager_grads([o for o, _ in pairs], [c for _, c in pairs], leaves,
                            create_graph=create)
        return tree.unflatten(td, flat)

    if not connected:
        out, aux = _detached(out), _detached(aux)
    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacrev", "jacfwd", "hessian"]
