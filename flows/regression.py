"""Regression check of a nightly against the previous nightly of the same model and dataset.

For each headline metric (pass@k, coverage@N) the per-problem unbiased pass@k of both runs is
compared with a paired bootstrap over the problems both scored (``stages.stats.bootstrap``;
Efron & Tibshirani 1993; Miller 2024 for paired differences on evals): resampling the same
problems for both runs cancels problem difficulty, which dominates the variance. A metric
*regressed* when the whole 95% interval of new - old lies below zero.

The per-problem counts of a previous run come from its MLflow artifact ``counts.parquet``.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl

from stages.schemas import COUNTS, conform
from stages.stats.compare import paired_pass_at_k, shared_counts

_METRIC = re.compile(r"^(pass|coverage)@(\d+)$")


@dataclass(frozen=True)
class Comparison:
    model: str
    dataset: str
    verifier: str
    metric: str
    old: float
    new: float
    difference: float
    ci_low: float
    ci_high: float
    n_problems: int
    previous_run_id: str

    @property
    def regressed(self) -> bool:
        return self.ci_high < 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "regressed": self.regressed}


def metric_k(metric: str, n: int) -> int | None:
    """``pass@10`` -> 10; ``coverage@N`` -> the run's N; None if k exceeds the samples."""
    match = _METRIC.match(metric)
    if not match:
        raise ValueError(f"regression: unknown metric '{metric}' (use pass@k or coverage@N)")
    k = n if match.group(1) == "coverage" else int(match.group(2))
    return k if k <= n else None


def compare_runs(
    old: pl.DataFrame, new: pl.DataFrame, verifier: str, metrics: list[str], n_boot: int, ci: float,
    seed: int = 0, labels: dict[str, str] | None = None,
) -> list[Comparison]:
    """Paired bootstrap of each metric (new - old) over the problems both count tables share.

    The comparison itself is :func:`stages.stats.compare.paired_pass_at_k`; this only maps the
    nightly's metric names to k and the results to :class:`Comparison` rows.
    """
    labels = labels or {}
    try:
        joined = shared_counts(new, old, verifier)
    except ValueError:  # no counts for this verifier in one run, or no shared problem
        return []
    n_shared = int(min(joined["n"].min(), joined["n_b"].min()))
    wanted = {metric: metric_k(metric, n_shared) for metric in metrics}
    ks = sorted({k for k in wanted.values() if k is not None})
    by_k = {row["k"]: row for row in paired_pass_at_k(joined, ks, n_boot, ci, seed)}
    out = []
    for metric, k in wanted.items():
        if k is None:
            continue
        row = by_k[k]
        out.append(Comparison(labels.get("model", "?"), labels.get("dataset", "?"), verifier,
                              f"pass@{k}" if metric.startswith("pass") else metric, row["b"], row["a"],
                              row["difference"], row["ci_low"], row["ci_high"], row["n_problems"],
                              labels.get("previous_run_id", "")))
    return out



def previous_nightly(mc: Any, experiment_id: str, model: str, dataset: str, verifier: str,
                     exclude_parent: str | None) -> Any | None:
    """The latest finished nightly child run of (model, dataset, verifier), not of this nightly."""
    query = (f"tags.`infscale.source` = 'nightly' and tags.`infscale.model` = '{model}' and "
             f"tags.`infscale.dataset` = '{dataset}' and tags.`infscale.verifier` = '{verifier}' "
             "and attributes.status = 'FINISHED'")
    for run in mc.search_runs([experiment_id], query, order_by=["attributes.start_time DESC"], max_results=20):
        if run.data.tags.get("mlflow.parentRunId") != exclude_parent:
            return run
    return None


def counts_of_run(mc: Any, run_id: str) -> pl.DataFrame:
    with tempfile.TemporaryDirectory() as tmp:
        local = mc.download_artifacts(run_id, "counts.parquet", tmp)
        return conform(pl.read_parquet(Path(local)), COUNTS, f"counts of MLflow run {run_id}")


def markdown(comparisons: list[Comparison], title: str) -> str:
    """The nightly's artifact: regressions first, then every comparison."""
    bad = [c for c in comparisons if c.regressed]
    lines = [f"# {title}", "",
             (f"**{len(bad)} regression(s)** among {len(comparisons)} comparisons (paired bootstrap "
              "over problems; regression = whole 95% interval of new - old below 0)."), ""]
    head = "| | model | dataset | verifier | metric | previous | now | difference [95% CI] | problems | previous run |"
    lines += [head, "|" + "---|" * 10]
    for c in sorted(comparisons, key=lambda c: (not c.regressed, c.model, c.dataset, c.verifier, c.metric)):
        flag = "REGRESSION" if c.regressed else "ok"
        lines.append(f"| {flag} | {c.model} | {c.dataset} | {c.verifier} | {c.metric} | {c.old:.4f} | "
                     f"{c.new:.4f} | {c.difference:+.4f} [{c.ci_low:+.4f}, {c.ci_high:+.4f}] | "
                     f"{c.n_problems} | `{c.previous_run_id}` |")
    if not comparisons:
        lines.append("| | (no previous nightly to compare with) | | | | | | | | |")
    return "\n".join(lines) + "\n"
