"""The whole analysis of one run as a pure function: verdicts (or counts) in, tables + metrics out.

``stages/analyze.py`` reads files, calls :func:`run_analysis`, writes what it returns. Each part
is one module of this package: curves (pass@k for every k with intervals), fits (every
extrapolation estimator, backtest of each), false_positives + verifier_limits (a weak/strong
verifier pair), strategies (selection on one pool) and costs (cost-of-pass). Parts that a run cannot support (counts only,
no verifier pair, too few samples for a backtest, strategies without scores) are skipped with
the reason in the metrics, never filled with made-up numbers. Failed rows (generation, harness or
judge failures) are not in n; each verifier reports them as ``n_failed`` (stages/stats/passk.py).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from stages.params import AnalyzeParams
from stages.stats.costs import (
    cheapest,
    cost_of_pass,
    gpu_cost_per_sample,
    pareto_frontier,
    token_cost_per_sample,
)
from stages.stats.curves import as_counts, curve
from stages.stats.false_positives import (
    pair_counts,
    paired_flags,
    per_problem_rates,
    pooled_rates,
    selection_pool,
)
from stages.stats.fits import (
    DEFAULT_ESTIMATOR,
    ESTIMATORS,
    analyze_fits,
    backtest,
    choose,
    summarise,
)
from stages.stats.math_metrics import (
    GOLD,
    answer_metrics,
    gold_verdicts,
    judge_metrics,
    majority_headline,
    math_pool,
    quality_tables,
)
from stages.stats.passk import failure_report, short_of_k
from stages.stats.strategies import STRATEGIES, split_available, strategy_curves
from stages.stats.verifier_limits import analyze_limits, flaws_counts, k_grid

WEAK_PREFERENCE = ("weak_assert", "weak_io")
STRONG_PREFERENCE = ("strong_io", "math_answer")


@dataclass
class Analysis:
    """Headline metrics (JSON-ready: finite floats or None) and the tables behind them."""

    metrics: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)


def finite(value: Any) -> Any:
    """JSON-safe numbers: NaN / inf become None (JSON has neither); containers recurse.

    Floats keep 6 significant digits (not 6 decimals: a cost per sample of 3e-8 USD is not 0).
    """
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(f"{float(value):.6g}") if math.isfinite(value) else None  # 6 significant digits
    if isinstance(value, np.integer):
        return int(value)
    return value


def pick_pair(verifiers: list[str], weak: str = "auto", strong: str = "auto") -> tuple[str, str] | None:
    """The (weak, strong) verifier pair to account false positives for, or None."""
    present = set(verifiers)
    if weak != "auto" or strong != "auto":
        if weak == "auto" or strong == "auto" or not {weak, strong} <= present:
            raise ValueError(f"analyze: verifier pair ({weak}, {strong}) not in the verdicts ({', '.join(sorted(present))})")
        return weak, strong
    strong_pick = next((v for v in STRONG_PREFERENCE if v in present), None)
    judges = sorted(v for v in present if v.startswith("judge:"))
    weak_pick = next((v for v in (*WEAK_PREFERENCE, *judges) if v in present and v != strong_pick), None)
    return (weak_pick, strong_pick) if weak_pick and strong_pick else None


def headline(curve_df: pl.DataFrame, ks: list[int]) -> dict[str, Any]:
    """pass@k (and interval) at the headline ks each verifier reaches, and coverage@N.

    Shape kept from the first analyze stage: {verifier: {"pass@k": v, "pass@k_ci": [lo, hi],
    "coverage@N": v}} at the top level (contracts and tracking read it there).
    """
    out: dict[str, Any] = {}
    for (verifier,), group in curve_df.group_by("verifier", maintain_order=True):
        by_k = {row["k"]: row for row in group.iter_rows(named=True)}
        n_max = int(group["k"].max())
        entry: dict[str, Any] = {}
        for k in ks:
            if k in by_k:
                entry[f"pass@{k}"] = by_k[k]["pass_at_k"]
                entry[f"pass@{k}_ci"] = [by_k[k]["ci_low"], by_k[k]["ci_high"]]
        entry[f"coverage@{n_max}"] = by_k[n_max]["pass_at_k"]
        out[verifier] = entry
    return out


# --- extrapolation (owned with stages/stats/fits.py): tables fit_params, extrapolation, backtest ---
# fit_params: verifier, fit, param, value, ci_low, ci_high (one row per estimator parameter).
# extrapolation: verifier, fit, k, coverage, ci_low, ci_high (every estimator, to factor x N).
# backtest: verifier, estimator, repeat, n_fit, n_predict, observed, predicted, error, ci_low,
#   ci_high, covered (fit on backtest_fraction x N samples per problem, predict coverage at N).
def _fit_verifier(verifier: str, part: pl.DataFrame, params: AnalyzeParams, seed: int) -> tuple[dict, list, list, list]:
    """One verifier's backtest and fits: (metrics entry, fit_params rows, extrapolation frames,
    backtest rows)."""
    n, c = part.get_column("n").to_numpy(), part.get_column("c").to_numpy()
    entry: dict[str, Any] = {}
    param_rows, ext_frames, backtests = [], [], []
    default = params.extrapolation_estimator
    try:
        rows = backtest(n, c, params.backtest_fraction, seed, ESTIMATORS, params.backtest_bootstrap,
                        params.ci, params.backtest_repeats)
        summary = summarise(rows)
        entry["backtest"] = {k: rows[0][k] for k in ("n_fit", "n_predict", "observed")} | {"estimators": summary}
        backtests += [{"verifier": verifier, **row} for row in rows]
    except ValueError as exc:
        summary, entry["backtest"] = {}, {"skipped": str(exc)}
    if default == "auto":
        default = choose(summary, DEFAULT_ESTIMATOR)
    try:
        fits = analyze_fits(n, c, params.bootstrap, params.ci, seed, params.extrapolate_factor,
                            params.target_coverage, default=default)
    except ValueError as exc:
        return {"skipped": str(exc)}, [], [], backtests
    entry["default"] = default
    for name, fit in fits.items():
        entry[name] = {**fit.params, f"k@{params.target_coverage}": fit.k_target["k"],
                       f"k@{params.target_coverage}_ci_low": fit.k_target["k_ci_low"],
                       f"k@{params.target_coverage}_ci_high": fit.k_target["k_ci_high"]}
        names = [p for p in fit.params if not p.endswith(("_ci_low", "_ci_high"))]
        param_rows += [{"verifier": verifier, "fit": name, "param": p, "value": fit.params[p],
                        "ci_low": fit.params.get(f"{p}_ci_low"), "ci_high": fit.params.get(f"{p}_ci_high")} for p in names]
        ext_frames.append(pl.DataFrame({"verifier": verifier, "fit": name, **fit.extrapolation}))
    return entry, param_rows, ext_frames, backtests


def _fit_tables(counts: pl.DataFrame, params: AnalyzeParams, seed: int,
                pool: ThreadPoolExecutor) -> Callable[[], tuple[dict, list, list, list]]:
    """Start every verifier's fits on ``pool``; returns the call that waits for and merges them
    (metrics by verifier, then the fit_params, extrapolation and backtest rows in verifier order)."""
    verifiers = counts.get_column("verifier").unique(maintain_order=True).to_list()
    futures = [pool.submit(_fit_verifier, v, counts.filter(pl.col("verifier") == v), params, seed) for v in verifiers]

    def merge() -> tuple[dict, list, list, list]:
        metrics, param_rows, ext_frames, backtests = {}, [], [], []
        for verifier, future in zip(verifiers, futures, strict=True):
            entry, rows, frames, tested = future.result()
            metrics[verifier] = entry
            param_rows, ext_frames, backtests = param_rows + rows, ext_frames + frames, backtests + tested
        return metrics, param_rows, ext_frames, backtests

    return merge
# --- end extrapolation ---


def _pair_parts(verdicts: pl.DataFrame, pair: tuple[str, str], params: AnalyzeParams, seed: int,
                samples: pl.DataFrame | None, analysis: Analysis) -> pl.DataFrame:
    """False positives and fLaws limits for the pair; returns the selection pool."""
    weak, strong = pair
    flags = paired_flags(verdicts, weak, strong)
    counts = pair_counts(flags)
    analysis.tables["false_positives"] = per_problem_rates(counts, params.ci)
    analysis.metrics["false_positives"] = {"weak": weak, "strong": strong,
                                           **pooled_rates(counts, params.bootstrap, params.ci, seed)}
    pool = selection_pool(flags, samples)
    fl_counts = flaws_counts(pool)
    ks, extrapolated = k_grid(int(fl_counts.get_column("n").min()), params.utility_k_max, params.extrapolate_utility)
    limits = analyze_limits(fl_counts, params.utility_costs, ks, params.bootstrap, params.ci, seed, extrapolated)
    analysis.tables["limits_accuracy"] = limits["accuracy"]
    analysis.tables["utility"] = limits["utility"]
    analysis.tables["utility_optimal"] = limits["optimal"]
    analysis.metrics["verifier_limits"] = {
        "ceiling": limits["ceiling"],
        "optimal_k": {f"c={row['cost']:g}": row for row in limits["optimal"].to_dicts()},
    }
    return pool


def nest(flat: dict[str, Any], strip: str = "") -> dict[str, Any]:
    """``{"a/b": 1}`` -> ``{"a": {"b": 1}}`` (after removing a leading ``strip``): DVC and MLflow
    flatten nested metrics themselves, with their own separators."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = key.removeprefix(strip).split("/")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def _math_parts(verdicts: pl.DataFrame, samples: pl.DataFrame | None, pool: pl.DataFrame | None,
                params: AnalyzeParams, seed: int, analysis: Analysis) -> pl.DataFrame:
    """Answer accuracy and judge quality into the metrics; returns the pool with answer classes."""
    gold = gold_verdicts(verdicts)
    judged, quality = judge_metrics(verdicts, gold, params.bootstrap, params.ci, seed)
    analysis.metrics["math"] = nest(answer_metrics(gold, params.bootstrap, params.ci, seed) | judged, "math/")
    analysis.tables |= quality_tables(quality)
    return math_pool(verdicts, samples, pool)


