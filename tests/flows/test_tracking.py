"""MLflow tracking: one run holds the params, tags, headline metrics, the pass@k curve (one metric,
step = k), the artifacts and the problems table as a dataset input; nightly children nest."""

from __future__ import annotations

from pathlib import Path

import yaml

from flows.config import load_raw
from flows.tracking import (
    client,
    flatten_metrics,
    log_record,
    logged_run,
    metric_name,
    metrics_of_verifier,
    record_from_files,
    start_parent,
)

ROOT = Path(__file__).resolve().parents[2]


def test_metric_names_and_flattening() -> None:
    assert metric_name("pass@10") == "pass_at_10"
    flat = flatten_metrics({"weak_assert": {"pass@1": 0.5, "pass@1_ci": [0.4, 0.6], "fit": {"a": 2}},
                            "n_problems": 4, "note": "text", "bad": float("nan")})
    assert flat == {"weak_assert/pass_at_1": 0.5, "weak_assert/pass_at_1_ci_low": 0.4,
                    "weak_assert/pass_at_1_ci_high": 0.6, "weak_assert/fit/a": 2.0, "n_problems": 4.0}


def test_per_verifier_metrics_keep_shared_ones() -> None:
    m = {"weak/pass_at_1": 1.0, "strong/pass_at_1": 2.0, "fits/weak/a": 3.0, "costs/x": 4.0, "n_problems": 5.0}
    assert metrics_of_verifier(m, "weak", {"weak", "strong"}) == {
        "weak/pass_at_1": 1.0, "fits/weak/a": 3.0, "costs/x": 4.0, "n_problems": 5.0}


def test_run_has_params_tags_metrics_curve_artifacts_and_input(small_run: Path, mlflow_uri: str) -> None:
    raw = load_raw(ROOT / "params.yaml", {"prepare.limit": 4, "generate.n_samples": 4, "analyze.bootstrap": 50})
    record = record_from_files(raw_params=raw, root=small_run, source="test")
    run_id = log_record(record, experiment="infscale-test")
    mc = client()
    run = mc.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name.startswith("synthetic-beta-policy · humaneval · N=4 · ")
    assert run.data.params["generate.n_samples"] == "4" and run.data.params["base.seed"] == "1234"
    tags = run.data.tags
    assert tags["infscale.backend"] == "synthetic" and tags["infscale.model"] == "synthetic-beta-policy"
    assert len(tags["infscale.dataset_hash"]) == 64 and "infscale.git_commit" in tags
    m = run.data.metrics
    assert {"0_weak_assert/pass_at_1", "0_weak_assert/coverage_at_4", "0_n_problems"} <= set(m)
    curve = mc.get_metric_history(run_id, "weak_assert/pass_at_k")
    assert sorted(p.step for p in curve) == [1, 2, 3, 4]
    assert abs(next(p.value for p in curve if p.step == 1) - m["0_weak_assert/pass_at_1"]) < 1e-6
    files = {a.path for a in mc.list_artifacts(run_id)}
    assert {"coverage.png", "counts.parquet", "metrics.json", "params.yaml", "validation"} <= files
    assert yaml.safe_load(Path(mc.download_artifacts(run_id, "params.yaml", str(small_run))).read_text()) == raw
    inputs = run.inputs.dataset_inputs
    assert inputs and inputs[0].dataset.name == "humaneval-problems"
    assert inputs[0].tags[0].value == "problems"


