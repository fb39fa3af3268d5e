"""Suite adequacy: the mutation score of each test suite, and mutant-preserving suite reduction.

A test suite is adequate to the extent that it rejects wrong programs. Mutation analysis makes
wrong programs on purpose: here, the synthetic backend's AST mutation operators
(:mod:`stages.backends.code_mutants`: swapped operators, off-by-one constants, flipped
comparisons, dropped statements, wrong returns) applied to the reference. A suite *kills* a
mutant when the mutant does not pass it; the mutation score is the fraction killed (EvalPlus
reports it to compare HumanEval with HumanEval+, Liu et al. 2023, section 3). Some mutants are
behaviourally equivalent to the reference and no suite can kill them, so scores are also given
relative to the mutants that *any* suite kills.

Every verdict comes from the same verifiers and executor as the verify stage
(:func:`stages.verifiers.code_tests.run_verifier`), so a suite's score is measured exactly as its
verdicts are. :func:`reduce_suites` is EvalPlus's test-suite reduction: a greedy set cover that
keeps the weak inputs and as few added inputs as kill the same mutants.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl

from stages.backends import code_mutants, code_variants
from stages.backends.base import sample_seed
from stages.datasets import typed_json
from stages.verifiers.base import Executor
from stages.verifiers.code_tests import run_verifier

MUTANTS_SCHEMA: dict[str, pl.DataType] = {
    "problem_id": pl.String(), "sample_idx": pl.Int64(), "completion": pl.String(),
    "operator": pl.String(),
}  # fmt: skip
KILLS_SCHEMA: dict[str, pl.DataType] = {
    "problem_id": pl.String(), "sample_idx": pl.Int64(), "suite": pl.String(),
    "verdict": pl.String(), "killed": pl.Boolean(),
}  # fmt: skip
MUTANT_STREAM = -11  # sample index reserved for the mutant-choice RNG of each problem


def problem_mutants(prefix: str, reference: str, cap: int, rng: random.Random) -> list[tuple[str, str]]:
    """Up to ``cap`` distinct (operator, completion) mutants of one reference."""
    try:
        split = code_variants.split_program(prefix, reference)
    except code_variants.SplitError:
        return []
    found: dict[str, str] = {}
    for operator, n_sites in sorted(code_mutants.site_counts(split).items()):
        for site in range(n_sites):
            for choice in range(6):
                text = code_mutants.mutate(split, operator, site, choice)
                if text is not None and text.strip() != reference.strip():
                    found.setdefault(text, operator)
    items = sorted(found.items(), key=lambda kv: (kv[1], kv[0]))
    if len(items) > cap:
        items = sorted(rng.sample(items, cap), key=lambda kv: (kv[1], kv[0]))
    return [(op, text) for text, op in items]


def mutant_samples(problems: pl.DataFrame, per_problem: int = 20, seed: int = 0) -> pl.DataFrame:
    """Mutants of every code problem's reference, shaped like samples (``completion``)."""
    rows = []
    for p in problems.filter(pl.col("kind") == "code").iter_rows(named=True):
        rng = random.Random(sample_seed(seed, p["problem_id"], MUTANT_STREAM))
        for idx, (op, text) in enumerate(problem_mutants(p["program_prefix"], p["reference"],
                                                         per_problem, rng)):
            rows.append({"problem_id": p["problem_id"], "sample_idx": idx, "completion": text,
                         "operator": op})
    return pl.DataFrame(rows, schema=MUTANTS_SCHEMA)


def kills(
    suites: Mapping[str, tuple[pl.DataFrame, str]], mutants: pl.DataFrame, executor: Executor,
    timeouts: Mapping[str, float],
) -> pl.DataFrame:
    """Which suite kills which mutant.

    ``suites`` maps a suite label (``weak_assert``, ``strong_io``, ``augmented_io`` ...) to
    (a problems frame carrying it, the verifier name that runs it on that frame).
    """
    frames = []
    for label, (problems, verifier) in suites.items():
        results = run_verifier(verifier, problems, mutants, executor, dict(timeouts))
        frames.append(pl.DataFrame(
            [{"problem_id": r.key[0], "sample_idx": r.key[1], "suite": label,
              "verdict": r.verdict, "killed": r.verdict != "pass"} for r in results],
            schema=KILLS_SCHEMA))
    return pl.concat(frames).sort("problem_id", "sample_idx", "suite") if frames else pl.DataFrame(schema=KILLS_SCHEMA)


def mutation_scores(kill_table: pl.DataFrame) -> pl.DataFrame:
    """Per suite: mutants, killed, score, and score among mutants that some suite kills.

    A problem that lacks a suite (verdict ``error`` with "no ... tests") is excluded from that
    suite's denominator only when it has no suite at all; otherwise a missing suite kills
    nothing, which is what a user of that suite gets.
    """
    killable = (kill_table.group_by("problem_id", "sample_idx")
                .agg(pl.col("killed").any().alias("killable")))
    t = kill_table.join(killable, on=["problem_id", "sample_idx"])
    return (t.group_by("suite")
            .agg(pl.len().alias("mutants"), pl.col("killed").sum().alias("killed"),
                 pl.col("killable").sum().alias("killable"),
                 (pl.col("killed") & pl.col("killable")).sum().alias("killed_killable"))
            .with_columns((pl.col("killed") / pl.col("mutants")).alias("score"),
                          (pl.col("killed_killable") / pl.col("killable")).alias("score_killable"))
            .drop("killed_killable").sort("suite"))


def kill_coverage(kill_table: pl.DataFrame, suite: str, reference_suite: str) -> float:
    """Share of the mutants that ``reference_suite`` kills which ``suite`` kills too."""
    wide = kill_table.pivot(on="suite", index=["problem_id", "sample_idx"], values="killed")
    ref = wide.filter(pl.col(reference_suite))
    return float(ref[suite].mean()) if ref.height else float("nan")  # type: ignore[arg-type]


