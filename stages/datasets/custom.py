"""Bring your own benchmark: a JSONL or parquet file of problems in one documented schema.

``base.dataset: datasets/<name>.jsonl`` (or ``.parquet``) names the file; track it with
``dvc add datasets/<name>.jsonl`` (or ``dvc import-url``), and the ``fetch`` stage, which
watches ``datasets/``, copies it into ``data/dataset/custom/`` so ``dvc.lock`` names its bytes.
One row (JSON object) per problem:

==============  =======  ====================================================================
field           kind     meaning
==============  =======  ====================================================================
id              both     unique problem id (string)
kind            both     ``"code"`` or ``"math"``
prompt          both     what the model is shown
answer          math     the gold answer (string or number; compared by math-verify)
solution        math     optional worked solution (kept as ``reference``)
entry_point     code     the function under test
reference       code     a correct solution: ``program_prefix + reference`` is a full program
program_prefix  code     optional text put before each completion (e.g. the prompt); ``""``
test            code     optional ``def check(candidate): assert ...`` code (weak suite)
tests           code     optional ``[{"input": [args...], "output": value}, ...]`` (weak suite)
strong_tests    code     optional, as ``tests`` (strong suite; without it ``prepare`` augments)
atol            code     optional float tolerance for float outputs (default 0)
==============  =======  ====================================================================

A code problem needs ``test`` or ``tests``. Inputs and outputs are JSON; tuples, sets and the
like use the typed-JSON forms of :mod:`stages.datasets.typed_json` (``{"$tuple": [1, 2]}``).
A bad row is one error line naming the file, the row (1-based) and the field; the table then
passes the problems contract (:func:`stages.contracts.validate_table`).
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

import polars as pl

from stages.datasets import typed_json
from stages.datasets.mirror import DatasetUnavailable, sha256_file
from stages.schemas import PROBLEMS, conform

SUFFIXES = (".jsonl", ".parquet")
WATCHED = PurePosixPath("datasets")  # the folder dvc.yaml's fetch stage depends on
FETCHED = "custom"  # its copy: data/dataset/custom/<file name>


class CustomDatasetError(ValueError):
    """A row of a custom dataset breaks the schema; the message names file, row and field."""


def is_custom(name: str) -> bool:
    """Whether ``base.dataset`` names a file rather than a built-in benchmark."""
    return name.endswith(SUFFIXES)


def fetched_path(name: str, root: Path | None) -> Path:
    """The file to read: its DVC-tracked copy under ``root``, or ``name`` itself (root None)."""
    return Path(name) if root is None else root / FETCHED / PurePosixPath(name).name


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CustomDatasetError(f"{where}: not valid JSON: {exc}") from None


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The file's rows as dicts; a line that is not a JSON object names its line."""
    if not path.is_file():
        raise DatasetUnavailable(f"{path}: no such dataset file (`dvc pull` it, or `dvc add` it)")
    if path.suffix == ".parquet":
        return pl.read_parquet(path).to_dicts()
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = _json(line, f"{path} row {lineno}")
        if not isinstance(row, dict):
            raise CustomDatasetError(f"{path} row {lineno}: not a JSON object")
        rows.append(row)
    return rows


def _text(row: dict[str, Any], key: str, where: str, required: bool = True) -> str:
    value = row.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise CustomDatasetError(f"{where}, field '{key}': missing or empty")
        return ""
    if not isinstance(value, str):
        raise CustomDatasetError(f"{where}, field '{key}': must be a string, got {type(value).__name__}")
    return value


