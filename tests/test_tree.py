"""Tests for lucid.tree (pytree flattening, treedefs, mapping, errors)."""

from __future__ import annotations

import importlib.util
import pickle
import sys
import timeit
from collections import OrderedDict, defaultdict, namedtuple
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


def _load_tree_module() -> Any:
    """Import lucid.tree, or load the file by path if the package is unusable.

    lucid is written in parallel by several people, so ``lucid/__init__.py``
    may be missing or temporarily broken; tree.py is stdlib-only and can be
    tested on its own.
    """
    try:
        import lucid.tree as mod
    except Exception:
        path = Path(__file__).resolve().parents[1] / "lucid" / "tree.py"
        spec = importlib.util.spec_from_file_location("lucid_tree", path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        # Registered before exec so dataclasses and pickle can find the module.
        sys.modules["lucid_tree"] = mod
        spec.loader.exec_module(mod)
    return mod


tree = _load_tree_module()

DictKey = tree.DictKey
SequenceKey = tree.SequenceKey
GetAttrKey = tree.GetAttrKey

Point = namedtuple("Point", ["x", "y"])
Pair = namedtuple("Pair", ["x", "y"])  # same fields as Point, different type


class Box:
    """Custom node with one child and hashable static aux data (``tag``)."""

    def __init__(self, value: Any, tag: str = "t") -> None:
        self.value = value
        self.tag = tag

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is Box and self.tag == other.tag and self.value == other.value
        )

    __hash__ = None  # type: ignore[assignment]


tree.register_pytree_node(
    Box,
    lambda b: ((b.value,), b.tag),
    lambda tag, children: Box(children[0], tag),
)


class Linear:
    """Custom node registered with key paths (children keyed by attribute)."""

    def __init__(self, weight: Any, bias: Any) -> None:
        self.weight = weight
        self.bias = bias


tree.register_pytree_node(
    Linear,
    lambda m: ([m.weight, m.bias], None),
    lambda aux, children: Linear(*children),
    lambda m: ([(GetAttrKey("weight"), m.weight), (GetAttrKey("bias"), m.bias)], None),
)


