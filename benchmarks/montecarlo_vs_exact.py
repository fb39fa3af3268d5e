"""Is the Monte Carlo majority vote unbiased? Its estimates against the exact estimator.

Where a pool is small enough, majority vote's expected accuracy at subset size n is computed
exactly (``majority.majority_accuracy_exact``); past that, ``strategies`` falls back to the Monte
Carlo walk (``montecarlo.monte_carlo_problem`` with ``plain_vote``). This script runs both on
the same pools, for several seeds, and prints the z-score of every (problem, n) cell
((MC mean - exact) / MC standard error) and of the mean over problems at each n. An unbiased
estimator with a correct standard error gives z-scores that look standard normal: mean near 0,
about 5% beyond +-1.96, few far out (the standard error is itself estimated from the replicates,
so small ones give heavier tails than a normal's). A cell whose replicates all agree has no
spread and no z-score: its largest error is printed instead (with 200 replicates a cell whose
true accuracy is 0.99 shows no spread 13% of the time).

Pools are SIMULATED (NOT model samples): per problem, answer-class probabilities ~ Dirichlet
over 1-8 classes with one class correct, so there are ties, near-ties and landslides; 200
samples each by default, the size of the GSM8K pools checked when the walk was rewritten.

    .venv/bin/python benchmarks/montecarlo_vs_exact.py [--problems 150] [--pool 200] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse

import numpy as np
import polars as pl

from stages.stats.majority import exact_feasible, majority_accuracy_exact
from stages.stats.montecarlo import plain_vote
from stages.stats.strategies import _monte_carlo, default_ns, prepare_pool


def simulated_pool(problems: int, pool: int, rng: np.random.Generator) -> pl.DataFrame:
    """SIMULATED answer classes: per problem 1-8 classes, Dirichlet shares, class 0 correct."""
    frames = []
    for p in range(problems):
        k = int(rng.integers(1, 9))
        shares = rng.dirichlet(np.full(k, float(rng.choice([0.3, 1.0, 3.0]))))
        cluster = rng.choice(k, size=pool, p=shares)
        frames.append(pl.DataFrame({
            "problem_id": f"sim{p:04d}", "sample_idx": np.arange(pool),
            "cluster": [f"c{c}" for c in cluster], "score": None,
            "weak_pass": True, "correct": cluster == 0,
        }, schema_overrides={"score": pl.Float64}))
    return pl.concat(frames)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--problems", type=int, default=150)
    ap.add_argument("--pool", type=int, default=200)
    ap.add_argument("--replicates", type=int, default=200, help="as the analyze stage's default")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()
    pool = simulated_pool(args.problems, args.pool, np.random.default_rng(12345))
    sizes = (pool.group_by("problem_id", "cluster").agg(pl.len().alias("m"), pl.col("correct").sum().alias("k"))
             .sort("problem_id", "cluster"))
    feasible = [pid for (pid,), part in sizes.group_by("problem_id", maintain_order=True)
                if exact_feasible(part["m"].to_numpy())]  # as strategies decides it
    frame = prepare_pool(pool.filter(pl.col("problem_id").is_in(feasible)))
    n_problems = len(feasible)
    ns = default_ns(args.pool)
    exact = np.stack([majority_accuracy_exact(part["m"].to_numpy(), part["k"].to_numpy(), ns) for (_,), part in
                      sizes.filter(pl.col("problem_id").is_in(feasible)).group_by("problem_id", maintain_order=True)])
    print(f"SIMULATED pools: {args.problems} problems x {args.pool} samples, {n_problems} within the exact "
          f"estimator's budget (the rest left out); subset sizes {ns.min()}..{ns.max()} ({ns.size} points); "
          f"{args.replicates} replicates per problem")
    cells = []
    for seed in args.seeds:
        mean, var, _ = _monte_carlo(frame, n_problems, ns, {"majority_vote": plain_vote}, args.replicates,
                                    seed)["majority_vote"]
        live = var > 0  # a cell with no Monte Carlo spread (n = 1 of a one-class pool) has no z
        z = (mean - exact)[live] / np.sqrt(var[live])
        zero_err = np.abs(mean - exact)[~live].max(initial=0.0)
        spread = var.sum(0) > 0  # at n = pool size every replicate sees the whole pool
        overall = (mean.mean(0) - exact.mean(0))[spread] / (np.sqrt(var.sum(0)[spread]) / n_problems)
        cells.append(z)
        print(f"seed {seed}: per (problem, n) cell: {z.size} z-scores, mean {z.mean():+.3f}, sd {z.std():.3f}, "
              f"beyond +-1.96 {np.mean(np.abs(z) > 1.96):.3f}, max |z| {np.abs(z).max():.2f}; "
              f"cells without spread: {int((~live).sum())}, largest error there {zero_err:.1e}; "
              f"mean over problems, at each of {int(spread.sum())} n: max |z| {np.abs(overall).max():.2f}")
    z = np.concatenate(cells)
    print(f"all seeds: {z.size} z-scores, mean {z.mean():+.3f}, sd {z.std():.3f}, "
          f"beyond +-1.96 {np.mean(np.abs(z) > 1.96):.3f}, beyond +-3 {np.mean(np.abs(z) > 3):.4f}")


if __name__ == "__main__":
    main()
