"""Everything that talks to MLflow: one tracked run per evaluation, nested runs for a nightly.

Tracking URI: ``MLFLOW_TRACKING_URI`` when set (a team server), else ``sqlite:///mlflow.db`` in
the project directory, with artifacts under ``mlartifacts/``. Logging goes through
``MlflowClient`` with explicit run ids (never the fluent, thread-local active run), so runs made
from Prefect worker threads nest correctly. Every call batches: one ``log_batch`` costs about as
much as one ``log_metric`` (~7 ms on sqlite), and a pass@k curve has N points.

``python -m flows.tracking`` is the DVC ``track`` stage: it logs the outputs of ``dvc repro``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from stages import revisions

PROJECT = Path(__file__).resolve().parents[1]
_BATCH = 1000  # MLflow's per-request limit for metrics; params are limited to 100
_NAME_BAD = re.compile(r"[^\w.\- /]")


def tracking_uri(project_dir: Path | None = None) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(project_dir or PROJECT) / 'mlflow.db'}"


def client(project_dir: Path | None = None) -> Any:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri(project_dir))


def experiment_id(mlflow_client: Any, name: str, project_dir: Path | None = None) -> str:
    exp = mlflow_client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    from flows.mlflow_views import EXPERIMENT_KIND, EXPERIMENT_KIND_TAG

    location = None
    uri = tracking_uri(project_dir)
    if uri.startswith("sqlite:///"):  # artifacts next to the database they belong to
        location = (Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlartifacts").as_uri()
    return mlflow_client.create_experiment(name, artifact_location=location,
                                           tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND})


def metric_name(name: str) -> str:
    """MLflow allows only ``[\\w.\\- /]`` in names: ``pass@10`` becomes ``pass_at_10``."""
    return _NAME_BAD.sub("_", name.replace("@", "_at_"))


def flatten_metrics(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Metrics JSON -> flat ``{"weak_assert/pass_at_1": 0.31, ...}``; intervals become _low/_high.

    Reads whatever numeric keys exist, so metrics added by later stages (false-positive rates,
    fit parameters) are tracked without changes here.
    """
    out: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{metric_name(str(key))}"
        if isinstance(value, (bool, int, float)):
            out[name] = float(value)
        elif isinstance(value, dict):
            out.update(flatten_metrics(value, f"{name}/"))
        elif isinstance(value, (list, tuple)) and len(value) == 2 and all(
                isinstance(v, (int, float)) for v in value):
            out[f"{name}_low"], out[f"{name}_high"] = float(value[0]), float(value[1])
    return {k: v for k, v in out.items() if not math.isnan(v)}  # MLflow cannot compare NaN


def tracked_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Metrics JSON -> the names and values a run logs (headline ones with their ``0_`` prefix):
    what to compare a tracked run with (``flows.reproduce``)."""
    from flows.mlflow_views import display_names
    from stages.headline import headline

    return display_names(flatten_metrics(metrics), flatten_metrics(headline(metrics)))


def metrics_of_verifier(metrics: dict[str, float], verifier: str, verifiers: set[str]) -> dict[str, float]:
    """A verifier's own metrics (any path segment names it) plus those of no verifier (costs, N)."""
    keep = {}
    for name, value in metrics.items():
        named = set(name.split("/")) & verifiers
        if not named or verifier in named:
            keep[name] = value
    return keep


@dataclass
class RunRecord:
    """What one tracked run holds. Built from a run directory's files by :func:`record_from_files`."""

    name: str
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, float]
    curve: pl.DataFrame  # verifier, k, pass_at_k, ci_low, ci_high
    headline: set[str] = field(default_factory=set)  # names in ``metrics`` that are headline numbers
    artifacts: list[Path] = field(default_factory=list)
    problems: pl.DataFrame | None = None
    problems_source: str = ""
    params_yaml: str = ""


def git_commit(cwd: Path | None = None) -> tuple[str, bool]:
    """(HEAD commit or "unknown", whether the work tree has uncommitted changes)."""
    commit, dirty = revisions.head(cwd or PROJECT)
    return commit or "unknown", dirty


def dvc_lock_hashes(lock_path: Path) -> dict[str, str]:
    """md5 of each stage's entry in dvc.lock: which exact inputs/outputs a run came from."""
    if not lock_path.exists():
        return {}
    import yaml

    stages = (yaml.safe_load(lock_path.read_text(encoding="utf-8")) or {}).get("stages", {})
    return {name: hashlib.md5(json.dumps(entry, sort_keys=True).encode()).hexdigest()
            for name, entry in stages.items()}


