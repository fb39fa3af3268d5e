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