def _cost_per_sample(samples: pl.DataFrame | None, params: AnalyzeParams) -> tuple[float | None, str]:
    if params.gpu_price_per_hour is not None and params.gpu_seconds is not None and samples is not None:
        return gpu_cost_per_sample(params.gpu_seconds, samples.height, params.gpu_price_per_hour), "gpu_hours"
    if samples is not None and {"prompt_tokens", "completion_tokens"} <= set(samples.columns):
        return token_cost_per_sample(samples, params.price_input_per_mtok, params.price_output_per_mtok), "tokens"
    return None, "no samples table: token counts unknown"


def sandbox_levels(verdicts: pl.DataFrame) -> dict[str, object]:
    """Where the run's programs ran (docs/sandbox.md, "Levels"): every level tag that verdict
    rows of executed code carry, and whether all of them had bubblewrap's isolation. A run below
    it (``rlimits``) publishes numbers a hostile candidate could have forged: say so."""
    tags = sorted(t for t in verdicts.get_column("sandbox").unique().to_list() if t and t != "none")
    return {"levels": ",".join(tags) or "none", "isolated": bool(tags) and all(t.startswith("bwrap") for t in tags)}


def run_analysis(
    table: pl.DataFrame,
    params: AnalyzeParams,
    seed: int,
    samples: pl.DataFrame | None = None,
    model: str = "model",
) -> Analysis:
    """Everything the analyze stage reports, for verdict rows or per-problem counts.

    The fits and their backtest (half the time at 10^5-10^6 verdicts) run in other threads, one
    per verifier, while the rest runs here: both are numpy over whole arrays, which releases the GIL, and
    each part has its own seeded generator, so the numbers do not depend on the schedule.
    """
    analysis = Analysis()
    counts = as_counts(table)
    threads = max(1, min(counts.get_column("verifier").n_unique(), os.cpu_count() or 1))
    # BLAS's own threads would compete with these for the same cores (docs/benchmarks.md,
    # "Analysis speed"). The limit is process-wide while it holds: speed only, never numbers.
    with threadpool_limits(limits=1, user_api="blas"), \
            ThreadPoolExecutor(max_workers=threads, thread_name_prefix="infscale-fits") as background:
        fitted = _fit_tables(counts, params, seed, background)
        curve_df = curve(counts, None, params.bootstrap, params.ci, seed)
        analysis.tables |= {"counts": counts, "curve": curve_df}
        analysis.metrics |= headline(curve_df, params.headline_k)
        _failures(table, counts, params.headline_k, analysis)
        analysis.metrics["n_problems"] = counts.get_column("problem_id").n_unique()
        if "sandbox" in table.columns:
            analysis.metrics["sandbox"] = sandbox_levels(table)
        analysis.metrics["n_samples"] = int(counts.get_column("n").max()) if counts.height else 0
        _selection_parts(table, counts, params, seed, samples, model, analysis)
        fit_metrics, param_rows, ext_frames, backtests = fitted()
    analysis.metrics["fits"] = fit_metrics
    if param_rows:
        analysis.tables["fit_params"] = pl.DataFrame(param_rows)
        analysis.tables["extrapolation"] = pl.concat(ext_frames)
    if backtests:
        analysis.tables["backtest"] = pl.DataFrame(backtests)
    analysis.metrics = finite(analysis.metrics)
    return analysis


