"""The ``synthetic`` backend: the offline default, a seeded stand-in policy (NOT a model).

It lets the whole pipeline run on a laptop with no GPU and no network, and, because it knows the
truth, lets tests check estimators against it. For each problem it draws a latent solve
probability ``p_i ~ Beta(alpha, beta)`` from an RNG seeded by ``sample_seed(seed, problem_id,
-1)`` (so p_i does not depend on other problems or on N). Each sample, with an RNG seeded by its
own ``sample_seed(seed, problem_id, idx)``, is then

* with probability p_i: the reference solution with harmless textual variation (renamed locals,
  ``ast.unparse`` reformatting, added comments; :mod:`stages.backends.code_variants`);
* else, with probability ``mutant_share``: an AST mutant of the reference
  (:mod:`stages.backends.code_mutants`), which always differs from it in AST but may still pass
  weak tests (the false positives this project measures; Liu et al. 2023, EvalPlus);
* else: a crude wrong body (``return None`` / ``pass``).

The truth (p_i, whether each sample is reference-derived, the mutation name) is returned by
:meth:`SyntheticBackend.truth` in the ``SYNTHETIC_TRUTH`` schema; the generate stage writes it
to a side output. Rows say ``backend = "synthetic"``; ``latency_s`` is 0.0 and the log-probs are
null because nothing is sampled from a model. Token counts are a documented stand-in: the number
of ``\\w+|[^\\w\\s]`` regex matches (words and single punctuation characters).

Seam for math problems (``kind == "math"``, GSM8K / MATH-500): each such row is passed to
``stages.backends.synthetic_math.sample_math(problem_row: dict, rng: numpy.random.Generator,
correct: bool) -> str``, imported lazily; if that module is missing the error names the dataset.
When the module also has ``math_sample`` (same arguments, returning an object with ``.text`` and
``.mutation``), that is used instead so the truth names the wrong-answer operator; otherwise a
wrong math sample's ``mutation`` is ``"math_wrong_answer"``.
A reference that does not parse after its prefix falls back to textual-only variation.

Whole-program problems (empty ``program_prefix``, MBPP+): the completion is the whole program,
so variants and mutants are whole varied/mutated modules (see ``code_variants.split_program``),
and a crude wrong sample is the module with the entry point's body replaced by the crude
statement (a bare indented ``return None`` would not even parse).

Caveat for estimator tests: ``from_reference`` is the ground truth of *origin*, not of
behaviour. A mutant can be behaviourally equivalent to the reference (e.g. a dropped redundant
statement), so ``from_reference = False`` does not prove a sample wrong; it is the label that a
verifier's false positives are measured against.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

import numpy as np
import polars as pl

from stages.backends import code_mutants, code_variants
from stages.backends.base import sample_seed, sampling_json
from stages.params import GenerateParams, SyntheticParams
from stages.schemas import SAMPLES, SYNTHETIC_TRUTH, conform

TOKEN_PATTERN = r"\w+|[^\w\s]"
MATH_WRONG = "math_wrong_answer"
_REFERENCE_STYLES = ("verbatim", "renamed", "renamed")  # verbatim text vs ast-reformatted
# Each problem has this many renamings of its locals (seeded by its text); a sample picks one,
# and comments vary on top, so correct samples differ while the render cache stays bounded.
RENAME_PLANS = 16


class Draw(NamedTuple):
    """One sample's outcome: what ``generate`` writes and what ``truth`` reports."""

    idx: int
    seed: int
    completion: str
    from_reference: bool
    mutation: str | None


