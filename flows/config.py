"""One run's configuration: params.yaml plus dotted overrides, validated by the stages' own models.

The flows take the same ``params.yaml`` as ``dvc repro`` and the same frozen section models
(``stages.params``), so a flow run and a DVC run with identical params compute identical
things. Overrides use DVC's dotted syntax (``generate.n_samples=20``), like ``dvc exp run -S``.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from stages.params import (
    AnalyzeParams,
    AugmentParams,
    BaseParams,
    Frozen,
    GenerateParams,
    NightlyParams,
    ParamsError,
    PrepareParams,
    TrackParams,
    VerifyParams,
    _check_known,
    parse_section,
    read_yaml,
)


class RunConfig(Frozen):
    """Every section one evaluation reads, already validated."""

    base: BaseParams
    prepare: PrepareParams
    augment: AugmentParams
    generate: GenerateParams
    verify: VerifyParams
    analyze: AnalyzeParams
    track: TrackParams

    def key(self) -> str:
        """A short content hash of the config: names the run directory, so a re-run resumes."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    def label(self) -> str:
        return f"{self.generate.model} · {self.base.dataset} · N={self.generate.n_samples}"


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """A copy of ``raw`` with dotted keys set (``{"generate.synthetic.beta": 3.0}``)."""
    out = copy.deepcopy(raw)
    for dotted, value in (overrides or {}).items():
        *parents, leaf = dotted.split(".")
        node = out
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ParamsError(f"override '{dotted}': '{part}' is not a section")
            node = child
        node[leaf] = value
    return out


def parse_assignments(items: list[str]) -> dict[str, Any]:
    """``["generate.n_samples=20", ...]`` -> dotted overrides; values parsed as YAML scalars."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ParamsError(f"override '{item}': expected KEY=VALUE")
        out[key.strip()] = yaml.safe_load(value)
    return out


def load_raw(params_path: str | Path = "params.yaml", overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    raw = apply_overrides(read_yaml(Path(params_path)), overrides)
    _check_known(raw, Path(params_path))
    return raw


def load_config(params_path: str | Path = "params.yaml", overrides: dict[str, Any] | None = None) -> RunConfig:
    """Validate every section one evaluation needs; errors name the file and the key."""
    path = Path(params_path)
    raw = load_raw(path, overrides)
    return RunConfig(**{name: parse_section(field.annotation, name, raw.get(name), path)  # type: ignore[arg-type]
                        for name, field in RunConfig.model_fields.items()})


def load_nightly(params_path: str | Path = "params.yaml") -> NightlyParams:
    path = Path(params_path)
    return parse_section(NightlyParams, "nightly", load_raw(path).get("nightly"), path)


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested params -> ``{"generate.synthetic.alpha": "0.6", ...}`` (what MLflow shows)."""
    out: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = json.dumps(value) if isinstance(value, (list, tuple)) else str(value)
    return out
