"""Stage ``generate``: problems -> samples (N candidates per problem) through a backend.

Reads ``base`` (seed) and ``generate`` from params.yaml; writes ``data/samples.parquet`` keyed by
(problem_id, sample_idx) and, for the ``synthetic`` stand-in backend, its known truth
(``data/synthetic_truth.parquet``) so estimators can be tested against it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

from stages.backends import Backend, get_backend
from stages.entry import run_entry
from stages.io import read_table, write_table
from stages.params import BaseParams, GenerateParams, load_section
from stages.progress import Counter
from stages.schemas import PROBLEMS, SAMPLES, SYNTHETIC_TRUTH, conform, empty

OUT = Path("data/samples.parquet")
TRUTH_OUT = Path("data/synthetic_truth.parquet")


def generate(problems: pl.DataFrame, backend: Backend, n_samples: int, seed: int) -> pl.DataFrame:
    """All samples of all problems, sorted by key; every key present exactly once."""
    frames: list[pl.DataFrame] = []
    with Counter(problems.height * n_samples, f"generate ({backend.name})") as bar:
        for frame in backend.generate(problems, n_samples, seed):
            frames.append(conform(frame, SAMPLES, "samples"))
            bar.advance(frame.height)
    samples = pl.concat(frames) if frames else empty(SAMPLES)
    return check_complete(samples.sort("problem_id", "sample_idx"), problems, n_samples)


def check_complete(samples: pl.DataFrame, problems: pl.DataFrame, n_samples: int) -> pl.DataFrame:
    """Fail loudly on a duplicated or missing (problem_id, sample_idx) key."""
    dup = samples.filter(pl.struct("problem_id", "sample_idx").is_duplicated())
    if dup.height:
        raise ValueError(f"samples: duplicate keys, e.g. {dup.select('problem_id', 'sample_idx').row(0)}")
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
    args = ap.parse_args(argv)

    def body() -> None:
        base = load_section("base", args.params, BaseParams)
        own = load_section("generate", args.params, GenerateParams)
        problems = read_table(args.problems, PROBLEMS, "problems")
        backend = get_backend(own.backend, own)
        samples = generate(problems, backend, own.n_samples, base.seed)
        write_table(samples, args.out, SAMPLES, "samples")
        truth_fn = getattr(backend, "truth", None)
        truth = truth_fn(problems, own.n_samples, base.seed) if truth_fn else empty(SYNTHETIC_TRUTH)
        write_table(truth, args.truth_out, SYNTHETIC_TRUTH, "synthetic_truth")
        print(f"generate: {samples.height} samples from backend '{backend.name}' -> {args.out}")

    run_entry("generate", body)


if __name__ == "__main__":
    main()
