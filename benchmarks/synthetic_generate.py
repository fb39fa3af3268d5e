"""Speed of the ``synthetic`` stand-in backend (NOT a model): HumanEval 164 problems x N samples.

Times ``generate`` on a fresh backend (reference variants, AST mutants, crude bodies, the
SAMPLES frames) and then ``truth`` on the same backend, as the generate stage calls it (the same
draws, the SYNTHETIC_TRUTH frame; parse/render caches warm). Anchor, measured in the same run: a
copy-only stand-in that writes the verbatim reference as every sample through the same frame
builder, i.e. the floor set by frame construction and seeding alone.

    .venv/bin/python benchmarks/synthetic_generate.py [--samples 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import polars as pl

from stages.backends.base import sample_seed
from stages.backends.synthetic import Draw, from_params
from stages.datasets import load_dataset


def copy_only(backend, problems: pl.DataFrame, n: int, seed: int) -> int:
    """The anchor: per-sample seeding and RNG, the verbatim reference, the same frame builder."""
    rows = 0
    for row in problems.iter_rows(named=True):
        draws = []
        for idx in range(n):
            s = sample_seed(seed, row["problem_id"], idx)
            np.random.default_rng(s).random()
            draws.append(Draw(idx, s, row["reference"], True, None))
        rows += backend._frame(row, draws).height
    return rows


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    problems = load_dataset("humaneval")
    n, seed = args.samples, args.seed
    rows = problems.height * n
    backend = from_params(None)

    def cold_generate() -> None:
        """A fresh backend each time: no parse/render cache carried over from a previous run."""
        nonlocal backend
        backend = from_params(None)
        pl.concat(list(backend.generate(problems, n, seed)))

    t_gen = best_of(args.repeat, cold_generate)
    # as the generate stage calls it: right after generate, on the same backend (warm caches)
    t_truth = best_of(args.repeat, lambda: backend.truth(problems, n, seed))
    t_anchor = best_of(args.repeat, lambda: copy_only(backend, problems, n, seed))
    print(f"synthetic backend (stand-in, not a model): {problems.height} problems x {n} samples")
    print(f"generate: {t_gen:.2f} s ({rows / t_gen:,.0f} samples/s)")
    print(f"truth:    {t_truth:.2f} s ({rows / t_truth:,.0f} samples/s)")
    print(f"anchor (copy-only, same frames): {t_anchor:.2f} s ({rows / t_anchor:,.0f} samples/s)")
    print(f"ratio generate / anchor: {t_gen / t_anchor:.1f}x")


if __name__ == "__main__":
    main()
