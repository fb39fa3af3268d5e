"""Stage ``report``: metrics -> PNG plots that show offline (``dvc plots show`` needs a CDN).

The coverage plot follows Large Language Monkeys (Brown et al. 2024): pass@k against k on a
log-scale x axis, one line per verifier, with the bootstrap band.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402

from stages.entry import run_entry  # noqa: E402
from stages.io import read_table  # noqa: E402
from stages.schemas import CURVE  # noqa: E402

COVERAGE_PNG = Path("plots/coverage.png")


def coverage_figure(curve_df: pl.DataFrame, title: str = "Coverage (pass@k) vs samples") -> plt.Figure:
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for (verifier,), group in curve_df.group_by("verifier", maintain_order=True):
        k = group["k"].to_numpy()
        ax.plot(k, group["pass_at_k"].to_numpy(), label=verifier, lw=2)
        ax.fill_between(k, group["ci_low"].to_numpy(), group["ci_high"].to_numpy(), alpha=0.2)
    ax.set_xscale("log")
    ax.set_xlabel("k (samples per problem)")
    ax.set_ylabel("pass@k")
    ax.set_ylim(0, 1)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def save(fig: plt.Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A fixed metadata block keeps the PNG byte-identical across runs.
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m stages.report", description=__doc__)
    ap.add_argument("--curve", type=Path, default=Path("data/curve.parquet"))
    args = ap.parse_args(argv)

    def body() -> None:
        curve_df = read_table(args.curve, CURVE, "curve")
        save(coverage_figure(curve_df), COVERAGE_PNG)
        print(f"report: plot -> {COVERAGE_PNG}")

    run_entry("report", body)


if __name__ == "__main__":
    main()
