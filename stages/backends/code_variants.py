"""Harmless textual variation of a reference solution, for the synthetic stand-in policy.

A completion is text appended to ``program_prefix`` (HumanEval: the prompt, which ends inside
the function header/docstring). :class:`ProgramSplit` parses ``prefix + reference`` once, finds
the function whose body the boundary falls inside, and re-emits only the statements after the
boundary (with the body's indentation) plus any module-level code the reference adds (helper
functions), so that ``prefix + completion`` is exactly the varied program and the prefix is
never touched. With an empty prefix (MBPP+: the reference is the whole program) the split is
*whole-module*: every statement belongs to the completion, the completion is the whole varied
program, and the locals of every top-level function may be renamed.

Variation never changes behaviour: locals are renamed only when the rename is provably
consistent (names bound in the function's own scope; never parameters, globals, builtins,
attributes, names bound in nested scopes or patterns, or functions that use ``locals()``/
``eval``), ``ast.unparse`` reformats, and comment lines are inserted only where the tokenizer
says a logical line starts (never inside a string or after a backslash continuation).
"""

from __future__ import annotations

import ast
import builtins
import io
import keyword
import tokenize
from dataclasses import dataclass
from functools import cached_property

import numpy as np

FuncDef = ast.FunctionDef | ast.AsyncFunctionDef
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_REFLECTIVE = frozenset({"locals", "vars", "eval", "exec", "globals", "dir"})
_RESERVED = frozenset(dir(builtins)) | frozenset(keyword.kwlist) | frozenset(keyword.softkwlist)
NAME_POOL: tuple[str, ...] = (
    "acc", "buf", "cur", "res", "tmp", "val", "item", "elem", "total", "out",
    "state", "part", "chunk", "node", "idx", "pos", "step", "seen", "current", "value",
)  # fmt: skip
COMMENTS: tuple[str, ...] = (
    "# compute the result",
    "# handle the general case",
    "# walk through the input",
    "# edge cases first",
    "# build up the answer",
    "# straightforward approach",
    "# keep track of intermediate values",
    "# done",
)


class SplitError(ValueError):
    """``prefix + reference`` does not parse, or the boundary is not between statements."""


@dataclass(frozen=True)
class ProgramSplit:
    """Where a reference completion sits inside ``prefix + reference``.

    ``body_start``: index in the crossing function's body of the first statement that belongs to
    the completion; ``module_start``: index in the module body of the first module-level
    statement that belongs to the completion (helpers defined after the function).
    ``func_index`` is -1 for a whole-module split (empty prefix): no function crosses the
    boundary, and :meth:`parse` gives ``None`` for it.
    """

    prefix: str
    reference: str
    func_index: int
    body_start: int
    module_start: int
    indent: str

    @property
    def whole_module(self) -> bool:
        """True when the completion is the whole program (the prefix holds no code)."""
        return self.func_index < 0

    @property
    def lead(self) -> str:
        return "" if self.prefix.endswith("\n") or not self.prefix else "\n"

    def parse(self) -> tuple[ast.Module, FuncDef | None]:
        """A fresh tree (callers mutate it) and the function the boundary falls inside
        (``None`` for a whole-module split)."""
        tree = ast.parse(self.prefix + self.reference)
        if self.whole_module:
            return tree, None
        func = tree.body[self.func_index]
        assert isinstance(func, FuncDef)  # established by split_program
        return tree, func

    def completion_nodes(self, tree: ast.Module, func: FuncDef | None) -> list[ast.stmt]:
        if func is None:
            return list(tree.body[self.module_start :])
        return [*func.body[self.body_start :], *tree.body[self.module_start :]]

    def render(self, tree: ast.Module, func: FuncDef | None) -> str:
        """The completion text of a (possibly transformed) tree: reformatted by ``ast.unparse``."""
        if func is None:  # whole module: the program itself
            return self.lead + ast.unparse(tree) + "\n"
        parts = [self.lead]
        for stmt in func.body[self.body_start :]:
            parts.extend(self.indent + line + "\n" for line in ast.unparse(stmt).splitlines())
        for stmt in tree.body[self.module_start :]:
            parts.append("\n\n" + ast.unparse(stmt) + "\n")
        return "".join(parts)

    @cached_property
    def reference_render(self) -> str:
        """The unvaried reference completion as ``ast.unparse`` formats it."""
        return self.render(*self.parse())

    @cached_property
    def renamable(self) -> tuple[tuple[str, ...], ...]:
        """Per completion function (the crossing one, then helpers): its safely local names."""
        tree, func = self.parse()
        if func is None:
            return tuple(tuple(sorted(safe_locals(f))) for f in self.helper_functions(tree))
        head = func.body[: self.body_start]  # statements in the prefix (the docstring)
        fixed = {n.id for s in head for n in ast.walk(s) if isinstance(n, ast.Name)}
        groups = [tuple(sorted(safe_locals(func) - fixed))]
        groups += [tuple(sorted(safe_locals(f))) for f in self.helper_functions(tree)]
        return tuple(groups)

    @cached_property
    def taken_names(self) -> frozenset[str]:
        tree, _ = self.parse()
        return frozenset(identifiers(tree)) | _RESERVED

    def helper_functions(self, tree: ast.Module) -> list[FuncDef]:
        return [s for s in tree.body[self.module_start :] if isinstance(s, FuncDef)]


