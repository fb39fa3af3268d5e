"""The math-answer verifier: extract a sample's final answer and compare it with gold.

Comparison is HuggingFace's ``math-verify`` (``parse`` then ``verify``), which decides equality
symbolically and numerically (``\\frac{1}{2}`` = ``0.5`` = ``1/2``; ``2\\sqrt{2}`` = ``\\sqrt{8}``;
intervals, sets, matrices), instead of string match, which under-counts correct answers.

math-verify bounds each parse and comparison with ``signal.alarm``, which only works in a
process's main thread; a Prefect task or a Dask worker calls us from another thread. So every
comparison runs in the main thread of a worker *process* (``spawn`` context: forking a process
that holds threads can deadlock), and the parent only collects rows. A comparison that hits the
time limit is ``unparseable`` with the reason in ``detail``, never ``incorrect``.

Verdicts (closed vocabulary, ``stages.schemas.VERDICTS``):
``correct`` / ``incorrect``; ``no_answer`` (nothing extracted, or only an unboxed answer of a
reply cut off at max tokens, or under ``verify.math_strict``); ``unparseable`` (an answer was
extracted but could not be read as mathematics while gold could, or the comparison timed out).
Each row's ``detail`` starts with ``method=<rule>`` (``math_extract.METHODS``), the rule that
found the answer; :func:`extraction_shares` turns those into per-rule shares for the metrics.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Final

import polars as pl

from stages.schemas import TIMINGS, VERDICTS_SCHEMA, conform
from stages.verifiers.math_extract import CUT_OFF, METHODS, exact_number, final_answer, tidy

NAME: Final[str] = "math_answer"
DEFAULT_TIMEOUT_S: Final[int] = 5


@dataclass(frozen=True)
class MathVerdict:
    verdict: str
    answer: str | None
    detail: str


def parse_answer(answer: str, timeout_s: int = DEFAULT_TIMEOUT_S) -> list[Any]:
    """math-verify's reading of an answer (sympy objects, then its string form); main thread only.

    The answer is wrapped in ``\\boxed{}`` so that math-verify's LaTeX extractor, which ranks
    boxed content first, reads the whole answer and not a fragment of it.
    """
    from math_verify import parse

    return parse("\\boxed{" + answer + "}", parsing_timeout=timeout_s)


def _is_math(parsed: list[Any]) -> bool:
    return any(not isinstance(p, str) for p in parsed)


def equivalent(gold: list[Any], pred: list[Any], timeout_s: int = DEFAULT_TIMEOUT_S) -> bool | None:
    """True/False from math-verify; None when every comparison that could decide timed out."""
    from math_verify import verify
    from math_verify.errors import TimeoutException

    timed_out = False
    for g in gold:
        for p in pred:
            try:
                if verify(g, p, timeout_seconds=timeout_s, raise_on_error=True):
                    return True
            except TimeoutException:
                timed_out = True
            except Exception:  # noqa: BLE001, S112 -- sympy raises many types on an incomparable pair (a set vs a matrix): unequal
                continue
    return None if timed_out else False


def compare_answer(gold_parsed: list[Any], answer: str, timeout_s: int = DEFAULT_TIMEOUT_S) -> tuple[str, str]:
    """(verdict, reason) of an extracted answer against parsed gold (call in a main thread)."""
    pred = parse_answer(answer, timeout_s)
    if not pred:
        return "unparseable", "; math-verify read nothing"
    same = equivalent(gold_parsed, pred, timeout_s)
    if same is None:
        return "unparseable", f"; comparison timed out ({timeout_s}s)"
    if same:
        return "correct", ""
    if _is_math(gold_parsed) and not _is_math(pred):
        return "unparseable", "; not readable as mathematics"
    return "incorrect", ""


# Two unequal non-integers are settled apart by exact arithmetic only this far apart and below
# this size (see exact_verdict); answer_classes.arithmetic_classes applies the same rule.
EXACT_SEPARATION: Final = Fraction(1, 10**5)
EXACT_RANGE: Final = 10**9


def exact_verdict(gold: str, answer: str) -> str | None:
    """A verdict without sympy when both are plain numbers and exact arithmetic settles it.

    Equal exact values are equal for math-verify too; two different integers are different,
    and so are two numbers further apart than 1e-5 below 10^9 (math-verify compares a float
    after rounding both sides to 6 places, and its 15-digit floats stay exact that far). Closer
    pairs (``1/3`` against ``0.333333``) are left to math-verify. Both sides are read after
    ``tidy``, as math-verify reads them (``50\\%`` is 50). Most GSM8K answers take this path.
    """
    g, a = exact_number(gold), exact_number(answer)
    if g is None or a is None:
        return None
    if g == a:
        return "correct"
    if g.denominator == 1 and a.denominator == 1:
        return "incorrect"
    if abs(g - a) > EXACT_SEPARATION and max(abs(g), abs(a)) < EXACT_RANGE:
        return "incorrect"
    return None


def judge_answer(
    gold: str, completion: str | None, timeout_s: int = DEFAULT_TIMEOUT_S,
    _gold_cache: dict[str, list[Any]] | None = None,
    _memo: dict[str, tuple[str, str]] | None = None,
    finish_reason: str | None = None,
    strict: bool = False,
) -> MathVerdict:
    """Verdict of one completion against one gold answer (call in a main thread).

    ``finish_reason`` ``length`` (cut off) and ``strict`` leave only a boxed answer
    (``math_extract.final_answer``). ``_memo`` (per problem) maps an extracted answer to its
    verdict: samples of one problem share few distinct final answers, so most comparisons are
    looked up, not recomputed.
    """
    ext = final_answer(completion, finish_reason, strict)
    if ext.answer is None or not ext.answer.strip():
        return MathVerdict("no_answer", None, ext.detail() if ext.answer is None else "method=none")
    memo = _memo if _memo is not None else {}
    if ext.answer not in memo:
        fast = exact_verdict(gold, ext.answer)
        if fast is not None:
            memo[ext.answer] = (fast, "")
        else:
            cache = _gold_cache if _gold_cache is not None else {}
            if gold not in cache:
                cache[gold] = parse_answer(tidy(gold), timeout_s)
            memo[ext.answer] = compare_answer(cache[gold], ext.answer, timeout_s)
    verdict, reason = memo[ext.answer]
    return MathVerdict(verdict, ext.answer, f"method={ext.method}{reason}")


def extraction_shares(verdicts: pl.DataFrame) -> dict[str, float]:
    """Share of the ``math_answer`` rows whose answer each rule found, and of those whose
    unboxed answer was set aside because the reply was cut off (metrics ``math/extracted_by/*``).

    The last-number fallback's share says how much of the accuracy rests on the least reliable
    rule; an empty table gives no keys (nothing to share out), not zeros.
    """
    detail = verdicts.filter(pl.col("verifier") == NAME)["detail"].fill_null("")
    if detail.len() == 0:
        return {}
    method = detail.str.extract(r"^method=(\w+)", 1)
    out = {f"math/extracted_by/{m}": float((method == m).sum()) / detail.len() for m in METHODS}
    out["math/cut_off_unboxed"] = float(detail.str.contains(CUT_OFF, literal=True).sum()) / detail.len()
    return out


def verify_jobs(
    chunk: pl.DataFrame, timeout_s: int = DEFAULT_TIMEOUT_S, strict: bool = False
) -> pl.DataFrame:
    """Verdict rows (with their wall times) for a chunk of :func:`problem_frame`, as one frame.

    Frames in and out, not a Python object per sample: a million samples travel to the workers
    and back as Arrow buffers (issue 16, bounded memory). Runs in a worker process's main thread.
    """
    cols: dict[str, list[Any]] = {k: [] for k in ("verdict", "detail", "duration_s", "answer")}
    gold_cache: dict[str, list[Any]] = {}
    memo: dict[str, tuple[str, str]] = {}
    current = None
    for problem_id, gold, completion, finish_reason in chunk.select(
            "problem_id", "answer", "completion", "finish_reason").iter_rows():
        if problem_id != current:  # a memo of answers already judged, per problem
            current, memo = problem_id, {}
        start = time.perf_counter()
        v = judge_answer(gold, completion, timeout_s, gold_cache, memo, finish_reason, strict)
        cols["verdict"].append(v.verdict)
        cols["detail"].append(v.detail)
        cols["duration_s"].append(time.perf_counter() - start)
        cols["answer"].append(v.answer)
    found = pl.DataFrame(cols, schema={"verdict": pl.String(), "detail": pl.String(),
                                       "duration_s": pl.Float64(), "answer": pl.String()})
    return pl.concat([chunk.select("problem_id", "sample_idx"), found], how="horizontal").with_columns(
        verifier=pl.lit(NAME), sandbox=pl.lit("none"), score=pl.lit(None, pl.Float64()))


def problem_frame(problems: pl.DataFrame, samples: pl.DataFrame) -> pl.DataFrame:
    """Samples with their problem's gold answer (``answer``), grouped by problem; unknown or
    non-math problems are errors. ``finish_reason`` is optional (null when absent: the reply is
    taken as complete)."""
    gold = problems.filter(pl.col("kind") == "math").select("problem_id", "answer")
    reason = pl.col("finish_reason") if "finish_reason" in samples.columns else pl.lit(None, pl.String)
    joined = samples.select("problem_id", "sample_idx", "completion", reason.alias("finish_reason")).join(
        gold, on="problem_id", how="left"
    )
    missing = joined.filter(pl.col("answer").is_null())["problem_id"].unique().sort().to_list()
    if missing:
        raise ValueError(
            f"math_answer: samples refer to problem(s) with no math gold answer: {missing[:5]}"
        )
    return joined.sort("problem_id", "sample_idx")


def frame_chunks(frame: pl.DataFrame, n_chunks: int) -> list[pl.DataFrame]:
    """``frame`` cut into about ``n_chunks`` parts of whole problems (one problem's samples
    share a memo of answers already judged)."""
    if frame.height == 0:
        return []
    ids = frame["problem_id"].unique(maintain_order=True)
    size = max(1, -(-ids.len() // max(1, n_chunks)))
    part = pl.DataFrame({"problem_id": ids, "_chunk": pl.int_range(ids.len(), eager=True) // size})
    tagged = frame.join(part, on="problem_id", how="left", maintain_order="left")
    return [c.drop("_chunk") for c in tagged.partition_by("_chunk", maintain_order=True)]


def chunked(jobs: list[Any], n_chunks: int) -> Iterator[list[Any]]:
    size = max(1, -(-len(jobs) // max(1, n_chunks)))
    for i in range(0, len(jobs), size):
        yield jobs[i : i + size]


def resolve_workers(workers: int) -> int:
    return workers if workers > 0 else max(1, os.cpu_count() or 1)


def run_in_processes(fn: Any, chunks: list[Any], workers: int, *args: Any) -> Iterator[Any]:
    """Map ``fn(chunk, *args)`` over chunks in the main thread of worker processes.

    Inline when one worker suffices and we already are the main thread (no spawn cost); a
    spawned pool otherwise, so that math-verify's ``signal.alarm`` works from any caller thread.
    """
    if workers == 1 and threading.current_thread() is threading.main_thread():
        for chunk in chunks:
            yield fn(chunk, *args)
        return
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, max(1, len(chunks))), mp_context=ctx) as pool:
        futures = [pool.submit(fn, chunk, *args) for chunk in chunks]
        for fut in futures:
            yield fut.result()


def verify_math_timed(
    problems: pl.DataFrame, samples: pl.DataFrame, workers: int = 0,
    timeout_s: int = DEFAULT_TIMEOUT_S, strict: bool = False,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(VERDICTS, TIMINGS) rows, verifier ``math_answer``, for every sample of a math problem.

    ``workers``: processes (0: one per core). ``strict``: ``verify.math_strict``. Safe to call
    from any thread. Wall times go to the timings table so that the verdicts are identical
    across runs.
    """
    joined = problem_frame(problems, samples)
    n = resolve_workers(workers)
    chunks, empty = frame_chunks(joined, n * 4 if n > 1 else 1), joined.clear()
    del joined
    parts = list(run_in_processes(verify_jobs, chunks, n, timeout_s, strict))
    del chunks
    frame = pl.concat(parts) if parts else verify_jobs(empty)
    frame = frame.with_columns(cached=pl.lit(False)).sort("problem_id", "sample_idx")
    return conform(frame, VERDICTS_SCHEMA, "verdicts"), conform(frame, TIMINGS, "timings")


def verify_math(
    problems: pl.DataFrame, samples: pl.DataFrame, workers: int = 0,
    timeout_s: int = DEFAULT_TIMEOUT_S, strict: bool = False,
) -> pl.DataFrame:
    """VERDICTS rows only (see :func:`verify_math_timed`)."""
    return verify_math_timed(problems, samples, workers, timeout_s, strict)[0]
