"""Pytrees: nested containers of leaves, in the style of ``jax.tree_util``.

A *pytree* is a nested structure of registered container types (tuples,
lists, dicts, namedtuples, ``None``, and anything passed to
:func:`register_pytree_node`); everything else is a *leaf*.
:func:`flatten` splits a pytree into its leaves and a :class:`TreeDef`
describing the containers, and :meth:`TreeDef.unflatten` puts them back.

Design notes (the why):

* A :class:`TreeDef` stores its nodes as one flat tuple of records in
  post-order (children before their parent), rather than as nested objects.
  Equality and hashing are then plain comparisons of a flat tuple, which is
  cheap and never recurses, so treedefs of deeply nested trees are safe to use
  as cache keys (e.g. by a JIT compiler).  Post-order also makes unflattening
  a simple stack machine.
* Every traversal (flatten, unflatten, repr, structure diffing) is iterative,
  so nesting depth is limited by memory, not by Python's recursion limit.
* This module depends only on the standard library so that any other part of
  lucid can import it without import cycles.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

__all__ = [
    "DictKey",
    "GetAttrKey",
    "KeyEntry",
    "KeyPath",
    "SequenceKey",
    "TreeDef",
    "flatten",
    "flatten_with_path",
    "keystr",
    "leaves",
    "leaves_with_path",
    "map",
    "map_with_path",
    "register_pytree_node",
    "structure",
    "unflatten",
]


# ---------------------------------------------------------------------------
# Key path entries
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class DictKey:
    """Key path entry for a mapping child, rendered as ``['key']``."""

    key: Hashable

    def __str__(self) -> str:
        return f"[{self.key!r}]"


@dataclasses.dataclass(frozen=True, slots=True)
class SequenceKey:
    """Key path entry for a positional child, rendered as ``[0]``."""

    idx: int

    def __str__(self) -> str:
        return f"[{self.idx}]"


@dataclasses.dataclass(frozen=True, slots=True)
class GetAttrKey:
    """Key path entry for an attribute-like child, rendered as ``.name``."""

    name: str

    def __str__(self) -> str:
        return f".{self.name}"


KeyEntry = Any
"""A key path entry: usually DictKey, SequenceKey or GetAttrKey, but custom
nodes may use any hashable object with a useful ``__str__``."""

KeyPath = tuple
"""A tuple of key path entries leading from the root to a node."""


def _simple_key_str(key: KeyEntry) -> str:
    if isinstance(key, DictKey):
        return str(key.key)
    if isinstance(key, SequenceKey):
        return str(key.idx)
    if isinstance(key, GetAttrKey):
        return key.name
    return str(key)


def keystr(path: KeyPath, *, simple: bool = False, separator: str = "") -> str:
    """Render a key path as a string.

    Args:
        path: Tuple of key entries, as produced by :func:`flatten_with_path`.
        simple: If True, render each entry as its bare key (``layers``, ``0``,
            ``weight``) instead of its Python-accessor form.
        separator: String placed between entries.

    Returns:
        For example ``"['layers'][0].weight"``, or with ``simple=True,
        separator="/"``: ``"layers/0/weight"``.
    """
    if simple:
        return separator.join(_simple_key_str(k) for k in path)
    return separator.join(str(k) for k in path)


# ---------------------------------------------------------------------------
# Node registry
# ---------------------------------------------------------------------------

FlattenFn = Callable[[Any], tuple[Iterable[Any], Hashable]]
UnflattenFn = Callable[[Hashable, Iterable[Any]], Any]
FlattenWithKeysFn = Callable[[Any], tuple[Iterable[tuple[KeyEntry, Any]], Hashable]]


class _NodeHandler:
    """How to take one registered node type apart and put it back together.

    ``flatten`` returns ``(children, aux)`` with children as a list or tuple
    (so the flattener can take its length); ``flatten_with_keys`` returns
    ``(list of (key, child), aux)``.  ``render`` builds the treedef repr from
    the aux data and the already-rendered children strings.
    """

    __slots__ = ("flatten", "flatten_with_keys", "render", "unflatten")

    def __init__(
        self,
        flatten: Callable[[Any], tuple[Sequence[Any], Hashable]],
        unflatten: Callable[[Hashable, list[Any]], Any],
        flatten_with_keys: Callable[[Any], tuple[list[tuple[Any, Any]], Hashable]],
        render: Callable[[type, Hashable, list[str]], str],
    ) -> None:
        self.flatten = flatten
        self.unflatten = unflatten
        self.flatten_with_keys = flatten_with_keys
        self.render = render


_REGISTRY: dict[type, _NodeHandler] = {}

# Leaves are recorded with node type None (as JAX reports a leaf's node type);
# None, unlike a private sentinel object, survives pickling by identity.
_LEAF_RECORD: tuple = (None, None, 0, 1, 1)

# Record field indices: (node_type, aux_data, num_children, num_leaves,
# num_nodes); the last two count the whole subtree rooted at this node.
_TYPE, _AUX, _NCHILD, _NLEAVES, _NNODES = range(5)


def _render_custom(cls: type, aux: Hashable, kids: list[str]) -> str:
    return f"CustomNode({cls.__name__}[{aux!r}], [{', '.join(kids)}])"


def register_pytree_node(
    nodetype: type,
    flatten_fn: FlattenFn,
    unflatten_fn: UnflattenFn,
    flatten_with_keys_fn: FlattenWithKeysFn | None = None,
) -> None:
    """Register a container type as a pytree node.

    Args:
        nodetype: The exact class to register (subclasses are not covered).
        flatten_fn: ``node -> (children, aux_data)``; ``children`` is an
            iterable of child subtrees and ``aux_data`` is hashable static data
            needed to rebuild the node (it takes part in treedef equality).
        unflatten_fn: ``(aux_data, children) -> node``; ``children`` is a
            tuple.
        flatten_with_keys_fn: Optional ``node -> (list of (key_entry, child),
            aux_data)``, used for key paths.  Without it, children get
            ``SequenceKey(i)`` entries.

    Raises:
        TypeError: If ``nodetype`` is not a class.
        ValueError: If ``nodetype`` is already registered (including the
            built-in node types).
    """
    if not isinstance(nodetype, type):
        raise TypeError(f"register_pytree_node: expected a type, got {nodetype!r}")
    if nodetype in _REGISTRY:
        raise ValueError(
            f"register_pytree_node: {nodetype.__qualname__} is already registered "
            "as a pytree node"
        )

    # The flattener needs len(children); user code may hand back a generator.
    def flatten(node: Any) -> tuple[Sequence[Any], Hashable]:
        children, aux = flatten_fn(node)
        if not isinstance(children, (list, tuple)):
            children = tuple(children)
        return children, aux

    def unflatten(aux: Hashable, children: list[Any]) -> Any:
        return unflatten_fn(aux, tuple(children))

    if flatten_with_keys_fn is None:

        def flatten_with_keys(node: Any) -> tuple[list[tuple[Any, Any]], Hashable]:
            children, aux = flatten(node)
            return [(SequenceKey(i), c) for i, c in enumerate(children)], aux

    else:
        user_fwk = flatten_with_keys_fn

        def flatten_with_keys(node: Any) -> tuple[list[tuple[Any, Any]], Hashable]:
            pairs, aux = user_fwk(node)
            return list(pairs), aux

    _REGISTRY[nodetype] = _NodeHandler(
        flatten, unflatten, flatten_with_keys, _render_custom
    )


# --- built-in node types ----------------------------------------------------


def _sorted_keys(d: dict) -> tuple:
    # JAX orders dict children by sorted key so that dicts with equal contents
    # but different insertion order have equal treedefs.  Keys that cannot be
    # ordered against each other (e.g. str mixed with int) fall back to
    # insertion order rather than failing.
    try:
        return tuple(sorted(d))
    except TypeError:
        return tuple(d)


def _seq_render(open_: str, close: str) -> Callable[[type, Hashable, list[str]], str]:
    def render(cls: type, aux: Hashable, kids: list[str]) -> str:
        return f"{open_}{', '.join(kids)}{close}"

    return render


def _render_tuple(cls: type, aux: Hashable, kids: list[str]) -> str:
    # A 1-tuple needs its trailing comma to read as a tuple.
    if len(kids) == 1:
        return f"({kids[0]},)"
    return f"({', '.join(kids)})"


def _render_mapping_body(keys: Sequence[Any], kids: list[str]) -> str:
    return "{" + ", ".join(f"{k!r}: {s}" for k, s in zip(keys, kids)) + "}"


def _render_dict(cls: type, aux: Any, kids: list[str]) -> str:
    return _render_mapping_body(aux, kids)


def _render_ordered_dict(cls: type, aux: Any, kids: list[str]) -> str:
    return f"OrderedDict({_render_mapping_body(aux, kids)})"


def _render_defaultdict(cls: type, aux: Any, kids: list[str]) -> str:
    factory, keys = aux
    name = getattr(factory, "__qualname__", repr(factory))
    return f"defaultdict({name}, {_render_mapping_body(keys, kids)})"


def _render_none(cls: type, aux: Hashable, kids: list[str]) -> str:
    return "None"


def _render_namedtuple(cls: type, aux: Hashable, kids: list[str]) -> str:
    fields = ", ".join(f"{f}={s}" for f, s in zip(cls._fields, kids))
    return f"{cls.__name__}({fields})"


def _seq_keys(node: Sequence[Any]) -> list[tuple[Any, Any]]:
    return [(SequenceKey(i), c) for i, c in enumerate(node)]


def _dict_flatten(d: dict) -> tuple[list[Any], tuple]:
    keys = _sorted_keys(d)
    return [d[k] for k in keys], keys


def _dict_flatten_with_keys(d: dict) -> tuple[list[tuple[Any, Any]], tuple]:
    keys = _sorted_keys(d)
    return [(DictKey(k), d[k]) for k in keys], keys


def _odict_flatten(d: collections.OrderedDict) -> tuple[list[Any], tuple]:
    keys = tuple(d)
    return list(d.values()), keys


def _odict_flatten_with_keys(
    d: collections.OrderedDict,
) -> tuple[list[tuple[Any, Any]], tuple]:
    return [(DictKey(k), v) for k, v in d.items()], tuple(d)


def _ddict_flatten(d: collections.defaultdict) -> tuple[list[Any], tuple]:
    children, keys = _dict_flatten(d)
    return children, (d.default_factory, keys)


def _ddict_flatten_with_keys(
    d: collections.defaultdict,
) -> tuple[list[tuple[Any, Any]], tuple]:
    pairs, keys = _dict_flatten_with_keys(d)
    return pairs, (d.default_factory, keys)


_REGISTRY[tuple] = _NodeHandler(
    lambda t: (t, None),
    lambda aux, ch: tuple(ch),
    lambda t: (_seq_keys(t), None),
    _render_tuple,
)
_REGISTRY[list] = _NodeHandler(
    lambda t: (t, None),
    # The stack slice handed to unflatten is already a fresh list.
    lambda aux, ch: ch,
    lambda t: (_seq_keys(t), None),
    _seq_render("[", "]"),
)
_REGISTRY[dict] = _NodeHandler(
    _dict_flatten,
    lambda keys, ch: dict(zip(keys, ch)),
    _dict_flatten_with_keys,
    _render_dict,
)
_REGISTRY[collections.OrderedDict] = _NodeHandler(
    _odict_flatten,
    lambda keys, ch: collections.OrderedDict(zip(keys, ch)),
    _odict_flatten_with_keys,
    _render_ordered_dict,
)
_REGISTRY[collections.defaultdict] = _NodeHandler(
    _ddict_flatten,
    lambda aux, ch: collections.defaultdict(aux[0], zip(aux[1], ch)),
    _ddict_flatten_with_keys,
    _render_defaultdict,
)
_REGISTRY[type(None)] = _NodeHandler(
    lambda n: ((), None),
    lambda aux, ch: None,
    lambda n: ([], None),
    _render_none,
)

# Namedtuples are recognised structurally (a tuple subclass with ``_fields``)
# instead of being registered one class at a time; the record keeps the
# concrete class so that unflatten rebuilds the same namedtuple type.
_NAMEDTUPLE_HANDLER = _NodeHandler(
    lambda t: (t, None),
    lambda aux, ch: ch,  # unused: _rebuild calls the class directly
    lambda t: ([(GetAttrKey(f), c) for f, c in zip(type(t)._fields, t)], None),
    _render_namedtuple,
)


def _handler_for(cls: type) -> _NodeHandler | None:
    handler = _REGISTRY.get(cls)
    if handler is None and issubclass(cls, tuple) and hasattr(cls, "_fields"):
        return _NAMEDTUPLE_HANDLER
    return handler


def _rebuild(cls: type, aux: Hashable, children: list[Any]) -> Any:
    handler = _REGISTRY.get(cls)
    if handler is not None:
        return handler.unflatten(aux, children)
    # Only namedtuples reach this point (see _handler_for).
    return cls(*children)


# ---------------------------------------------------------------------------
# TreeDef
# ---------------------------------------------------------------------------


class TreeDef:
    """The structure of a pytree: its containers, without its leaves.

    Treedefs are immutable, hashable and compare equal exactly when the
    structures match (same node types, same aux data such as dict keys, same
    shape).  Obtain them from :func:`flatten` or :func:`structure`; the
    constructor is internal.

    Hashing a treedef hashes every node's aux data, so it raises
    ``TypeError`` if a custom node produced unhashable aux data.
    """

    __slots__ = ("_hash", "_nodes")

    _nodes: tuple
    _hash: int | None

    def __init__(self, nodes: tuple) -> None:
        object.__setattr__(self, "_nodes", nodes)
        object.__setattr__(self, "_hash", None)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("TreeDef is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("TreeDef is immutable")

    # Pickle by the node records only: the cached hash of str/bytes aux data
    # is salted per process and must not travel.
    def __reduce__(self) -> tuple[type, tuple[tuple]]:
        return (TreeDef, (self._nodes,))

    @property
    def num_leaves(self) -> int:
        """Number of leaves in the tree."""
        return self._nodes[-1][_NLEAVES]

    @property
    def num_nodes(self) -> int:
        """Number of nodes in the tree, counting leaves and the root."""
        return len(self._nodes)

    @property
    def node_type(self) -> type | None:
        """Type of the root node, or None if the root is a leaf."""
        return self._nodes[-1][_TYPE]

    @property
    def node_data(self) -> Hashable:
        """Aux data of the root node (e.g. a dict's keys)."""
        return self._nodes[-1][_AUX]

    def is_leaf(self) -> bool:
        """Return True if this treedef is a single leaf."""
        return self._nodes[-1][_TYPE] is None

    def children(self) -> list[TreeDef]:
        """Return the treedefs of the root's direct children, in order."""
        nodes = self._nodes
        root = nodes[-1]
        out: list[TreeDef] = []
        # In post-order each child's subtree is a contiguous block ending just
        # before the next sibling's block; walk the blocks from the right.
        end = len(nodes) - 1
        for _ in range(root[_NCHILD]):
            size = nodes[end - 1][_NNODES]
            out.append(TreeDef(nodes[end - size : end]))
            end -= size
        out.reverse()
        return out

    def unflatten(self, leaves: Iterable[Any]) -> Any:
        """Build a tree with this structure from ``leaves`` (in flatten order).

        Raises:
            ValueError: If the number of leaves does not match.
        """
        if not isinstance(leaves, (list, tuple)):
            leaves = list(leaves)
        expected = self._nodes[-1][_NLEAVES]
        if len(leaves) != expected:
            raise ValueError(
                f"tree.unflatten: expected {expected} leaves, got {len(leaves)} "
                f"(treedef: {_truncate(repr(self))})"
            )
        stack: list[Any] = []
        i = 0
        for cls, aux, n, _, _ in self._nodes:
            if cls is None:
                stack.append(leaves[i])
                i += 1
            elif n:
                children = stack[-n:]
                del stack[-n:]
                stack.append(_rebuild(cls, aux, children))
            else:
                stack.append(_rebuild(cls, aux, []))
        return stack[0]

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, TreeDef):
            return NotImplemented
        return self._nodes == other._nodes

    def __hash__(self) -> int:
        # Cached because treedefs are looked up in caches on every call.
        h = self._hash
        if h is None:
            h = hash(self._nodes)
            object.__setattr__(self, "_hash", h)
        return h

    def __repr__(self) -> str:
        stack: list[str] = []
        for cls, aux, n, _, _ in self._nodes:
            if cls is None:
                stack.append("*")
                continue
            kids = stack[len(stack) - n :] if n else []
            if n:
                del stack[-n:]
            handler = _handler_for(cls)
            render = handler.render if handler is not None else _render_custom
            stack.append(render(cls, aux, kids))
        return f"PyTreeDef({stack[0]})"


