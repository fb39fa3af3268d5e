from __future__ import annotations

from pathlib import Path

import pytest

from flows.config import apply_overrides, flatten, load_config, parse_assignments
from stages.params import ParamsError

ROOT = Path(__file__).resolve().parents[2]


def test_dotted_overrides_reach_the_stage_models() -> None:
    cfg = load_config(ROOT / "params.yaml", parse_assignments(
        ["generate.n_samples=7", "generate.synthetic.beta=3.5", "base.dataset=gsm8k"]))
    assert (cfg.generate.n_samples, cfg.generate.synthetic.beta, cfg.base.dataset) == (7, 3.5, "gsm8k")
    assert cfg.key() != load_config(ROOT / "params.yaml").key()


def test_misspelt_override_names_the_key() -> None:
    with pytest.raises(ParamsError, match="generate.n_sampels"):
        load_config(ROOT / "params.yaml", {"generate.n_sampels": 3})
    with pytest.raises(ParamsError, match="KEY=VALUE"):
        parse_assignments(["generate.n_samples"])


def test_overrides_do_not_mutate_and_flatten_is_dotted() -> None:
    raw = {"a": {"b": 1}}
    assert apply_overrides(raw, {"a.c.d": 2}) == {"a": {"b": 1, "c": {"d": 2}}} and raw == {"a": {"b": 1}}
    assert flatten({"a": {"b": 1, "l": [1, 2]}}) == {"a.b": "1", "a.l": "[1, 2]"}


def test_bad_override_is_one_line_naming_the_override_not_the_file() -> None:
    from flows.config import validate_overrides

    with pytest.raises(ParamsError) as info:
        validate_overrides(ROOT / "params.yaml", {"generate.n_sampels": 3})
    msg = str(info.value)
    assert "--set generate.n_sampels=3" in msg and "did you mean 'generate.n_samples'" in msg
    assert "\n" not in msg and "params.yaml" not in msg
    with pytest.raises(ParamsError, match=r"--set generate.n_samples=0: invalid value for 'generate.n_samples'"):
        validate_overrides(ROOT / "params.yaml", {"generate.n_samples": 0})
    with pytest.raises(ParamsError, match=r"unknown section 'genrate' \(did you mean 'generate'"):
        validate_overrides(ROOT / "params.yaml", {"genrate.n_samples": 3})
    with pytest.raises(ParamsError, match=r"'generate.n_samples' is a value, not a section"):
        validate_overrides(ROOT / "params.yaml", {"generate.n_samples.x": 3})
    assert validate_overrides(ROOT / "params.yaml", {"nightly.set.anything.goes": 1})  # free-form


def test_cli_rejects_a_bad_set_before_importing_prefect() -> None:
    """``python -m flows.evaluate --set bad`` exits 2 with one stderr line, Prefect never imported
    (importing it and starting its server is what took 52-61 s in issue 17)."""
    import subprocess
    import sys
    import time

    code = ("import runpy, sys\n"
            "sys.argv = ['x', '--no-track', '--set', 'generate.n_sampels=3']\n"
            "try:\n    runpy.run_module('flows.evaluate', run_name='__main__')\n"
            "except SystemExit as e:\n    print('exit', e.code, 'prefect' in sys.modules)\n")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         check=False)
    elapsed = time.perf_counter() - t0
    assert out.stdout.strip() == "exit 2 False", out.stderr
    (line,) = out.stderr.strip().splitlines()
    assert "override --set generate.n_sampels=3: unknown key" in line
    assert elapsed < 10  # measured 1.8-2.7 s on 2 shared cores; generous against load


def test_run_directory_names_are_one_path_component_for_any_model_name() -> None:
    from flows.config import safe_name

    cfg = load_config(ROOT / "params.yaml", {"generate.model": "Qwen/Qwen2.5-7B:instruct"})
    name = cfg.dir_name()
    assert "/" not in name and name.startswith("Qwen_Qwen2.5-7B_instruct-") and Path(name).name == name
    assert safe_name("..") == "_" and safe_name("../..") == "_.." and safe_name("a b/c") == "a_b_c"
