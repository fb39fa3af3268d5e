"""Bias and 95%-interval coverage of every published estimator on SIMULATED pools of known truth.

Population: problem solve rates p_i ~ Beta(0.6, 1.2); each sample correct with p_i (strong
verifier = truth); the weak verifier accepts a wrong sample with q = 0.15 and rejects a correct
one with r = 0.05; a wrong sample gives one of 3 wrong answers uniformly (vote clusters); an LLM
judge says yes to a correct sample with 0.9, to a wrong one with 0.2. P = 100 problems x N = 20
samples per replicate; ``--errors 0.2`` turns that share of samples into ``gen_error`` rows
(dropped from n by ``counts_from_verdicts``). The truth each estimator is scored against is the
population value (closed form or quadrature over the Beta), i.e. what the metric claims to
estimate for a fresh draw of problems and samples. Numbers are simulated, not any model's.

    .venv/bin/python benchmarks/estimator_coverage.py [--replicates 200] [--errors 0.2]

Prints one markdown row per metric: truth, mean estimate - truth (bias) with its Monte Carlo
standard error, and the share of replicates whose 95% interval covers the truth.
"""

from __future__ import annotations

import argparse
import itertools
import math
import time

import numpy as np
import polars as pl
from scipy import integrate
from scipy.special import betaln, gammaln
from scipy.stats import beta as beta_dist

from stages.stats.curves import curve_arrays
from stages.stats.false_positives import pair_counts, pooled_rates
from stages.stats.judge_quality import judge_quality
from stages.stats.passk import counts_from_verdicts
from stages.stats.strategies import strategy_curves
from stages.stats.verifier_limits import analyze_limits, flaws_counts

A, B, Q, R, JUDGE_TPR, JUDGE_FPR, WRONG = 0.6, 1.2, 0.15, 0.05, 0.9, 0.2, 3
P, N, KS = 100, 20, (1, 10)


def _expect(f) -> float:
    """E[f(p)] for p ~ Beta(A, B), by quadrature."""
    return integrate.quad(lambda p: f(p) * beta_dist.pdf(p, A, B), 0, 1, limit=200)[0]


def _majority_curve(p: np.ndarray, n: int) -> np.ndarray:
    """Exact majority-vote accuracy with n fresh samples at each p: right w.p. p, else one of
    WRONG answers uniformly; ties broken uniformly (expected correctness of the winner)."""
    counts = np.array([c for c in itertools.product(range(n + 1), repeat=WRONG + 1) if sum(c) == n])
    top = counts.max(axis=1)
    value = (counts[:, 0] == top) / (counts == top[:, None]).sum(axis=1)
    log_coef = gammaln(n + 1) - gammaln(counts + 1).sum(axis=1)
    right = counts[:, 0][None, :]
    log_p = right * np.log(p)[:, None] + (n - right) * np.log((1 - p) / WRONG)[:, None]
    return (np.exp(log_coef[None, :] + log_p) * value[None, :]).sum(axis=1)


def truths() -> dict[str, float]:
    out = {f"pass@{k}": 1 - math.exp(betaln(A, B + k) - betaln(A, B)) for k in KS}
    out[f"coverage@{N}"] = 1 - math.exp(betaln(A, B + N) - betaln(A, B))
    e_p = A / (A + B)
    out["fp_share_of_weak_passes"] = Q * (1 - e_p) / ((1 - R) * e_p + Q * (1 - e_p))
    out["weak_pass_strong_fail"] = Q * (1 - e_p)
    out["weak_fail_strong_pass"] = R * e_p

    def ceiling(p: float) -> float:
        pc, pfp = (1 - R) * p, Q * (1 - p)
        return pc / (pc + pfp)

    def resample(p: float) -> float:
        pc, pfp = (1 - R) * p, Q * (1 - p)
        return (1 - (1 - pc - pfp) ** N) * pc / (pc + pfp)

    out["verifier_limits.ceiling"] = _expect(ceiling)
    out[f"resample_until_weak_pass acc@{N}"] = _expect(resample)
    grid = np.linspace(0.0005, 0.9995, 1000)  # majority: midpoint rule on a fine grid (smooth integrand)
    weights = beta_dist.pdf(grid, A, B) / 1000
    out[f"majority_vote acc@{N}"] = float(weights @ _majority_curve(grid, N))
    out["judge fpr"] = JUDGE_FPR
    out["judge tpr"] = JUDGE_TPR
    return out


