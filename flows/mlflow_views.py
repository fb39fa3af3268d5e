"""What a person sees of a run in the MLflow UI: names, headline metrics, curve plot, sample table.

Kept apart from :mod:`flows.tracking` (which decides *what* a run holds) because these choices
are about reading: the experiment opens on its runs (a classic, model-training experiment, not
MLflow 3's GenAI overview); run names lead with what differs between runs; headline metrics sort
first (``0_`` prefix; the list is :data:`stages.headline.HEADLINE`); the pass@k curve with its
95% band is a PNG on every run; false positives and verifier disagreements are a table
(``samples/inspection.json``) that the UI shows row by row, the same rows
``infscale show <problem_id>`` prints.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

# mlflow.experimentKind is the tag MLflow 3's UI reads to choose an experiment's layout;
# "custom_model_development" is the classic runs table (the GenAI kind opens on traces).
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
HEADLINE_PREFIX = "0_"  # sorts before letters in the UI's metric lists and compare view
INSPECTION_ARTIFACT = "samples/inspection.json"
CURVE_ARTIFACT = "plots/pass_at_k_band.png"
_NAMED_ELSEWHERE = frozenset({"generate.model", "base.dataset", "generate.n_samples"})


def ensure_classic(mlflow_client: Any, experiment_id: str) -> None:
    """Mark the experiment as classic unless someone already chose its kind."""
    exp = mlflow_client.get_experiment(experiment_id)
    if EXPERIMENT_KIND_TAG not in (exp.tags or {}):
        mlflow_client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)


def describe_overrides(overrides: dict[str, Any] | None) -> str:
    """``{"generate.synthetic.beta": 3}`` -> ``"beta=3"``: what a run's name adds to model/dataset/N."""
    return ", ".join(f"{key.rsplit('.', 1)[-1]}={value}" for key, value in sorted((overrides or {}).items())
                     if key not in _NAMED_ELSEWHERE)


def override_tags(overrides: dict[str, Any] | None) -> dict[str, str]:
    """One tag per override (``infscale.set.generate.synthetic.beta``), plus all of them in one."""
    items = sorted((overrides or {}).items())
    tags = {f"infscale.set.{key}": str(value)[:5000] for key, value in items}
    if items:
        tags["infscale.overrides"] = "; ".join(f"{k}={v}" for k, v in items)[:5000]
    return tags


def run_name(model: str, dataset: str, n: int, when: datetime | None = None,
             overrides: dict[str, Any] | None = None) -> str:
    """What differs first: model, dataset, N, the overrides, then the date."""
    parts = [short_model(model), dataset, f"N={n}", describe_overrides(overrides),
             (when or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M")]
    return " · ".join(p for p in parts if p)


def short_model(model: str) -> str:
    """``Qwen/Qwen2.5-7B-Instruct`` -> ``Qwen2.5-7B-Instruct`` (the organisation rarely differs)."""
    return model.rstrip("/").rsplit("/", 1)[-1] or model


def display_names(metrics: dict[str, float], headline: Iterable[str]) -> dict[str, float]:
    """Headline metrics renamed to sort first; the rest keep their ``group/name`` paths."""
    head = set(headline)
    return {(f"{HEADLINE_PREFIX}{k}" if k in head else k): v for k, v in metrics.items()}


def curve_figure(curve: pl.DataFrame, ci: str | None = None) -> Any:
    """pass@k vs k (log k) with its bootstrap band (level ``ci``, e.g. "0.95"), one line per verifier."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for (verifier,), group in curve.sort("k").group_by("verifier", maintain_order=True):
        k = group["k"].to_numpy()
        ax.plot(k, group["pass_at_k"].to_numpy(), label=str(verifier), lw=1.8)
        ax.fill_between(k, group["ci_low"].fill_null(float("nan")).to_numpy(),
                        group["ci_high"].fill_null(float("nan")).to_numpy(), alpha=0.2)
    if curve.height and int(curve["k"].max()) > 1:
        ax.set_xscale("log")
    ax.set(xlabel="k (samples per problem)", ylabel="pass@k", ylim=(0, 1.02),
           title=f"pass@k, {_percent(ci)} bootstrap band over problems")
    ax.grid(alpha=0.3)
    if curve.height:
        ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def _percent(ci: str | None) -> str:
    try:
        return f"{float(ci or ''):.0%}"
    except ValueError:
        return "its"


def inspection_rows(root: Path, verifier: str | None = None) -> pl.DataFrame:
    """The inspection table of a run directory (empty when its tables are missing)."""
    from stages.inspection import inspection_table

    paths = [root / f"data/{name}.parquet" for name in ("problems", "samples", "verdicts")]
    if not all(p.exists() for p in paths):
        return pl.DataFrame()
    table = inspection_table(*(pl.read_parquet(p) for p in paths))
    if verifier is not None and not table.is_empty():
        table = table.filter(pl.col("verdicts").str.contains(f"{verifier}=", literal=True))
    return table


def log_views(mlflow_client: Any, run_id: str, curve: pl.DataFrame, inspection: pl.DataFrame,
              ci: str | None = None) -> None:
    """The curve PNG and the inspection table, on one run."""
    import matplotlib.pyplot as plt

    fig = curve_figure(curve, ci)
    try:
        mlflow_client.log_figure(run_id, fig, CURVE_ARTIFACT)
    finally:
        plt.close(fig)
    if inspection.is_empty():  # say so, rather than leave the reader wondering
        from stages.inspection import render

        mlflow_client.log_text(run_id, render(inspection), INSPECTION_ARTIFACT.replace(".json", ".txt"))
    else:
        mlflow_client.log_table(run_id, data=inspection.to_pandas(), artifact_file=INSPECTION_ARTIFACT)
