"""The nightly: the (model x dataset) matrix of ``params.yaml`` ``nightly``, then the regression check.

One MLflow parent run per nightly, with a nested child run per (model, dataset, verifier). After
all entries ran, every child is compared with the previous nightly's child of the same model,
dataset and verifier (:mod:`flows.regression`). A regression puts the flow run in a Failed state
and leaves a markdown artifact listing it, so a scheduled run tells someone.

    python -m flows.nightly run --once                        # one nightly now
    python -m flows.nightly run --once --set generate.synthetic.beta=3   # e.g. a worse policy
    python -m flows.nightly serve                             # schedule it (cron: nightly.cron)
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.states import Completed, Failed

from flows.config import load_config, load_nightly, parse_assignments
from flows.evaluate import evaluate
from flows.regression import Comparison, compare_counts, counts_of_run, markdown, previous_nightly
from flows.tracking import client, end_run, experiment_id, start_parent

ARTIFACT_KEY = "infscale-nightly-regressions"


def matrix(params_path: str, extra: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The dotted overrides of each nightly entry, in (dataset, model) order."""
    cfg = load_nightly(params_path)
    return [{**cfg.set, "base.dataset": dataset, "generate.model": entry.model, **entry.set, **(extra or {})}
            for dataset in cfg.datasets for entry in cfg.models]


@flow(name="infscale-nightly", log_prints=True)
def nightly(
    params_path: str = "params.yaml",
    overrides: dict[str, Any] | None = None,
    scheduler_address: str | None = None,
    runs_root: str = "runs/nightly",
) -> Any:
    """Run every matrix entry through ``evaluate``, then compare with the previous nightly."""
    logger = get_run_logger()
    cfg = load_nightly(params_path)
    experiment = load_config(params_path).track.experiment
    stamp = datetime.now(UTC)
    parent = start_parent(f"nightly · {stamp:%Y-%m-%d %H:%M}", {"infscale.source": "nightly-parent"},
                          experiment)
    mc = client()
    exp_id = experiment_id(mc, experiment)
    comparisons: list[Comparison] = []
    try:
        for overrides_i in matrix(params_path, overrides):
            config = load_config(params_path, overrides_i)
            run_dir = str(Path(runs_root) / f"{stamp:%Y%m%dT%H%M%S}" /
                          f"{config.generate.model}-{config.base.dataset}-{config.key()}")
            result = evaluate(params_path, overrides_i, run_dir, scheduler_address, track=True,
                              parent_run_id=parent, per_verifier_runs=True, source="nightly")
            counts = pl.read_parquet(Path(run_dir) / "data/counts.parquet")
            for verifier in result["mlflow_run_ids"]:
                model, dataset = config.generate.model, config.base.dataset
                prev = previous_nightly(mc, exp_id, model, dataset, verifier, exclude_parent=parent)
                if prev is None:
                    logger.info("no previous nightly for %s / %s / %s", model, dataset, verifier)
                    continue
                comparisons += compare_counts(
                    counts_of_run(mc, prev.info.run_id), counts, verifier, cfg.metrics, cfg.bootstrap,
                    cfg.ci, labels={"model": model, "dataset": dataset, "previous_run_id": prev.info.run_id})
    except BaseException:
        end_run(parent, "FAILED")
        raise
    regressions = [c for c in comparisons if c.regressed]
    report = markdown(comparisons, f"infscale nightly {stamp:%Y-%m-%d %H:%M} UTC")
    create_markdown_artifact(report, key=ARTIFACT_KEY, description="nightly regression check")
    mc.log_text(parent, report, "regressions.md")
    mc.set_tag(parent, "infscale.regressions", str(len(regressions)))
    end_run(parent, "FINISHED", {"regressions": float(len(regressions))})
    summary = {"parent_run_id": parent, "comparisons": [c.as_dict() for c in comparisons],
               "regressions": len(regressions)}
    if regressions:
        names = ", ".join(f"{c.model}/{c.dataset}/{c.verifier} {c.metric} {c.difference:+.3f}"
                          for c in regressions)
        return Failed(message=f"{len(regressions)} regression(s): {names}", data=summary)
    return Completed(message=f"no regressions in {len(comparisons)} comparisons", data=summary)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m flows.nightly", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one nightly now")
    run.add_argument("--once", action="store_true", help="run once and exit (the only mode of `run`)")
    serve = sub.add_parser("serve", help="serve the nightly deployment on its cron schedule")
    serve.add_argument("--cron", default=None, help="default: nightly.cron in params.yaml")
    serve.add_argument("--name", default="nightly")
    for p in (run, serve):
        p.add_argument("--params", default="params.yaml")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="dotted override for every entry (repeatable)")
        p.add_argument("--dask", default=None, metavar="ADDRESS", help="Dask scheduler for verification")
    args = ap.parse_args(argv)
    overrides = parse_assignments(args.set) or None
    if args.command == "serve":
        cron = args.cron or load_nightly(args.params).cron
        nightly.serve(name=args.name, cron=cron, parameters={
            "params_path": args.params, "overrides": overrides, "scheduler_address": args.dask})
        return
    state = nightly(args.params, overrides, args.dask, return_state=True)
    print(f"nightly: {state.type.value}: {state.message}")
    raise SystemExit(0 if state.is_completed() else 1)


if __name__ == "__main__":
    main()
