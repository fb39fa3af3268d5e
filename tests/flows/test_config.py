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