def test_a_pipeline_state_already_logged_is_found_by_its_lock_entries(small_run: Path, mlflow_uri: str) -> None:
    """``make run`` logs a fresh clone's committed outputs once: it asks for a finished run whose
    dvc.lock stage entries (track's own aside) are this lock's."""
    raw = load_raw(ROOT / "params.yaml", {"prepare.limit": 4, "generate.n_samples": 4, "analyze.bootstrap": 50})
    record = record_from_files(raw_params=raw, root=small_run, source="test")
    lock = {"verify": "v1", "analyze": "a1", "track": "t1"}
    assert logged_run(lock, "infscale-logged") is None  # no such experiment yet
    record.tags = {k: v for k, v in record.tags.items() if not k.startswith("dvc.lock.")}
    record.tags |= {f"dvc.lock.{stage}": v for stage, v in lock.items()}
    run_id = log_record(record, experiment="infscale-logged")
    assert logged_run(lock | {"track": "t2"}, "infscale-logged") == run_id
    assert logged_run(lock | {"analyze": "a2"}, "infscale-logged") is None
    assert logged_run({}, "infscale-logged") is None  # no dvc.lock: nothing to match a run by


def test_nightly_children_nest_under_the_parent(small_run: Path, mlflow_uri: str) -> None:
    raw = load_raw(ROOT / "params.yaml", {"prepare.limit": 4, "generate.n_samples": 4})
    parent = start_parent("nightly · test", {"infscale.source": "nightly-parent"}, "infscale-test")
    record = record_from_files(raw_params=raw, root=small_run, source="nightly")
    child = log_record(record, "infscale-test", parent_run_id=parent, verifier="weak_assert")
    run = client().get_run(child)
    assert run.data.tags["mlflow.parentRunId"] == parent
    assert run.data.tags["infscale.verifier"] == "weak_assert"
    assert run.info.run_name.endswith("· weak_assert")


def test_a_run_reads_well_in_the_ui(small_run: Path, mlflow_uri: str) -> None:
    """Issue 17: classic experiment, name leads with what differs, headline metrics sort first,
    the curve and its band per k (step = k), a band PNG, the overrides as tags."""
    from flows.mlflow_views import (
        CURVE_ARTIFACT,
        EXPERIMENT_KIND,
        EXPERIMENT_KIND_TAG,
        HEADLINE_PREFIX,
    )

    overrides = {"prepare.limit": 4, "generate.n_samples": 4, "generate.synthetic.beta": 3.0}
    raw = load_raw(ROOT / "params.yaml", overrides)
    record = record_from_files(raw_params=raw, root=small_run, source="test", overrides=overrides)
    run_id = log_record(record, experiment="infscale-ui")
    mc = client()
    run = mc.get_run(run_id)
    assert mc.get_experiment(run.info.experiment_id).tags[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND
    assert run.info.run_name.startswith("synthetic-beta-policy · humaneval · N=4 · beta=3.0, limit=4 · ")
    assert run.data.tags["infscale.set.generate.synthetic.beta"] == "3.0"
    m = run.data.metrics
    first = sorted(m)[:3]
    assert all(name.startswith(HEADLINE_PREFIX) for name in first)
    assert {f"{HEADLINE_PREFIX}weak_assert/pass_at_1", f"{HEADLINE_PREFIX}n_problems"} <= set(m)
    assert "weak_assert/pass_at_1" not in m  # logged once, under its headline name
    assert not any(name.startswith(HEADLINE_PREFIX + "strategies") for name in m)
    low = mc.get_metric_history(run_id, "weak_assert/pass_at_k_ci_low")
    assert sorted(p.step for p in low) == [1, 2, 3, 4]
    assert {a.path for a in mc.list_artifacts(run_id, "plots")} >= {CURVE_ARTIFACT}
    samples_dir = {a.path for a in mc.list_artifacts(run_id, "samples")}
    assert samples_dir & {"samples/inspection.json", "samples/inspection.txt"}


def test_tracked_names_put_headline_metrics_first() -> None:
    from flows.tracking import tracked_metrics

    names = tracked_metrics({"weak_assert": {"pass@1": 0.5, "pass@2": 0.6}, "n_problems": 4,
                             "strategies": {"majority": {"n=2": 0.1}}})
    assert names == {"0_weak_assert/pass_at_1": 0.5, "weak_assert/pass_at_2": 0.6, "0_n_problems": 4.0,
                     "strategies/majority/n_2": 0.1}
