"""The synthetic stand-in policy: schema, determinism, known truth, and that its correct
samples really are correct (run against HumanEval's own tests)."""

from __future__ import annotations

import ast
import io
import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats

from stages.backends import Backend, get_backend, sample_seed
from stages.backends.code_mutants import CRUDE, OPERATORS
from stages.backends.synthetic import MATH_WRONG, from_params, truth
from stages.params import GenerateParams, SyntheticParams
from stages.schemas import SAMPLES, SYNTHETIC_TRUTH

SEED = 1234
ROOT = Path(__file__).resolve().parents[2]


def _generate(problems: pl.DataFrame, n: int, seed: int = SEED, **kw) -> pl.DataFrame:
    backend = from_params(GenerateParams(**kw))
    return pl.concat(list(backend.generate(problems, n, seed)))


@pytest.fixture(scope="module")
def samples_and_truth(humaneval: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    backend = from_params(GenerateParams())
    samples = pl.concat(list(backend.generate(humaneval, 40, SEED)))
    return samples, backend.truth(humaneval, 40, SEED)


@pytest.fixture(scope="module")
def joined(samples_and_truth, humaneval) -> pl.DataFrame:
    samples, known = samples_and_truth
    problems = humaneval.select("problem_id", "program_prefix", "reference", "test", "entry_point")
    return samples.join(known, on=["problem_id", "sample_idx"]).join(problems, on="problem_id")


def test_meets_the_backend_protocol_and_the_samples_schema(samples_and_truth, humaneval) -> None:
    samples, _ = samples_and_truth
    backend = get_backend("synthetic", GenerateParams(model="stand-in"))
    assert isinstance(backend, Backend) and backend.name == "synthetic"
    assert samples.schema == pl.Schema(SAMPLES)
    assert samples.height == humaneval.height * 40
    assert samples["backend"].unique().to_list() == ["synthetic"]
    assert samples["model"].unique().to_list() == [GenerateParams().model]
    assert samples["latency_s"].unique().to_list() == [0.0]
    assert samples["finish_reason"].unique().to_list() == ["stop"]
    assert samples["error"].null_count() == samples.height
    sampling = json.loads(samples["sampling_params"][0])
    assert sampling["temperature"] == GenerateParams().temperature
    assert sampling["synthetic"]["alpha"] == SyntheticParams().alpha
    first = samples.row(0, named=True)
    assert first["seed"] == sample_seed(SEED, first["problem_id"], first["sample_idx"])
    assert (samples["completion_tokens"] > 0).all() and (samples["prompt_tokens"] > 0).all()


def test_token_counts_are_the_documented_regex_count(humaneval) -> None:
    samples = _generate(humaneval.head(3), 5)
    for row in samples.iter_rows(named=True):
        assert row["completion_tokens"] == len(re.findall(r"\w+|[^\w\s]", row["completion"]))


def test_same_seed_gives_byte_identical_frames(humaneval) -> None:
    def parquet(df: pl.DataFrame) -> bytes:
        buf = io.BytesIO()
        df.write_parquet(buf)
        return buf.getvalue()

    subset = humaneval.head(30)
    assert parquet(_generate(subset, 20)) == parquet(_generate(subset, 20))
    assert not _generate(subset, 20).equals(_generate(subset, 20, seed=SEED + 1))
    params = GenerateParams()
    assert parquet(truth(subset, 20, SEED, params)) == parquet(truth(subset, 20, SEED, params))


_DIGEST = r"""
import hashlib, io, polars as pl
from stages.datasets import load_dataset
from stages.backends.synthetic import from_params
buf = io.BytesIO()
frames = from_params(None).generate(load_dataset("humaneval").head(40), 10, 7)
pl.concat(list(frames)).write_parquet(buf)
print(hashlib.sha256(buf.getvalue()).hexdigest())
"""


def test_frames_do_not_depend_on_the_process_hash_seed() -> None:
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        proc = subprocess.run([sys.executable, "-c", _DIGEST], env=env, capture_output=True,
                              text=True, timeout=120, cwd=ROOT)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        digests.add(proc.stdout.strip())
    assert len(digests) == 1


def test_draws_do_not_depend_on_other_problems_or_on_n(humaneval) -> None:
    full = _generate(humaneval.head(20), 30)
    part = _generate(humaneval.slice(10, 5), 12)
    keyed = full.join(part.select("problem_id", "sample_idx"), on=["problem_id", "sample_idx"])
    assert keyed.sort("problem_id", "sample_idx").equals(part.sort("problem_id", "sample_idx"))


def test_skip_leaves_out_exactly_those_rows(humaneval) -> None:
    subset = humaneval.head(2)
    pid = subset["problem_id"][0]
    skip = frozenset({(pid, 0), (pid, 3)})
    backend = from_params(GenerateParams())
    rest = pl.concat(list(backend.generate(subset, 5, SEED, skip=skip)))
    full = _generate(subset, 5)
    assert rest.height == full.height - 2
    assert full.join(rest, on=["problem_id", "sample_idx"], how="anti").select(
        "problem_id", "sample_idx"
    ).rows() == [(pid, 0), (pid, 3)]
    kept = full.join(rest.select("problem_id", "sample_idx"), on=["problem_id", "sample_idx"])
    assert kept.equals(rest)


def test_truth_schema_and_labels(samples_and_truth) -> None:
    _, known = samples_and_truth
    assert known.schema == pl.Schema(SYNTHETIC_TRUTH)
    assert known.select(pl.col("p_true").n_unique().over("problem_id") == 1).to_series().all()
    labels = set(known["mutation"].drop_nulls().unique())
    assert labels <= set(OPERATORS) | set(CRUDE)
    assert _labels_match_origin(known)


def _labels_match_origin(known: pl.DataFrame) -> bool:
    """Reference-derived rows have no mutation label; every other row has one."""
    return bool((known["mutation"].is_null() == known["from_reference"]).all())


def _binned_chi2(c: np.ndarray, p: np.ndarray, n: int, bins: int = 10) -> float:
    """Chi-square over problems grouped by p into equal-size bins (pooled Poisson-binomial z^2)."""
    order = np.argsort(p, kind="stable")
    chi2 = 0.0
    for group in np.array_split(order, bins):
        expected, var = n * p[group].sum(), (n * p[group] * (1 - p[group])).sum()
        chi2 += (c[group].sum() - expected) ** 2 / max(var, 1e-9)
    return chi2


def test_fraction_of_reference_derived_samples_agrees_with_p_true(samples_and_truth) -> None:
    """Counts of reference-derived samples per problem against the known p_i (164 problems)."""
    _, known = samples_and_truth
    n = 40
    per = known.group_by("problem_id").agg(
        pl.col("from_reference").sum().alias("c"), pl.col("p_true").first()
    )
    assert per["c"].max() <= n and per.height == 164
    c, p = per["c"].to_numpy().astype(float), per["p_true"].to_numpy()
    z = (c.sum() - n * p.sum()) / np.sqrt((n * p * (1 - p)).sum())
    assert abs(z) < 4, f"pooled z = {z:.2f}"
    chi2 = _binned_chi2(c, p, n)
    assert stats.chi2.sf(chi2, df=10) > 1e-4, f"binned chi2 = {chi2:.1f} on 10 df"
    # the same statistic rejects when the p_i are attached to the wrong problems (it has power)
    shuffled = np.random.default_rng(0).permutation(p)
    assert stats.chi2.sf(_binned_chi2(c, shuffled, n), df=10) < 1e-6


def test_every_sample_forms_a_parseable_program(joined) -> None:
    for row in joined.iter_rows(named=True):
        ast.parse(row["program_prefix"] + row["completion"])


def test_mutants_differ_from_the_reference_in_ast(joined) -> None:
    mutants = joined.filter(pl.col("mutation").is_in(list(OPERATORS)))
    assert mutants.height > 0
    for row in mutants.iter_rows(named=True):
        prefix = row["program_prefix"]
        reference = ast.dump(ast.parse(prefix + row["reference"]))
        assert ast.dump(ast.parse(prefix + row["completion"])) != reference, row["problem_id"]


def _canonical(program: str) -> str:
    """The AST with every ``Name`` replaced by its order of first appearance (renaming-blind)."""
    tree = ast.parse(program)
    order: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            node.id = order.setdefault(node.id, f"v{len(order)}")
    return ast.dump(tree)


def test_truth_says_reference_derived_exactly_when_the_sample_is_a_renamed_reference(
    joined,
) -> None:
    reference: dict[str, str] = {}
    for row in joined.iter_rows(named=True):
        prefix, pid = row["program_prefix"], row["problem_id"]
        if pid not in reference:
            reference[pid] = _canonical(prefix + row["reference"])
        same = _canonical(prefix + row["completion"]) == reference[pid]
        assert same == row["from_reference"], (pid, row["sample_idx"], row["mutation"])


def test_crude_programs_are_return_none_or_pass(joined) -> None:
    crude = joined.filter(pl.col("mutation").is_in(list(CRUDE)))
    assert crude.height > 0
    assert set(crude["completion"].str.strip_chars()) <= set(CRUDE.values())


def test_reference_derived_samples_are_not_all_identical(joined) -> None:
    per = (
        joined.filter(pl.col("from_reference"))
        .group_by("problem_id")
        .agg(pl.len().alias("n"), pl.col("completion").n_unique().alias("distinct"))
        .filter(pl.col("n") >= 10)
    )
    assert per.height > 20
    assert (per["distinct"] > 1).all(), per.filter(pl.col("distinct") == 1)


# Runs many candidate programs in ONE subprocess: each in a fresh namespace, under an alarm.
_RUNNER = r"""
import json, signal, sys
def _alarm(*_): raise TimeoutError("timed out")
signal.signal(signal.SIGALRM, _alarm)
results = []
for job in json.load(sys.stdin):
    try:
        signal.alarm(10)
        ns = {"__name__": "__candidate__"}
        exec(compile(job["program"] + "\n\n" + job["test"], "<candidate>", "exec"), ns)
        ns["check"](ns[job["entry_point"]])
        results.append([job["key"], "pass", ""])
    except BaseException as exc:
        results.append([job["key"], "fail", f"{type(exc).__name__}: {exc}"[:300]])
    finally:
        signal.alarm(0)
print(json.dumps(results))
"""


def _run_in_one_process(jobs: list[dict]) -> list[list]:
    proc = subprocess.run([sys.executable, "-c", _RUNNER], input=json.dumps(jobs), text=True,
                          capture_output=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_every_reference_derived_variant_passes_humaneval_tests(humaneval) -> None:
    """All 164 problems, p_i close to 1, 6 samples each: every distinct variant passes ``check``."""
    params = GenerateParams(synthetic=SyntheticParams(alpha=200.0, beta=0.01))
    backend = from_params(params)
    samples = pl.concat(list(backend.generate(humaneval, 6, SEED)))
    known = backend.truth(humaneval, 6, SEED)
    derived = (
        samples.join(known, on=["problem_id", "sample_idx"])
        .filter(pl.col("from_reference"))
        .unique(["problem_id", "completion"], keep="first", maintain_order=True)
        .join(humaneval.select("problem_id", "program_prefix", "test", "entry_point"),
              on="problem_id")  # fmt: skip
    )
    assert derived["problem_id"].n_unique() == humaneval.height
    jobs = [
        {"key": f"{r['problem_id']}#{r['sample_idx']}", "test": r["test"],
         "program": r["program_prefix"] + r["completion"], "entry_point": r["entry_point"]}
        for r in derived.iter_rows(named=True)
    ]  # fmt: skip
    half = len(jobs) // 2
    results = _run_in_one_process(jobs[:half]) + _run_in_one_process(jobs[half:])
    failed = [r for r in results if r[1] != "pass"]
    assert len(results) == len(jobs) and not failed, failed[:5]


def test_a_reference_that_does_not_parse_falls_back_to_text_and_never_crashes() -> None:
    problems = pl.DataFrame(
        {"problem_id": ["broken/0"], "dataset": ["x"], "kind": ["code"], "prompt": ["def f(x):\n"],
         "program_prefix": ["def f(x):\n"], "entry_point": ["f"], "reference": ["    return x +\n"]}
    )  # fmt: skip
    params = GenerateParams(synthetic=SyntheticParams(alpha=1.0, beta=1.0))
    samples = pl.concat(list(from_params(params).generate(problems, 50, SEED)))
    known = from_params(params).truth(problems, 50, SEED)
    assert samples.height == 50
    derived = samples.join(known, on=["problem_id", "sample_idx"]).filter(pl.col("from_reference"))
    uncommented = derived["completion"].str.replace_all(r"(?m)^\s*#.*\n?", "")
    assert (uncommented == "    return x +\n").all()
    assert set(known["mutation"].drop_nulls()) <= set(CRUDE)


def test_an_empty_reference_gives_rows_not_a_crash(humaneval) -> None:
    problems = humaneval.head(1).with_columns(reference=pl.lit(""))
    samples = pl.concat(list(from_params(GenerateParams()).generate(problems, 20, SEED)))
    assert samples.height == 20 and samples["error"].null_count() == 20


def _math_problems() -> pl.DataFrame:
    return pl.DataFrame(
        {"problem_id": ["gsm8k/0", "gsm8k/1"], "dataset": ["gsm8k"] * 2, "kind": ["math"] * 2,
         "prompt": ["What is 2+2?", "What is 3+3?"], "program_prefix": ["", ""],
         "entry_point": ["", ""],
         "reference": ["2+2=4", "3+3=6"], "answer": ["4", "6"]}
    )  # fmt: skip


def test_math_rows_go_to_synthetic_math(monkeypatch) -> None:
    fake = types.ModuleType("stages.backends.synthetic_math")
    def sample_math(row: dict, rng: np.random.Generator, correct: bool) -> str:
        return f"#### {row['answer'] if correct else 'wrong'}"

    fake.sample_math = sample_math  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "stages.backends.synthetic_math", fake)
    backend = from_params(GenerateParams())
    samples = pl.concat(list(backend.generate(_math_problems(), 30, SEED)))
    known = backend.truth(_math_problems(), 30, SEED)
    both = samples.join(known, on=["problem_id", "sample_idx"])
    assert (both["completion"] != "#### wrong").to_list() == both["from_reference"].to_list()
    assert set(both["mutation"].drop_nulls()) <= {MATH_WRONG}


def test_math_rows_without_synthetic_math_name_the_dataset(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "stages.backends.synthetic_math", None)
    with pytest.raises(RuntimeError, match="gsm8k"):
        list(from_params(GenerateParams()).generate(_math_problems(), 2, SEED))


def test_unknown_kind_names_the_problem(humaneval) -> None:
    bad = humaneval.head(1).with_columns(kind=pl.lit("poetry"))
    with pytest.raises(ValueError, match="HumanEval/0.*poetry"):
        list(from_params(GenerateParams()).generate(bad, 1, SEED))


def test_math_rows_use_the_real_synthetic_math_module_when_present() -> None:
    pytest.importorskip("stages.backends.synthetic_math")
    backend = from_params(GenerateParams(synthetic=SyntheticParams(alpha=1.0, beta=1.0)))
    known = backend.truth(_math_problems(), 40, SEED)
    samples = pl.concat(list(backend.generate(_math_problems(), 40, SEED)))
    assert samples.height == 80 and samples["completion"].str.len_chars().min() > 0
    assert _labels_match_origin(known)


# Whole-program problems (MBPP+): the prefix is empty and the reference is the whole module,
# so every sample must itself be a whole program (a bare indented body would not parse).
WHOLE_PROGRAM = (
    "import math\n\n\n"
    "def helper(values):\n    acc = 0\n    for v in values:\n        acc += v * v\n    return acc\n"
    "\n\ndef norm(xs):\n    total = helper(xs)\n    if total <= 0:\n        return 0.0\n"
    "    return round(math.sqrt(total), 6)\n"
)
WHOLE_CASES = (([3, 4],), ([1, 2, 2],), ([],), ([0],))


def _whole_program_problem() -> pl.DataFrame:
    from tests.backends.problem_rows import as_problems

    row = {"problem_id": "Toy/1", "dataset": "toy", "kind": "code", "prompt": "norm of a list",
           "program_prefix": "", "entry_point": "norm", "reference": WHOLE_PROGRAM}  # fmt: skip
    return as_problems(pl.DataFrame([row]))


def _outputs(program: str) -> list:
    ns: dict = {}
    exec(program, ns)  # noqa: S102 (our own generated test programs)
    return [ns["norm"](*case) for case in WHOLE_CASES]


def test_whole_program_samples_parse_and_reference_ones_stay_correct() -> None:
    problems = _whole_program_problem()
    kw = {"synthetic": SyntheticParams(alpha=50.0, beta=50.0)}  # p_i near 1/2: both kinds
    samples = _generate(problems, 120, **kw)
    facts = truth(problems, 120, SEED, GenerateParams(**kw))
    assert samples.equals(_generate(problems, 120, **kw))  # deterministic
    rows = samples.join(facts, on=["problem_id", "sample_idx"]).iter_rows(named=True)
    expected = _outputs(WHOLE_PROGRAM)
    labels = set()
    for row in rows:
        ast.parse(row["completion"])  # the completion is the whole program
        if row["from_reference"]:
            assert _outputs(row["completion"]) == expected
        else:
            labels.add(row["mutation"])
    assert labels & set(OPERATORS) and labels & set(CRUDE)  # AST mutants and crude programs


@pytest.mark.usefixtures("mirror_dir")
def test_mbppplus_samples_are_whole_programs_that_parse() -> None:
    from stages.datasets import load_dataset

    problems = load_dataset("mbppplus").head(40)
    samples = _generate(problems, 10)
    facts = truth(problems, 10, SEED, GenerateParams())
    for completion in samples["completion"]:
        ast.parse(completion)
    assert facts["mutation"].is_in(list(OPERATORS)).sum() > facts.height // 4
