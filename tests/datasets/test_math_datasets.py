"""GSM8K and MATH-500 loaders: pinned files from the mirror, problems rows, prompts."""

from __future__ import annotations

import pytest

from stages.datasets import REGISTRY, load_dataset
from stages.datasets.gsm8k import gold_answer
from stages.datasets.math_prompts import render_prompt
from stages.datasets.mirror import DatasetUnavailable
from stages.schemas import PROBLEMS


def _load(name: str):
    try:
        return load_dataset(name)
    except DatasetUnavailable as exc:
        pytest.skip(f"dataset mirror absent (set INFSCALE_DATA_MIRROR): {exc}")


@pytest.mark.mirror
@pytest.mark.parametrize(("name", "rows"), [("gsm8k", 1319), ("math500", 500)])
def test_loads_every_problem_as_math_rows(name, rows):
    df = _load(name)
    assert df.height == rows and df.schema == PROBLEMS
    assert df["problem_id"].n_unique() == rows
    assert set(df["kind"]) == {"math"} and set(df["program_prefix"]) == {""}
    assert df["answer"].str.len_chars().min() > 0
    assert df["prompt"].str.contains("\\boxed{", literal=True).all()
    assert df["dataset_hash"].n_unique() == 1 and len(df["dataset_hash"][0]) == 64


@pytest.mark.mirror
def test_gsm8k_gold_drops_thousands_separators():
    df = _load("gsm8k")
    assert df.filter(df["problem_id"] == "gsm8k/test/611")["answer"][0] == "1450000"
    assert "####" in df["reference"][0]


def test_gold_answer_names_the_line_when_marker_missing():
    with pytest.raises(ValueError, match="line 7"):
        gold_answer("no marker here", "gsm8k/test.jsonl line 7")


def test_few_shot_prepends_published_exemplars():
    zero = render_prompt("math500", "What is 2+2?")
    four = render_prompt("math500", "What is 2+2?", shots=4)
    assert four.startswith(zero.split("Problem:")[0]) and four.endswith(zero.split("\n\n", 1)[1])
    assert four.count("\\boxed{") == 5 and zero.count("\\boxed{") == 1
    with pytest.raises(ValueError):
        render_prompt("gsm8k", "x", shots=99)


def test_registered():
    assert REGISTRY["gsm8k"] == "stages.datasets.gsm8k"
    assert REGISTRY["math500"] == "stages.datasets.math500"


@pytest.mark.mirror
def test_prepare_shots_reach_the_prompt_and_code_datasets_refuse_them(mirror_dir) -> None:
    """``prepare.shots`` (params) -> the loader's few-shot template; a code dataset says why not."""
    from stages.params import AugmentParams, BaseParams, PrepareParams
    from stages.prepare import prepare_problems

    zero, _ = prepare_problems(BaseParams(dataset="gsm8k"), PrepareParams(limit=2), AugmentParams())
    two, _ = prepare_problems(BaseParams(dataset="gsm8k"), PrepareParams(limit=2, shots=2), AugmentParams())
    assert two["prompt"][0].endswith(zero["prompt"][0].split("\n\n")[-1])
    assert two["prompt"][0].count("\\boxed") > zero["prompt"][0].count("\\boxed")
    with pytest.raises(ValueError, match="prepare.shots: humaneval"):
        prepare_problems(BaseParams(dataset="humaneval"), PrepareParams(shots=1), AugmentParams())