def _truncate(s: str, limit: int = 200) -> str:
    return s if len(s) <= limit else s[: limit - 3] + "..."


# ---------------------------------------------------------------------------
# Flattening
# ---------------------------------------------------------------------------

IsLeafFn = Callable[[Any], bool]


def _flatten(tree: Any, is_leaf: IsLeafFn | None) -> tuple[list[Any], TreeDef]:
    leaf_list: list[Any] = []
    records: list[tuple] = []
    get = _REGISTRY.get
    # Each stack entry is (parent's child iterator, this node's type, aux,
    # child count, leaf count before it, record count before it).  Walking
    # an explicit stack of iterators keeps leaves in a tight inner loop and
    # makes depth unlimited.
    stack: list[tuple] = []
    it: Iterable[Any] = iter((tree,))
    while True:
        for child in it:
            if is_leaf is not None and is_leaf(child):
                leaf_list.append(child)
                records.append(_LEAF_RECORD)
                continue
            cls = type(child)
            handler = get(cls)
            if handler is None:
                if isinstance(child, tuple) and hasattr(cls, "_fields"):
                    children, aux = child, None
                else:
                    leaf_list.append(child)
                    records.append(_LEAF_RECORD)
                    continue
            else:
                children, aux = handler.flatten(child)
            stack.append((it, cls, aux, len(children), len(leaf_list), len(records)))
            it = iter(children)
            break
        else:
            if not stack:
                break
            it, cls, aux, n, l0, r0 = stack.pop()
            records.append((cls, aux, n, len(leaf_list) - l0, len(records) - r0 + 1))
    return leaf_list, TreeDef(tuple(records))