def _selection_parts(table: pl.DataFrame, counts: pl.DataFrame, params: AnalyzeParams, seed: int,
                     samples: pl.DataFrame | None, model: str, analysis: Analysis) -> None:
    """Verifier pair, math answers, selection strategies and cost-of-pass, as far as the run
    supports them (the rest is named under ``skipped``)."""
    verifiers = counts.get_column("verifier").unique().to_list()
    rows = "verdict" in table.columns
    pair = pick_pair(verifiers, params.weak_verifier, params.strong_verifier) if rows else None
    is_math = rows and GOLD in verifiers
    if pair is None and not is_math:
        analysis.metrics.setdefault("skipped", {})["pair"] = "per-problem counts only, or no (weak, strong) verifier pair"
        return
    pool = _pair_parts(table, pair, params, seed, samples, analysis) if pair is not None else None
    if is_math:  # majority vote over equivalence classes, answer accuracy, judge quality
        pool = _math_parts(table, samples, pool, params, seed, analysis)
    available, skipped = split_available(pool, STRATEGIES)
    strategies = strategy_curves(pool, None, params.bootstrap, params.ci, seed, params.strategy_replicates,
                                 params.bom_threshold, available)
    analysis.tables["strategies"] = strategies
    if is_math:
        analysis.metrics["math"] |= nest(majority_headline(strategies), "math/")
    n_max = int(strategies.get_column("n").max())
    analysis.metrics["strategies"] = {
        row["strategy"]: {f"acc@{n_max}": row["accuracy"], f"acc@{n_max}_ci_low": row["ci_low"],
                          f"acc@{n_max}_ci_high": row["ci_high"], "method": row["method"]}
        for row in strategies.filter(pl.col("n") == n_max).iter_rows(named=True)
    } | {name: {"skipped": reason} for name, reason in skipped.items()}
    cost, basis = _cost_per_sample(samples, params)
    if cost is None:
        analysis.metrics.setdefault("skipped", {})["costs"] = basis
        return
    priced = cost_of_pass(strategies.filter(pl.col("strategy") != "oracle"), cost, model)
    analysis.tables["cost_of_pass"] = priced
    analysis.tables["frontier"] = pareto_frontier(priced)
    analysis.metrics["costs"] = {"basis": basis, "cost_per_sample": cost, "cheapest": cheapest(priced)}


def _failures(table: pl.DataFrame, counts: pl.DataFrame, ks: list[int], analysis: Analysis) -> None:
    """Per verifier: ``n_failed`` (generation/harness/judge failures, not in n), problems left
    without a judged sample, and headline ks some problem has too few judged samples for."""
    if "verdict" in table.columns:
        report = failure_report(table, counts, ks)
    else:  # published counts carry no failure rows
        analysis.metrics.setdefault("skipped", {})["n_failed"] = "per-problem counts carry no failed rows"
        report = {str(v): short_of_k(part, ks) for (v,), part in counts.group_by("verifier", maintain_order=True)}
    for verifier, info in report.items():
        entry = analysis.metrics.setdefault(verifier, {})
        for key, value in info.items():
            entry[key] = entry.get(key, {}) | value if isinstance(value, dict) else value
