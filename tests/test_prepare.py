"""The prepare stage: ``prepare.limit`` picks the problems before any expensive work."""

from __future__ import annotations

import polars as pl
import pytest

from stages.params import AugmentParams, BaseParams, PrepareParams
from stages.prepare import prepare_problems


@pytest.mark.mirror
def test_limit_is_applied_before_the_expected_outputs_are_computed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from stages.datasets import evalplus, expected_outputs
    from stages.datasets.mirror import DatasetUnavailable

    try:
        evalplus.raw_problems("humanevalplus")
    except DatasetUnavailable as exc:
        pytest.skip(f"no HumanEval+ file here: {exc}")

    seen: list[int] = []

    def record(problems: pl.DataFrame, **kw: object) -> pl.DataFrame:
        seen.append(problems.height)  # what the reference would have been run on
        return problems

    monkeypatch.setattr(expected_outputs, "fill_expected_outputs", record)
    problems, _ = prepare_problems(BaseParams(dataset="humanevalplus"), PrepareParams(limit=3),
                                   AugmentParams(enabled=False))
    assert seen == [3] and problems["problem_id"].to_list() == [
        "HumanEval/0", "HumanEval/1", "HumanEval/2"]