def metrics_entry(scores: pl.DataFrame) -> dict[str, Any]:
    """``{"mutation_score": {suite: score}, ...}`` for metrics.json."""
    return {
        "mutation_score": {s: round(v, 6) for s, v in zip(scores["suite"], scores["score"], strict=True)},
        "mutation_score_killable": {s: round(v, 6) for s, v in
                                    zip(scores["suite"], scores["score_killable"], strict=True)},
        "mutants": int(scores["mutants"].max()) if scores.height else 0,
    }


# -- reduction --------------------------------------------------------------------------------
def greedy_cover(kill_sets: Sequence[set[int]], must_keep: Iterable[int] = ()) -> list[int]:
    """Indices of a small subset of inputs whose kill sets cover the union (greedy set cover)."""
    chosen = sorted(set(must_keep))
    covered: set[int] = set().union(*(kill_sets[i] for i in chosen)) if chosen else set()
    target = set().union(*kill_sets) if kill_sets else set()
    while covered != target:
        best = max(range(len(kill_sets)), key=lambda i: (len(kill_sets[i] - covered), -i))
        if not kill_sets[best] - covered:
            break
        chosen.append(best)
        covered |= kill_sets[best]
    return sorted(chosen)


def reduce_suites(rows: Sequence[Mapping[str, Any]], results: Sequence[Any], runner: Any,
                  per_problem: int = 20, seed: int = 0) -> list[Any]:
    """Augmented suites cut to the seeds plus the added inputs a greedy cover of mutants needs.

    A mutant is killed by an input when, run in the sandbox through ``runner``, it raises there
    or returns something not strictly equal (sandbox codec, problem's ``atol``) to the expected
    output.
    """
    from dataclasses import replace

    from stages.datasets.expected_outputs import run_reference
    from stages.verifiers.sandbox.codec import strict_equal

    reduced = []
    for row, res in zip(rows, results, strict=True):
        if not res.inputs:
            reduced.append(res)
            continue
        rng = random.Random(sample_seed(seed, row["problem_id"], MUTANT_STREAM))
        mutants = problem_mutants(row["program_prefix"], row["reference"], per_problem, rng)
        kill_sets: list[set[int]] = [set() for _ in res.inputs]
        for m, (_, text) in enumerate(mutants):
            outcomes = run_reference(runner, row["program_prefix"] + text, row["entry_point"],
                                     res.inputs, 2.0)
            for i, (o, exp) in enumerate(zip(outcomes, res.outputs, strict=True)):
                if o.status != "ok" or not strict_equal(json.loads(o.output), exp, row["atol"] or 0.0):
                    kill_sets[i].add(m)
        keep = greedy_cover(kill_sets, must_keep=range(res.seeds_kept))
        reduced.append(replace(res, inputs=[res.inputs[i] for i in keep],
                               outputs=[res.outputs[i] for i in keep],
                               added=len(keep) - res.seeds_kept))
    return reduced


def inputs_count(problems: pl.DataFrame, column: str = "inputs_strong") -> pl.DataFrame:
    """Per problem: how many inputs a suite column holds (0 when empty)."""
    counts = [len(typed_json.decode(t)) if t.strip() else 0 for t in problems[column]]
    return pl.DataFrame({"problem_id": problems["problem_id"], "inputs": counts})


def adequacy(problems: pl.DataFrame, executor: Executor, per_problem: int = 10, seed: int = 0,
             timeout_s: float = 3.0) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Mutation score of every suite the problems carry (weak_assert, weak_io, strong_io).

    The strong suite is labelled ``augmented_io`` when it came from :mod:`stages.augment`
    (``dataset`` without EvalPlus's own strong tests) so reports never mistake one for the other.
    """
    from stages.verifiers.code_tests import applicable_verifiers

    augmented = problems["dataset"].n_unique() == 1 and problems["dataset"][0] not in (
        "humanevalplus", "mbppplus")
    names = applicable_verifiers(problems)
    suites = {("augmented_io" if n == "strong_io" and augmented else n): (problems, n) for n in names}
    mutants = mutant_samples(problems, per_problem, seed)
    table = kills(suites, mutants, executor, {p: timeout_s for p in problems["problem_id"]})
    scores = mutation_scores(table)
    return scores, metrics_entry(scores) | {"mutants_per_problem_cap": per_problem}


def main(argv: list[str] | None = None) -> None:
    """``python -m stages.stats.suite_adequacy``: mutation scores -> metrics/adequacy.json."""
    import argparse
    from pathlib import Path

    from stages.entry import run_entry
    from stages.io import read_table, write_json
    from stages.params import BaseParams, VerifyParams, load_section
    from stages.schemas import PROBLEMS
    from stages.verifiers import make_executor

    ap = argparse.ArgumentParser(prog="python -m stages.stats.suite_adequacy")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--problems", type=Path, default=Path("data/problems.parquet"))
    ap.add_argument("--out", type=Path, default=Path("metrics/adequacy.json"))
    ap.add_argument("--mutants", type=int, default=10, help="mutants per problem, at most")
    args = ap.parse_args(argv)

    def body() -> None:
        base = load_section("base", args.params, BaseParams)
        verify = load_section("verify", args.params, VerifyParams)
        problems = read_table(args.problems, PROBLEMS, "problems")
        executor = make_executor(verify)
        try:
            scores, entry = adequacy(problems, executor, args.mutants, base.seed)
        finally:
            getattr(executor, "close", lambda: None)()
        write_json(entry, args.out)
        print(scores)

    run_entry("adequacy", body)


if __name__ == "__main__":
    main()