def split_program(prefix: str, reference: str) -> ProgramSplit:
    """Locate the completion's statements in ``prefix + reference``; raise SplitError if unclear."""
    try:
        tree = ast.parse(prefix + reference)
    except (SyntaxError, ValueError) as exc:
        raise SplitError(f"prefix + reference does not parse: {exc}") from None
    if not prefix.strip():  # MBPP+-style: the reference is the whole program
        if not tree.body:
            raise SplitError("the reference holds no statements")
        return ProgramSplit(prefix, reference, -1, 0, 0, "")
    lines = prefix.split("\n")
    boundary = (len(lines), len(lines[-1].encode()))  # 1-based line, utf-8 column (as ast's)
    for i, node in enumerate(tree.body):
        start, end = _span(node)
        if not (start < boundary < end):
            continue
        if not isinstance(node, FuncDef):
            raise SplitError("the boundary falls inside a statement that is not a function")
        k = _first_at_or_after(node.body, boundary)
        if k == len(node.body) or any(_span(s)[1] > boundary for s in node.body[:k]):
            raise SplitError("the boundary falls inside a statement of the function body")
        indent_line = (prefix + reference).split("\n")[node.body[k].lineno - 1]
        indent = indent_line[: node.body[k].col_offset]
        if indent.strip():
            raise SplitError("the body does not start on its own line")
        return ProgramSplit(prefix, reference, i, k, i + 1, indent)
    raise SplitError("no function spans the prefix/reference boundary")


def _span(node: ast.stmt) -> tuple[tuple[int, int], tuple[int, int]]:
    first = node.decorator_list[0] if isinstance(node, FuncDef) and node.decorator_list else node
    return (first.lineno, first.col_offset), (node.end_lineno or 0, node.end_col_offset or 0)


def _first_at_or_after(body: list[ast.stmt], boundary: tuple[int, int]) -> int:
    for k, stmt in enumerate(body):
        if _span(stmt)[0] >= boundary:
            return k
    return len(body)


