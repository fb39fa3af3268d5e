"""Acceptance figures of the strong-suite issue, measured in one run (prints; nothing asserted).

1. Canonical solutions against their own strong suites: HumanEval+ (all 164 must pass) and
   MBPP+ (failures listed with the reason).
2. Suite adequacy on plain HumanEval: the synthetic backend's mutants of each reference, killed
   by the weak assertions, by HumanEval+'s strong suite (``plus_io``) and by our augmented suite
   (``augmented_io``, made from plain HumanEval without ``plus_input``); the share of the mutants
   ``plus_io`` kills that ``augmented_io`` also kills (target >= 0.95).
3. False-positive rate P(strong fail | weak pass) on the same synthetic samples (the offline
   stand-in policy, NOT a model) with each strong suite; the augmented point estimate against
   HumanEval+'s bootstrap 95% interval. Twice: on plain HumanEval (references = HumanEval's
   canonical solutions, 24 of which fail HumanEval+'s strong suite themselves), and on
   HumanEval+ with ``plus_input`` removed and re-made by augmentation (same references on both
   sides; ``--stripped-only`` runs just this one).

Run: ``.venv/bin/python benchmarks/augment_vs_humanevalplus.py [--samples 100] [--mbpp]``
(needs the dataset mirror; expected outputs and augmented suites are cached under ``.cache``).
"""

from __future__ import annotations

import argparse
import json
import time

import polars as pl

from stages.augment import augment_problems, summary
from stages.backends import get_backend
from stages.datasets import evalplus, load_dataset
from stages.generate import generate
from stages.params import AugmentParams, GenerateParams, VerifyParams
from stages.stats.false_positives import pair_counts, paired_flags, pooled_rates
from stages.stats.suite_adequacy import kill_coverage, kills, mutant_samples, mutation_scores
from stages.verifiers import code_tests
from stages.verifiers.sandbox import SandboxExecutor
from stages.verify import verify


def canonical_check(problems: pl.DataFrame, executor: SandboxExecutor, name: str) -> None:
    samples = problems.select("problem_id", pl.lit(0, pl.Int64).alias("sample_idx"),
                              pl.col("reference").alias("completion"))
    t = time.perf_counter()
    results = code_tests.run_verifier("strong_io", problems, samples, executor,
                                      {p: 60.0 for p in problems["problem_id"]})
    bad = sorted((r.key[0], r.verdict, r.detail[:120]) for r in results if r.verdict != "pass")
    print(f"[{name}] canonical solutions passing their strong suite: "
          f"{len(results) - len(bad)}/{len(results)} ({time.perf_counter() - t:.1f}s)")
    for pid, verdict, detail in bad:
        print(f"    {pid}: {verdict}: {detail}")


def with_suite(base: pl.DataFrame, donor: pl.DataFrame) -> pl.DataFrame:
    """``base`` problems with ``donor``'s strong inputs/outputs (same problem ids)."""
    cols = donor.select("problem_id", "inputs_strong", "outputs_strong")
    return base.drop("inputs_strong", "outputs_strong").join(cols, on="problem_id", how="left") \
        .with_columns(pl.col("inputs_strong", "outputs_strong").fill_null("")).select(base.columns)


def fp_rate(problems: pl.DataFrame, samples: pl.DataFrame, executor: SandboxExecutor, label: str) -> dict:
    t = time.perf_counter()
    verdicts, _ = verify(problems, samples, VerifyParams(), executor)
    flags = paired_flags(verdicts, "weak_assert", "strong_io")
    rates = pooled_rates(pair_counts(flags), n_boot=1000, seed=0)
    print(f"[{label}] verified {samples.height} samples x {verdicts['verifier'].n_unique()} verifiers "
          f"in {time.perf_counter() - t:.1f}s; P(strong fail | weak pass) = "
          f"{rates['fp_given_weak_pass']:.4f} [{rates['fp_given_weak_pass_ci_low']:.4f}, "
          f"{rates['fp_given_weak_pass_ci_high']:.4f}]")
    return rates


def _verdicts(name: str, problems: pl.DataFrame, samples: pl.DataFrame,
              executor: SandboxExecutor) -> pl.DataFrame:
    results = code_tests.run_verifier(name, problems, samples, executor,
                                      {p: VerifyParams().timeout_floor_s for p in problems["problem_id"]})
    return pl.DataFrame([{"problem_id": r.key[0], "sample_idx": r.key[1], "verifier": name,
                          "verdict": r.verdict, "answer": r.outputs, "score": None} for r in results],
                        schema={"problem_id": pl.String, "sample_idx": pl.Int64, "verifier": pl.String,
                                "verdict": pl.String, "answer": pl.String, "score": pl.Float64})


