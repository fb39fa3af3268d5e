"""SIMULATED benchmark: predict coverage at 8 x N from N samples per problem, every estimator.

Pools are simulated (no real per-problem counts at 10,000 samples are available offline): P
problems with p_i from a heavy-left-tailed mixture -- a share pi0 at exactly 0 (never solvable),
the rest Beta(a, b) with a in 0.2..0.5, or a log-uniform or Kumaraswamy tail (distributions the
parametric estimators do not contain), plus one control pool without an unsolvable share. Each replicate draws p_i, c_i ~ Binomial(N, p_i), fits each
estimator with a bootstrap over problems and predicts coverage at 8N. Truth: the expected
coverage of the drawn problems, mean_i 1 - (1 - p_i)^(8N). Reports mean / worst |error| in
points and the share of 90% intervals that cover the truth.

``oracle`` is not an estimator: it is the posterior mean under the TRUE prior of the pool (which
no estimator knows), the least-squares best prediction from these counts. Its error is what the
simulation itself leaves: the truth is the coverage of the drawn problems, and how many of them
have p between 1/(8N) and 1/N varies from draw to draw. If the oracle misses a target, no
estimator can meet it at that problem count.

    .venv/bin/python benchmarks/extrapolation_backtest.py --replicates 100
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from stages.stats.bootstrap import resample_weights
from stages.stats.extrapolation.estimators import ESTIMATORS, band, fit_estimator


def _kumaraswamy(rng: np.random.Generator, size: int) -> np.ndarray:
    return (1 - (1 - rng.random(size)) ** (1 / 3.0)) ** (1 / 0.3)  # Kumaraswamy(0.3, 3)


def _inflated(share: float, draw):  # a share of problems at p = 0 exactly, the rest from draw
    return lambda rng, size: np.where(rng.random(size) < share, 0.0, draw(rng, size))


# scenario -> sampler of p (rng, size); all heavy-left-tailed, all but the control with zeros
SCENARIOS = {
    "zi15+beta(0.3,3)": _inflated(0.15, lambda rng, size: rng.beta(0.3, 3.0, size)),
    "zi05+beta(0.2,1.5)": _inflated(0.05, lambda rng, size: rng.beta(0.2, 1.5, size)),
    "zi25+beta(0.5,2)": _inflated(0.25, lambda rng, size: rng.beta(0.5, 2.0, size)),
    "zi10+loguniform(1e-5,1)": _inflated(0.10, lambda rng, size: 10 ** rng.uniform(-5, 0, size)),
    "zi10+kumaraswamy(0.3,3)": _inflated(0.10, _kumaraswamy),
    "control: beta(0.3,2), no zeros": lambda rng, size: rng.beta(0.3, 2.0, size),
}
ORACLE = "oracle"  # not an estimator: the Bayes predictor that knows the true prior (a bound)
# not an estimator either: the true prior's population coverage 1 - E_F[(1-p)^k], which ignores
# each problem's own count (what the parametric estimators predicted before 2026-12-01)
ORACLE_POPULATION = "oracle_population"


def scenarios(rng: np.random.Generator, problems: int) -> dict[str, np.ndarray]:
    """One simulated pool of p per scenario."""
    return {name: draw(rng, problems) for name, draw in SCENARIOS.items()}


@functools.lru_cache(maxsize=None)
def _posterior_moments(scen: str, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """E[(1-p)^k | c] and E[(1-p)^2k | c] for c = 0..n under the true prior of ``scen``."""
    from scipy.stats import binom

    prior = SCENARIOS[scen](np.random.default_rng(12345), 200_000)
    like = binom.pmf(np.arange(n + 1)[:, None], n, prior[None, :])  # (n+1, M)
    miss = (1 - prior) ** k
    total = like.sum(axis=1)
    return (like @ miss) / total, (like @ miss**2) / total


def oracle(scen: str, n: int, k: int, c: np.ndarray, ci: float) -> tuple[float, float, float]:
    """(prediction, low, high) of the drawn problems' coverage at ``k`` by the posterior under the
    TRUE prior of ``scen`` (Monte Carlo, 200,000 draws): the least-squares best any estimator
    fitted on these counts can do, so its error is the floor the simulation itself sets.
    The interval is normal over the independent per-problem posteriors."""
    from scipy.stats import norm

    m1, m2 = _posterior_moments(scen, n, k)
    solved = 1 - m1[c]
    var = np.clip(m2[c] - m1[c] ** 2, 0, None)
    mean, sd = float(solved.mean()), float(np.sqrt(var.sum()) / len(c))
    z = norm.ppf(0.5 + ci / 2)
    return mean, mean - z * sd, mean + z * sd


def one_replicate(rep: int, args: argparse.Namespace) -> list[tuple[str, str, float, float]]:
    """(scenario, estimator, error in points, covered) for every scenario of replicate ``rep``."""
    rng = np.random.default_rng(rep)
    k = np.array([args.factor * args.n])
    out = []
    for scen, p in scenarios(rng, args.problems).items():
        if args.scenarios and scen not in args.scenarios.split(";"):
            continue
        c = rng.binomial(args.n, p)
        n = np.full(args.problems, args.n)
        truth = float(np.mean(1 - (1 - p) ** k[0]))
        w = resample_weights(args.problems, args.boot, rep)
        for name in args.estimators.split(","):
            if name == ORACLE_POPULATION:
                prior = SCENARIOS[scen](np.random.default_rng(12345), 200_000)
                point = float(1 - np.mean((1 - prior) ** k[0]))
                out.append((scen, name, 100 * (point - truth), float("nan")))
                continue
            if name == ORACLE:
                point, lo, hi = oracle(scen, args.n, int(k[0]), c, args.ci)
                out.append((scen, name, 100 * (point - truth), float(lo <= truth <= hi)))
                continue
            cov = fit_estimator(name, n, c, w).coverage(k)[:, 0]
            low, high = band(cov[:, None], args.ci)
            out.append((scen, name, 100 * (cov[0] - truth), float(low[0] <= truth <= high[0])))
    return out


def _share(hits: list[float] | np.ndarray) -> str:
    """Interval coverage as a percentage; "—" for a row without intervals (oracle_population)."""
    values = np.asarray(hits, dtype=np.float64)
    return "—" if np.isnan(values).all() else f"{np.nanmean(values):.0%}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=100)
    ap.add_argument("--problems", type=int, default=164)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--factor", type=float, default=8.0)
    ap.add_argument("--boot", type=int, default=200)
    ap.add_argument("--ci", type=float, default=0.9)
    ap.add_argument("--estimators", default=",".join([*ESTIMATORS, ORACLE, ORACLE_POPULATION]),
                    help=f"comma-separated; '{ORACLE}' is the Bayes predictor under the true prior (a bound), "
                         f"'{ORACLE_POPULATION}' the true prior's population coverage (no interval)")
    ap.add_argument("--scenarios", default="", help="';'-separated subset of the scenario names (default: all)")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (replicates are independent)")
    args = ap.parse_args()
    names = args.estimators.split(",")
    errs: dict[tuple[str, str], list[float]] = {}
    cover: dict[tuple[str, str], list[float]] = {}
    start = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        for done, rows in enumerate(pool.map(one_replicate, range(args.replicates), [args] * args.replicates), 1):
            for scen, name, err, hit in rows:
                errs.setdefault((scen, name), []).append(err)
                cover.setdefault((scen, name), []).append(hit)
            if done % 10 == 0:
                print(f"{done} replicates, {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    took = time.perf_counter() - start
    print(f"SIMULATED pools: {args.replicates} replicates x {args.problems} problems, fit on N = {args.n}, "
          f"predict coverage at {int(args.factor * args.n)} ({args.ci:.0%} intervals, {args.boot} bootstrap reps); "
          f"{took:.0f} s on {args.jobs} processes")
    print("| scenario | estimator | mean abs error (pts) | worst abs error (pts) | mean error (pts) | interval coverage |")
    print("|---|---|---|---|---|---|")
    for name in names:  # over all scenarios
        e = np.concatenate([errs[(s, m)] for (s, m) in errs if m == name])
        cv = np.concatenate([cover[(s, m)] for (s, m) in cover if m == name])
        print(f"| **all** | {name} | {np.nanmean(np.abs(e)):.2f} | {np.nanmax(np.abs(e)):.2f} | {np.nanmean(e):+.2f} | "
              f"{_share(cv)} |")
    for (scen, name), e in errs.items():
        a = np.abs(e)
        print(f"| {scen} | {name} | {np.nanmean(a):.2f} | {np.nanmax(a):.2f} | {np.nanmean(e):+.2f} | "
              f"{_share(cover[(scen, name)])} |")


if __name__ == "__main__":
    main()