def identifiers(tree: ast.AST) -> set[str]:
    """Every identifier spelled anywhere in ``tree`` (names, args, attributes, defs, keywords)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        for field in ("id", "arg", "attr", "name", "asname", "rest"):
            value = getattr(node, field, None)
            if isinstance(value, str):
                out.add(value)
        if isinstance(node, ast.Global | ast.Nonlocal):
            out.update(node.names)
    return out


def _own_scope_stores(func: FuncDef) -> set[str]:
    """Names stored by ``Name`` nodes in the function's own scope (not nested scopes)."""
    out: set[str] = set()
    stack: list[ast.AST] = list(func.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (*_SCOPES, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
        stack.extend(ast.iter_child_nodes(node))
    return out


def safe_locals(func: FuncDef) -> set[str]:
    """Names whose consistent renaming throughout ``func`` cannot change its behaviour."""
    inner = [n for n in ast.walk(func) if n is not func]
    if any(isinstance(n, ast.Name) and n.id in _REFLECTIVE for n in inner):
        return set()
    unsafe = {a.arg for a in ast.walk(func.args) if isinstance(a, ast.arg)}
    for node in inner:
        if isinstance(node, ast.Global | ast.Nonlocal):
            unsafe.update(node.names)
        elif isinstance(node, ast.arg | ast.ExceptHandler | ast.alias | ast.MatchAs | ast.MatchStar
                        | ast.MatchMapping):  # fmt: skip
            fields = ("arg", "name", "asname", "rest")
            unsafe.update(v for f in fields if isinstance(v := getattr(node, f, None), str))
        elif isinstance(node, _SCOPES):
            if not isinstance(node, ast.Lambda):
                unsafe.add(node.name)
            body = node.body if isinstance(node.body, list) else [node.body]
            unsafe.update(
                n.id for s in body for n in ast.walk(s)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            )  # fmt: skip
    return {n for n in _own_scope_stores(func) - unsafe if not n.startswith("__")}


class _Renamer(ast.NodeTransformer):
    def __init__(self, mapping: dict[str, str]) -> None:
        self.mapping = mapping

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self.mapping.get(node.id, node.id)
        return node


def draw_renames(split: ProgramSplit, rng: np.random.Generator) -> tuple[dict[str, str], ...]:
    """Per completion function, a random fresh name for about half of its safe locals."""
    taken = set(split.taken_names)
    out = []
    for names in split.renamable:
        mapping: dict[str, str] = {}
        for name in names:
            if rng.random() < 0.5:
                continue
            base = NAME_POOL[int(rng.integers(len(NAME_POOL)))]
            new, n = base, 2
            while new in taken:
                new, n = f"{base}_{n}", n + 1
            taken.add(new)
            mapping[name] = new
        out.append(mapping)
    return tuple(out)


def render_renamed(split: ProgramSplit, renames: tuple[dict[str, str], ...]) -> str:
    """The completion with each function's locals renamed, reformatted by ``ast.unparse``."""
    tree, func = split.parse()
    targets = [] if func is None else [func]
    for target, mapping in zip([*targets, *split.helper_functions(tree)], renames, strict=True):
        if not mapping:
            continue
        renamer = _Renamer(mapping)
        stmts = target.body[split.body_start :] if target is func else target.body
        for stmt in stmts:
            renamer.visit(stmt)
    return split.render(tree, func)


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())] if line.strip() else ""


def comment_slots(
    prefix: str, completion: str, unparsed: bool = False
) -> tuple[tuple[int, str], ...]:
    """Line indices of ``completion`` before which a comment line may go, with their indent.

    A slot is a line that follows a NEWLINE or NL token (so not inside a string literal and not
    after a backslash continuation); the end of the text is a slot when it ends with a newline.
    ``unparsed``: the text came from :meth:`ProgramSplit.render`, which allows a fast path.
    """
    if unparsed and '"""' not in completion and "'''" not in completion:
        # ast.unparse emits one logical line per line (no continuations, no multi-line
        # brackets); only docstrings span lines, so without them every line is a slot.
        lines = completion.split("\n")
        first = 0 if prefix.endswith("\n") or not prefix else 1
        return tuple((i, _indent_of(lines[i])) for i in range(first, len(lines)))
    program = prefix + completion
    skip = prefix.count("\n")  # lines of the program that belong to the prefix
    lines = completion.split("\n")
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(program).readline))
    except (tokenize.TokenError, SyntaxError):
        return ()
    starts = {t.end[0] + 1 for t in tokens if t.type in (tokenize.NEWLINE, tokenize.NL)}
    slots = []
    for line_no in sorted(starts):
        i = line_no - 1 - skip
        if i < 0 or i >= len(lines) or (i == 0 and not prefix.endswith("\n")):
            continue
        slots.append((i, _indent_of(lines[i])))
    return tuple(slots)


def insert_comments(
    completion: str, slots: tuple[tuple[int, str], ...], rng: np.random.Generator, rate: float = 0.3
) -> str:
    """Insert a harmless comment line before some slots (each with probability ``rate``)."""
    if not slots:
        return completion
    lines = completion.split("\n")
    chosen = [s for s in slots if rng.random() < rate]
    for i, indent in reversed(chosen):
        lines.insert(i, indent + COMMENTS[int(rng.integers(len(COMMENTS)))])
    return "\n".join(lines)
