"""Wrong programs made by mutating the reference's AST, for the synthetic stand-in policy.

Classic mutation operators (as in mutation testing; cf. the "plausible but wrong" programs that
weak test suites accept, Liu et al. 2023, EvalPlus): swapped arithmetic/boolean operators,
off-by-one integer constants, flipped comparisons, negated conditions, dropped statements,
wrong return values. Only the completion's statements are mutated (never the prompt), and a
mutant always differs from the reference in AST. When the completion is the whole program
(empty prefix, MBPP+), only its function and class definitions are mutated (never the imports
or module-level setup), and a crude wrong program keeps the module but empties the entry point. Some mutants are behaviourally equivalent or
still pass the weak tests: that is the false-positive phenomenon the project measures.

Sites are enumerated in ``ast.walk`` order on a fresh parse, so a mutant is fully named by
``(operator, site index, choice)``: the same draw gives the same program on every run.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Final

import numpy as np

from stages.backends.code_variants import FuncDef, ProgramSplit

_ARITH: Final[dict[type, tuple[type, ...]]] = {
    ast.Add: (ast.Sub, ast.Mult), ast.Sub: (ast.Add, ast.Mult), ast.Mult: (ast.Add, ast.FloorDiv),
    ast.Div: (ast.Mult, ast.FloorDiv), ast.FloorDiv: (ast.Mod, ast.Mult),
    ast.Mod: (ast.FloorDiv, ast.Sub),
    ast.Pow: (ast.Mult, ast.Add), ast.LShift: (ast.RShift,), ast.RShift: (ast.LShift,),
    ast.BitAnd: (ast.BitOr,), ast.BitOr: (ast.BitAnd,), ast.BitXor: (ast.BitOr,),
}  # fmt: skip
_COMPARE: Final[dict[type, tuple[type, ...]]] = {
    ast.Lt: (ast.LtE, ast.Gt), ast.LtE: (ast.Lt, ast.GtE), ast.Gt: (ast.GtE, ast.Lt),
    ast.GtE: (ast.Gt, ast.LtE), ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,),
    ast.In: (ast.NotIn,), ast.NotIn: (ast.In,), ast.Is: (ast.IsNot,), ast.IsNot: (ast.Is,),
}  # fmt: skip

Site = tuple[ast.AST, str, int]  # (owner node, field, index within the field's list or -1)


def _walk(nodes: list[ast.stmt]) -> list[ast.AST]:
    return [n for root in nodes for n in ast.walk(root)]


def _arith_sites(nodes: list[ast.stmt]) -> list[Site]:
    return [(n, "op", -1) for n in _walk(nodes) if isinstance(n, ast.BinOp | ast.AugAssign)
            and type(n.op) in _ARITH]  # fmt: skip


def _arith_apply(site: Site, choice: int) -> None:
    node = site[0]
    options = _ARITH[type(node.op)]  # type: ignore[attr-defined]
    node.op = options[choice % len(options)]()  # type: ignore[attr-defined]


def _const_sites(nodes: list[ast.stmt]) -> list[Site]:
    return [(n, "value", -1) for n in _walk(nodes) if isinstance(n, ast.Constant)
            and isinstance(n.value, int) and not isinstance(n.value, bool)]  # fmt: skip


def _const_apply(site: Site, choice: int) -> None:
    node = site[0]
    node.value += 1 if choice % 2 else -1  # type: ignore[attr-defined]


def _compare_sites(nodes: list[ast.stmt]) -> list[Site]:
    return [(n, "ops", i) for n in _walk(nodes) if isinstance(n, ast.Compare)
            for i, op in enumerate(n.ops) if type(op) in _COMPARE]  # fmt: skip


def _compare_apply(site: Site, choice: int) -> None:
    node, _, i = site
    options = _COMPARE[type(node.ops[i])]  # type: ignore[attr-defined]
    node.ops[i] = options[choice % len(options)]()  # type: ignore[attr-defined]


def _condition_sites(nodes: list[ast.stmt]) -> list[Site]:
    return [(n, "test", -1) for n in _walk(nodes) if isinstance(n, ast.If | ast.While | ast.IfExp)]


def _condition_apply(site: Site, choice: int) -> None:
    node = site[0]
    test = node.test  # type: ignore[attr-defined]
    negated = isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)
    flipped = test.operand if negated else ast.UnaryOp(op=ast.Not(), operand=test)
    node.test = flipped  # type: ignore[attr-defined]


def _boolop_sites(nodes: list[ast.stmt]) -> list[Site]:
    return [(n, "op", -1) for n in _walk(nodes) if isinstance(n, ast.BoolOp)]


def _boolop_apply(site: Site, choice: int) -> None:
    node = site[0]
    node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()  # type: ignore[attr-defined]


def _drop_sites(nodes: list[ast.stmt]) -> list[Site]:
    sites: list[Site] = []
    for n in _walk(nodes):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(n, field, None)
            if isinstance(block, list) and len(block) > 1 and isinstance(block[0], ast.stmt):
                sites.extend((n, field, i) for i in range(len(block)))
    return sites


def _drop_apply(site: Site, choice: int) -> None:
    node, field, i = site
    del getattr(node, field)[i]


def _return_sites(nodes: list[ast.stmt]) -> list[Site]:
    return [(n, "value", -1) for n in _walk(nodes)
            if isinstance(n, ast.Return) and n.value is not None]  # fmt: skip


def _return_apply(site: Site, choice: int) -> None:
    """Return something plausible but wrong: the negation of a boolean, else a constant."""
    node = site[0]
    value = node.value  # type: ignore[attr-defined]
    if isinstance(value, ast.Compare | ast.BoolOp) or (
        isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.Not)
    ):
        node.value = ast.UnaryOp(op=ast.Not(), operand=value)  # type: ignore[attr-defined]
        return
    wrong = (None, 0, 1, "", [])[choice % 5]
    new = ast.List(elts=[], ctx=ast.Load()) if wrong == [] else ast.Constant(wrong)
    node.value = new  # type: ignore[attr-defined]


Operator = tuple[Callable[[list[ast.stmt]], list[Site]], Callable[[Site, int], None]]
OPERATORS: Final[dict[str, Operator]] = {
    "swap_arith_op": (_arith_sites, _arith_apply),
    "off_by_one_const": (_const_sites, _const_apply),
    "flip_compare": (_compare_sites, _compare_apply),
    "negate_condition": (_condition_sites, _condition_apply),
    "swap_bool_op": (_boolop_sites, _boolop_apply),
    "drop_statement": (_drop_sites, _drop_apply),
    "wrong_return": (_return_sites, _return_apply),
}
# How many distinct variants each operator's ``choice`` selects among (upper bound).
CHOICES: Final[dict[str, int]] = {
    "swap_arith_op": 2, "off_by_one_const": 2, "flip_compare": 2, "negate_condition": 1,
    "swap_bool_op": 1, "drop_statement": 1, "wrong_return": 5,
}  # fmt: skip
CRUDE: Final[dict[str, str]] = {"crude_return_none": "return None", "crude_pass": "pass"}


def _sites(
    operator: str, split: ProgramSplit, tree: ast.Module, func: ast.AST | None
) -> list[Site]:
    """Sites of one operator; dropping may also hit the function's own completion statements."""
    if func is None:  # whole module: the definitions (the entry point, helpers), not the setup
        defs = [s for s in tree.body if isinstance(s, FuncDef | ast.ClassDef)]
        return OPERATORS[operator][0](defs or tree.body)
    sites = OPERATORS[operator][0](split.completion_nodes(tree, func))  # type: ignore[arg-type]
    own = len(func.body) - split.body_start  # type: ignore[attr-defined]
    if operator == "drop_statement" and own > 1:
        sites += [(func, "body", split.body_start + i) for i in range(own)]
    return sites


