"""The ``infscale`` command: one subcommand per stage, plus the whole pipeline.

Each subcommand forwards its arguments to the stage's ``main()``, so the CLI, DVC
(``python -m stages.<name>``) and the Prefect tasks all run the same code.
"""

from __future__ import annotations

import importlib
import re
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


_RATE = re.compile(r"^(pass|coverage)@(\d+)$")


def _rate_columns(metrics: dict) -> list[str]:
    """Every pass@k / coverage@N some verifier reports, by k (a run with N < 10 has no pass@10)."""
    keys = {key for entry in metrics.values() if isinstance(entry, dict) for key in entry if _RATE.match(key)}
    return sorted(keys, key=lambda key: (int(_RATE.match(key).group(2)), key))


def summary_lines(metrics: dict) -> tuple[list[str], list[list[str]], list[str]]:
    """(columns, one row per verifier, notes): the table ``infscale summary`` prints."""
    columns = _rate_columns(metrics)
    rows = []
    for name, entry in metrics.items():
        if not isinstance(entry, dict) or not any(k in entry for k in columns):
            continue
        cells = []
        for k in columns:
            lo, hi = entry.get(f"{k}_ci") or [None, None]
            value = entry.get(k)
            cells.append("-" if value is None else f"{value:.3f}" + (f" [{lo:.3f}, {hi:.3f}]" if lo is not None else ""))
        rows.append([name, *cells, str(entry.get("n_failed", "-"))])
    notes = []
    fp = metrics.get("false_positives") or {}
    if fp.get("fp_share_of_weak_passes") is not None:
        notes.append(f"FP share of weak passes, P({fp['strong']} fails | {fp['weak']} passes): "
                     f"{fp['fp_share_of_weak_passes']:.3f} [{fp['fp_share_of_weak_passes_ci_low']:.3f}, "
                     f"{fp['fp_share_of_weak_passes_ci_high']:.3f}]")
    for name, entry in metrics.items():
        if isinstance(entry, dict) and isinstance(entry.get("skipped"), dict) and name not in ("strategies",):
            notes += [f"{name}: {k} skipped: {why}" for k, why in entry["skipped"].items()]
    return columns, rows, notes


@app.command()
def summary(path: str = typer.Option("metrics/metrics.json", help="metrics file of a run")) -> None:
    """Print the headline numbers of a run: pass@k per verifier, failed rows and the FP share."""
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table

    from stages.headline import read_details

    metrics = read_details(Path(path))  # metrics/details.json beside it: every number
    columns, rows, notes = summary_lines(metrics)
    table = Table(title=f"infscale · {metrics.get('n_problems')} problems · N={metrics.get('n_samples')}")
    table.add_column("verifier")
    for k in columns:
        table.add_column(f"{k} [95% CI]", justify="right")
    table.add_column("n_failed", justify="right")
    for row in rows:
        table.add_row(*row)
    console = Console()
    console.print(table)
    for line in notes:
        console.print(line)
    sandbox = metrics.get("sandbox")
    if isinstance(sandbox, dict) and sandbox.get("levels") not in (None, "none"):
        console.print(f"sandbox: {sandbox['levels']}")
        if not sandbox.get("isolated"):
            console.print("[bold yellow]warning:[/] programs ran below the bwrap level: a hostile "
                          "candidate could have changed verdicts (install bubblewrap; docs/sandbox.md)")


@app.command()
def show(
    problem_id: str = typer.Argument(..., help="e.g. HumanEval/12"),
    run_dir: str = typer.Option(".", help="run directory: the project (dvc repro) or a flow's runs/<...>"),
    all_samples: bool = typer.Option(False, "--all", help="every sample, not only false positives "
                                                           "and disagreements between verifiers"),
    limit: int = typer.Option(20, help="samples shown at most"),
) -> None:
    """A problem's false positives and verifier disagreements: program, verdicts, first failing input."""
    from pathlib import Path

    from stages.errors import InputError
    from stages.inspection import inspection_table, render
    from stages.io import read_table
    from stages.schemas import PROBLEMS, SAMPLES, VERDICTS_SCHEMA

    data = Path(run_dir) / "data"
    try:
        problems = read_table(data / "problems.parquet", PROBLEMS, "problems")
        samples = read_table(data / "samples.parquet", SAMPLES, "samples")
        verdicts = read_table(data / "verdicts.parquet", VERDICTS_SCHEMA, "verdicts")
    except InputError as exc:
        typer.echo(f"infscale show: error: {exc}", err=True)
        raise typer.Exit(2) from None
    if problem_id not in set(problems["problem_id"].to_list()):
        typer.echo(f"infscale show: error: no problem '{problem_id}' in {data / 'problems.parquet'}", err=True)
        raise typer.Exit(2)
    typer.echo(render(inspection_table(problems, samples, verdicts, problem_id, everything=all_samples), limit))


@app.command()
def repro() -> None:
    """Run the whole pipeline through DVC (`dvc repro`), re-running only what changed."""
    raise typer.Exit(subprocess.call([sys.executable, "-m", "dvc", "repro"]))


@app.command()
def reproduce(
    run_id: str = typer.Argument(..., help="MLflow run id"),
    force: bool = typer.Option(False, help="re-run even if the commit or dataset hash differ"),
    regenerate: bool = typer.Option(False, help="sample again instead of re-verifying the run's samples"),
) -> None:
    """Re-run an MLflow run through DVC: restore its params and inputs, re-verify and re-analyse
    (or --regenerate), say which stages ran, and compare the metrics side by side."""
    from flows.reproduce import reproduce as reproduce_run

    raise typer.Exit(reproduce_run(run_id, force=force, regenerate=regenerate))


if __name__ == "__main__":
    app()
