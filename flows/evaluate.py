"""The ``evaluate`` flow: one (dataset, backend, model, sampling params) configuration, end to end.

It runs the same stage functions as ``dvc repro`` (through :mod:`flows.tasks`), on the same
params (``params.yaml`` plus dotted overrides), into a run directory of its own
(``runs/<config hash>/`` by default, never over DVC's outputs unless ``run_dir="."``), then logs
the run to MLflow. Verification fans out over chunks of problems; with a Dask scheduler address
(``scheduler_address`` or ``INFSCALE_DASK_ADDRESS``) the chunks run on that cluster through
``prefect_dask.DaskTaskRunner``, else on local threads, one executor process each.

    python -m flows.evaluate --set generate.n_samples=20 --set prepare.limit=10
"""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # a bad --set fails in ~1 s, before Prefect's 10-60 s import and start
    from flows.config import precheck

    precheck("python -m flows.evaluate")

from prefect import flow, get_run_logger

from flows.cluster import DASK_ENV, shared_prefect_api, task_runner
from flows.config import (
    RunConfig,
    load_config,
    load_raw,
    parse_assignments,
    precheck,
    validate_overrides,
)
from flows.tasks import (
    analyze_task,
    default_chunks,
    generate_task,
    merge_verdicts_task,
    prepare_task,
    problem_chunks,
    report_task,
    verifier_names,
    verify_chunk_task,
    write_run_params,
)
from stages.errors import InputError

HTTP_BACKENDS = frozenset({"sglang", "openai"})


def default_run_dir(config: RunConfig) -> Path:
    return Path("runs") / config.dir_name()


def transient_failure(task: Any, task_run: Any, state: Any) -> bool:
    """Retry generation for what may pass (a server down, refusing or overloaded), never for a
    misconfiguration (a wrong ``generate.model``, a missing model file: ``InputError``), which
    would fail the same way after relaunching the server three times."""
    try:
        exc = state.result(raise_on_failure=False)
    except Exception:  # noqa: BLE001  (an unreadable result: keep Prefect's default, retry)
        return True
    return not isinstance(exc, InputError)


def run_stages(config: RunConfig, raw_params: dict[str, Any], run_dir: str,
               chunks: int | None = None) -> dict[str, Any]:
    """The task graph, shared by every task runner. Returns the paths and headline metrics."""
    logger = get_run_logger()
    params_ref = write_run_params(run_dir, raw_params)
    problems = prepare_task(config.base, config.prepare, config.augment, run_dir)
    gen = generate_task
    if config.generate.backend in HTTP_BACKENDS:  # the only step whose failures can be transient
        gen = generate_task.with_options(retries=3, retry_delay_seconds=[10, 60, 300],
                                         retry_condition_fn=transient_failure)
    samples = gen(problems, config.base, config.generate, run_dir)
    verifiers = verifier_names(problems)
    import polars as pl

    ids = pl.read_parquet(problems.path, columns=["problem_id"])
    groups = problem_chunks(ids, chunks or default_chunks(config.verify))
    logger.info("verify: %d problems in %d chunks, verifiers %s", ids.height, len(groups), verifiers)
    futures = [verify_chunk_task.submit(problems, samples, g, verifiers, config.verify, run_dir)
               for g in groups]
    verdicts = merge_verdicts_task([f.result() for f in futures], run_dir, config.generate.n_samples)
    analysis = analyze_task(verdicts, samples, params_ref, run_dir)
    png = report_task(analysis, run_dir)
    return {"run_dir": run_dir, "metrics": analysis.metrics, "coverage_png": png,
            "verdicts": verdicts.path, "problems": problems.path}


@flow(name="infscale-evaluate-stages", log_prints=True)
def _stages_flow(config: RunConfig, raw_params: dict[str, Any], run_dir: str,
                 chunks: int | None = None) -> dict[str, Any]:
    return run_stages(config, raw_params, run_dir, chunks)


@flow(name="infscale-evaluate", log_prints=True)
def evaluate(
    params_path: str = "params.yaml",
    overrides: dict[str, Any] | None = None,
    run_dir: str | None = None,
    scheduler_address: str | None = None,
    chunks: int | None = None,
    track: bool | None = None,
    parent_run_id: str | None = None,
    per_verifier_runs: bool = False,
    source: str = "flow",
) -> dict[str, Any]:
    """Evaluate one configuration; returns run_dir, metrics and the MLflow run id(s).

    ``track`` None follows ``track.mlflow`` in params. ``parent_run_id`` nests the MLflow run(s)
    under a parent (the nightly); ``per_verifier_runs`` logs one child run per verifier.
    """
    validate_overrides(params_path, overrides)  # one line naming a bad override, not the file
    config = load_config(params_path, overrides)
    # Absolute, so that tasks on Dask workers started from another directory find the run.
    out_dir = str(Path(run_dir or default_run_dir(config)).resolve())
    address = scheduler_address or os.environ.get(DASK_ENV) or None
    stages = _stages_flow.with_options(task_runner=task_runner(address))
    raw = load_raw(params_path, overrides)
    with shared_prefect_api() if address else contextlib.nullcontext():
        result = stages(config, raw, out_dir, chunks)
    result["mlflow_run_ids"] = {}
    if config.track.mlflow if track is None else track:
        from flows.tracking import log_record, record_from_files

        record = record_from_files(raw_params=raw, root=Path(out_dir), source=source,
                                   overrides=overrides)
        if per_verifier_runs:
            for verifier in sorted(record.curve["verifier"].unique().to_list()):
                result["mlflow_run_ids"][verifier] = log_record(
                    record, config.track.experiment, parent_run_id, verifier=verifier)
        else:
            result["mlflow_run_ids"]["all"] = log_record(record, config.track.experiment, parent_run_id)
    return result


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m flows.evaluate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="dotted params override, like `dvc exp run -S` (repeatable)")
    ap.add_argument("--run-dir", default=None, help="default: runs/<model>-<dataset>-N<n>-<config hash>")
    ap.add_argument("--dask", default=None, metavar="ADDRESS", help=f"Dask scheduler (or ${DASK_ENV})")
    ap.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    args = ap.parse_args(argv)
    precheck(ap.prog, ["--params", args.params, *(f"--set={a}" for a in args.set)])  # before Prefect
    result = evaluate(args.params, parse_assignments(args.set), args.run_dir, args.dask,
                      track=False if args.no_track else None)
    print(f"evaluate: run dir {result['run_dir']}; MLflow runs {result['mlflow_run_ids']}")


if __name__ == "__main__":
    main()
