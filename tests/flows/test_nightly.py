"""The nightly's matrix and its schedule wiring, as plain functions (the flow itself runs in
test_evaluate.py, inside the shared Prefect server)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import flows.nightly as nightly_module
from stages.params import read_yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def params(tmp_path: Path) -> Path:
    raw = read_yaml(ROOT / "params.yaml")
    raw["nightly"] = {"cron": "30 3 * * *", "datasets": ["humaneval", "mbppplus"],
                      "models": [{"model": "a", "set": {"generate.synthetic.beta": 2.0}}, {"model": "b"}],
                      "set": {"generate.n_samples": 8}}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_matrix_is_models_x_datasets_with_overrides(params: Path) -> None:
    entries = nightly_module.matrix(str(params), {"prepare.limit": 3})
    assert [(e["base.dataset"], e["generate.model"]) for e in entries] == [
        ("humaneval", "a"), ("humaneval", "b"), ("mbppplus", "a"), ("mbppplus", "b")]
    assert entries[0]["generate.synthetic.beta"] == 2.0 and "generate.synthetic.beta" not in entries[1]
    assert all(e["generate.n_samples"] == 8 and e["prepare.limit"] == 3 for e in entries)


def test_serve_uses_the_cron_from_params(params: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict = {}
    monkeypatch.setattr(nightly_module.nightly, "serve", lambda **kw: seen.update(kw))
    nightly_module.main(["serve", "--params", str(params), "--set", "generate.n_samples=4"])
    assert seen["cron"] == "30 3 * * *" and seen["name"] == "nightly"
    assert seen["parameters"]["overrides"] == {"generate.n_samples": 4}
    assert seen["parameters"]["params_path"] == str(params)


def test_prefect_yaml_deploys_the_nightly_flow_on_the_default_cron() -> None:
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    (dep,) = spec["deployments"]
    assert dep["entrypoint"] == "flows/nightly.py:nightly"
    assert dep["schedules"][0]["cron"] == read_yaml(ROOT / "params.yaml")["nightly"]["cron"]
    assert dep["work_pool"]["name"] == "infscale-process"


def _all_runs(mc) -> set[str]:
    return {r.info.run_id for r in mc.search_runs([e.experiment_id for e in mc.search_experiments()])}


def test_bad_matrix_entry_names_the_entry_and_creates_no_mlflow_run(
        params: Path, mlflow_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.config import validate_matrix
    from flows.tracking import client
    from stages.params import ParamsError

    before = _all_runs(client())
    raw = yaml.safe_load(params.read_text())
    raw["nightly"]["models"][1]["set"] = {"generate.synthetic.bta": 3.0}
    params.write_text(yaml.safe_dump(raw))
    with pytest.raises(ParamsError, match=r"nightly.models\[1\] \(b\).set .*generate.synthetic.bta=3.0: "
                                          r"unknown key .*did you mean 'generate.synthetic.beta'"):
        validate_matrix(params)
    with pytest.raises(ParamsError, match="generate.synthetic.bta"):
        nightly_module.nightly.fn(str(params))  # the flow body, without Prefect
    # The MLflow store is shared by the session's tests: no run may be added by this call.
    assert _all_runs(client()) == before
    started: list = []
    monkeypatch.setattr(nightly_module, "nightly", lambda *a, **k: started.append(a))
    with pytest.raises(SystemExit) as info:
        nightly_module.main(["run", "--once", "--params", str(params), "--set", "prepare.limt=2"])
    assert info.value.code == 2 and started == []