def _flatten_with_path(
    tree: Any, is_leaf: IsLeafFn | None
) -> tuple[list[tuple[KeyPath, Any]], TreeDef]:
    out: list[tuple[KeyPath, Any]] = []
    records: list[tuple] = []
    stack: list[tuple] = []
    # Same walk as _flatten, but the iterators yield (full path, child).
    it: Iterable[tuple[KeyPath, Any]] = iter((((), tree),))
    while True:
        for path, child in it:
            if is_leaf is not None and is_leaf(child):
                out.append((path, child))
                records.append(_LEAF_RECORD)
                continue
            cls = type(child)
            handler = _handler_for(cls)
            if handler is None:
                out.append((path, child))
                records.append(_LEAF_RECORD)
                continue
            pairs, aux = handler.flatten_with_keys(child)
            stack.append((it, cls, aux, len(pairs), len(out), len(records)))
            it = iter([((*path, k), c) for k, c in pairs])
            break
        else:
            if not stack:
                break
            it, cls, aux, n, l0, r0 = stack.pop()
            records.append((cls, aux, n, len(out) - l0, len(records) - r0 + 1))
    return out, TreeDef(tuple(records))


def flatten(tree: Any, is_leaf: IsLeafFn | None = None) -> tuple[list[Any], TreeDef]:
    """Flatten a pytree into its leaves and structure.

    Args:
        tree: The pytree.
        is_leaf: Optional predicate called on every node (containers and
            leaves alike) before it is taken apart; returning True makes that
            node a leaf.

    Returns:
        ``(leaves, treedef)``: leaves in depth-first, left-to-right order
        (dicts by sorted key), and the tree's :class:`TreeDef`.
    """
    return _flatten(tree, is_leaf)


