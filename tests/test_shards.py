"""Append-only sample shards and the run key that keeps stale shards out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from stages.backends.prompting import error_row, frame, sample_row
from stages.params import GenerateParams
from stages.shards import ShardStore, fill, run_key

PROBLEMS = pl.DataFrame({"problem_id": ["a", "b"], "kind": ["code", "code"], "prompt": ["p", "q"]})


def rows(pid: str, idxs: range, text: str = "x", error: str | None = None) -> pl.DataFrame:
    common = dict(backend="t", model="m", sampling="{}", seed=1)
    if error:
        return frame([error_row(pid, i, error=error, **common) for i in idxs])
    return frame(
        [sample_row(pid, i, completion=f"{text}{i}", finish_reason="stop", **common) for i in idxs]
    )


def test_run_key_follows_what_changes_samples_and_ignores_how_they_are_fetched() -> None:
    base = GenerateParams(backend="sglang", model="m")
    key = run_key(base, 1, PROBLEMS)
    same = [
        base.model_copy(update={"n_samples": 1000}),
        base.model_copy(
            update={
                "sglang": base.sglang.model_copy(
                    update={
                        "concurrency": 3,
                        "url": "http://x:1",
                        "batch_size": 2,
                        "max_retries": 0,
                    }
                )
            }
        ),
        base.model_copy(
            update={"openai": base.openai.model_copy(update={"chat": True})}
        ),  # not the backend used
        base.model_copy(update={"prompts_file": "datasets/copy_of_prompts.yaml"}),  # same templates
    ]
    assert all(run_key(p, 1, PROBLEMS) == key for p in same)
    different = [
        (base.model_copy(update={"temperature": 0.2}), 1, PROBLEMS),
        (base.model_copy(update={"model": "m2"}), 1, PROBLEMS),
        (
            base.model_copy(update={"sglang": base.sglang.model_copy(update={"top_k": 5})}),
            1,
            PROBLEMS,
        ),
        (
            base.model_copy(
                update={"prompts": base.prompts.model_copy(update={"math": "{prompt}!"})}
            ),
            1,
            PROBLEMS,
        ),
        (base, 2, PROBLEMS),
        (base, 1, PROBLEMS.with_columns(prompt=pl.lit("changed"))),
    ]
    assert all(run_key(p, s, probs) != key for p, s, probs in different)
    openai = GenerateParams(backend="openai", model="m")
    assert run_key(openai, 1, PROBLEMS) != run_key(
        openai.model_copy(update={"openai": openai.openai.model_copy(update={"batch_size": 4})}),
        1,
        PROBLEMS,
    )  # one seed per request
    assert run_key(base, 1, PROBLEMS, "file-a") != run_key(base, 1, PROBLEMS, "file-b")


def test_parts_are_durable_and_merge_to_one_row_per_key(tmp_path: Path) -> None:
    store = ShardStore(tmp_path, flush_rows=3, flush_s=1e9)
    store.append(rows("a", range(2)))
    assert store.parts() == []  # buffered
    store.append(rows("a", range(2, 4)))
    assert len(store.parts()) == 1
    store.append(rows("b", range(1), error="HTTP 500"))
    store.flush()
    reopened = ShardStore(tmp_path)
    assert reopened.read().height == 5
    assert reopened.done() == {("a", i) for i in range(4)}  # error rows are retried
    reopened.append(rows("b", range(1), text="retry"))
    reopened.flush()
    merged = ShardStore(tmp_path).merged()
    assert (
        merged.height == 5
        and merged.filter(pl.col("problem_id") == "b")["completion"][0] == "retry0"
    )
    assert [p.name for p in ShardStore(tmp_path).parts()] == [
        f"part-00000{i}.parquet" for i in range(3)
    ]


def test_a_half_written_part_is_ignored_and_a_corrupt_one_named(tmp_path: Path) -> None:
    (tmp_path / ".part-000000.parquet.tmp").write_bytes(b"half")
    store = ShardStore(tmp_path)
    assert not list(tmp_path.glob("*.tmp")) and store.read().height == 0
    (tmp_path / "part-000000.parquet").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="part-000000.parquet: unreadable sample shard"):
        ShardStore(tmp_path).read()


class Recorder:
    """A backend that records the skip set it was given and yields one frame per problem."""

    name = "recorder"

    def __init__(self, fail_after: int | None = None) -> None:
        self.skips: list[frozenset] = []
        self.fail_after = fail_after

    def generate(
        self, problems: pl.DataFrame, n: int, seed: int, skip: frozenset = frozenset()
    ) -> Iterator[pl.DataFrame]:
        self.skips.append(skip)
        for k, pid in enumerate(problems["problem_id"]):
            if self.fail_after is not None and k >= self.fail_after:
                raise RuntimeError("server went away")
            yield rows(pid, range(n))  # ignores skip on purpose: fill must drop the duplicates


def test_fill_resumes_without_duplicates_and_flushes_on_failure(tmp_path: Path) -> None:
    store = ShardStore(tmp_path, flush_s=1e9)
    with pytest.raises(RuntimeError, match="went away"):
        fill(store, Recorder(fail_after=1), PROBLEMS, 3, 0)
    assert ShardStore(tmp_path).done() == {("a", i) for i in range(3)}  # flushed despite the error
    again = Recorder()
    seen: list[int] = []
    out = fill(ShardStore(tmp_path), again, PROBLEMS, 3, 0, advance=seen.append)
    assert again.skips == [frozenset({("a", 0), ("a", 1), ("a", 2)})]
    assert out.height == 6 and out.select("problem_id", "sample_idx").is_unique().all()
    assert ShardStore(tmp_path).read().height == 6  # the re-sent rows for "a" were not stored
    assert sum(seen) == 6
    assert (
        fill(ShardStore(tmp_path), Recorder(), PROBLEMS, 2, 0).height == 4
    )  # a smaller N reuses shards
