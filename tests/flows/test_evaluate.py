"""The Prefect flows end to end, sharing one temporary Prefect server (see conftest.py).

Each test here starts flows, so there are few of them; logic is tested as plain functions in
the other test modules.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest
import yaml

from flows.config import apply_overrides
from flows.evaluate import evaluate
from flows.tracking import client
from stages.params import read_yaml

ROOT = Path(__file__).resolve().parents[2]
SMALL = {"prepare.limit": 5, "generate.n_samples": 5, "analyze.bootstrap": 50}

pytestmark = [pytest.mark.prefect, pytest.mark.slow]


def _run_stage_mains(workdir: Path, overrides: dict) -> None:
    """What `dvc repro` runs: each stage's main(), in a fresh working directory."""
    from stages import analyze, generate, prepare, report, verify
    from stages.datasets import fetch

    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "params.yaml").write_text(yaml.safe_dump(apply_overrides(read_yaml(ROOT / "params.yaml"), overrides)))
    old = Path.cwd()
    os.chdir(workdir)
    try:
        for stage in (fetch, prepare, generate, verify, analyze, report):
            stage.main([])
        from flows import tracking

        tracking.main([])
    finally:
        os.chdir(old)


def test_evaluate_flow_end_to_end_matches_stage_mains_and_resumes(
        prefect_server: None, mlflow_uri: str, tmp_path: Path) -> None:
    run_dir = tmp_path / "flow"
    result = evaluate(str(ROOT / "params.yaml"), SMALL, str(run_dir), chunks=3, track=True)
    metrics = yaml.safe_load((run_dir / "metrics/details.json").read_text())
    assert result["metrics"] == metrics and metrics["n_problems"] == 5 and metrics["n_samples"] == 5
    for table in ("problems", "samples", "verdicts", "counts", "curve", "metrics"):
        assert yaml.safe_load((run_dir / f"data/validation/{table}.json").read_text())["success"]
    run = client().get_run(result["mlflow_run_ids"]["all"])
    assert run.data.tags["infscale.source"] == "flow"
    assert run.data.metrics["0_weak_assert/pass_at_1"] == pytest.approx(metrics["weak_assert"]["pass@1"])

    # The DVC entries on identical params give identical metrics and verdicts.
    dvc_dir = tmp_path / "dvc"
    _run_stage_mains(dvc_dir, SMALL)
    assert yaml.safe_load((dvc_dir / "metrics/details.json").read_text()) == metrics
    assert pl.read_parquet(dvc_dir / "data/verdicts.parquet").equals(pl.read_parquet(run_dir / "data/verdicts.parquet"))
    tracked = client().search_runs([run.info.experiment_id], "tags.`infscale.source` = 'dvc'")
    assert tracked and tracked[0].data.metrics["0_weak_assert/pass_at_1"] == pytest.approx(metrics["weak_assert"]["pass@1"])

    # A re-run resumes from the cache: no stage rewrites its output.
    stamp = {p: p.stat().st_mtime_ns for p in (run_dir / "data").glob("*.parquet")}
    again = evaluate(str(ROOT / "params.yaml"), SMALL, str(run_dir), chunks=3, track=False)
    assert again["metrics"] == metrics
    assert {p: p.stat().st_mtime_ns for p in stamp} == stamp


def test_dask_local_cluster_gives_the_same_verdicts(prefect_server: None, small_run: Path, tmp_path: Path) -> None:
    from distributed import LocalCluster

    overrides = {"prepare.limit": 4, "generate.n_samples": 4, "analyze.bootstrap": 50, "verify.cache": False}
    # Thread-based workers: a process-based LocalCluster costs ~30 s more here to import the
    # stack in each worker; the Prefect -> Dask scheduler -> worker path is the same.
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        evaluate(str(ROOT / "params.yaml"), overrides, str(tmp_path / "dask"), cluster.scheduler_address,
                 chunks=4, track=False)
        assert cluster.scheduler.transition_counter > 0  # the chunks went through the scheduler
    local = pl.read_parquet(small_run / "data/verdicts.parquet")
    remote = pl.read_parquet(tmp_path / "dask/data/verdicts.parquet")
    # 4 problems x 4 samples, once per code verifier (weak_assert and the augmented strong_io)
    assert remote.height == 16 * remote["verifier"].n_unique() and remote.equals(local)


def test_nightly_reports_a_worse_policy_as_regression(prefect_server: None, mlflow_uri: str, tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.nightly import ARTIFACT_KEY, nightly

    raw = read_yaml(ROOT / "params.yaml")
    raw["track"] = {"mlflow": True, "experiment": "nightly-test"}
    raw["nightly"] = {"datasets": ["humaneval"], "models": [{"model": "synthetic-beta-policy", "set": {}}],
                      "set": {"prepare.limit": 12, "generate.n_samples": 6, "analyze.bootstrap": 20},
                      "metrics": ["pass@1"], "bootstrap": 500}
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(raw))
    good = {"generate.synthetic.alpha": 4.0, "generate.synthetic.beta": 1.0}
    worse = {"generate.synthetic.alpha": 1.0, "generate.synthetic.beta": 4.0}  # lower Beta mean
    first = nightly(str(params), good, runs_root=str(tmp_path / "runs"), return_state=True)
    assert first.is_completed()
    second = nightly(str(params), worse, runs_root=str(tmp_path / "runs"), return_state=True)
    assert second.is_failed() and "regression" in second.message
    summary = second.result(raise_on_failure=False)
    # One comparison per verifier (weak_assert and the augmented strong_io): both regress.
    assert summary["regressions"] == len(summary["comparisons"]) >= 1
    assert all(c["regressed"] for c in summary["comparisons"])
    parent = client().search_runs(
        [client().get_experiment_by_name("nightly-test").experiment_id],
        "tags.`infscale.source` = 'nightly-parent'", order_by=["attributes.start_time DESC"])[0]
    assert parent.data.tags["infscale.regressions"] == str(summary["regressions"])
    children = client().search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    assert sorted(c.data.tags["infscale.verifier"] for c in children) == ["strong_io", "weak_assert"]
    with get_client(sync_client=True) as pc:
        arts = pc.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[ARTIFACT_KEY])))
    assert any("REGRESSION" in (a.data or "") for a in arts), summary
