"""The value codec: exact types only, canonical text, strict comparison with float tolerance."""

from __future__ import annotations

import json
import math

import pytest

from stages.verifiers.sandbox.codec import Unencodable, canonical, encode, project, strict_equal


def test_projection_follows_json_for_containers():
    assert project((1, [2, 3])) == [1, [2, 3]]
    assert project({3, 1, 2}) == [1, 2, 3]
    assert project({1: "a", None: 2, False: 3}) == {"1": "a", "null": 2, "false": 3}
    assert json.loads(encode({"b": 1, "a": (2.5, None)})) == {"a": [2.5, None], "b": 1}


def test_canonical_text_ignores_dict_order():
    assert encode({"a": 1, "b": 2}) == encode({"b": 2, "a": 1})


class _Liar(int):
    def __eq__(self, other):
        return True

    def __repr__(self):
        return "3"

    __hash__ = int.__hash__


class _FakeClass:
    __class__ = int  # isinstance(x, int) would say True; type() does not lie


@pytest.mark.parametrize("value", [object(), _FakeClass(), type("X", (), {"__iter__": lambda s: iter([1])})()])
def test_anything_but_builtin_data_is_unencodable(value):
    with pytest.raises(Unencodable):
        project(value)


def test_subclasses_of_builtins_are_read_as_their_base_value():
    from collections import Counter, OrderedDict, namedtuple

    assert project(_Liar(0)) == 0  # its __eq__ and __repr__ take no part
    assert project(Counter("aab")) == {"a": 2, "b": 1}
    assert project(OrderedDict(b=1)) == {"b": 1}
    assert project(namedtuple("P", "x y")(1, 2)) == [1, 2]
    assert project(type("S", (str,), {"__str__": lambda s: "lie"})("truth")) == "truth"


def test_self_reference_is_unencodable_not_a_crash():
    loop: list = []
    loop.append(loop)
    with pytest.raises(Unencodable):
        project(loop)


def test_non_finite_floats_round_trip():
    text = encode([math.inf, -math.inf, math.nan])
    out = json.loads(text)
    assert out[0] == math.inf and out[1] == -math.inf and math.isnan(out[2])


def test_bool_never_equals_a_number():
    assert not strict_equal(True, 1)
    assert not strict_equal(1, True)
    assert not strict_equal(0, False)
    assert not strict_equal(None, 0)
    assert not strict_equal("1", 1)


def test_numbers_compare_by_value_with_tolerance():
    assert strict_equal(2, 2.0) and strict_equal(2.0, 2)
    assert strict_equal(0.1 + 0.2, 0.3)  # default atol 1e-6 for float outputs (as EvalPlus)
    assert not strict_equal(0.31, 0.3)
    assert strict_equal(0.31, 0.3, atol=0.05)
    assert strict_equal(math.nan, math.nan)
    assert not strict_equal(math.inf, 1e308)


def test_containers_compare_elementwise():
    assert strict_equal([1, [2.0, "a"]], [1, [2, "a"]])
    assert not strict_equal([1, 2], [1, 2, 3])
    assert not strict_equal({"a": 1}, {"a": 1, "b": 2})
    assert not strict_equal([True], [1])
    assert canonical([1, 2]) == "[1,2]"


def test_typed_inputs_round_trip_and_match_the_dataset_format():
    from stages.datasets import typed_json
    from stages.verifiers.sandbox.codec import decode_typed, encode_args

    args = [(1, (2, 3)), {4, 5}, frozenset({6}), 1 + 2j, math.inf, {1: "a"}, {"k": [b"x"]}]
    text = encode_args(args)
    assert decode_typed(json.loads(text)) == args
    assert [type(v) for v in decode_typed(json.loads(text))] == [type(v) for v in args]
    assert typed_json.decode(text) == args  # the same format as stages/datasets/typed_json.py


def test_set_equal_is_evalplus_set_semantics():
    from stages.verifiers.sandbox.codec import set_equal

    assert set_equal({"$tuple": ["b", "a"]}, {"$tuple": ["a", "b"]})
    assert set_equal(["a", "b", "a"], {"$set": ["a", "b"]})  # set(out) == set(exp)
    assert not set_equal(["a"], ["a", "b"])
    assert not set_equal("ab", ["a", "b"])  # a string is not a collection here
    assert not set_equal([1], [True])  # elements keep their JSON type


def test_strict_equal_survives_ints_beyond_float_range():
    """Found on MBPP+: a candidate returned an int of ~400 digits where a float was expected."""
    assert not strict_equal(10**400, 1.5)
    assert not strict_equal(1.5, 10**400)
    assert strict_equal(10**400, 10**400)