def record_from_files(
    *, raw_params: dict[str, Any], root: Path, source: str, extra_tags: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> RunRecord:
    """A run record from the standard layout under ``root`` (the project, or a flow's run dir)."""
    from flows.config import flatten
    from flows.mlflow_views import override_tags, run_name
    from stages.datasets.provenance import dataset_tags
    from stages.headline import headline, read_details
    from stages.io import read_table
    from stages.schemas import CURVE, PROBLEMS

    generate = raw_params.get("generate", {})
    base = raw_params.get("base", {})
    problems_path = root / "data/problems.parquet"
    problems = read_table(problems_path, PROBLEMS, "problems")
    commit, dirty = git_commit()
    model, dataset, n = generate.get("model", "?"), base.get("dataset", "?"), generate.get("n_samples", 0)
    tags = {
        "infscale.source": source, "infscale.git_commit": commit, "infscale.git_dirty": str(dirty),
        "infscale.model": str(model), "infscale.dataset": str(dataset),
        "infscale.backend": str(generate.get("backend", "?")), "infscale.n_samples": str(n),
        "infscale.dataset_hash": ",".join(sorted(problems["dataset_hash"].unique().to_list())),
        "infscale.problems_sha256": hashlib.sha256(problems_path.read_bytes()).hexdigest(),
        "infscale.run_dir": str(root.resolve()),
        **dataset_tags(root),
        **{f"dvc.lock.{k}": v for k, v in dvc_lock_hashes(root / "dvc.lock").items()},
        **override_tags(overrides), **(extra_tags or {}),
    }
    artifacts = [p for p in (root / "data/counts.parquet", root / "metrics/metrics.json",
                             root / "metrics/details.json", root / "metrics/curve.csv") if p.exists()]
    artifacts += sorted((root / "plots").glob("*.png"))  # coverage, weak vs strong, strategies, ...
    artifacts += sorted((root / "data/analysis").glob("*.parquet"))  # per-problem and curve tables
    artifacts += sorted((root / "data/validation").glob("*.json"))
    import yaml

    full = read_details(root / "metrics/metrics.json")
    sandbox = full.get("sandbox") if isinstance(full.get("sandbox"), dict) else {}
    tags["infscale.sandbox"] = str(sandbox.get("levels", "none"))
    tags["infscale.sandbox_isolated"] = str(bool(sandbox.get("isolated", False)))
    if (root / "dvc.lock").exists():
        artifacts.append(root / "dvc.lock")  # what `infscale reproduce` pulls the run's inputs by
    return RunRecord(
        name=run_name(str(model), str(dataset), int(n), overrides=overrides), params=flatten(raw_params),
        tags=tags, metrics=flatten_metrics(full), headline=set(flatten_metrics(headline(full))),
        curve=read_table(root / "data/curve.parquet", CURVE, "curve"), artifacts=artifacts,
        problems=problems, problems_source=str(problems_path.resolve()),
        params_yaml=yaml.safe_dump(raw_params, sort_keys=False, allow_unicode=True),
    )


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def log_record(
    record: RunRecord, experiment: str = "infscale", parent_run_id: str | None = None,
    verifier: str | None = None, project_dir: Path | None = None,
) -> str:
    """Create a run (nested under ``parent_run_id`` if given), log everything batched; its id.

    ``verifier``: keep only that verifier's metrics and curve (a nightly's per-verifier child).
    """
    from mlflow.entities import DatasetInput, InputTag, Metric, Param
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

    from flows.mlflow_views import display_names, ensure_classic, inspection_rows, log_views

    mc = client(project_dir)
    tags = dict(record.tags)
    metrics = record.metrics
    curve = record.curve
    name = record.name
    if verifier is not None:
        tags["infscale.verifier"] = verifier
        metrics = metrics_of_verifier(metrics, verifier, set(curve["verifier"].unique().to_list()))
        curve = curve.filter(pl.col("verifier") == verifier)
        name = f"{record.name} · {verifier}"
    if parent_run_id:
        tags[MLFLOW_PARENT_RUN_ID] = parent_run_id
    exp_id = experiment_id(mc, experiment, project_dir)
    ensure_classic(mc, exp_id)
    run = mc.create_run(exp_id, tags=tags, run_name=name)
    run_id = run.info.run_id
    try:
        now = int(time.time() * 1000)
        params = [Param(k, v[:6000]) for k, v in sorted(record.params.items())]
        for batch in _chunks(params, 100):
            mc.log_batch(run_id, params=batch)
        shown = display_names(metrics, record.headline)
        points = [Metric(k, v, now, 0) for k, v in sorted(shown.items())]
        # The per-k curve with step = k: the compare view overlays one line per run.
        for column in ("pass_at_k", "ci_low", "ci_high"):
            suffix = "" if column == "pass_at_k" else f"_{column}"
            points += [Metric(f"{metric_name(v)}/pass_at_k{suffix}", float(p), now, int(k))
                       for v, k, p in curve.select("verifier", "k", column).drop_nulls().iter_rows()]
        for batch in _chunks(points, _BATCH):
            mc.log_batch(run_id, metrics=batch)
        for path in record.artifacts:
            sub = "validation" if path.parent.name == "validation" else None
            mc.log_artifact(run_id, str(path), artifact_path=sub)
        if record.params_yaml:
            mc.log_text(run_id, record.params_yaml, "params.yaml")
        root = Path(tags.get("infscale.run_dir", "."))
        log_views(mc, run_id, curve, inspection_rows(root, verifier), record.params.get("analyze.ci"))
        if record.problems is not None:
            import mlflow.data

            with warnings.catch_warnings():  # "source can be interpreted in multiple ways": harmless
                warnings.simplefilter("ignore", UserWarning)
                ds = mlflow.data.from_polars(record.problems, source=record.problems_source,
                                             name=f"{tags.get('infscale.dataset', 'dataset')}-problems")
            mc.log_inputs(run_id, datasets=[DatasetInput(ds._to_mlflow_entity(),
                                                         [InputTag("mlflow.data.context", "problems")])])
    except BaseException:
        mc.set_terminated(run_id, status="FAILED")
        raise
    mc.set_terminated(run_id, status="FINISHED")
    return run_id


def start_parent(name: str, tags: dict[str, str], experiment: str = "infscale",
                 project_dir: Path | None = None) -> str:
    mc = client(project_dir)
    return mc.create_run(experiment_id(mc, experiment, project_dir), tags=tags, run_name=name).info.run_id


def end_run(run_id: str, status: str = "FINISHED", metrics: dict[str, float] | None = None,
            project_dir: Path | None = None) -> None:
    from mlflow.entities import Metric

    mc = client(project_dir)
    if metrics:
        now = int(time.time() * 1000)
        mc.log_batch(run_id, metrics=[Metric(metric_name(k), v, now, 0) for k, v in metrics.items()])
    mc.set_terminated(run_id, status=status)


def logged_run(lock: dict[str, str], experiment: str, project_dir: Path | None = None) -> str | None:
    """Id of a finished run in ``experiment`` logged from this very pipeline state: every stage
    entry of dvc.lock (``lock``: :func:`dvc_lock_hashes`) equal, ``track``'s own aside (it is
    written after the run is logged).

    Why: ``dvc repro`` skips ``track`` when nothing changed, as in a fresh clone of a committed
    run, whose MLflow store is empty; ``make run`` then logs the run, and only then."""
    keys = {f"dvc.lock.{stage}": v for stage, v in lock.items() if stage != "track"}
    mc = client(project_dir)
    exp = mc.get_experiment_by_name(experiment)
    if exp is None or not keys:
        return None
    query = " and ".join([*(f"tags.`{k}` = '{v}'" for k, v in sorted(keys.items())), "attributes.status = 'FINISHED'"])
    runs = mc.search_runs([exp.experiment_id], filter_string=query, max_results=1)
    return runs[0].info.run_id if runs else None


def main(argv: list[str] | None = None) -> None:
    """DVC's ``track`` stage: log this ``dvc repro``'s outputs to MLflow (``track.mlflow``)."""
    from stages.entry import run_entry
    from stages.io import write_json
    from stages.params import TrackParams, load_section, read_yaml

    ap = argparse.ArgumentParser(prog="python -m flows.tracking", description=__doc__)
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--out", type=Path, default=Path("metrics/mlflow_run.json"))
    ap.add_argument("--if-untracked", action="store_true",
                    help="log only if no finished run of this dvc.lock is in the store (make run)")
    args = ap.parse_args(argv)

    def body() -> None:
        own = load_section("track", args.params, TrackParams)
        if not own.mlflow:
            write_json({"tracked": False}, args.out)
            print("track: MLflow tracking is off (track.mlflow: false)")
            return
        if args.if_untracked and (found := logged_run(dvc_lock_hashes(Path("dvc.lock")), own.experiment, Path.cwd())):
            print(f"track: this dvc.lock is MLflow run {found} already, at {tracking_uri(Path.cwd())}")
            return  # asked before the record is built: that reads and hashes the run's tables
        record = record_from_files(raw_params=read_yaml(args.params), root=Path.cwd(), source="dvc")
        run_id = log_record(record, own.experiment, project_dir=Path.cwd())
        # The run id is not written: it differs per run and would make the output non-reproducible.
        write_json({"tracked": True, "experiment": own.experiment}, args.out)
        print(f"track: MLflow run {run_id} ('{record.name}') at {tracking_uri(Path.cwd())}")

    run_entry("track", body)


if __name__ == "__main__":
    main()