def flatten_with_path(
    tree: Any, is_leaf: IsLeafFn | None = None
) -> tuple[list[tuple[KeyPath, Any]], TreeDef]:
    """Like :func:`flatten`, but pair each leaf with its key path.

    Returns:
        ``([(path, leaf), ...], treedef)`` where ``path`` is a tuple of key
        entries; render it with :func:`keystr`.
    """
    return _flatten_with_path(tree, is_leaf)


def unflatten(treedef: TreeDef, leaves: Iterable[Any]) -> Any:
    """Build a pytree with structure ``treedef`` from ``leaves``.

    Raises:
        ValueError: If the number of leaves does not match the treedef.
    """
    return treedef.unflatten(leaves)


def leaves(tree: Any, is_leaf: IsLeafFn | None = None) -> list[Any]:
    """Return the leaves of ``tree`` in flatten order."""
    return _flatten(tree, is_leaf)[0]


def leaves_with_path(
    tree: Any, is_leaf: IsLeafFn | None = None
) -> list[tuple[KeyPath, Any]]:
    """Return ``(key path, leaf)`` pairs of ``tree`` in flatten order."""
    return _flatten_with_path(tree, is_leaf)[0]


def structure(tree: Any, is_leaf: IsLeafFn | None = None) -> TreeDef:
    """Return the :class:`TreeDef` of ``tree``."""
    return _flatten(tree, is_leaf)[1]


