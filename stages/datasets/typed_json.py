"""Typed JSON for test inputs and expected outputs: tuples, sets, complex and non-finite floats.

The problems table stores test inputs and expected outputs as JSON text (``inputs_weak`` ...),
but JSON has no tuples, sets, complex numbers, NaN or dicts with non-string keys, and EvalPlus
relies on all of them (MBPP+ passes tuples to functions whose contract asserts
``isinstance(x, tuple)``; expected outputs are compared strictly by type). Plain JSON values
stay plain; anything JSON cannot say is a one-key object whose key starts with ``$``::

    (1, 2)            -> {"$tuple": [1, 2]}
    {1, 2}            -> {"$set": [1, 2]}          (elements in a canonical order)
    frozenset({1})    -> {"$frozenset": [1]}
    1+2j              -> {"$complex": [1.0, 2.0]}
    float("nan")      -> {"$float": "nan"}         ("inf", "-inf" likewise)
    {"a": 1}          -> {"a": 1}                  (string keys, none starting with "$")
    {1: "a"}          -> {"$dict": [[1, "a"]]}     (any other dict)
    b"ab"             -> {"$bytes": "6162"}

``encode(value)`` and ``decode(text)`` round-trip these exactly (``decode(encode(v)) == v`` with
equal types at every depth). Decoding is the sandbox's (``stages/verifiers/sandbox/codec.py``,
whose standard-library-only source runs inside the sandbox): one decoder for both sides.
"""

from __future__ import annotations

import json
import math
from typing import Any

from stages.verifiers.sandbox.codec import decode_typed


class TypedJsonError(ValueError):
    """A value has a type the format cannot carry, or a text is not valid typed JSON."""


def to_jsonable(value: Any) -> Any:
    """The plain-JSON structure that stands for ``value`` (see the module docstring)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return float(value)
        return {"$float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, list):
        return [to_jsonable(v) for v in value]
    if isinstance(value, tuple):
        return {"$tuple": [to_jsonable(v) for v in value]}
    if isinstance(value, set | frozenset):
        items = sorted((to_jsonable(v) for v in value), key=_order_key)
        return {"$frozenset" if isinstance(value, frozenset) else "$set": items}
    if isinstance(value, complex):
        return {"$complex": [to_jsonable(value.real), to_jsonable(value.imag)]}
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: to_jsonable(v) for k, v in value.items()}
        return {"$dict": [[to_jsonable(k), to_jsonable(v)] for k, v in value.items()]}
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    raise TypedJsonError(f"cannot encode a value of type {type(value).__name__}")


def _order_key(item: Any) -> str:
    return json.dumps(item, sort_keys=True)


def from_jsonable(item: Any) -> Any:
    """Inverse of :func:`to_jsonable`: the sandbox's own decoder (``codec.decode_typed``), so that
    what the problems table stores and what a sandboxed candidate receives cannot drift apart."""
    return decode_typed(item)


def encode(value: Any) -> str:
    """Compact typed-JSON text of ``value``."""
    return json.dumps(to_jsonable(value), separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def decode(text: str) -> Any:
    """The value that ``text`` (made by :func:`encode`) stands for."""
    try:
        return from_jsonable(json.loads(text))
    except (json.JSONDecodeError, TypeError, ValueError, KeyError, IndexError) as exc:
        raise TypedJsonError(f"not valid typed JSON: {exc}") from None


def canonical(value: Any) -> str:
    """A canonical text for de-duplication: equal typed values give equal texts."""
    return json.dumps(to_jsonable(value), sort_keys=True, separators=(",", ":"), allow_nan=False)