def site_counts(split: ProgramSplit) -> dict[str, int]:
    """How many sites each operator has in the completion (operators with none are omitted)."""
    tree, func = split.parse()
    counts = {name: len(_sites(name, split, tree, func)) for name in OPERATORS}
    return {name: n for name, n in counts.items() if n}


def mutate(split: ProgramSplit, operator: str, site: int, choice: int) -> str | None:
    """The completion with one mutation applied, or None if it leaves the AST unchanged."""
    tree, func = split.parse()
    OPERATORS[operator][1](_sites(operator, split, tree, func)[site], choice)
    try:
        text = split.render(tree, func)
        if text == split.reference_render:  # unparse is a function of the AST: unchanged
            return None
        ast.parse(split.prefix + text)
    except (SyntaxError, ValueError, RecursionError):
        return None
    return text


def draw_mutant(
    split: ProgramSplit, counts: dict[str, int], rng: np.random.Generator, cache: dict
) -> tuple[str, str] | None:
    """Draw (operator name, completion) of a mutant that differs from the reference, or None.

    All random draws happen before any cache lookup, so results never depend on the cache.
    """
    if not counts:
        return None
    names = sorted(counts)
    order = [names[i] for i in rng.permutation(len(names))]
    picks = [(int(rng.integers(counts[n])), int(rng.integers(CHOICES[n]))) for n in order]
    for name, (site, choice) in zip(order, picks, strict=True):
        for offset in range(counts[name]):  # deterministic scan from the drawn site
            key = (name, (site + offset) % counts[name], choice)
            if key not in cache:
                cache[key] = mutate(split, *key)
            if cache[key] is not None:
                return name, cache[key]
    return None


def crude_completion(indent: str, lead: str, kind: str) -> str:
    """A crude wrong body (``return None`` / ``pass``) at the body's indentation."""
    return f"{lead}{indent}{CRUDE[kind]}\n"


def crude_program(split: ProgramSplit, entry_point: str, kind: str) -> str:
    """A whole program (whole-module split) whose entry point's body is only the crude statement.

    Imports and helpers stay, so the program loads and the entry point exists but is wrong. The
    entry point is the top-level function of that name, else the last top-level function; a
    module without one gets a crude ``def entry_point(*args, **kwargs)`` appended.
    """
    tree, _ = split.parse()
    funcs = [s for s in tree.body if isinstance(s, FuncDef)]
    named = [f for f in funcs if f.name == entry_point]
    target = (named or funcs or [None])[-1]
    body = ast.parse(CRUDE[kind]).body
    if target is None:
        return split.lead + ast.unparse(tree) + "\n\n\n" + crude_function(entry_point, kind)
    target.body = body
    return split.lead + ast.unparse(tree) + "\n"


def crude_function(entry_point: str, kind: str) -> str:
    """A whole program that only defines a crude ``entry_point`` (for an unparsable reference)."""
    return f"def {entry_point or 'solution'}(*args, **kwargs):\n    {CRUDE[kind]}\n"