# ---------------------------------------------------------------------------
# Mapping
# ---------------------------------------------------------------------------


def _flatten_rest(
    fname: str, tree: Any, treedef: TreeDef, rest: tuple, is_leaf: IsLeafFn | None
) -> list[list[Any]]:
    out = []
    for i, other in enumerate(rest):
        other_leaves, other_def = _flatten(other, is_leaf)
        if other_def != treedef:
            raise _structure_error(fname, tree, other, is_leaf, i + 1, len(rest))
        out.append(other_leaves)
    return out


def map(
    f: Callable[..., Any],
    tree: Any,
    *rest: Any,
    is_leaf: IsLeafFn | None = None,
) -> Any:
    """Apply ``f`` to corresponding leaves of one or more pytrees.

    Args:
        f: Called as ``f(leaf, *rest_leaves)`` for each leaf position.
        tree: The pytree whose structure the result takes.
        *rest: Further pytrees, each with exactly the same structure as
            ``tree`` (no broadcasting of leaves over subtrees).
        is_leaf: Optional leaf predicate, applied to all trees.

    Returns:
        A pytree with the structure of ``tree`` holding ``f``'s results.

    Raises:
        ValueError: If a tree in ``rest`` has a different structure; the
            message names the key path of the first difference.
    """
    tree_leaves, treedef = _flatten(tree, is_leaf)
    if not rest:
        return treedef.unflatten([f(x) for x in tree_leaves])
    others = _flatten_rest("tree.map", tree, treedef, rest, is_leaf)
    return treedef.unflatten([f(*xs) for xs in zip(tree_leaves, *others)])


