"""`infscale reproduce`: provenance checks, params restored with numbered backups, the stages
restored vs re-run, metrics side by side. DVC is a stand-in that records the commands and copies
the recorded metrics (the real `dvc repro --force` path is in tests/test_pipeline_dvc.py)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml

from flows import reproduce as rep
from flows.config import load_raw
from flows.tracking import log_record, record_from_files

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def tracked(small_run: Path, mlflow_uri: str) -> tuple[str, dict, str]:
    raw = load_raw(ROOT / "params.yaml", {"prepare.limit": 4, "generate.n_samples": 4, "analyze.bootstrap": 50})
    record = record_from_files(raw_params=raw, root=small_run, source="test")
    return log_record(record, experiment="infscale-test"), raw, record.tags["infscale.dataset_hash"]


class FakeDvc:
    def __init__(self, src: Path, project: Path, unclean: Sequence[str] = (), pull_ok: bool = True):
        self.src, self.project, self.unclean, self.pull_ok = src, project, set(unclean), pull_ok
        self.calls: list[tuple[str, ...]] = []

    def pull(self, stages: Sequence[str]) -> bool:
        self.calls.append(("pull", *stages))
        return self.pull_ok

    def clean(self, stage: str) -> bool:
        return stage not in self.unclean

    def repro_from(self, stage: str) -> int:
        self.calls.append(("repro --force --downstream", stage))
        shutil.copytree(self.src / "metrics", self.project / "metrics", dirs_exist_ok=True)
        return 0


@pytest.fixture()
def project(tmp_path: Path, tracked, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    (tmp_path / "params.yaml").write_text("base: {seed: 1}\n")
    monkeypatch.setattr(rep, "current_dataset_hash", lambda _d, _p: tracked[2])
    return tmp_path


def test_mismatched_commit_stops_unless_forced(tracked, small_run: Path, project: Path, capsys) -> None:
    run_id, raw, _hash = tracked
    dvc = FakeDvc(small_run, project)
    # project is not a git repository: its commit is "unknown", unlike the run's.
    assert rep.reproduce(run_id, project, dvc=dvc) == 3 and "git commit" in capsys.readouterr().err
    assert (project / "params.yaml").read_text() == "base: {seed: 1}\n" and not dvc.calls

    assert rep.reproduce(run_id, project, force=True, dvc=dvc) == 0
    out = capsys.readouterr().out
    assert yaml.safe_load((project / "params.yaml").read_text()) == raw
    assert (project / "params.yaml.before-reproduce.1").read_text() == "base: {seed: 1}\n"
    line = next(x for x in out.splitlines() if x and x.split()[0].endswith("weak_assert/pass_at_1"))
    assert line.split()[-1] == "+0.000000"  # same outputs, same numbers, side by side


def test_default_reverifies_recorded_samples_and_says_what_was_restored(
        tracked, small_run: Path, project: Path, capsys) -> None:
    dvc = FakeDvc(small_run, project)
    assert rep.reproduce(tracked[0], project, force=True, dvc=dvc) == 0
    out = capsys.readouterr().out
    assert dvc.calls == [("pull", "fetch", "prepare", "generate"), ("repro --force --downstream", "verify")]
    assert "restored by DVC: fetch, prepare, generate" in out
    assert "re-running (dvc repro --force --downstream verify): verify, analyze, report, track" in out


def test_backups_are_numbered_and_never_overwritten(tracked, small_run: Path, project: Path) -> None:
    dvc = FakeDvc(small_run, project)
    rep.reproduce(tracked[0], project, force=True, dvc=dvc)
    (project / "params.yaml").write_text("base: {seed: 2}\n")  # the user edits again
    rep.reproduce(tracked[0], project, force=True, dvc=dvc)
    assert (project / "params.yaml.before-reproduce.1").read_text() == "base: {seed: 1}\n"
    assert (project / "params.yaml.before-reproduce.2").read_text() == "base: {seed: 2}\n"
    rep.reproduce(tracked[0], project, force=True, dvc=dvc)  # unchanged params: nothing saved
    assert not (project / "params.yaml.before-reproduce.3").exists()


def test_params_with_the_runs_values_keep_their_comments(tmp_path: Path, capsys) -> None:
    """The run logs params.yaml as a plain dump; a file with the same values is not replaced
    (a fresh clone reproducing its own run kept a comment-stripped params.yaml before)."""
    params = tmp_path / "params.yaml"
    params.write_text("base:\n  seed: 1234   # the seed\n", encoding="utf-8")
    rep.restore(params, yaml.safe_dump({"base": {"seed": 1234}}))
    assert params.read_text(encoding="utf-8") == "base:\n  seed: 1234   # the seed\n"
    assert not list(tmp_path.glob("*.before-reproduce.*")) and "kept as it is" in capsys.readouterr().out
    rep.restore(params, yaml.safe_dump({"base": {"seed": 7}}))  # different values: saved, then replaced
    assert yaml.safe_load(params.read_text(encoding="utf-8")) == {"base": {"seed": 7}}
    assert (tmp_path / "params.yaml.before-reproduce.1").read_text(encoding="utf-8").endswith("# the seed\n")


def test_samples_not_restorable_need_regenerate(tracked, small_run: Path, project: Path, capsys) -> None:
    dvc = FakeDvc(small_run, project, unclean=["generate"], pull_ok=False)
    assert rep.reproduce(tracked[0], project, force=True, dvc=dvc) == 4
    assert "--regenerate" in capsys.readouterr().err
    assert not any(c[0].startswith("repro") for c in dvc.calls)

    assert rep.reproduce(tracked[0], project, force=True, regenerate=True, dvc=dvc) == 0
    assert dvc.calls[-2:] == [("pull", "fetch", "prepare"), ("repro --force --downstream", "generate")]


def test_an_upstream_stage_that_no_longer_matches_starts_the_rerun(
        tracked, small_run: Path, project: Path, capsys) -> None:
    dvc = FakeDvc(small_run, project, unclean=["prepare"])
    assert rep.reproduce(tracked[0], project, force=True, regenerate=True, dvc=dvc) == 0
    out = capsys.readouterr().out
    assert "stage 'prepare' does not match its inputs" in out
    assert dvc.calls[-1] == ("repro --force --downstream", "prepare")
    assert "restored by DVC: fetch\n" in out


def test_mismatched_dataset_hash_stops(tracked, small_run: Path, project: Path, capsys,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rep, "current_dataset_hash", lambda _d, _p: "0" * 64)
    dvc = FakeDvc(small_run, project)
    # force skips the commit check only through --force; the hash check stops without it.
    monkeypatch.setattr(rep, "git_commit", lambda _p: (tracked_commit(tracked[0]), False))
    assert rep.reproduce(tracked[0], project, dvc=dvc) == 3
    assert "dataset hash" in capsys.readouterr().err
    assert not any(c[0].startswith("repro") for c in dvc.calls)


def tracked_commit(run_id: str) -> str:
    from flows.tracking import client

    return client(ROOT).get_run(run_id).data.tags.get("infscale.git_commit", "")


def test_pipeline_order_and_downstream() -> None:
    order, upstream = rep.pipeline(ROOT)
    assert order[:3] == ["fetch", "prepare", "generate"]
    assert rep.downstream_of("verify", order, upstream) == ["verify", "analyze", "report", "track"]
    assert rep.downstream_of("fetch", order, upstream) == order
