"""Stage ``report``: analysis tables -> PNG plots that show offline (``dvc plots show`` needs a CDN).

* ``coverage.png`` -- pass@k against k on a log axis with its bootstrap band, one line per
  verifier (Large Language Monkeys, Brown et al. 2024), and the power-law and Beta fits
  extrapolated to 10 x N with their bands (Schaeffer et al. 2025);
* ``weak_vs_strong.png`` -- the weak and the strong verifier's curves side by side: the gap is
  false positives;
* ``strategies.png`` -- accuracy of each selection strategy the run supports vs n (strategies
  skipped for want of scores are not drawn; metrics.json says why);
* ``utility.png`` -- resample-until-pass accuracy with its ceiling, and expected utility vs k for
  each cost of a wrong answer, optimum marked, a curve without one labelled "saturates" (Inference
  Scaling fLaws, Stroebl et al. 2024);
* ``cost_of_pass.png`` -- cost-of-pass vs cost per attempt per strategy (Erol et al. 2025);
* ``judge_reliability.png`` -- each LLM judge's reliability diagram against gold answers
  (share correct vs mean P(yes) per bin; Guo et al. 2017), math runs with a judge.

Every PNG is always written (DVC declares them as outputs); when the run could not make a plot's
table (counts only, no verifier pair, no token counts) or the table holds nothing drawable (no
sample passes: every cost-of-pass is infinite), the PNG is an empty-state panel that says so
instead of a stale or invented figure, or a crash (:func:`is_placeholder` tells them apart).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import polars as pl

from stages.entry import run_entry
from stages.headline import read_details
from stages.io import InputError, read_table
from stages.schemas import CURVE

PLOTS_DIR = Path("plots")
COVERAGE_PNG = PLOTS_DIR / "coverage.png"
PLOT_NAMES = ("coverage", "weak_vs_strong", "strategies", "utility", "cost_of_pass", "judge_reliability")


def _axes(title: str, xlabel: str, ylabel: str, ncols: int = 1) -> tuple[plt.Figure, Any]:
    fig, axes = plt.subplots(1, ncols, figsize=(7 * ncols, 4.5), dpi=120, squeeze=False)
    for ax in axes[0]:
        ax.grid(True, which="both", alpha=0.3)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
    fig.suptitle(title)
    return fig, axes[0] if ncols > 1 else axes[0][0]


def _band(ax: Any, x: Any, y: Any, low: Any, high: Any, label: str, **style: Any) -> None:
    line = ax.plot(x, y, label=label, **style)[0]
    ax.fill_between(x, low, high, alpha=0.15, color=line.get_color())


def coverage_figure(curve_df: pl.DataFrame, extrapolation: pl.DataFrame | None = None,
                    title: str = "Coverage (pass@k) vs samples") -> plt.Figure:
    fig, ax = _axes(title, "k (samples per problem)", "pass@k (coverage)")
    for (verifier,), group in curve_df.group_by("verifier", maintain_order=True):
        _band(ax, group["k"], group["pass_at_k"], group["ci_low"], group["ci_high"], verifier, lw=2)
        if extrapolation is None:
            continue
        for fit, dash in (("power_law", "--"), ("beta", ":")):
            ext = extrapolation.filter((pl.col("verifier") == verifier) & (pl.col("fit") == fit))
            if ext.height:
                _band(ax, ext["k"], ext["coverage"], ext["ci_low"], ext["ci_high"],
                      f"{verifier}: {fit.replace('_', ' ')} fit", ls=dash, lw=1.2)
    ax.set_xscale("log")
    ax.set_ylim(0, 1)
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    return fig


def strategies_figure(strategies: pl.DataFrame) -> plt.Figure:
    fig, ax = _axes("Selection strategies: accuracy vs samples (strong verifier)", "n (samples drawn)", "accuracy")
    for (name,), group in strategies.group_by("strategy", maintain_order=True):
        method = group["method"][0]
        label = f"{name} ({'MC' if method == 'monte_carlo' else 'exact'})"
        _band(ax, group["n"], group["accuracy"], group["ci_low"], group["ci_high"], label,
              lw=2 if name != "oracle" else 1, ls="-" if name != "oracle" else "--")
    ax.set_xscale("log")
    ax.set_ylim(0, 1)
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    return fig


def utility_figure(accuracy: pl.DataFrame, utility: pl.DataFrame, optimal: pl.DataFrame,
                   ceiling: dict[str, float] | None) -> plt.Figure:
    fig, (left, right) = _axes("Resample until the weak verifier passes (fLaws)", "k (sampling budget)", "", ncols=2)
    _band(left, accuracy["k"], accuracy["accuracy"], accuracy["ci_low"], accuracy["ci_high"], "accuracy", lw=2)
    if ceiling and ceiling.get("value") is not None:
        left.axhline(ceiling["value"], color="k", ls="--", lw=1, label=f"ceiling p_c/(p_c+p_fp) = {ceiling['value']:.3f}")
    left.set_ylabel("accuracy (strong verifier)")
    left.set_ylim(0, 1)
    saturating = set(optimal.filter(pl.col("saturates"))["cost"].to_list()) if "saturates" in optimal.columns else set()
    for (cost,), group in utility.group_by("cost", maintain_order=True):
        label = f"c = {cost:g}" + (" (saturates: no optimal k)" if cost in saturating else "")
        _band(right, group["k"], group["utility"], group["ci_low"], group["ci_high"], label, lw=2)
    for row in optimal.iter_rows(named=True):
        if row["k_opt"] is not None:
            right.plot([row["k_opt"]], [row["utility"]], "kv", ms=6)
    right.set_ylabel("expected utility (+1 right, -c wrong, 0 abstain)")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.legend(loc="best", fontsize=7)
    fig.tight_layout()
    return fig


def cost_figure(rows: pl.DataFrame, frontier: pl.DataFrame | None) -> plt.Figure:
    finite = rows.filter(pl.col("cost_of_pass").is_not_null() & (pl.col("cost") > 0))
    if finite.height == 0:  # log axes need a positive finite point
        return unavailable_figure("cost_of_pass", "no strategy reached an accuracy above 0 at a positive cost: "
                                  "every cost-of-pass is infinite or the price is 0")
    fig, ax = _axes("Cost-of-pass: expected cost of one correct answer", "expected cost per attempt (USD)",
                    "cost-of-pass (USD)")
    for (model, name), group in finite.group_by("model", "strategy", maintain_order=True):
        ax.plot(group["cost"], group["cost_of_pass"], marker=".", label=f"{model}: {name}")
    if frontier is not None and frontier.height:
        front = frontier.filter(pl.col("cost_of_pass").is_not_null() & (pl.col("cost") > 0))
        ax.plot(front["cost"], front["cost_of_pass"], "ko", mfc="none", ms=8, label="cost/accuracy frontier")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.legend(loc="best", fontsize=7)
    fig.tight_layout()
    return fig


def reliability_figure(bins: pl.DataFrame, quality: pl.DataFrame) -> plt.Figure:
    fig, ax = _axes("Judge calibration against gold answers", "judge P(yes) (bin mean)", "share correct (gold)")
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="calibrated")
    for (judge,), group in bins.filter(pl.col("count") > 0).group_by("judge", maintain_order=True):
        ece = quality.filter((pl.col("judge") == judge) & (pl.col("stat") == "ece"))["value"]
        label = f"{judge} (ECE {ece[0]:.3f})" if ece.len() and ece[0] is not None else judge
        ax.plot(group["mean_p_yes"], group["share_correct"], marker="o", label=label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    return fig


PLACEHOLDER = "infscale:placeholder"


def unavailable_figure(name: str, reason: str) -> plt.Figure:
    """An empty-state panel: says what the plot needs or why there is nothing to draw."""
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    ax.axis("off")
    ax.text(0.5, 0.5, f"{name.replace('_', ' ')}: not available for this run\n({reason})",
            ha="center", va="center", wrap=True)
    fig.set_label(PLACEHOLDER)
    return fig


def is_placeholder(fig: plt.Figure) -> bool:
    """True for an empty-state panel (tests use it: a real plot must not be one)."""
    return fig.get_label() == PLACEHOLDER


REASONS = {
    "weak_vs_strong": "needs verdicts from a weak and a strong verifier",
    "strategies": "needs verdict rows from a weak and a strong verifier, or math answers",
    "utility": "needs verdict rows from a weak and a strong verifier",
    "cost_of_pass": "needs strategies and the samples' token counts",
    "judge_reliability": "needs an LLM judge and gold answers (a math run with verify.judge set)",
}


def figures(tables: dict[str, pl.DataFrame], metrics: dict[str, Any]) -> dict[str, plt.Figure]:
    """Pure: analysis tables (+ metrics for the verifier pair and ceiling) -> one figure per plot name."""
    out = {"coverage": coverage_figure(tables["curve"], tables.get("extrapolation"))}
    pair = metrics.get("false_positives") or {}
    if pair.get("weak") and pair.get("strong"):
        both = tables["curve"].filter(pl.col("verifier").is_in([pair["weak"], pair["strong"]]))
        fp = pair.get("fp_share_of_weak_passes")
        out["weak_vs_strong"] = coverage_figure(
            both, None, f"Weak vs strong verifier (FP share of weak passes, P(strong fail | weak pass) = {fp:.3f})" if fp is not None
            else "Weak vs strong verifier")
    if "strategies" in tables:
        out["strategies"] = strategies_figure(tables["strategies"])
    if {"limits_accuracy", "utility", "utility_optimal"} <= set(tables):
        out["utility"] = utility_figure(tables["limits_accuracy"], tables["utility"], tables["utility_optimal"],
                                        (metrics.get("verifier_limits") or {}).get("ceiling"))
    if "cost_of_pass" in tables:
        out["cost_of_pass"] = cost_figure(tables["cost_of_pass"], tables.get("frontier"))
    if {"judge_reliability", "judge_quality"} <= set(tables):
        out["judge_reliability"] = reliability_figure(tables["judge_reliability"], tables["judge_quality"])
    for name in PLOT_NAMES:
        if name not in out:
            out[name] = unavailable_figure(name, REASONS[name])
    return out


def save(fig: plt.Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A fixed metadata block keeps the PNG byte-identical across runs.
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def _read_any(path: Path) -> pl.DataFrame:
    """An analysis table (schemas vary by table); a corrupt file is named, not a traceback."""
    try:
        return pl.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - polars raises several error types for a corrupt file
        raise InputError(f"{path}: not a readable parquet file: {exc}") from None


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m stages.report", description=__doc__)
    ap.add_argument("--curve", type=Path, default=Path("data/curve.parquet"))
    ap.add_argument("--tables", type=Path, default=Path("data/analysis"))
    ap.add_argument("--metrics", type=Path, default=Path("metrics/metrics.json"))
    args = ap.parse_args(argv)

    def body() -> None:
        tables = {p.stem: _read_any(p) for p in sorted(args.tables.glob("*.parquet"))}
        tables["curve"] = read_table(args.curve, CURVE, "curve")
        metrics = read_details(args.metrics) if args.metrics.exists() else {}  # the full metrics
        for name, fig in figures(tables, metrics).items():
            save(fig, PLOTS_DIR / f"{name}.png")
        print(f"report: plots -> {PLOTS_DIR}/ ({', '.join(PLOT_NAMES)})")

    run_entry("report", body)


if __name__ == "__main__":
    main()