def map_with_path(
    f: Callable[..., Any],
    tree: Any,
    *rest: Any,
    is_leaf: IsLeafFn | None = None,
) -> Any:
    """Like :func:`map`, but call ``f(path, leaf, *rest_leaves)``.

    ``path`` is the leaf's key path in ``tree`` (a tuple of key entries).
    """
    pairs, treedef = _flatten_with_path(tree, is_leaf)
    if not rest:
        return treedef.unflatten([f(p, x) for p, x in pairs])
    others = _flatten_rest("tree.map_with_path", tree, treedef, rest, is_leaf)
    return treedef.unflatten([f(p, x, *xs) for (p, x), *xs in zip(pairs, *others)])


# ---------------------------------------------------------------------------
# Structure-mismatch diagnostics (only run on the error path)
# ---------------------------------------------------------------------------

_MAPPING_TYPES = (dict, collections.OrderedDict, collections.defaultdict)


def _article(name: str) -> str:
    return "an" if name[:1].lower() in "aeiou" else "a"


def _describe(x: Any, handler: _NodeHandler | None, pairs: list, aux: Any) -> str:
    if handler is None:
        name = type(x).__name__
        return f"a leaf of type {name}"
    cls = type(x)
    if cls is type(None):
        return "None"
    name = cls.__name__
    if cls in _MAPPING_TYPES:
        keys = [k.key if isinstance(k, DictKey) else k for k, _ in pairs]
        return f"{_article(name)} {name} with keys {keys!r}"
    n = len(pairs)
    return f"{_article(name)} {name} of {n} {'child' if n == 1 else 'children'}"


