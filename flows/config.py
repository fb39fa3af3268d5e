"""One run's configuration: params.yaml plus dotted overrides, validated by the stages' own models.

The flows take the same ``params.yaml`` as ``dvc repro`` and the same frozen section models
(``stages.params``), so a flow run and a DVC run with identical params compute identical
things. Overrides use DVC's dotted syntax (``generate.n_samples=20``), like ``dvc exp run -S``.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import hashlib
import json
import re
import sys
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from stages.params import SECTIONS as PARAM_SECTIONS
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
    _describe,
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

    def dir_name(self) -> str:
        """``<model>-<dataset>-N<n>-<key>`` as ONE path component, whatever the model is called
        (``Qwen/Qwen2.5-7B`` or ``datasets/mine.jsonl`` would otherwise nest directories)."""
        name = f"{self.generate.model}-{self.base.dataset}-N{self.generate.n_samples}-{self.key()}"
        return safe_name(name)

    def label(self) -> str:
        return f"{self.generate.model} · {self.base.dataset} · N={self.generate.n_samples}"


def safe_name(text: str) -> str:
    """A file-name-safe form of ``text``: anything but letters, digits, ``.``, ``_``, ``-`` -> ``_``,
    and no leading dot (a name of only dots would be ``.``/``..``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).lstrip(".") or "_"


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


def matrix(params_path: str | Path, extra: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The dotted overrides of each nightly entry, in (dataset, model) order."""
    cfg = load_nightly(params_path)
    return [{**cfg.set, "base.dataset": dataset, "generate.model": entry.model, **entry.set, **(extra or {})}
            for dataset in cfg.datasets for entry in cfg.models]


# ---- validation of overrides, before any flow starts (issue 17) --------------------------------

def _suggest(word: str, options: typing.Iterable[str], prefix: str = "") -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean '{prefix}{close[0]}'?)" if close else ""


def _check_key(dotted: str) -> None:
    """The dotted key names a real field of the params models (a misspelling fails here)."""
    section, *rest = dotted.split(".")
    model: Any = PARAM_SECTIONS.get(section)
    if model is None:
        raise ParamsError(f"unknown section '{section}'{_suggest(section, PARAM_SECTIONS)}")
    path = section
    for i, part in enumerate(rest):
        if part not in model.model_fields:
            hint = _suggest(part, model.model_fields, path + ".")
            raise ParamsError(f"unknown key '{path}.{part}'{hint}")
        path = f"{path}.{part}"
        annotation = model.model_fields[part].annotation
        if isinstance(annotation, type) and issubclass(annotation, Frozen):
            model = annotation
        elif i < len(rest) - 1:
            if typing.get_origin(annotation) is dict:
                return  # a free-form mapping (nightly.set): any key below is legal
            raise ParamsError(f"'{path}' is a value, not a section")
    if not rest:
        raise ParamsError(f"'{section}' is a section; set one of its keys ('{section}.<key>')")


def _check_override(raw: dict[str, Any], dotted: str, value: Any) -> None:
    """Check one override alone on top of the file: key exists, value valid for its field."""
    _check_key(dotted)
    section = dotted.split(".")[0]
    data = apply_overrides(raw, {dotted: value}).get(section)
    try:
        PARAM_SECTIONS[section].model_validate(data or {})
    except ValidationError as exc:
        raise ParamsError(_describe(exc, section, "").removeprefix(": ").replace("; : ", "; ")) from None


def validate_overrides(params_path: str | Path, overrides: dict[str, Any] | None,
                       origin: str = "--set") -> dict[str, Any]:
    """Check every override against the params models; the file's own errors name the file.

    Raises :class:`ParamsError` with one line naming the override (``--set generate.n_sample=3``
    or the nightly entry it came from). Returns the raw params with the overrides applied.
    """
    path = Path(params_path)
    raw = read_yaml(path)
    _check_known(raw, path)
    for name, model in PARAM_SECTIONS.items():  # the file alone must be valid first
        parse_section(model, name, raw.get(name), path)
    for dotted, value in (overrides or {}).items():
        try:
            _check_override(raw, dotted, value)
        except ParamsError as exc:
            shown = json.dumps(value) if not isinstance(value, str) else value
            raise ParamsError(f"override {origin} {dotted}={shown}: {exc}") from None
    return apply_overrides(raw, overrides)


def validate_matrix(params_path: str | Path, extra: dict[str, Any] | None = None) -> list[RunConfig]:
    """Every nightly entry's config, or one line naming the override that breaks (no run made)."""
    path = Path(params_path)
    cfg = load_nightly(path)
    validate_overrides(path, extra)
    validate_overrides(path, cfg.set, f"nightly.set in {path}:")
    for i, entry in enumerate(cfg.models):
        validate_overrides(path, entry.set, f"nightly.models[{i}] ({entry.model}).set in {path}:")
    for dataset in cfg.datasets:
        validate_overrides(path, {"base.dataset": dataset}, f"nightly.datasets in {path}:")
    configs = []
    for overrides in matrix(path, extra):
        try:
            configs.append(load_config(path, overrides))
        except ParamsError as exc:  # each override is valid alone, but not together
            raise ParamsError(f"nightly entry {overrides['generate.model']} / "
                              f"{overrides['base.dataset']}: {exc}") from None
    return configs


def precheck(prog: str, argv: list[str] | None = None, nightly: bool = False) -> None:
    """Validate ``--params``/``--set`` (and the nightly matrix) before Prefect is imported.

    Importing Prefect and starting its server takes 10-60 s; a misspelt override must fail in
    about a second, in one line. Exits 2 on an error, returns quietly otherwise.
    """
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--set", action="append", default=[])
    argv = sys.argv[1:] if argv is None else argv
    if {"-h", "--help"} & set(argv):
        return  # help needs no valid params
    args, _ = ap.parse_known_args(argv)
    try:
        overrides = parse_assignments(args.set)
        if nightly:
            validate_matrix(args.params, overrides)
        else:
            validate_overrides(args.params, overrides)
            load_config(args.params, overrides)
    except ParamsError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


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
