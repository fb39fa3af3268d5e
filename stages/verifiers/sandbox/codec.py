"""The value codec shared by the sandbox child and the trusted parent: builtin data, no pickle.

Why not ``pickle`` or ``out == expected``: both let the candidate's objects run code in the
judge (``__reduce__``, ``__eq__``). A candidate's return value is instead *projected* inside the
sandbox onto plain JSON values, reading only builtin data through the builtin types' own methods
(a subclass's overrides are never called; a custom object is refused), and sent as canonical
JSON text (``type()`` decides, which a candidate cannot fake). The parent parses that text
with ``json`` (data only) and compares it with the expected value (:func:`evalplus_equal` by
default, :func:`strict_equal` as an option), so no candidate code ever runs where the verdict
is decided.

The projection is the one JSON itself imposes, so that expected outputs stored as JSON (as the
problems table does) compare like for like: tuples become lists, sets become sorted lists,
dict keys become strings as ``json.dumps`` makes them. ``bytes`` and ``complex`` get tagged
objects. This module must stay standard-library only: its source is sent into the sandbox.
"""

import json
import math
import sys

MAX_DEPTH = 200
FLOAT_DEFAULT_ATOL = 1e-6  # EvalPlus's tolerance for float outputs when a task gives none
FLOAT_RTOL = 1e-7  # as numpy.testing.assert_allclose, which EvalPlus uses


def allow_long_ints():
    """Lift CPython's 4,300-digit limit on int <-> decimal text (3.11+) in this process.

    Why: outputs are exchanged as JSON text, and a reference may well return an int with more
    digits (e.g. a big factorial); both the sandbox child (encoding) and the parent (decoding,
    encoding expected values) must accept it. Output size is bounded by the output cap instead.
    """
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(0)


allow_long_ints()  # on import: the parent and (this source is sent into it) the sandbox


class Unencodable(Exception):
    """A value holds something other than builtin data (see :func:`project`)."""


def _key(k, depth):
    projected = project(k, depth + 1)
    if type(projected) is str:
        return projected
    if type(projected) is bool:
        return "true" if projected else "false"
    if projected is None:
        return "null"
    if type(projected) is int:
        return int.__repr__(projected)
    if type(projected) is float:
        return float.__repr__(projected)
    return canonical(projected)


def project(value, depth=0):
    """The JSON value of ``value``: builtin data only, read through the builtin types' own
    methods (see module doc).

    An instance of a subclass of a builtin (``Counter``, ``OrderedDict``, a named tuple, an
    ``int`` subclass) is read as its builtin base value, through the base type's methods, so
    none of its overrides (``__eq__``, ``__iter__``, ``__repr__``) takes part; anything else
    (custom objects, numpy scalars other than ``float64``) is unencodable.
    """
    if depth > MAX_DEPTH:
        raise Unencodable("nested too deeply (or self-referencing)")
    t = type(value)
    if value is None or t is bool:
        return value
    if issubclass(t, int):
        return int.__int__(value)
    if issubclass(t, float):
        return float.__float__(value)
    if issubclass(t, str):
        return str.__str__(value)
    if issubclass(t, list):
        return [project(v, depth + 1) for v in list.__iter__(value)]
    if issubclass(t, tuple):
        return [project(v, depth + 1) for v in tuple.__iter__(value)]
    if issubclass(t, dict):
        return {_key(k, depth): project(v, depth + 1) for k, v in dict.items(value)}
    if issubclass(t, (set, frozenset)):
        items = set.__iter__(value) if issubclass(t, set) else frozenset.__iter__(value)
        return sorted((project(v, depth + 1) for v in items), key=canonical)
    if issubclass(t, bytes):
        return {"__bytes__": bytes.hex(value)}
    if t is complex:
        return {"__complex__": [value.real, value.imag]}
    raise Unencodable("unencodable output of type " + t.__name__)


def canonical(value):
    """Canonical JSON text of a projected value: equal text means equal type and value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=True)


def encode(value):
    """Project and serialize in one step (what the sandbox child reports per input)."""
    return canonical(project(value))


def _float_close(out, exp, atol):
    if math.isnan(exp):
        return math.isnan(out)
    if math.isinf(exp) or math.isinf(out):
        return out == exp
    tol = atol if atol > 0 else FLOAT_DEFAULT_ATOL
    return abs(out - exp) <= tol + FLOAT_RTOL * abs(exp)


def is_floats(value):
    """EvalPlus's ``is_floats`` on a parsed JSON value: a float, or a non-empty list of floats
    (tuples arrive as lists). Where a task gives no ``atol``, such an expected output switches
    EvalPlus's comparison to a tolerance of 1e-6 (see :func:`evalplus_equal`)."""
    if type(value) is float:
        return True
    return type(value) is list and bool(value) and all(type(v) is float for v in value)


def _allclose(out, exp, atol):
    """``np.allclose(out, exp, rtol=1e-7, atol=atol)`` on parsed JSON values of equal shape:
    numbers (bool counts as 0/1, as in numpy) within ``atol + rtol x |exp|``, infinities equal
    only to themselves, NaN to nothing (``equal_nan=False``); anything else (strings, None,
    objects, ragged lists, where numpy raises) is not close."""
    if type(exp) is list:
        return type(out) is list and len(out) == len(exp) and all(
            _allclose(o, e, atol) for o, e in zip(out, exp))
    if type(out) not in (int, float, bool) or type(exp) not in (int, float, bool):
        return False
    o, e = float(out), float(exp)
    if math.isinf(o) or math.isinf(e):
        return o == e
    return abs(o - e) <= atol + FLOAT_RTOL * abs(e)


