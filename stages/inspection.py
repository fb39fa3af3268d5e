"""Per-sample inspection: the samples a person must read to trust a false-positive rate.

One row per (problem, sample) that is a false positive of the (weak, strong) verifier pair
(weak passes, strong does not) or on which any two verifiers disagree, with the program, every
verifier's verdict and detail, the first failing input and its expected output. The same table
is logged to MLflow (``flows.tracking``, an MLflow table artifact) and printed by
``infscale show <problem_id>``, so the UI and the terminal show the same thing.

The *actual* output is what ``verify`` kept in the verdict's detail (``wrong output on input
i; got <json>``, the first 200 characters); a sample that failed otherwise (an exception, a
timeout) has the detail instead, and the column stays empty.
"""

from __future__ import annotations

import json
import re

import polars as pl

from stages.stats.analysis import pick_pair

PASSING = frozenset({"pass", "correct"})
# "wrong output on input i; got <output>", "... (on input i)", "... limit on input i"
_ON_INPUT = re.compile(r"on input (\d+)(?:; got (.*))?", re.DOTALL)
# which problem columns hold the inputs / expected outputs a verifier's detail indexes into
_SUITE = {"strong_io": ("inputs_strong", "outputs_strong"), "weak_io": ("inputs_weak", "outputs_weak")}


def _element(text: str | None, index: int) -> str:
    """Element ``index`` of a JSON list column, as compact JSON ("" when absent)."""
    try:
        return json.dumps(json.loads(text or "")[index])[:2000]
    except (ValueError, IndexError, TypeError):
        return ""


def _first_failure(row: dict, problem: dict, verifiers: list[str]) -> tuple[str, str, str, str, str]:
    """(verifier, detail, input, expected output, actual output) of the first verifier that
    failed this sample."""
    for name in verifiers:
        if row.get(f"verdict:{name}") in PASSING or row.get(f"verdict:{name}") is None:
            continue
        detail = row.get(f"detail:{name}") or ""
        match = _ON_INPUT.search(detail)
        inputs, outputs = _SUITE.get(name, ("", ""))
        if match and inputs:
            i = int(match.group(1))
            return (name, detail, _element(problem.get(inputs), i), _element(problem.get(outputs), i),
                    match.group(2) or "")
        return name, detail, "", "", ""
    return "", "", "", "", ""


def inspection_table(problems: pl.DataFrame, samples: pl.DataFrame, verdicts: pl.DataFrame,
                     problem_id: str | None = None, everything: bool = False) -> pl.DataFrame:
    """False positives and verifier disagreements (every sample of ``problem_id`` when ``everything``)."""
    v = verdicts.select("problem_id", "sample_idx", "verifier", pl.col("verdict").cast(pl.String), "detail")
    if problem_id is not None:
        v = v.filter(pl.col("problem_id") == problem_id)
    verifiers = sorted(v["verifier"].unique().to_list())
    if v.is_empty():
        return pl.DataFrame()
    pair = pick_pair(verifiers)
    wide = v.pivot(on="verifier", index=["problem_id", "sample_idx"], values=["verdict", "detail"],
                   separator=":")
    if len(verifiers) == 1 and "verdict" in wide.columns:  # some polars versions name them bare
        wide = wide.rename({"verdict": f"verdict:{verifiers[0]}", "detail": f"detail:{verifiers[0]}"})
    passed = [pl.col(f"verdict:{n}").is_in(list(PASSING)) for n in verifiers]
    wide = wide.with_columns(
        false_positive=(passed[verifiers.index(pair[0])] & ~passed[verifiers.index(pair[1])])
        if pair else pl.lit(False),
        disagreement=pl.any_horizontal(passed) & ~pl.all_horizontal(passed),
    )
    if not everything:
        wide = wide.filter(pl.col("false_positive") | pl.col("disagreement"))
    by_id = {p["problem_id"]: p for p in problems.iter_rows(named=True)}
    programs = samples.join(wide.select("problem_id", "sample_idx"), on=["problem_id", "sample_idx"])
    code = {(s["problem_id"], s["sample_idx"]): s["completion"] for s in programs.iter_rows(named=True)}
    order = ([pair[1], pair[0]] if pair else []) + [n for n in verifiers if not pair or n not in pair]
    rows = []
    for row in wide.sort("problem_id", "sample_idx").iter_rows(named=True):
        problem = by_id.get(row["problem_id"], {})
        failed_by, detail, first_input, expected, actual = _first_failure(row, problem, order)
        rows.append({
            "problem_id": row["problem_id"], "sample_idx": row["sample_idx"],
            "false_positive": row["false_positive"], "disagreement": row["disagreement"],
            "verdicts": ", ".join(f"{n}={row[f'verdict:{n}']}" for n in verifiers),
            "failed_by": failed_by, "detail": detail, "first_failing_input": first_input,
            "expected_output": expected, "actual_output": actual,
            "program": (problem.get("program_prefix") or "") + code.get((row["problem_id"], row["sample_idx"]), ""),
        })
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()


def render(table: pl.DataFrame, limit: int = 20) -> str:
    """Plain-text form of :func:`inspection_table` for the terminal."""
    if table.is_empty():
        return "no false positives and no disagreements between verifiers"
    parts = []
    for row in table.head(limit).iter_rows(named=True):
        flags = [f for f in ("false_positive", "disagreement") if row[f]]
        parts.append("\n".join([
            f"── {row['problem_id']} sample {row['sample_idx']}  [{', '.join(flags) or 'all agree'}]",
            f"verdicts: {row['verdicts']}",
            *([f"failed by {row['failed_by']}: {row['detail']}"] if row["failed_by"] else []),
            *([f"first failing input: {row['first_failing_input']}",
               f"expected output:     {row['expected_output']}",
               f"actual output:       {row['actual_output']}"] if row["first_failing_input"] else []),
            "program:", row["program"].rstrip(),
        ]))
    if table.height > limit:
        parts.append(f"... {table.height - limit} more (see the MLflow table samples/inspection.json)")
    return "\n\n".join(parts)
