"""Synthetic math samples (offline stand-in): correct ones verify correct, wrong ones incorrect."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import polars as pl
import pytest

from stages.backends.synthetic_math import as_fraction, gold_forms, math_sample, sample_math
from stages.datasets.mirror import DatasetUnavailable
from stages.verifiers.math_answer import verify_math


def _verify(problems: pl.DataFrame, n_per: int, seed: int) -> tuple[pl.DataFrame, dict]:
    rng = np.random.default_rng(seed)
    rows, truth = [], {}
    for row in problems.iter_rows(named=True):
        for i in range(n_per):
            s = math_sample(row, rng, correct=i % 2 == 0)
            rows.append((row["problem_id"], i, s.text))
            truth[(row["problem_id"], i)] = (i % 2 == 0, s)
    samples = pl.DataFrame(rows, schema=["problem_id", "sample_idx", "completion"], orient="row")
    return verify_math(problems, samples, workers=1), truth


@pytest.mark.mirror
@pytest.mark.parametrize(("dataset", "every"), [("math500", 10), ("gsm8k", 40)])
def test_synthetic_samples_verify_as_intended(dataset, every):
    from stages.datasets import load_dataset

    try:
        problems = load_dataset(dataset)
    except DatasetUnavailable as exc:
        pytest.skip(f"dataset mirror absent: {exc}")
    problems = problems.gather_every(every)  # a spread of answer types, kept fast
    verdicts, truth = _verify(problems, 4, seed=7)
    bad = [
        (pid, idx, truth[(pid, idx)][1].boxed, v)
        for pid, idx, v in verdicts.select("problem_id", "sample_idx", pl.col("verdict").cast(pl.String)).iter_rows()
        if v != ("correct" if truth[(pid, idx)][0] else "incorrect")
    ]
    assert not bad, bad[:10]
    muts = {s.mutation for ok, s in truth.values() if not ok}
    assert {"off_by_one", "intermediate"} <= muts


def test_correct_forms_vary_but_are_equal():
    forms = gold_forms("\\frac{1}{2}")
    assert {"\\frac{1}{2}", "1/2", "0.5"} <= set(forms)
    assert {as_fraction(f) for f in forms if as_fraction(f) is not None} == {Fraction(1, 2)}
    assert "1,000" in gold_forms("1000")


def test_text_ends_in_a_box_and_is_seeded():
    row = {"answer": "18", "reference": "16 - 3 - 4 = <<16-3-4=9>>9 eggs. 9 * 2 = 18.\n#### 18"}
    a = sample_math(row, np.random.default_rng(1), correct=False)
    b = sample_math(row, np.random.default_rng(1), correct=False)
    assert a == b and "\\boxed{" in a.splitlines()[-1]
    assert "<<" not in a and "####" not in a
