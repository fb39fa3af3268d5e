"""The ``infscale`` command: one subcommand per stage, plus the whole pipeline.

Each subcommand forwards its arguments to the stage's ``main()``, so the CLI, DVC
(``python -m stages.<name>``) and the Prefect tasks all run the same code.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import typer

app = typer.Typer(help="infscale: inference-time scaling, measured honestly.", no_args_is_help=True)

STAGES = ("prepare", "generate", "verify", "analyze", "report", "compare")
_CTX = {"allow_extra_args": True, "ignore_unknown_options": True}


def _stage_command(name: str) -> None:
    def command(ctx: typer.Context) -> None:
        importlib.import_module(f"stages.{name}").main(list(ctx.args))

    command.__doc__ = f"Run the {name} stage (arguments are passed to `python -m stages.{name}`)."
    app.command(name, context_settings=_CTX)(command)


for _name in STAGES:
    _stage_command(_name)


@app.command()
def summary(path: str = typer.Option("metrics/metrics.json", help="metrics file of a run")) -> None:
    """Print the headline numbers of a run: pass@k per verifier and the false-positive rate."""
    import json
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table

    metrics = json.loads(Path(path).read_text(encoding="utf-8"))
    table = Table(title=f"infscale · {metrics.get('n_problems')} problems · N={metrics.get('n_samples')}")
    ks = [k for k in ("pass@1", "pass@10", "pass@100") if any(
        isinstance(v, dict) and k in v for v in metrics.values())]
    table.add_column("verifier")
    for k in ks:
        table.add_column(f"{k} [95% CI]", justify="right")
    for name, entry in metrics.items():
        if isinstance(entry, dict) and any(k in entry for k in ks):
            cells = []
            for k in ks:
                lo, hi = entry.get(f"{k}_ci", [None, None])
                cells.append(f"{entry[k]:.3f} [{lo:.3f}, {hi:.3f}]" if k in entry else "-")
            table.add_row(name, *cells)
    console = Console()
    console.print(table)
    fp = metrics.get("false_positives") or {}
    if "fp_given_weak_pass" in fp:
        console.print(
            f"False-positive rate P({fp['strong']} fails | {fp['weak']} passes): "
            f"{fp['fp_given_weak_pass']:.3f} [{fp['fp_given_weak_pass_ci_low']:.3f}, "
            f"{fp['fp_given_weak_pass_ci_high']:.3f}]"
        )


@app.command()
def repro() -> None:
    """Run the whole pipeline through DVC (`dvc repro`), re-running only what changed."""
    raise typer.Exit(subprocess.call([sys.executable, "-m", "dvc", "repro"]))


@app.command()
def reproduce(
    run_id: str = typer.Argument(..., help="MLflow run id"),
    force: bool = typer.Option(False, help="re-run even if the commit or dataset hash differ"),
) -> None:
    """Re-run an MLflow run through DVC: restore its params, check commit and data, compare metrics."""
    from flows.reproduce import reproduce as reproduce_run

    raise typer.Exit(reproduce_run(run_id, force=force))


if __name__ == "__main__":
    app()