def stripped_comparison(samples_per_problem: int, seed: int, executor: SandboxExecutor) -> None:
    """Same references on both sides: HumanEval+ problems, and the same problems with
    ``plus_input`` removed and the strong suite re-made by augmentation from ``base_input``."""
    plus = load_dataset("humanevalplus")
    stripped = plus.with_columns(pl.lit("").alias("inputs_strong"), pl.lit("").alias("outputs_strong"))
    augmented, report = augment_problems(stripped, AugmentParams(), seed)
    print(f"[stripped] HumanEval+ without plus_input, augmented: {json.dumps(summary(report))}")
    samples = generate(plus, get_backend("synthetic", GenerateParams()), samples_per_problem, seed)
    t = time.perf_counter()
    weak = _verdicts("weak_assert", plus, samples, executor)
    rates = {}
    for label, frame in (("plus_io", plus), ("augmented_io", augmented)):
        verdicts = pl.concat([weak, _verdicts("strong_io", frame, samples, executor)])
        rates[label] = pooled_rates(pair_counts(paired_flags(verdicts, "weak_assert", "strong_io")),
                                    n_boot=1000, seed=0)
        r = rates[label]
        print(f"[stripped] {label}: P(strong fail | weak pass) = {r['fp_given_weak_pass']:.4f} "
              f"[{r['fp_given_weak_pass_ci_low']:.4f}, {r['fp_given_weak_pass_ci_high']:.4f}] "
              f"({samples.height} synthetic samples, {time.perf_counter() - t:.0f}s so far)")
    ref, got = rates["plus_io"], rates["augmented_io"]["fp_given_weak_pass"]
    inside = ref["fp_given_weak_pass_ci_low"] <= got <= ref["fp_given_weak_pass_ci_high"]
    print(f"[stripped] augmented estimate inside HumanEval+'s interval: {inside}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--mutants", type=int, default=20, help="mutants per problem, at most")
    ap.add_argument("--mbpp", action="store_true", help="also check MBPP+ canonical solutions")
    ap.add_argument("--stripped-only", action="store_true",
                    help="only the same-reference comparison (HumanEval+ minus plus_input)")
    args = ap.parse_args()
    executor = SandboxExecutor(cache_dir=None)
    if args.stripped_only:
        stripped_comparison(args.samples, args.seed, executor)
        executor.close()
        return
    plain = load_dataset("humaneval")
    plus_problems = load_dataset("humanevalplus")
    canonical_check(plus_problems, executor, "humanevalplus")
    if args.mbpp:
        canonical_check(load_dataset("mbppplus"), executor, "mbppplus")

    t = time.perf_counter()
    augmented, report = augment_problems(plain, AugmentParams(), args.seed)
    print(f"[augment] plain HumanEval, default params: {json.dumps(summary(report))} "
          f"({time.perf_counter() - t:.1f}s, cached runs are fast)")
    records, _ = evalplus.read_records(evalplus.locate(evalplus.HUMANEVALPLUS))
    contracts = {r["task_id"]: r["contract"] for r in records}
    with_contracts, report_c = augment_problems(plain, AugmentParams(), args.seed, contracts=contracts)
    print(f"[augment+contracts] with HumanEval+'s contracts: {json.dumps(summary(report_c))}")
    plus = with_suite(plain, plus_problems)

    mutants = mutant_samples(plain, args.mutants, args.seed)
    timeouts = {p: 3.0 for p in plain["problem_id"]}
    t = time.perf_counter()
    table = kills({"weak_assert": (plain, "weak_assert"), "plus_io": (plus, "strong_io"),
                   "augmented_io": (augmented, "strong_io"),
                   "augmented_contract_io": (with_contracts, "strong_io")}, mutants, executor, timeouts)
    print(f"[adequacy] {mutants.height} mutants of {plain.height} references ({time.perf_counter() - t:.1f}s)")
    print(mutation_scores(table))
    for suite in ("augmented_io", "augmented_contract_io", "weak_assert"):
        print(f"[adequacy] share of plus_io's kills that {suite} also kills: "
              f"{kill_coverage(table, suite, 'plus_io'):.4f}")

    backend = get_backend("synthetic", GenerateParams())
    samples = generate(plain, backend, args.samples, args.seed)
    ref = fp_rate(plus, samples, executor, "humanevalplus strong")
    for label, frame in (("augmented", augmented), ("augmented+contracts", with_contracts)):
        got = fp_rate(frame, samples, executor, f"{label} strong")
        inside = ref["fp_given_weak_pass_ci_low"] <= got["fp_given_weak_pass"] <= ref["fp_given_weak_pass_ci_high"]
        print(f"[fp] {label} estimate inside HumanEval+'s interval: {inside}")
    stripped_comparison(args.samples, args.seed, executor)
    executor.close()


if __name__ == "__main__":
    main()