def _classify(x: Any, is_leaf: IsLeafFn | None) -> _NodeHandler | None:
    if is_leaf is not None and is_leaf(x):
        return None
    return _handler_for(type(x))


def _find_difference(
    a: Any, b: Any, is_leaf: IsLeafFn | None
) -> tuple[KeyPath, str] | None:
    """Walk two trees in step; return (path, explanation) of the first
    difference in flatten order, or None if none was found."""
    stack: list[tuple[KeyPath, Any, Any]] = [((), a, b)]
    while stack:
        path, x, y = stack.pop()
        hx, hy = _classify(x, is_leaf), _classify(y, is_leaf)
        if hx is None and hy is None:
            continue
        px, ax = hx.flatten_with_keys(x) if hx is not None else ([], None)
        py, ay = hy.flatten_with_keys(y) if hy is not None else ([], None)
        dx, dy = _describe(x, hx, px, ax), _describe(y, hy, py, ay)
        if hx is None or hy is None or type(x) is not type(y):
            return path, f"expected {dx}, got {dy}"
        if type(x) in _MAPPING_TYPES:
            kx = [k for k, _ in px]
            ky = [k for k, _ in py]
            missing = [k.key for k in kx if k not in ky]
            extra = [k.key for k in ky if k not in kx]
            if missing or extra:
                detail = []
                if missing:
                    detail.append(f"missing keys {missing!r}")
                if extra:
                    detail.append(f"extra keys {extra!r}")
                return path, f"expected {dx}, got {dy} ({'; '.join(detail)})"
        if len(px) != len(py):
            return path, f"expected {dx}, got {dy}"
        if ax != ay:
            if type(x) is collections.defaultdict and ax[0] != ay[0]:
                return path, (
                    f"expected a defaultdict with default_factory {ax[0]!r}, "
                    f"got default_factory {ay[0]!r}"
                )
            if type(x) in _MAPPING_TYPES:
                return path, f"expected {dx}, got {dy} (same keys, different order)"
            return path, (f"expected {dx} with aux data {ax!r}, got aux data {ay!r}")
        for (k, cx), (_, cy) in reversed(list(zip(px, py))):
            stack.append(((*path, k), cx, cy))
    return None


def _structure_error(
    fname: str, a: Any, b: Any, is_leaf: IsLeafFn | None, index: int, count: int
) -> ValueError:
    where = f" (tree argument {index} vs. argument 0)" if count > 1 else ""
    found = _find_difference(a, b, is_leaf)
    if found is None:
        # Treedefs differ in a way the walk cannot localise (e.g. aux data
        # that is unequal to itself); fall back to showing both structures.
        return ValueError(
            f"{fname}: structures differ: expected "
            f"{_truncate(repr(structure(a, is_leaf)))}, got "
            f"{_truncate(repr(structure(b, is_leaf)))}{where}"
        )
    path, why = found
    return ValueError(
        f"{fname}: structures differ at {keystr(path) or '<root>'}: {why}{where}"
    )