@dataclass
class _CodeState:
    """Per-problem parse and render caches (pure memoisation: never changes a result).

    Bounded: at most RENAME_PLANS renamings, and one text per (operator, site, choice) mutant,
    so the backend can keep every problem's state between ``generate`` and ``truth``.
    """

    prefix: str
    reference: str
    split: code_variants.ProgramSplit | None
    entry_point: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    renamed: dict[int, str] = field(default_factory=dict)
    mutants: dict[tuple, str | None] = field(default_factory=dict)
    slots: dict[str, tuple] = field(default_factory=dict)

    @classmethod
    def build(cls, prefix: str, reference: str, entry_point: str = "") -> _CodeState:
        try:
            split = code_variants.split_program(prefix, reference)
            return cls(prefix, reference, split, entry_point, code_mutants.site_counts(split))
        except (code_variants.SplitError, RecursionError, ValueError):
            # textual-only variation, crude wrong programs
            return cls(prefix, reference, None, entry_point)

    def with_comments(
        self, text: str, rng: np.random.Generator, layout: str | None = None, unparsed: bool = True
    ) -> str:
        """Insert comments; ``layout`` is a text with the same line structure (slots cached)."""
        layout = text if layout is None else layout
        if layout not in self.slots:
            self.slots[layout] = code_variants.comment_slots(self.prefix, layout, unparsed)
        return code_variants.insert_comments(text, self.slots[layout], rng)

    def reference_variant(self, rng: np.random.Generator) -> str:
        style = _REFERENCE_STYLES[int(rng.integers(len(_REFERENCE_STYLES)))]
        if self.split is None or style == "verbatim":
            return self.with_comments(self.reference, rng, unparsed=False)
        plan = int(rng.integers(RENAME_PLANS))
        if plan not in self.renamed:
            plan_rng = np.random.default_rng(sample_seed(plan, self.prefix + self.reference, 0))
            renames = code_variants.draw_renames(self.split, plan_rng)
            self.renamed[plan] = code_variants.render_renamed(self.split, renames)
        # renaming identifiers keeps the line structure of the unrenamed rendering
        return self.with_comments(self.renamed[plan], rng, layout=self.split.reference_render)

    def wrong_program(self, rng: np.random.Generator, mutant: bool) -> tuple[str, str]:
        """(label, completion) of a wrong program: an AST mutant if asked and possible,
        else a crude body."""
        crude = sorted(code_mutants.CRUDE)[int(rng.integers(len(code_mutants.CRUDE)))]
        if mutant and self.split is not None:
            drawn = code_mutants.draw_mutant(self.split, self.counts, rng, self.mutants)
            if drawn is not None:
                return drawn[0], self.with_comments(drawn[1], rng)
        if self.split is not None and self.split.whole_module:
            return crude, code_mutants.crude_program(self.split, self.entry_point, crude)
        if not self.prefix.strip():  # whole program that does not parse: a crude one instead
            return crude, code_mutants.crude_function(self.entry_point, crude)
        if self.split is not None:
            indent, lead = self.split.indent, self.split.lead
        else:
            first = next((ln for ln in self.reference.splitlines() if ln.strip()), "    x")
            indent = first[: len(first) - len(first.lstrip())] or "    "
            lead = "" if self.prefix.endswith("\n") else "\n"
        return crude, code_mutants.crude_completion(indent, lead, crude)


MathSampler = Callable[[dict, np.random.Generator, bool], tuple[str, str | None]]


def _math_sampler(row: dict[str, Any]) -> MathSampler:
    """The lazily imported math seam, as ``(row, rng, correct) -> (text, mutation label)``."""
    try:
        module = importlib.import_module("stages.backends.synthetic_math")
    except ModuleNotFoundError as exc:
        if exc.name != "stages.backends.synthetic_math":
            raise
        raise RuntimeError(
            f"synthetic backend: problem {row['problem_id']} of dataset '{row.get('dataset')}' is "
            "a math problem, which needs stages.backends.synthetic_math (not available)"
        ) from None
    if hasattr(module, "math_sample"):  # richer form: also names the wrong-answer operator

        def labelled(r: dict, rng: np.random.Generator, correct: bool) -> tuple[str, str | None]:
            made = module.math_sample(r, rng, correct)
            return made.text, None if correct else (made.mutation or MATH_WRONG)

        return labelled

    def plain(r: dict, rng: np.random.Generator, correct: bool) -> tuple[str, str | None]:
        return module.sample_math(r, rng, correct), None if correct else MATH_WRONG

    return plain