def evalplus_equal(out, exp, atol=0.0):
    """EvalPlus 0.3.1's comparison (``evalplus/eval/__init__.py``, ``unsafe_execute``) on
    decoded builtin values: ``out == exp`` (Python's numeric equality: ``1 == True == 1.0``,
    lists element by element); failing that, when ``atol`` is not 0 (the task's, or the 1e-6
    EvalPlus enforces once a float expected output was seen: the caller tracks that), the same
    type, the same length, and :func:`_allclose`. Safe in the parent: both sides are data
    parsed by ``json``, so ``==`` runs no candidate code."""
    try:
        if out == exp:
            return True
        if atol == 0 or type(out) is not type(exp):
            return False
        return _allclose(out, exp, atol)
    except OverflowError:  # an int beyond float range is no float's neighbour
        return False


def strict_equal(out, exp, atol=0.0):
    """Equality of two parsed JSON values by type and value; floats within tolerance (the
    stricter option, ``verify.compare: strict``).

    ``bool`` never equals a number; ``int`` and ``float`` compare by value (Python's and
    EvalPlus's numeric semantics: returning ``2`` for ``2.0`` is right). Strings, ``None``,
    lists and objects compare exactly, element by element.
    """
    to, te = type(out), type(exp)
    try:
        if te is float:
            return (to is float or to is int) and _float_close(float(out), exp, atol)
        if te is int and to is float:
            return _float_close(out, float(exp), atol)
    except OverflowError:  # an int beyond float range is no float's neighbour
        return False
    if te is int:
        return to is int and out == exp
    if to is not te:
        return False
    if te is list:
        return len(out) == len(exp) and all(strict_equal(o, e, atol) for o, e in zip(out, exp))
    if te is dict:
        return out.keys() == exp.keys() and all(strict_equal(out[k], exp[k], atol) for k in exp)
    return out == exp


_COLLECTIONS = ("$tuple", "$set", "$frozenset")


def _elements(value):
    if type(value) is list:
        return value
    if type(value) is dict and len(value) == 1 and next(iter(value)) in _COLLECTIONS:
        return next(iter(value.values()))
    return None


def set_equal(out, exp):
    """EvalPlus's set-equality oracle (``set(out) == set(exp)``) on parsed JSON values.

    For MBPP+ tasks whose reference returns e.g. ``tuple(set(...))``: its order changes with
    each process's hash seed, so the order of a candidate's elements cannot matter. Lists,
    tuples and sets all count as collections; elements compare by their canonical JSON text.
    """
    a, b = _elements(out), _elements(exp)
    if a is None or b is None:
        return False
    return {json.dumps(x, sort_keys=True) for x in a} == {json.dumps(x, sort_keys=True) for x in b}


# -- inputs: typed JSON, so that a candidate gets the very types the dataset gives --------------
# Inputs are trusted data going *into* the sandbox, and EvalPlus relies on tuples, sets and the
# like there (MBPP+ contracts assert ``isinstance(x, tuple)``). They travel in the typed-JSON
# format of ``stages/datasets/typed_json.py`` (one-key ``{"$tuple": [...]}`` objects, ...),
# re-implemented here because this module's source runs inside the sandbox.
TYPED_TAGS = ("$tuple", "$set", "$frozenset", "$complex", "$float", "$dict", "$bytes")


def _typed(value):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return float(value)
        return {"$float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    if isinstance(value, tuple):
        return {"$tuple": [_typed(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        tag = "$frozenset" if isinstance(value, frozenset) else "$set"
        return {tag: sorted((_typed(v) for v in value), key=canonical)}
    if isinstance(value, complex):
        return {"$complex": [_typed(value.real), _typed(value.imag)]}
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in TYPED_TAGS:
            return value  # already typed JSON (a decoder left it tagged): pass it through
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: _typed(v) for k, v in value.items()}
        return {"$dict": [[_typed(k), _typed(v)] for k, v in value.items()]}
    raise Unencodable("input of type " + type(value).__name__ + " cannot be sent")


def encode_args(args):
    """Typed-JSON text of one call's argument list (what the sandbox child decodes)."""
    return json.dumps(_typed(list(args)), separators=(",", ":"), allow_nan=False)


def decode_typed(item):
    """Inverse of the typed-JSON structure: tuples, sets, ... rebuilt (runs in the sandbox)."""
    if isinstance(item, list):
        return [decode_typed(v) for v in item]
    if not isinstance(item, dict):
        return item
    if len(item) == 1:
        tag, body = next(iter(item.items()))
        if tag == "$tuple":
            return tuple(decode_typed(v) for v in body)
        if tag == "$set":
            return {decode_typed(v) for v in body}
        if tag == "$frozenset":
            return frozenset(decode_typed(v) for v in body)
        if tag == "$complex":
            return complex(decode_typed(body[0]), decode_typed(body[1]))
        if tag == "$float":
            return float(body)
        if tag == "$dict":
            return {decode_typed(k): decode_typed(v) for k, v in body}
        if tag == "$bytes":
            return bytes.fromhex(body)
    return {k: decode_typed(v) for k, v in item.items()}