def same(a: Any, b: Any) -> bool:
    """Equality that also requires identical container types at every node
    (plain ``==`` treats OrderedDict == dict and namedtuple == tuple)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        if isinstance(a, OrderedDict) and list(a) != list(b):
            return False
        if isinstance(a, defaultdict) and a.default_factory is not b.default_factory:
            return False
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, Box):
        return a.tag == b.tag and same(a.value, b.value)
    if isinstance(a, Linear):
        return same(a.weight, b.weight) and same(a.bias, b.bias)
    return a == b


# ---------------------------------------------------------------------------
# Round trips and leaf order
# ---------------------------------------------------------------------------

ROUND_TRIP_CASES = [
    1,
    "string is a leaf",
    (),
    [],
    {},
    None,
    (1, 2, 3),
    (1,),
    [1, [2, [3, []]]],
    {"b": 2, "a": 1, "c": {"z": [1, 2], "y": (3,)}},
    OrderedDict([("z", 1), ("a", 2)]),
    defaultdict(list, {"k": [1, 2], "j": 3}),
    Point(1, [2, 3]),
    Point(x=(1, 2), y=None),
    [None, (None,), {"n": None}],
    {"mixed": [Point(1, 2), OrderedDict(a=(3,)), Box([4, 5], "tag")]},
    Linear(1.5, [2.5]),
    {1: "a", 2: "b"},
]


@pytest.mark.parametrize("value", ROUND_TRIP_CASES, ids=repr)
def test_round_trip(value: Any) -> None:
    leaves, treedef = tree.flatten(value)
    rebuilt = tree.unflatten(treedef, leaves)
    assert same(value, rebuilt)
    assert tree.structure(rebuilt) == treedef
    assert treedef.num_leaves == len(leaves)
    assert tree.leaves(value) == leaves


def test_leaf_order_is_depth_first_with_sorted_dict_keys() -> None:
    value = {"b": [3, (4, 5)], "a": 1, "c": {"y": 7, "x": 6}}
    assert tree.leaves(value) == [1, 3, 4, 5, 6, 7]


def test_dicts_with_different_insertion_order_have_equal_treedefs() -> None:
    assert tree.structure({"a": 1, "b": 2}) == tree.structure({"b": 2, "a": 1})
    rebuilt = tree.unflatten(tree.structure({"b": 0, "a": 0}), [1, 2])
    assert list(rebuilt) == ["a", "b"]


def test_unsortable_dict_keys_fall_back_to_insertion_order() -> None:
    value = {"s": 1, 0: 2, "a": 3}
    leaves, treedef = tree.flatten(value)
    assert leaves == [1, 2, 3]
    assert tree.unflatten(treedef, leaves) == value
    assert [tree.keystr(p) for p, _ in tree.leaves_with_path(value)] == [
        "['s']",
        "[0]",
        "['a']",
    ]


def test_ordered_dict_keeps_insertion_order_and_type() -> None:
    value = OrderedDict([("z", 1), ("a", 2)])
    leaves, treedef = tree.flatten(value)
    assert leaves == [1, 2]
    rebuilt = tree.unflatten(treedef, ["Z", "A"])
    assert type(rebuilt) is OrderedDict
    assert list(rebuilt.items()) == [("z", "Z"), ("a", "A")]
    # Order is part of an OrderedDict's structure, and it differs from a dict.
    assert treedef != tree.structure(OrderedDict([("a", 2), ("z", 1)]))
    assert treedef != tree.structure({"z": 1, "a": 2})


def test_defaultdict_keeps_default_factory() -> None:
    value = defaultdict(list, {"b": 1, "a": 2})
    leaves, treedef = tree.flatten(value)
    assert leaves == [2, 1]
    rebuilt = tree.unflatten(treedef, leaves)
    assert type(rebuilt) is defaultdict
    assert rebuilt.default_factory is list
    assert rebuilt["missing"] == []
    assert treedef != tree.structure(defaultdict(int, {"b": 1, "a": 2}))
    assert treedef != tree.structure({"b": 1, "a": 2})


def test_namedtuple_type_and_keys_preserved() -> None:
    value = Point(x=1, y=[2, 3])
    pairs, treedef = tree.flatten_with_path(value)
    assert [tree.keystr(p) for p, _ in pairs] == [".x", ".y[0]", ".y[1]"]
    rebuilt = tree.unflatten(treedef, [10, 20, 30])
    assert type(rebuilt) is Point
    assert rebuilt == Point(10, [20, 30])
    assert treedef != tree.structure((1, [2, 3]))
    assert treedef != tree.structure(Pair(1, [2, 3]))


def test_none_is_an_empty_node_not_a_leaf() -> None:
    assert tree.leaves(None) == []
    treedef = tree.structure(None)
    assert treedef.num_leaves == 0
    assert treedef.num_nodes == 1
    assert not treedef.is_leaf()
    assert treedef.unflatten([]) is None
    assert tree.leaves([None, 1, {"a": None}]) == [1]
    assert tree.map(lambda x: x + 1, [None, 1]) == [None, 2]
    # A leaf and None are different structures.
    assert tree.structure(None) != tree.structure(0)


def test_subclasses_of_builtin_containers_are_leaves() -> None:
    class MyList(list):
        pass

    class MyTuple(tuple):  # no _fields: not a namedtuple
        __slots__ = ()

    value = [MyList([1, 2]), MyTuple((3,))]
    assert tree.leaves(value) == value


# ---------------------------------------------------------------------------
# Key paths
# ---------------------------------------------------------------------------


def test_key_entries_render_and_hash() -> None:
    assert str(DictKey("a")) == "['a']"
    assert str(DictKey(1)) == "[1]"
    assert str(SequenceKey(0)) == "[0]"
    assert str(GetAttrKey("weight")) == ".weight"
    assert DictKey("a") == DictKey("a")
    assert len({DictKey("a"), DictKey("a"), SequenceKey(0), GetAttrKey("a")}) == 3
    with pytest.raises(AttributeError):
        DictKey("a").key = "b"  # frozen


def test_keystr() -> None:
    path = (DictKey("layers"), SequenceKey(0), GetAttrKey("weight"))
    assert tree.keystr(path) == "['layers'][0].weight"
    assert tree.keystr(()) == ""
    assert tree.keystr(path, simple=True, separator="/") == "layers/0/weight"


def test_flatten_with_path() -> None:
    value = {"layers": [Linear(1, 2), Linear(3, None)], "scale": (4.0,)}
    pairs, treedef = tree.flatten_with_path(value)
    assert [(tree.keystr(p), x) for p, x in pairs] == [
        ("['layers'][0].weight", 1),
        ("['layers'][0].bias", 2),
        ("['layers'][1].weight", 3),
        ("['scale'][0]", 4.0),
    ]
    assert treedef == tree.structure(value)
    assert tree.leaves_with_path(value) == pairs
    assert pairs[0][0] == (DictKey("layers"), SequenceKey(0), GetAttrKey("weight"))


def test_leaf_root_has_empty_path() -> None:
    assert tree.leaves_with_path(5) == [((), 5)]


# ---------------------------------------------------------------------------
# Custom registration
# ---------------------------------------------------------------------------


def test_custom_node_without_keys_uses_sequence_keys() -> None:
    value = Box([1, 2], "tag")
    pairs, treedef = tree.flatten_with_path(value)
    assert [(tree.keystr(p), x) for p, x in pairs] == [("[0][0]", 1), ("[0][1]", 2)]
    rebuilt = tree.unflatten(treedef, [5, 6])
    assert same(rebuilt, Box([5, 6], "tag"))
    assert treedef.node_type is Box
    assert treedef.node_data == "tag"


def test_custom_node_with_keys() -> None:
    pairs, _ = tree.flatten_with_path(Linear([1], 2))
    assert [tree.keystr(p) for p, _ in pairs] == [".weight[0]", ".bias"]
    rebuilt = tree.map(lambda x: x * 10, Linear([1], 2))
    assert same(rebuilt, Linear([10], 20))


def test_custom_flatten_may_return_a_generator() -> None:
    class Gen:
        def __init__(self, *items: Any) -> None:
            self.items = items

    tree.register_pytree_node(
        Gen, lambda g: ((x for x in g.items), None), lambda aux, ch: Gen(*ch)
    )
    leaves, treedef = tree.flatten([Gen(1, 2), 3])
    assert leaves == [1, 2, 3]
    assert tree.unflatten(treedef, leaves)[0].items == (1, 2)


def test_double_registration_raises() -> None:
    class Node:
        pass

    tree.register_pytree_node(Node, lambda n: ((), None), lambda aux, ch: Node())
    with pytest.raises(ValueError, match="already registered"):
        tree.register_pytree_node(Node, lambda n: ((), None), lambda aux, ch: Node())
    with pytest.raises(ValueError, match="already registered"):
        tree.register_pytree_node(list, lambda n: (n, None), lambda aux, ch: ch)
    with pytest.raises(TypeError):
        tree.register_pytree_node("not a type", lambda n: ((), None), lambda a, c: 0)


def test_registered_namedtuple_uses_custom_handler() -> None:
    Swapped = namedtuple("Swapped", ["a", "b"])
    tree.register_pytree_node(
        Swapped,
        lambda s: ((s.b, s.a), None),
        lambda aux, ch: Swapped(ch[1], ch[0]),
    )
    leaves, treedef = tree.flatten(Swapped(1, 2))
    assert leaves == [2, 1]
    assert tree.unflatten(treedef, leaves) == Swapped(1, 2)


# ---------------------------------------------------------------------------
# TreeDef
# ---------------------------------------------------------------------------


def test_treedef_equality_and_hash() -> None:
    a = tree.structure({"a": [1, 2], "b": (3, None)})
    b = tree.structure({"b": ("x", None), "a": [0.0, "y"]})
    assert a == b
    assert hash(a) == hash(b)
    assert a is not b
    cache = {a: "hit"}
    assert cache[b] == "hit"

    different = [
        {"a": [1, 2], "b": [3, None]},  # node type: tuple vs list
        {"a": [1, 2], "c": (3, None)},  # dict keys
        {"a": [1, 2, 3], "b": (3, None)},  # arity
        {"a": [1, [2]], "b": (3, None)},  # leaf vs node
        {"a": [1, 2], "b": (3, 4)},  # None vs leaf
        OrderedDict([("a", [1, 2]), ("b", (3, None))]),  # dict vs OrderedDict
    ]
    for value in different:
        assert tree.structure(value) != a, value
    assert len({tree.structure(v) for v in different} | {a}) == len(different) + 1


def test_treedef_aux_data_is_part_of_equality() -> None:
    assert tree.structure(Box(1, "x")) == tree.structure(Box(2, "x"))
    assert tree.structure(Box(1, "x")) != tree.structure(Box(1, "y"))
    assert tree.structure(Point(1, 2)) != tree.structure((1, 2))
    assert tree.structure([1]) != tree.structure((1,))
    assert tree.structure(1) == tree.structure("leaf")
    assert tree.structure(1) != "PyTreeDef(*)"


def test_treedef_properties_and_children() -> None:
    treedef = tree.structure({"a": 1, "b": [2, (3, 4)], "c": None})
    assert treedef.num_leaves == 4
    # dict + leaf + list + leaf + tuple + 2 leaves + None
    assert treedef.num_nodes == 8
    assert treedef.node_type is dict
    assert treedef.node_data == ("a", "b", "c")
    kids = treedef.children()
    assert kids == [
        tree.structure(0),
        tree.structure([0, (0, 0)]),
        tree.structure(None),
    ]
    assert kids[1].children()[1] == tree.structure((0, 0))
    assert kids[0].is_leaf()
    assert kids[0].children() == []
    assert kids[0].node_type is None


def test_treedef_repr() -> None:
    assert (
        repr(tree.structure({"a": 1, "b": [2, 3]}))
        == "PyTreeDef({'a': *, 'b': [*, *]})"
    )
    assert repr(tree.structure((1,))) == "PyTreeDef((*,))"
    assert repr(tree.structure(5)) == "PyTreeDef(*)"
    assert repr(tree.structure(None)) == "PyTreeDef(None)"
    assert repr(tree.structure(Point(1, (2, 3)))) == "PyTreeDef(Point(x=*, y=(*, *)))"
    assert (
        repr(tree.structure(Box([1], "t"))) == "PyTreeDef(CustomNode(Box['t'], [[*]]))"
    )
    assert "OrderedDict" in repr(tree.structure(OrderedDict(a=1)))
    assert "defaultdict(list" in repr(tree.structure(defaultdict(list, a=1)))


def test_treedef_is_immutable_and_picklable() -> None:
    treedef = tree.structure({"a": [Point(1, 2), OrderedDict(z=None)]})
    with pytest.raises(AttributeError):
        treedef._nodes = ()
    hash(treedef)  # populate the cache; it must not leak through pickle
    restored = pickle.loads(pickle.dumps(treedef))
    assert restored == treedef
    assert hash(restored) == hash(treedef)


def test_unflatten_accepts_any_iterable() -> None:
    treedef = tree.structure([0, (0, 0)])
    assert tree.unflatten(treedef, iter([1, 2, 3])) == [1, (2, 3)]
    assert treedef.unflatten((1, 2, 3)) == [1, (2, 3)]


# ---------------------------------------------------------------------------
# map / map_with_path / is_leaf
# ---------------------------------------------------------------------------


def test_map_one_tree() -> None:
    value = {"a": [1, 2], "b": Point(3, None)}
    assert same(tree.map(lambda x: x * 2, value), {"a": [2, 4], "b": Point(6, None)})


def test_map_two_and_three_trees() -> None:
    a = {"x": [1, 2], "y": (3,)}
    b = {"y": (30,), "x": [10, 20]}
    c = {"x": [100, 200], "y": (300,)}
    assert tree.map(lambda p, q: p + q, a, b) == {"x": [11, 22], "y": (33,)}
    assert tree.map(lambda p, q, r: p + q + r, a, b, c) == {
        "x": [111, 222],
        "y": (333,),
    }


def test_map_with_path() -> None:
    value = {"w": [1, 2], "b": Linear(3, 4)}
    out = tree.map_with_path(lambda p, x: f"{tree.keystr(p)}={x}", value)
    assert out["w"] == ["['w'][0]=1", "['w'][1]=2"]
    assert out["b"].weight == "['b'].weight=3"
    other = {"w": [10, 20], "b": Linear(30, 40)}
    summed = tree.map_with_path(lambda p, x, y: (len(p), x + y), value, other)
    assert summed["w"] == [(2, 11), (2, 22)]
    assert summed["b"].bias == (2, 44)


def test_is_leaf_stops_recursion() -> None:
    value = {"a": (1, 2), "b": [(3, 4), 5]}

    def is_tuple(x: Any) -> bool:
        return isinstance(x, tuple)

    leaves, treedef = tree.flatten(value, is_leaf=is_tuple)
    assert leaves == [(1, 2), (3, 4), 5]
    assert tree.unflatten(treedef, leaves) == value
    sizes = tree.map(
        lambda x: len(x) if isinstance(x, tuple) else x, value, is_leaf=is_tuple
    )
    assert sizes == {"a": 2, "b": [2, 5]}
    pairs = tree.leaves_with_path(value, is_leaf=is_tuple)
    assert [tree.keystr(p) for p, _ in pairs] == ["['a']", "['b'][0]", "['b'][1]"]


def test_is_leaf_is_called_on_every_node_including_root_and_none() -> None:
    seen: list[Any] = []

    def record(x: Any) -> bool:
        seen.append(x)
        return False

    value = [1, (None, 2)]
    tree.flatten(value, is_leaf=record)
    assert seen == [value, 1, (None, 2), None, 2]

    assert tree.leaves([None, 1], is_leaf=lambda x: x is None) == [None, 1]
    assert tree.leaves([1, 2], is_leaf=lambda x: isinstance(x, list)) == [[1, 2]]


def test_map_with_is_leaf_applies_to_all_trees() -> None:
    out = tree.map(
        lambda a, b: a + b,
        [(1, 2), 3],
        [(4,), 5],
        is_leaf=lambda x: isinstance(x, tuple),
    )
    assert out == [(1, 2, 4), 8]


# ---------------------------------------------------------------------------
# Error messages
# ---------------------------------------------------------------------------


def _map_error(*trees: Any, fn: Any = None) -> str:
    mapper = fn or tree.map
    with pytest.raises(ValueError) as info:
        if mapper is tree.map_with_path:
            mapper(lambda p, *xs: None, *trees)
        else:
            mapper(lambda *xs: None, *trees)
    return str(info.value)


def test_error_node_type_and_arity() -> None:
    msg = _map_error({"a": 1, "b": [1, [2, 3]]}, {"a": 1, "b": [1, (2, 3, 4)]})
    assert "structures differ at ['b'][1]" in msg
    assert "expected a list of 2 children, got a tuple of 3 children" in msg


def test_error_list_length() -> None:
    msg = _map_error([[1, 2]], [[1, 2, 3]])
    assert "at [0]:" in msg
    assert "expected a list of 2 children, got a list of 3 children" in msg


def test_error_dict_keys() -> None:
    msg = _map_error({"x": {"a": 1, "b": 2}}, {"x": {"a": 1, "c": 2}})
    assert "structures differ at ['x']:" in msg
    assert "missing keys ['b']" in msg
    assert "extra keys ['c']" in msg


def test_error_leaf_vs_node() -> None:
    msg = _map_error({"p": Point(1, 2)}, {"p": Point(1, [2])})
    assert "at ['p'].y:" in msg
    assert "expected a leaf of type int, got a list of 1 child" in msg
    msg = _map_error([1, (2,)], [1, 5])
    assert "at [1]:" in msg
    assert "expected a tuple of 1 child, got a leaf of type int" in msg


def test_error_none_vs_leaf() -> None:
    msg = _map_error({"a": None}, {"a": 0})
    assert "at ['a']:" in msg
    assert "expected None, got a leaf of type int" in msg


def test_error_namedtuple_vs_tuple_and_root_path() -> None:
    msg = _map_error(Point(1, 2), (1, 2))
    assert "at <root>:" in msg
    assert "expected a Point of 2 children, got a tuple of 2 children" in msg


def test_error_custom_aux_data() -> None:
    msg = _map_error([Box(1, "x")], [Box(1, "y")])
    assert "at [0]:" in msg
    assert "'x'" in msg and "'y'" in msg


def test_error_defaultdict_factory() -> None:
    msg = _map_error({"d": defaultdict(list, a=1)}, {"d": defaultdict(int, a=1)})
    assert "at ['d']:" in msg
    assert "default_factory" in msg


def test_error_ordered_dict_order() -> None:
    msg = _map_error([OrderedDict(a=1, b=2)], [OrderedDict(b=2, a=1)])
    assert "at [0]:" in msg
    assert "different order" in msg


def test_error_names_which_tree_among_several() -> None:
    msg = _map_error([1, [2]], [1, [2]], [1, [2, 3]])
    assert "at [1]:" in msg
    assert "argument 2" in msg


def test_error_from_map_with_path() -> None:
    msg = _map_error({"k": [1]}, {"k": [1, 2]}, fn=tree.map_with_path)
    assert msg.startswith("tree.map_with_path: structures differ at ['k']:")


def test_unflatten_wrong_leaf_count() -> None:
    treedef = tree.structure({"a": [1, 2], "b": 3})
    with pytest.raises(ValueError, match="expected 3 leaves, got 2"):
        tree.unflatten(treedef, [1, 2])
    with pytest.raises(ValueError, match="expected 3 leaves, got 4"):
        treedef.unflatten([1, 2, 3, 4])


# ---------------------------------------------------------------------------
# Depth and speed
# ---------------------------------------------------------------------------


def _deep(depth: int, bottom: Any) -> Any:
    value: Any = bottom
    for i in range(depth):
        value = [value, {"k": (i,)}] if i % 2 else Point(value, i)
    return value


def test_deep_nesting_beyond_recursion_limit() -> None:
    depth = sys.getrecursionlimit() + 500
    value = _deep(depth, 0)
    leaves, treedef = tree.flatten(value)
    assert len(leaves) == depth + 1
    rebuilt = tree.unflatten(treedef, leaves)
    assert tree.structure(rebuilt) == treedef
    assert hash(tree.structure(rebuilt)) == hash(treedef)
    assert repr(treedef).startswith("PyTreeDef(")
    pairs, _ = tree.flatten_with_path(value)
    assert len(pairs[0][0]) == depth
    assert tree.structure(tree.map(lambda x, y: x, value, rebuilt)) == treedef
    assert len(treedef.children()) == 2

    # A difference at the very bottom is still located and reported.
    with pytest.raises(ValueError) as info:
        tree.map(lambda x, y: x, value, _deep(depth, [0]))
    message = str(info.value)
    assert "expected a leaf of type int, got a list of 1 child" in message
    assert message.count(".x") + message.count("[0]") == depth


def test_flatten_speed_is_reasonable() -> None:
    value = {f"k{i}": float(i) for i in range(100)}
    n = 200
    per_call = min(timeit.repeat(lambda: tree.flatten(value), number=n, repeat=3)) / n
    # The target is well under 100 us; the bound is loose to avoid CI flakes.
    assert per_call < 1e-3


# ---------------------------------------------------------------------------
# Property-based round trips
# ---------------------------------------------------------------------------

_keys = st.text(alphabet="abcde", max_size=3)
_leaf = st.one_of(st.integers(), st.text(max_size=3), st.booleans(), st.none())


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(_keys, children, max_size=4),
        st.dictionaries(_keys, children, max_size=4).map(OrderedDict),
        st.dictionaries(_keys, children, max_size=3).map(
            lambda d: defaultdict(list, d)
        ),
        st.tuples(children, children).map(lambda t: Point(*t)),
        st.tuples(children, _keys).map(lambda t: Box(*t)),
        st.tuples(children, children).map(lambda t: Linear(*t)),
    )


_trees = st.recursive(_leaf, _containers, max_leaves=20)


@settings(max_examples=100, deadline=None, database=None)
@given(_trees)
def test_random_trees_round_trip(value: Any) -> None:
    leaves, treedef = tree.flatten(value)
    assert treedef.num_leaves == len(leaves)
    assert all(x is not None for x in leaves)  # None is a node, never a leaf
    rebuilt = tree.unflatten(treedef, leaves)
    assert same(value, rebuilt)

    again = tree.structure(rebuilt)
    assert again == treedef
    assert hash(again) == hash(treedef)

    pairs, path_def = tree.flatten_with_path(value)
    assert path_def == treedef
    assert [x for _, x in pairs] == leaves
    assert len({p for p, _ in pairs}) == len(pairs)  # paths are unique

    assert same(tree.map(lambda x: x, value), value)
    assert same(tree.map_with_path(lambda p, x, y: x, value, rebuilt), value)

    if not treedef.is_leaf():
        kids = treedef.children()
        assert sum(k.num_leaves for k in kids) == treedef.num_leaves
        assert sum(k.num_nodes for k in kids) == treedef.num_nodes - 1
    assert repr(treedef).startswith("PyTreeDef(")


@settings(max_examples=50, deadline=None, database=None)
@given(_trees, _trees)
def test_random_pairs_equal_iff_same_structure(a: Any, b: Any) -> None:
    da, db = tree.structure(a), tree.structure(b)
    zeroed_a = tree.unflatten(da, [0] * da.num_leaves)
    zeroed_b = tree.unflatten(db, [0] * db.num_leaves)
    assert (da == db) == same(zeroed_a, zeroed_b)
    if da == db:
        assert hash(da) == hash(db)
        tree.map(lambda x, y: None, a, b)
    else:
        with pytest.raises(ValueError, match=r"tree\.map: structures differ"):
            tree.map(lambda x, y: None, a, b)
