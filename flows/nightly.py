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

if __name__ == "__main__":  # a bad --set or matrix entry fails in ~1 s, before Prefect's import
    from flows.config import precheck

    precheck("python -m flows.nightly", nightly=True)

import polars as pl
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.states import Completed, Failed

from flows.config import load_nightly, matrix, parse_assignments, precheck, validate_matrix
from flows.evaluate import evaluate
from flows.mlflow_views import describe_overrides, override_tags
from flows.regression import (
    Comparison,
    compare_runs,
    counts_of_run,
    markdown,
    previous_nightly,
)
from flows.tracking import client, end_run, experiment_id, start_parent

ARTIFACT_KEY = "infscale-nightly-regressions"


__all__ = ["ARTIFACT_KEY", "main", "matrix", "nightly"]


@flow(name="infscale-nightly", log_prints=True)
def nightly(
    params_path: str = "params.yaml",
    overrides: dict[str, Any] | None = None,
    scheduler_address: str | None = None,
    runs_root: str = "runs/nightly",
) -> Any:
    """Run every matrix entry through ``evaluate``, then compare with the previous nightly."""
    # Every entry is validated before anything is tracked: a bad one leaves no MLflow run.
    configs = validate_matrix(params_path, overrides)
    logger = get_run_logger()
    cfg = load_nightly(params_path)
    experiment = configs[0].track.experiment if configs else "infscale"
    stamp = datetime.now(UTC)
    extra = describe_overrides(overrides)
    parent = start_parent(" · ".join(p for p in ("nightly", extra, f"{stamp:%Y-%m-%d %H:%M}") if p),
                          {"infscale.source": "nightly-parent", **override_tags(overrides)}, experiment)
    mc = client()
    exp_id = experiment_id(mc, experiment)
    comparisons: list[Comparison] = []
    try:
        for overrides_i, config in zip(matrix(params_path, overrides), configs, strict=True):
            run_dir = str(Path(runs_root) / f"{stamp:%Y%m%dT%H%M%S}" / config.dir_name())
            result = evaluate(params_path, overrides_i, run_dir, scheduler_address, track=True,
                              parent_run_id=parent, per_verifier_runs=True, source="nightly")
            counts = pl.read_parquet(Path(run_dir) / "data/counts.parquet")
            for verifier in result["mlflow_run_ids"]:
                model, dataset = config.generate.model, config.base.dataset
                prev = previous_nightly(mc, exp_id, model, dataset, verifier, exclude_parent=parent)
                if prev is None:
                    logger.info("no previous nightly for %s / %s / %s", model, dataset, verifier)
                    continue
                comparisons += compare_runs(
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
    precheck(ap.prog, ["--params", args.params, *(f"--set={a}" for a in args.set)], nightly=True)
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