def replicate(rng: np.random.Generator, seed: int, errors: float, n_boot: int) -> dict[str, tuple[float, float, float]]:
    """One simulated run -> {metric: (estimate, ci_low, ci_high)}."""
    p = rng.beta(A, B, P)
    correct = rng.random((P, N)) < p[:, None]
    weak = np.where(correct, rng.random((P, N)) >= R, rng.random((P, N)) < Q)
    judge_yes = np.where(correct, rng.random((P, N)) < JUDGE_TPR, rng.random((P, N)) < JUDGE_FPR)
    failed = rng.random((P, N)) < errors
    answer = np.where(correct, "right", np.char.add("wrong", rng.integers(0, WRONG, (P, N)).astype(str)))
    pid = np.repeat([f"p{i:03d}" for i in range(P)], N)
    idx = np.tile(np.arange(N), P)

    def verdicts(ok: np.ndarray, name: str) -> pl.DataFrame:
        v = np.where(failed, "gen_error", np.where(ok, "pass", "fail"))
        return pl.DataFrame({"problem_id": pid, "sample_idx": idx, "verifier": name, "verdict": v.ravel()})

    out: dict[str, tuple[float, float, float]] = {}
    counts = counts_from_verdicts(verdicts(correct, "strong"))
    n, c = counts["n"].to_numpy(), counts["c"].to_numpy()
    # with gen_error rows a problem can hold fewer than k judged samples; analyze then skips that
    # k (names the problems), so the replicate reports it only when every problem reaches k
    ks = [k for k in (*KS, N) if k <= n.min()]
    point, low, high = curve_arrays(n, c, ks, n_boot, 0.95, seed)
    for k, v, lo, hi in zip(ks, point, low, high, strict=True):
        out[f"coverage@{N}" if k == N else f"pass@{k}"] = (v, lo, hi)
    keep = ~failed.ravel()
    flags = pl.DataFrame({"problem_id": pid[keep], "sample_idx": idx[keep], "weak_pass": weak.ravel()[keep],
                          "strong_pass": correct.ravel()[keep], "cluster": answer.ravel()[keep]})
    rates = pooled_rates(pair_counts(flags), n_boot, 0.95, seed)
    for name in ("fp_share_of_weak_passes", "weak_pass_strong_fail", "weak_fail_strong_pass"):
        out[name] = (rates[name], rates[f"{name}_ci_low"], rates[f"{name}_ci_high"])
    pool = flags.rename({"strong_pass": "correct"}).with_columns(pl.lit(None, dtype=pl.Float64).alias("score"))
    limits = analyze_limits(flaws_counts(pool), [], np.arange(1, 2), n_boot, 0.95, seed)
    ceil = limits["ceiling"]
    out["verifier_limits.ceiling"] = (ceil["value"], ceil["ci_low"], ceil["ci_high"])
    if errors == 0:  # the strategies need one pool size N for "acc@N" (errors make pools unequal)
        curves = strategy_curves(pool, np.array([N]), n_boot, 0.95, seed, 20, 0.2,
                                 ("majority_vote", "resample_until_weak_pass"))
        for row in curves.iter_rows(named=True):
            out[f"{row['strategy']} acc@{N}"] = (row["accuracy"], row["ci_low"], row["ci_high"])
    judge = pl.DataFrame({"problem_id": pid[keep], "sample_idx": idx[keep],
                          "verdict": np.where(judge_yes.ravel()[keep], "pass", "fail"), "score": None})
    gold = pl.DataFrame({"problem_id": pid[keep], "sample_idx": idx[keep],
                         "verdict": np.where(correct.ravel()[keep], "correct", "incorrect")})
    q = judge_quality(judge, gold, n_boot, 0.95, seed)
    for stat in ("fpr", "tpr"):
        out[f"judge {stat}"] = (q[stat], q[f"{stat}_ci_low"], q[f"{stat}_ci_high"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--replicates", type=int, default=200)
    ap.add_argument("--errors", type=float, default=0.0, help="share of samples turned into gen_error rows")
    ap.add_argument("--bootstrap", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    start = time.perf_counter()
    truth = truths()
    rng = np.random.default_rng(args.seed)
    runs = [replicate(rng, args.seed + i, args.errors, args.bootstrap) for i in range(args.replicates)]
    print(f"SIMULATED: P={P}, N={N}, {args.replicates} replicates, gen_error share {args.errors}, "
          f"B={args.bootstrap} ({time.perf_counter() - start:.0f} s)")
    print("| metric | truth | bias (mean est - truth) +- MC s.e. | 95% CI coverage |")
    print("|---|---|---|---|")
    for name in truth:
        rows = np.array([r[name] for r in runs if name in r and r[name][0] is not None], dtype=np.float64)
        if rows.size == 0:
            continue
        est, lo, hi = rows[:, 0], rows[:, 1], rows[:, 2]
        bias, se = est.mean() - truth[name], est.std(ddof=1) / math.sqrt(est.size)
        cover = float(np.mean((lo <= truth[name]) & (truth[name] <= hi)))
        print(f"| {name} | {truth[name]:.4f} | {bias:+.4f} +- {se:.4f} | {cover:.1%} ({est.size}) |")


if __name__ == "__main__":
    main()