def _pairs(row: dict[str, Any], key: str, where: str) -> tuple[str, str]:
    """``tests``-style I/O pairs as (inputs typed JSON, outputs JSON); ("", "") when absent."""
    pairs = row.get(key)
    if pairs is None or (hasattr(pairs, "__len__") and len(pairs) == 0):
        return "", ""
    if isinstance(pairs, str):  # parquet columns of nested JSON may be stored as text
        pairs = _json(pairs, f"{where}, field '{key}'")
    if not isinstance(pairs, list):
        raise CustomDatasetError(f"{where}, field '{key}': must be a list of {{input, output}}")
    inputs, outputs = [], []
    for j, pair in enumerate(pairs):
        if not isinstance(pair, dict) or "input" not in pair or "output" not in pair:
            raise CustomDatasetError(f"{where}, field '{key}[{j}]': must have 'input' and 'output'")
        if not isinstance(pair["input"], list):
            raise CustomDatasetError(f"{where}, field '{key}[{j}].input': must be a list of arguments")
        try:
            inputs.append(typed_json.decode(json.dumps(pair["input"])))
            typed_json.decode(json.dumps(pair["output"]))
        except (typed_json.TypedJsonError, TypeError, ValueError) as exc:
            raise CustomDatasetError(f"{where}, field '{key}[{j}]': {exc}") from None
        outputs.append(pair["output"])
    return typed_json.encode(inputs), json.dumps(outputs, allow_nan=True)


def problem_row(row: dict[str, Any], dataset: str, digest: str, where: str) -> dict[str, Any]:
    """One schema row -> one ``PROBLEMS`` row, or a :class:`CustomDatasetError`."""
    kind = row.get("kind")
    if kind not in ("code", "math"):
        raise CustomDatasetError(f"{where}, field 'kind': must be \"code\" or \"math\", got {kind!r}")
    out = {key: "" for key in PROBLEMS} | {"problem_id": _text(row, "id", where), "dataset": dataset,
                                          "kind": kind, "prompt": _text(row, "prompt", where),
                                          "atol": 0.0, "dataset_hash": digest}
    if kind == "math":
        answer = row.get("answer")
        if isinstance(answer, int | float) and not isinstance(answer, bool):
            answer = str(answer)
        out["answer"] = _text({"answer": answer}, "answer", where)
        out["reference"] = _text(row, "solution", where, required=False)
        return out
    out |= {"entry_point": _text(row, "entry_point", where),
            "reference": _text(row, "reference", where),
            "program_prefix": _text(row, "program_prefix", where, required=False),
            "test": _text(row, "test", where, required=False)}
    out["inputs_weak"], out["outputs_weak"] = _pairs(row, "tests", where)
    out["inputs_strong"], out["outputs_strong"] = _pairs(row, "strong_tests", where)
    if not out["test"] and not out["inputs_weak"]:
        raise CustomDatasetError(f"{where}, field 'test': a code problem needs 'test' or 'tests'")
    atol = row.get("atol") or 0.0
    if not isinstance(atol, int | float) or isinstance(atol, bool) or atol < 0:
        raise CustomDatasetError(f"{where}, field 'atol': must be a number >= 0")
    out["atol"] = float(atol)
    return out


def load(name: str, root: Path | None = None) -> pl.DataFrame:
    """The problems of the custom file ``name``, checked row by row, then by the contract."""
    from stages.contracts import ContractError, validate_table

    path = fetched_path(name, root)
    digest = sha256_file(path) if path.is_file() else ""
    rows, seen = [], {}
    for i, raw in enumerate(read_rows(path), 1):
        row = problem_row(raw, PurePosixPath(name).stem, digest, f"{path} row {i}")
        if row["problem_id"] in seen:
            raise CustomDatasetError(f"{path} row {i}, field 'id': {row['problem_id']!r} "
                                     f"repeats row {seen[row['problem_id']]}")
        seen[row["problem_id"]] = i
        rows.append(row)
    if not rows:
        raise CustomDatasetError(f"{path}: no problems")
    frame = conform(pl.DataFrame(rows, schema=PROBLEMS), PROBLEMS, "problems")
    try:
        validate_table("problems", frame, out_dir=None)
    except ContractError as exc:
        raise CustomDatasetError(f"{path}: {exc}") from None
    return frame