class SyntheticBackend:
    """A seeded stand-in policy over the reference solutions; not a model."""

    name = "synthetic"

    def __init__(self, params: SyntheticParams, model: str, sampling_params: str) -> None:
        self.params = params
        self.model = model
        self.sampling_params = sampling_params
        # (prefix, reference, entry point) -> caches
        self._states: dict[tuple[str, str, str], _CodeState] = {}

    def _state(self, prefix: str, reference: str, entry_point: str = "") -> _CodeState:
        key = (prefix, reference, entry_point)
        if key not in self._states:
            self._states[key] = _CodeState.build(prefix, reference, entry_point)
        return self._states[key]

    def p_true(self, problem_id: str, seed: int) -> float:
        """The problem's latent solve probability p_i ~ Beta(alpha, beta)."""
        rng = np.random.default_rng(sample_seed(seed, problem_id, -1))
        return float(rng.beta(self.params.alpha, self.params.beta))

    def _draw(
        self, problems: pl.DataFrame, n_samples: int, seed: int, skip: frozenset[tuple[str, int]]
    ) -> Iterator[tuple[dict[str, Any], float, list[Draw]]]:
        """Per problem: (row, p_i, its draws), the single source of both samples and truth."""
        for row in problems.iter_rows(named=True):
            pid = row["problem_id"]
            kind = row.get("kind") or "code"
            if kind not in ("code", "math"):
                raise ValueError(f"problem {pid}: unknown kind '{kind}' (expected code or math)")
            p_i = self.p_true(pid, seed)
            if kind == "math":
                sampler = _math_sampler(row)
            else:
                state = self._state(
                    row["program_prefix"] or "",
                    row["reference"] or "",
                    row.get("entry_point") or "",
                )
                sampler = partial(self._code_sample, state)
            draws = []
            for idx in range(n_samples):
                if (pid, idx) in skip:
                    continue
                s = sample_seed(seed, pid, idx)
                rng = np.random.default_rng(s)
                from_ref = bool(rng.random() < p_i)
                text, label = sampler(row, rng, from_ref)
                draws.append(Draw(idx, s, text, from_ref, label))
            yield row, p_i, draws

    def _code_sample(
        self, state: _CodeState, row: dict[str, Any], rng: np.random.Generator, from_ref: bool
    ) -> tuple[str, str | None]:
        """One code sample: a reference variant, an AST mutant or a crude wrong body."""
        if from_ref:
            return state.reference_variant(rng), None
        mutant = bool(rng.random() < self.params.mutant_share)
        return state.wrong_program(rng, mutant)[::-1]

    def generate(
        self,
        problems: pl.DataFrame,
        n_samples: int,
        seed: int,
        skip: frozenset[tuple[str, int]] = frozenset(),
    ) -> Iterator[pl.DataFrame]:
        """Yield one SAMPLES frame per problem (rows in ``skip`` left out)."""
        for row, _, draws in self._draw(problems, n_samples, seed, skip):
            if draws:
                yield self._frame(row, draws)

    def _frame(self, row: dict[str, Any], draws: list[Draw]) -> pl.DataFrame:
        n = len(draws)
        df = pl.DataFrame(
            {
                "problem_id": [row["problem_id"]] * n,
                "sample_idx": [d.idx for d in draws],
                "completion": [d.completion for d in draws],
                "seed": [d.seed for d in draws],
                "prompt": [row["prompt"] or ""] * n,
            },
            schema={"problem_id": pl.String, "sample_idx": pl.Int64, "completion": pl.String,
                    "seed": pl.Int64, "prompt": pl.String},
        )  # fmt: skip
        df = df.with_columns(
            backend=pl.lit(self.name),
            model=pl.lit(self.model),
            sampling_params=pl.lit(self.sampling_params),
            prompt_tokens=pl.col("prompt").str.count_matches(TOKEN_PATTERN).cast(pl.Int64),
            completion_tokens=pl.col("completion").str.count_matches(TOKEN_PATTERN).cast(pl.Int64),
            latency_s=pl.lit(0.0),
            finish_reason=pl.lit("stop"),
            mean_logprob=pl.lit(None, dtype=pl.Float64),
            sum_logprob=pl.lit(None, dtype=pl.Float64),
            error=pl.lit(None, dtype=pl.String),
        )
        return conform(df, SAMPLES, "samples")

    def truth(self, problems: pl.DataFrame, n_samples: int, seed: int) -> pl.DataFrame:
        """The known truth behind :meth:`generate` (SYNTHETIC_TRUTH schema), same draws."""
        rows = [
            (row["problem_id"], d.idx, p_i, d.from_reference, d.mutation)
            for row, p_i, draws in self._draw(problems, n_samples, seed, frozenset())
            for d in draws
        ]
        df = pl.DataFrame(rows, schema=list(SYNTHETIC_TRUTH.items()), orient="row")
        return conform(df, SYNTHETIC_TRUTH, "synthetic_truth")


def truth(
    problems: pl.DataFrame, n_samples: int, seed: int, params: GenerateParams
) -> pl.DataFrame:
    """Module-level form of :meth:`SyntheticBackend.truth`."""
    return from_params(params).truth(problems, n_samples, seed)


def from_params(params: GenerateParams | None = None) -> SyntheticBackend:
    """Build the backend from the ``generate`` params section."""
    params = params or GenerateParams()
    syn = params.synthetic
    sampling = sampling_json(
        temperature=params.temperature,
        top_p=params.top_p,
        max_new_tokens=params.max_new_tokens,
        synthetic={"alpha": syn.alpha, "beta": syn.beta, "mutant_share": syn.mutant_share},
    )
    return SyntheticBackend(syn, params.model, sampling)
