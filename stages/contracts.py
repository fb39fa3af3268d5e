"""Great Expectations contracts: one expectation suite per table that crosses a stage boundary.

``stages.schemas.conform`` already guarantees column names and polars types; a contract checks
what a schema cannot say: keys present and unique, exactly N samples per problem, verdicts inside
the closed vocabulary, pass@k inside [0, 1] and non-decreasing in k. Every stage validates its
output *before* writing it (the DVC entries and the Prefect tasks alike), so malformed data stops
the run at the boundary where it was made, with a message naming the table, the expectation and
up to three offending rows, and nothing already written is overwritten by bad data.

Keys (unique; the same number of samples for every problem; samples and problems naming the
same problems) are checked first, in polars (:func:`key_failures`): they are what a stage's
inputs most often break, and must fail in well under a second, before GE's multi-second import.
Stages validate their inputs with :func:`validate_inputs` before working, their outputs with
:func:`validate_table` before writing.

GE 1.x validates pandas, not polars: frames are converted with ``to_pandas()``. Checks that need
a group-by (monotonicity in k) run on a small derived frame computed with polars expressions, so
they are still GE expectations with GE's unexpected-row reporting. The context is ephemeral
(nothing is written under ``gx/``); progress bars are off.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl

from stages.errors import InputError
from stages.schemas import COUNTS, CURVE, PROBLEMS, SAMPLES, VERDICTS, VERDICTS_SCHEMA

VALIDATION_DIR = Path("data/validation")
TABLES: tuple[str, ...] = ("problems", "samples", "verdicts", "counts", "curve", "metrics")
_SHOW_ROWS = 3
# GE validates pandas: a million-row table is checked in slices of this many rows, so the pandas
# copy stays small (issue 16: <= 2 GiB per stage). Every expectation here is row-wise (types,
# nulls, ranges, sets; uniqueness and counts are polars checks), so slicing changes no verdict.
# 50,000 rows of 328,000 HumanEval samples: the stage's peak while GE checks them 644 MiB, against
# 941 MiB with slices of 200,000 (docs/benchmarks.md, "A million samples"), for 3 s more.
GE_BATCH_ROWS = 50_000
_EPS = 1e-9  # pass@k is computed in floating point; a drop smaller than this is rounding


class ContractError(InputError):
    """A table broke its expectation suite: an input error, so stage entries exit 2 with one line."""


@dataclass(frozen=True)
class Check:
    """One frame to validate (the table itself or a frame derived from it) and its expectations."""

    name: str
    frame: pl.DataFrame
    expectations: tuple[Any, ...]
    index_columns: tuple[str, ...]


# pandas dtype names that ``DataFrame.to_pandas()`` produces for each declared polars type.
# Nullable integer/boolean columns become float64/object in pandas when they hold nulls, so
# non-key columns accept those too; key columns must have the exact type.
def _pandas_types(dtype: pl.DataType, key: bool) -> list[str]:
    if dtype == pl.String or isinstance(dtype, (pl.Enum, pl.Categorical)):
        return ["str"]  # object columns are checked value by value
    if dtype == pl.Int64:
        return ["int64"] if key else ["int64", "Int64", "float64"]
    if dtype == pl.Float64:
        return ["float64"]
    if dtype == pl.Boolean:
        return ["bool"] if key else ["bool", "object", "boolean"]
    return [str(dtype).lower()]


def _columns(schema: dict[str, pl.DataType], keys: tuple[str, ...]) -> list[Any]:
    import great_expectations.expectations as gxe

    out: list[Any] = [gxe.ExpectTableColumnsToMatchSet(column_set=list(schema), exact_match=False)]
    for col, dtype in schema.items():
        out.append(gxe.ExpectColumnValuesToBeInTypeList(column=col, type_list=_pandas_types(dtype, col in keys)))
    out += [gxe.ExpectColumnValuesToNotBeNull(column=k) for k in keys]
    return out


KEYS: dict[str, tuple[str, ...]] = {
    "problems": ("problem_id",), "samples": ("problem_id", "sample_idx"),
    "verdicts": ("problem_id", "sample_idx", "verifier"), "counts": ("problem_id", "verifier"),
    "curve": ("verifier", "k"),
}


def _per_problem(df: pl.DataFrame, group: list[str], n_samples: int | None) -> tuple[pl.DataFrame, int]:
    counts = df.group_by(group).agg(pl.len().alias("n_samples")).sort(group)
    expected = n_samples if n_samples is not None else int(counts["n_samples"].max() or 0)
    return counts, expected


def key_failures(table: str, df: pl.DataFrame, n_samples: int | None = None) -> list[str]:
    """Keys unique; for samples/verdicts, the same number of samples for every problem.

    Polars, not GE: these are the checks a stage's *inputs* most often fail (a duplicated or a
    lost sample row), and they must fail in well under a second on 10^5 rows, before GE's
    multi-second import. Null keys are left to the GE suite's not-null expectations.
    """
    keys = KEYS.get(table, ())
    if not keys or not set(keys) <= set(df.columns):
        return []  # the GE column expectations name the missing column
    rows = df.select(keys).drop_nulls()
    out = []
    dup = rows.filter(pl.struct(keys).is_duplicated()).unique(maintain_order=True).head(_SHOW_ROWS)
    if dup.height:
        n_dup = rows.height - rows.unique().height
        out.append(f"expect_compound_columns_to_be_unique({list(keys)}): {n_dup} duplicated row(s), "
                   f"offending rows: {[{k: _short(v) for k, v in r.items()} for r in dup.to_dicts()]}")
    if table in ("samples", "verdicts"):
        group = [k for k in keys if k != "sample_idx"]
        counts, expected = _per_problem(rows, group, n_samples)
        bad = counts.filter(pl.col("n_samples") != expected)
        if bad.height:
            out.append(f"every problem must have {expected} samples (on {table}_per_problem): "
                       f"{bad.height} do not, offending rows: {bad.head(_SHOW_ROWS).to_dicts()}")
    return out


def cover_failures(problems: pl.DataFrame, samples: pl.DataFrame) -> list[str]:
    """Samples and problems describe the same problems: none without samples, none unknown."""
    have, want = samples["problem_id"].unique(), problems["problem_id"].unique()
    missing = want.filter(~want.is_in(have.implode())).sort()
    unknown = have.filter(~have.is_in(want.implode())).sort()
    out = []
    if missing.len():
        out.append(f"{missing.len()} problem(s) have no samples: {missing.head(_SHOW_ROWS).to_list()}")
    if unknown.len():
        out.append(f"{unknown.len()} sampled problem(s) are not in problems: {unknown.head(_SHOW_ROWS).to_list()}")
    return out


def _checks(table: str, df: pl.DataFrame, n_samples: int | None) -> list[Check]:
    import great_expectations.expectations as gxe

    if table == "problems":
        keys = ("problem_id",)
        exps = [*_columns(PROBLEMS, keys), gxe.ExpectColumnValuesToBeInSet(column="kind", value_set=["code", "math"])]
        return [Check("problems", df, tuple(exps), keys)]
    if table in ("samples", "verdicts"):
        keys = ("problem_id", "sample_idx") + (("verifier",) if table == "verdicts" else ())
        schema = SAMPLES if table == "samples" else VERDICTS_SCHEMA
        exps = [*_columns(schema, keys),
                gxe.ExpectColumnValuesToBeBetween(column="sample_idx", min_value=0,
                                                  max_value=None if n_samples is None else n_samples - 1)]
        if table == "verdicts":
            exps.append(gxe.ExpectColumnValuesToBeInSet(column="verdict", value_set=list(VERDICTS)))
        return [Check(table, df, tuple(exps), keys)]
    if table == "counts":
        keys = ("problem_id", "verifier")
        exps = [*_columns(COUNTS, keys), gxe.ExpectColumnValuesToBeBetween(column="c", min_value=0),
                gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="n", column_B="c", or_equal=True)]
        return [Check("counts", df, tuple(exps), keys)]
    if table == "curve":
        keys = ("verifier", "k")
        exps = [*_columns(CURVE, keys), gxe.ExpectColumnValuesToBeBetween(column="k", min_value=1),
                gxe.ExpectColumnValuesToBeBetween(column="pass_at_k", min_value=0.0, max_value=1.0)]
        steps = df.sort("verifier", "k").with_columns(
            (pl.col("pass_at_k") - pl.col("pass_at_k").shift(1).over("verifier")).alias("increase")
        ) if set(keys) <= set(df.columns) and "pass_at_k" in df.columns else df
        derived = Check("curve_monotone", steps, (
            gxe.ExpectColumnValuesToBeBetween(column="increase", min_value=-_EPS),
        ), keys)
        return [Check("curve", df, tuple(exps), keys), derived]
    raise ValueError(f"contracts: no suite for table '{table}' (known: {', '.join(TABLES)})")


def metrics_frame(metrics: dict[str, Any]) -> pl.DataFrame:
    """Headline metrics JSON -> (verifier, metric, value) rows for the rate metrics (pass@k, coverage@N)."""
    rate = re.compile(r"^(pass|coverage)@\d+$")
    rows = [(v, m, float(x)) for v, entry in metrics.items() if isinstance(entry, dict)
            for m, x in entry.items() if rate.match(m) and isinstance(x, (int, float))]
    return pl.DataFrame(rows, schema={"verifier": pl.String, "metric": pl.String, "value": pl.Float64},
                        orient="row")


@lru_cache(maxsize=1)
def _context() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # no "temporary docs site" chatter
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # GE resets it on import

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return ctx


def _batch(name: str, pdf: Any) -> Any:
    ctx = _context()
    try:
        source = ctx.data_sources.get("infscale")
    except (KeyError, ValueError):
        source = ctx.data_sources.add_pandas("infscale")
    try:
        asset = source.get_asset(name)
    except LookupError:
        asset = source.add_dataframe_asset(name)
    try:
        definition = asset.get_batch_definition("whole")
    except (KeyError, ValueError, LookupError):
        definition = asset.add_batch_definition_whole_dataframe("whole")
    return definition.get_batch(batch_parameters={"dataframe": pdf})


def _to_pandas(df: pl.DataFrame) -> Any:
    # Enums cannot hold a value outside the vocabulary, so a frame built with strings is checked
    # as strings: the contract must see exactly what the producer made.
    # Strings go to pandas as plain ``object`` columns: pandas 3's default string dtype is not
    # recognised by GE 1.24's type expectations.
    pdf = df.with_columns(pl.col(pl.Enum, pl.Categorical).cast(pl.String)).to_pandas()
    for col, dtype in df.schema.items():
        if dtype == pl.String or isinstance(dtype, (pl.Enum, pl.Categorical)):
            pdf[col] = pdf[col].astype(object)
    return pdf


def _run(check: Check) -> Any:
    import great_expectations as gx

    suite = _context().suites.add_or_update(gx.ExpectationSuite(name=check.name, expectations=list(check.expectations)))
    index = [c for c in check.index_columns if c in check.frame.columns]
    result_format = {"result_format": "COMPLETE", "partial_unexpected_count": _SHOW_ROWS,
                     "unexpected_index_column_names": index}
    result = None
    for start in range(0, max(check.frame.height, 1), GE_BATCH_ROWS):
        part = check.frame.slice(start, GE_BATCH_ROWS)
        result = _batch(check.name, _to_pandas(part)).validate(suite, result_format=result_format)
        if not result.success:
            break  # the first slice with an offending row is the one reported
    return result


def _short(value: Any) -> Any:
    value = value.item() if hasattr(value, "item") else value
    return value[:60] + "..." if isinstance(value, str) and len(value) > 60 else value


def _describe(table: str, failures: list[tuple[str, Any]]) -> str:
    parts = []
    for check_name, r in failures:
        cfg = r.expectation_config
        kwargs = {k: v for k, v in cfg.kwargs.items() if k not in ("batch_id",)}
        rows = r.result.get("partial_unexpected_index_list") or r.result.get("partial_unexpected_list") or []
        rows = [{k: _short(v) for k, v in row.items()} if isinstance(row, dict) else _short(row)
                for row in rows[:_SHOW_ROWS]]
        where = f" (on {check_name})" if check_name != table else ""
        detail = f"offending rows: {rows}" if rows else f"observed: {r.result.get('observed_value')}"
        if r.exception_info and r.exception_info.get("raised_exception"):
            detail = f"raised: {r.exception_info.get('exception_message')}"
        parts.append(f"{cfg.type}({kwargs}){where}: {detail}")
    return f"contract violated: table '{table}': " + "; ".join(parts)


def validate_table(table: str, df: pl.DataFrame, *, n_samples: int | None = None,
                   out_dir: Path | None = VALIDATION_DIR) -> dict[str, Any]:
    """Validate ``df`` against the suite of ``table``; save the result JSON; raise on failure.

    ``n_samples`` is N for samples/verdicts (None: every problem must have the same count as the
    largest). Returns the JSON-ready validation result (also written to ``out_dir/<table>.json``).
    """
    bad_keys = key_failures(table, df, n_samples)
    results: list[dict[str, Any]] = [{"check": "keys", "success": not bad_keys, "failures": bad_keys}]
    failures = []
    if not bad_keys:  # a key failure stops here, fast, without importing GE
        for check in _checks(table, df, n_samples):
            res = _run(check)
            results.append({"check": check.name, **res.to_json_dict()})
            failures += [(check.name, r) for r in res.results if not r.success]
    doc = {"table": table, "success": not (failures or bad_keys), "rows": df.height, "checks": results}
    if out_dir is not None:
        from stages.io import write_json

        write_json(json.loads(json.dumps(doc, default=str)), Path(out_dir) / f"{table}.json")
    if bad_keys:
        raise ContractError(f"contract violated: table '{table}': " + "; ".join(bad_keys))
    if failures:
        raise ContractError(_describe(table, failures))
    return doc


def validate_inputs(tables: dict[str, tuple[pl.DataFrame, Path]], n_samples: int | None = None) -> None:
    """A stage's input tables, before any work: every fast check of every table first (keys,
    samples per problem, samples vs problems), then the GE suites. Errors name the file.
    Nothing is written: inputs were recorded by the stage that made them."""
    def fail(table: str, path: Path, problems: list[str]) -> None:
        if problems:
            raise ContractError(f"{path}: contract violated: table '{table}': " + "; ".join(problems))

    for table, (df, path) in tables.items():
        fail(table, path, key_failures(table, df, n_samples))
    if "problems" in tables and "samples" in tables:
        fail("samples", tables["samples"][1], cover_failures(tables["problems"][0], tables["samples"][0]))
    for table, (df, path) in tables.items():
        try:
            validate_table(table, df, n_samples=n_samples, out_dir=None)
        except ContractError as exc:
            raise ContractError(f"{path}: {exc}") from None


def validate_metrics(metrics: dict[str, Any], out_dir: Path | None = VALIDATION_DIR) -> dict[str, Any]:
    """Every headline pass@k / coverage@N in the metrics JSON lies in [0, 1]."""
    import great_expectations.expectations as gxe

    frame = metrics_frame(metrics)
    check = Check("metrics", frame, (
        gxe.ExpectColumnValuesToNotBeNull(column="value"),
        gxe.ExpectColumnValuesToBeBetween(column="value", min_value=0.0, max_value=1.0),
    ), ("verifier", "metric"))
    res = _run(check)
    doc = {"table": "metrics", "success": bool(res.success), "rows": frame.height,
           "checks": [{"check": "metrics", **res.to_json_dict()}]}
    if out_dir is not None:
        from stages.io import write_json

        write_json(json.loads(json.dumps(doc, default=str)), Path(out_dir) / "metrics.json")
    failed = [("metrics", r) for r in res.results if not r.success]
    if failed:
        raise ContractError(_describe("metrics", failed))
    return doc
