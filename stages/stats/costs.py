"""What a correct answer costs: cost-of-pass per strategy and the cheapest frontier.

Erol et al. 2025, "Cost-of-Pass: An Economic Framework for Evaluating Language Models": the
expected cost of obtaining one correct solution is cost(attempt) / P(attempt is correct). For a
selection strategy with a budget of n samples per problem, cost(n) = E[draws(n)] * (mean cost of
one sample) and accuracy(n) comes from :mod:`stages.stats.strategies`, so

    cost_of_pass(n) = E[draws(n)] * cost_per_sample / accuracy(n)   (infinite when accuracy is 0).

E[draws(n)] is the strategies table's ``mean_draws``: n for strategies that look at all n
samples, the expected stopping time for sequential ones (``resample_until_weak_pass`` stops at
the first weak pass), so a strategy that usually stops after two draws is not charged n.

Costs of a sample: prompt and completion tokens times the prices per million input/output tokens
(API pricing), or GPU-seconds times the price per GPU-hour (self-hosted). Verification compute is
not counted (it is typically orders of magnitude cheaper than generation; documented as a
limitation). The frontier is the set of (model, strategy, n) rows no other row beats on both
cost and accuracy, plus the single cheapest cost-of-pass row.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import polars as pl

COST_OF_PASS: Final[dict[str, pl.DataType]] = {
    "model": pl.String(),
    "strategy": pl.String(),
    "n": pl.Int64(),
    "accuracy": pl.Float64(),
    "cost": pl.Float64(),  # expected cost of one attempt with a budget of n samples
    "cost_of_pass": pl.Float64(),  # null where accuracy is 0
}


def token_cost_per_sample(samples: pl.DataFrame, price_input_per_mtok: float, price_output_per_mtok: float) -> float:
    """Mean cost of one sample from its prompt/completion token counts and per-million prices."""
    if price_input_per_mtok < 0 or price_output_per_mtok < 0:
        raise ValueError("token prices must be >= 0")
    for col in ("prompt_tokens", "completion_tokens"):
        if col not in samples.columns:
            raise ValueError(f"samples: missing column '{col}' needed for token costs")
    cost = samples.select(
        (pl.col("prompt_tokens").fill_null(0) * price_input_per_mtok
         + pl.col("completion_tokens").fill_null(0) * price_output_per_mtok).mean() / 1e6
    ).item()
    return float(cost or 0.0)


def gpu_cost_per_sample(gpu_seconds: float, n_samples: int, price_per_gpu_hour: float) -> float:
    """Mean cost of one sample when ``n_samples`` took ``gpu_seconds`` of accelerator time."""
    if n_samples < 1 or gpu_seconds < 0 or price_per_gpu_hour < 0:
        raise ValueError("need n_samples >= 1, gpu_seconds >= 0 and price_per_gpu_hour >= 0")
    return gpu_seconds * price_per_gpu_hour / 3600.0 / n_samples


def cost_of_pass(curves: pl.DataFrame, cost_per_sample: float, model: str = "model") -> pl.DataFrame:
    """COST_OF_PASS rows from strategy curves (strategy, n, accuracy[, model][, mean_draws]).

    Without ``mean_draws`` every strategy is charged its full budget n.
    """
    if cost_per_sample < 0:
        raise ValueError("cost_per_sample must be >= 0")
    frame = curves if "model" in curves.columns else curves.with_columns(pl.lit(model).alias("model"))
    draws = pl.col("mean_draws") if "mean_draws" in frame.columns else pl.col("n")
    out = frame.with_columns((draws * cost_per_sample).cast(pl.Float64).alias("cost")).with_columns(
        pl.when(pl.col("accuracy") > 0).then(pl.col("cost") / pl.col("accuracy")).otherwise(None).alias("cost_of_pass")
    )
    return out.select([pl.col(c).cast(t) for c, t in COST_OF_PASS.items()])


def pareto_frontier(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows not dominated on (lower cost, higher accuracy), sorted by cost.

    A row is kept when its accuracy beats every row that costs no more than it does.
    """
    ordered = rows.sort(["cost", "accuracy", "model", "strategy"], descending=[False, True, False, False])
    acc = ordered.get_column("accuracy").to_numpy()
    best_before = np.concatenate([[-np.inf], np.maximum.accumulate(acc)[:-1]])
    return ordered.filter(pl.Series(acc > best_before))


def cheapest(rows: pl.DataFrame) -> dict[str, object] | None:
    """The (model, strategy, n) with the lowest finite cost-of-pass, or None if none is finite.

    Ties (all strategies coincide at n = 1) go to the smallest n, then model and strategy names.
    """
    finite = rows.filter(pl.col("cost_of_pass").is_not_null()).sort("cost_of_pass", "n", "model", "strategy")
    return finite.row(0, named=True) if finite.height else None
