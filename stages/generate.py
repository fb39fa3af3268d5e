"""Stage ``generate``: problems -> samples (N candidates per problem) through a backend.

Reads ``base`` (seed) and ``generate`` from params.yaml; writes ``data/samples.parquet`` keyed by
(problem_id, sample_idx) and, for the ``synthetic`` stand-in backend, its known truth
(``data/synthetic_truth.parquet``) so estimators can be tested against it.

Samples are written as they arrive to append-only shards under ``data/shards/<run key>/``
(``stages.shards``), so a run that dies (even by SIGKILL) resumes where it stopped when started
again: nothing already written is lost or duplicated, and with fixed seeds the final table
equals that of an uninterrupted run. The run key changes with every parameter that changes a
sample, so stale shards are never mixed in; the shards are removed once the table is written.
Run metadata (backend, served model, run key, counts; never an API key) goes to
``data/generate_run.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

from stages.backends import Backend, get_backend
from stages.contracts import validate_table
from stages.entry import run_entry
from stages.io import read_table, write_json, write_table
from stages.params import BaseParams, GenerateParams, load_section
from stages.progress import Counter
from stages.schemas import PROBLEMS, SAMPLES, SYNTHETIC_TRUTH, conform, empty
from stages.shards import ShardStore, fill, run_key

OUT = Path("data/samples.parquet")
TRUTH_OUT = Path("data/synthetic_truth.parquet")
SHARDS = Path("data/shards")
RUN_OUT = Path("data/generate_run.json")


def generate(
    problems: pl.DataFrame,
    backend: Backend,
    n_samples: int,
    seed: int,
    store: ShardStore | None = None,
) -> pl.DataFrame:
    """All samples of all problems, sorted by key; every key present exactly once.

    With a ``store`` the samples go to its shards as they arrive and samples already there are
    not asked for again (see ``stages.shards.fill``); without one they are kept in memory.
    """
    with Counter(problems.height * n_samples, f"generate ({backend.name})") as bar:
        if store is not None:
            samples = fill(store, backend, problems, n_samples, seed, advance=bar.advance)
        else:
            frames: list[pl.DataFrame] = []
            for frame in backend.generate(problems, n_samples, seed):
                frames.append(conform(frame, SAMPLES, "samples"))
                bar.advance(frame.height)
            samples = pl.concat(frames) if frames else empty(SAMPLES)
    return check_complete(samples.sort("problem_id", "sample_idx"), problems, n_samples)


def check_complete(samples: pl.DataFrame, problems: pl.DataFrame, n_samples: int) -> pl.DataFrame:
    """Fail loudly on a duplicated or missing (problem_id, sample_idx) key."""
    dup = samples.filter(pl.struct("problem_id", "sample_idx").is_duplicated())
    if dup.height:
        raise ValueError(
            f"samples: duplicate keys, e.g. {dup.select('problem_id', 'sample_idx').row(0)}"
        )
    expected = problems.select("problem_id").join(
        pl.DataFrame({"sample_idx": range(n_samples)}, schema={"sample_idx": pl.Int64}), how="cross"
    )
    missing = expected.join(samples, on=["problem_id", "sample_idx"], how="anti")
    if missing.height:
        raise ValueError(
            f"samples: {missing.height} missing keys, e.g. {missing.row(0)}; the backend left gaps"
        )
    return samples


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m stages.generate", description=__doc__)
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--problems", type=Path, default=Path("data/problems.parquet"))
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--truth-out", type=Path, default=TRUTH_OUT)
    ap.add_argument("--run-out", type=Path, default=RUN_OUT)
    ap.add_argument(
        "--shards", type=Path, default=SHARDS, help="root of the resumable sample shards"
    )
    ap.add_argument(
        "--flush-rows", type=int, default=4096, help="write a shard part every N rows ..."
    )
    ap.add_argument("--flush-s", type=float, default=2.0, help="... or every S seconds")
    args = ap.parse_args(argv)

    def body() -> None:
        base = load_section("base", args.params, BaseParams)
        own = load_section("generate", args.params, GenerateParams)
        problems = read_table(args.problems, PROBLEMS, "problems")
        backend = get_backend(own.backend, own)
        fingerprint = getattr(backend, "fingerprint", lambda: "")()
        key = run_key(own, base.seed, problems, fingerprint)
        store = ShardStore(args.shards / key, flush_rows=args.flush_rows, flush_s=args.flush_s)
        resumed = len(store.done())
        samples = generate(problems, backend, own.n_samples, base.seed, store)
        # GE contract (stages/contracts.py)
        validate_table("samples", samples, n_samples=own.n_samples)
        write_table(samples, args.out, SAMPLES, "samples")
        truth_fn = getattr(backend, "truth", None)
        truth = truth_fn(problems, own.n_samples, base.seed) if truth_fn else empty(SYNTHETIC_TRUTH)
        write_table(truth, args.truth_out, SYNTHETIC_TRUTH, "synthetic_truth")
        errors = samples["error"].is_not_null().sum()
        meta = {
            **getattr(backend, "metadata", {"backend": backend.name}),
            "run_key": key,
            "n_samples": own.n_samples,
            "seed": base.seed,
            "samples": samples.height,
            "error_rows": int(errors),
            "resumed_samples": resumed,
        }
        write_json(meta, args.run_out)
        store.remove()
        print(
            f"generate: {samples.height} samples from backend '{backend.name}' -> {args.out}"
            f" ({errors} error rows; {resumed} resumed from shards {key})"
        )

    run_entry("generate", body)


if __name__ == "__main__":
    main()
