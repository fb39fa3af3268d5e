"""Typed JSON: every value type EvalPlus inputs use survives a round trip with its exact type."""

from __future__ import annotations

import math

import pytest

from stages.datasets import typed_json


def _same(a: object, b: object) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)  # type: ignore[arg-type]
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)  # type: ignore[index]
    return a == b


@pytest.mark.parametrize("value", [
    None, True, 0, -7, 10**40, 1.5, float("nan"), float("inf"), -float("inf"), "x$y", "",
    [1, [2.0, "a"]], (1, (2, 3)), (), {1, 2}, frozenset({"a"}), 1 + 2j,
    {"a": (1, 2)}, {1: "one", (1, 2): [3]}, {"$tuple": [1]}, b"\x00\xff", [set(), {}],
])
def test_round_trip_keeps_types(value: object) -> None:
    assert _same(typed_json.decode(typed_json.encode(value)), value)


def test_plain_json_stays_plain() -> None:
    assert typed_json.encode([[1, 2.0, "a", None, {"k": [True]}]]) == '[[1,2.0,"a",null,{"k":[true]}]]'


def test_canonical_ignores_dict_order_and_set_order() -> None:
    assert typed_json.canonical({"a": 1, "b": 2}) == typed_json.canonical({"b": 2, "a": 1})
    assert typed_json.canonical({3, 1, 2}) == typed_json.canonical({2, 3, 1})
    assert typed_json.canonical((1, 2)) != typed_json.canonical([1, 2])


def test_unencodable_and_bad_text_are_named_errors() -> None:
    with pytest.raises(typed_json.TypedJsonError, match="object"):
        typed_json.encode(object())
    with pytest.raises(typed_json.TypedJsonError):
        typed_json.decode("[1,")
