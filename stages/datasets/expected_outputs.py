"""Expected outputs: the reference solution run once on a problem's inputs, in the sandbox.

EvalPlus stores inputs but not outputs (expected outputs are whatever the canonical solution
returns), and test augmentation makes new inputs whose outputs nobody wrote down. Both come
here. The reference runs in the same sandbox that runs candidates
(``stages.verifiers.sandbox.compute_outputs``), all of a problem's inputs in one execution, and
each output is reported in the sandbox codec's canonical JSON (``sandbox/codec.py``: the form
the trusted parent later compares candidates' outputs against).

Results are cached on disk under ``.cache/expected/<dataset_hash>/<key>.json``, where the key
hashes (program, entry point, inputs, codec version): the reference is run once per dataset
version, not once per pipeline run. An input on which the reference raises or runs out of time
cannot have an expected output; it is dropped from the suite and counted in the returned report
(never silently: ``fill_expected_outputs`` logs it, and the acceptance script reports it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from stages.datasets import typed_json
from stages.datasets.evalplus import MBPP_OUTPUT_NOT_NONE_TASKS
from stages.datasets.mirror import PROJECT_ROOT
from stages.verifiers.sandbox.codec import allow_long_ints

CACHE_DIR = PROJECT_ROOT / ".cache" / "expected"
CACHE_VERSION = "4"  # bump when the output format or the runner's semantics change
allow_long_ints()  # cached outputs may hold ints over 4,300 digits (decoded below)
DEFAULT_TIMEOUT_S = 120.0  # all of one problem's inputs, reference solution (HumanEval+ max: ~s)
# A candidate's outputs stream out of the sandbox under a byte cap (16 MB per run); an expected
# output larger than this, or a suite whose outputs add up to more, could never be matched.
MAX_OUTPUT_CHARS = 1_000_000
MAX_SUITE_OUTPUT_CHARS = 8_000_000
# A time bound: CPython converts ints to text in quadratic time, so an int of a million digits
# (HumanEval/83) costs the reference, and every candidate, tens of seconds per run. Only such
# ints are dropped; long strings and lists (HumanEval/14's prefixes) stay up to the caps above.
MAX_INT_DIGITS = 100_000
LONG_INT = re.compile(rf"\d{{{MAX_INT_DIGITS + 1}}}")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefOutcome:
    """What the reference did on one input: ``ok`` with its output's canonical JSON, or not."""

    status: str  # "ok" | "error" | "timeout"
    output: str | None = None  # canonical JSON text (sandbox codec) when status == "ok"
    detail: str = ""


# (program, entry_point, inputs, timeout_s) -> exactly one outcome per input, in order.
Runner = Callable[[str, str, Sequence[list[Any]], float], list[RefOutcome]]


SILENT_STOP = "run stopped"  # the detail of an input on which a run ended without a word


class SandboxReferenceRunner:
    """Runs a reference on many inputs in the sandbox and keeps every input's own outcome.

    Runs on a :class:`SandboxExecutor`'s warm workers (``run_inputs``) and reads the child's line
    protocol ``O i <json>`` / ``E i <exc>`` / ``U i <type>`` / ``D`` itself. Unlike the
    executor's all-or-nothing ``collect_outputs``, a run that stops at input ``i`` (an
    exception, an unencodable output, or the time limit) keeps the outputs before ``i``, records
    ``i`` as failed and resumes at ``i + 1``: a bad augmented input costs one extra run.
    """

    def __init__(self, sandbox: str = "auto") -> None:
        from stages.verifiers.sandbox import SandboxExecutor

        self._executor = SandboxExecutor(sandbox=sandbox, cache_dir=None)
        self.level = self._executor.sandbox_level

    def close(self) -> None:
        self._executor.close()

    def __call__(self, program: str, entry_point: str, inputs: Sequence[list[Any]],
                 timeout_s: float) -> list[RefOutcome]:
        encoded = [transport(args) for args in inputs]
        outcomes: list[RefOutcome] = []
        while len(outcomes) < len(encoded):
            got = self._run_from(program, entry_point, encoded[len(outcomes):], timeout_s)
            if got[-1].detail.startswith(SILENT_STOP):
                # A run that stopped without a word (out of time, or killed) may say more about
                # the machine than the input: the inputs before it shared its limit, and a cold
                # worker or a busy machine eats into it. The input gets one more run of its own
                # with the whole limit, so what a suite keeps does not move with load (augment).
                got[-1] = self._run_from(program, entry_point, [encoded[len(outcomes) + len(got) - 1]],
                                         timeout_s)[0]
            outcomes.extend(got)
        return outcomes

    def _run_from(self, program: str, entry_point: str, encoded: list[str],
                  timeout_s: float) -> list[RefOutcome]:
        """Outcomes of a prefix of ``encoded``: all of it, or up to and including a failure."""
        run = self._executor.run_inputs(program, entry_point, encoded, timeout_s)
        got: list[RefOutcome] = []
        for line in run.lines:
            kind, _, rest = line.partition(b" ")
            index, _, payload = rest.partition(b" ")
            text = payload.decode("utf-8", "replace")
            if kind == b"E" and index == b"-1":  # the program itself does not load
                return [RefOutcome("error", None, f"program: {text[:300]}")] * len(encoded)
            if index != str(len(got)).encode():
                continue
            if kind == b"O":
                got.append(RefOutcome("ok", text))
            elif kind in (b"E", b"U"):
                return [*got, RefOutcome("error", None, text[:300])]
        if len(got) < len(encoded):  # stopped without a word: the next input took too long
            why = "timeout" if run.over_time else "error"
            got.append(RefOutcome(why, None, f"{SILENT_STOP} ({why}) on this input"))
        return got


def transport(args: list[Any]) -> str:
    """How one argument list travels into the sandbox: exactly as ``SandboxExecutor`` sends it,
    so references and candidates see the same values."""
    from stages.verifiers.sandbox import codec

    return codec.encode_args(list(args))  # typed JSON: tuples, sets, complex arrive as such


def sandbox_runner() -> Runner:
    """The default runner: the sandbox, via :class:`SandboxReferenceRunner`."""
    try:
        return SandboxReferenceRunner()
    except ImportError as exc:
        raise RuntimeError(
            f"expected outputs need the sandbox (stages.verifiers.sandbox), not available: {exc}"
        ) from None


def run_reference(
    runner: Runner, program: str, entry_point: str, inputs: Sequence[list[Any]], timeout_s: float
) -> list[RefOutcome]:
    """One outcome per input, in order (a runner must return exactly that)."""
    outcomes = runner(program, entry_point, inputs, timeout_s)
    if len(outcomes) != len(inputs):
        raise RuntimeError(f"reference runner returned {len(outcomes)} outcomes for {len(inputs)} inputs")
    return outcomes


def cache_key(program: str, entry_point: str, inputs_text: str) -> str:
    blob = json.dumps([CACHE_VERSION, program, entry_point, inputs_text])
    return hashlib.sha256(blob.encode()).hexdigest()


def cached_outcomes(
    runner: Runner, program: str, entry_point: str, inputs: Sequence[list[Any]], *,
    dataset_hash: str, timeout_s: float = DEFAULT_TIMEOUT_S, cache_dir: Path | None = CACHE_DIR,
) -> list[RefOutcome]:
    """``run_reference`` with an on-disk cache keyed by dataset hash and content."""
    path = None
    if cache_dir is not None:
        key = cache_key(program, entry_point, typed_json.encode(list(inputs)))
        path = Path(cache_dir) / (dataset_hash or "none") / f"{key}.json"
        if path.is_file():
            try:
                rows = json.loads(path.read_text(encoding="utf-8"))
                return [RefOutcome(*row) for row in rows]
            except (json.JSONDecodeError, TypeError):
                log.warning("%s: unreadable cache entry, recomputing", path)
    outcomes = run_reference(runner, program, entry_point, inputs, timeout_s)
    if path is not None and all(o.status != "timeout" for o in outcomes):  # timeouts may be load
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps([[o.status, o.output, o.detail] for o in outcomes]), encoding="utf-8")
        os.replace(tmp, path)
    return outcomes


@dataclass(frozen=True)
class ExpectedReport:
    """Per problem: how many inputs were dropped because the reference had no output on them."""

    dropped: dict[str, int]
    details: dict[str, str]

    @property
    def total_dropped(self) -> int:
        return sum(self.dropped.values())


def not_none_outcome(o: RefOutcome) -> RefOutcome:
    """EvalPlus's expected output on its not-None tasks (``MBPP_OUTPUT_NOT_NONE_TASKS``):
    whether the reference returned something. A ``re.Match``, which the codec cannot carry
    (an ``Unencodable`` error), is something."""
    if o.status == "ok" and o.output is not None:
        return RefOutcome("ok", "false" if o.output == "null" else "true")
    if o.status == "error" and (o.detail or "").startswith("Unencodable"):
        return RefOutcome("ok", "true")
    return o


def _suites(row: dict, runner: Runner, timeout_s: float, cache_dir: Path | None) -> tuple[dict, int, str]:
    weak = typed_json.decode(row["inputs_weak"]) if row["inputs_weak"].strip() else []
    strong = typed_json.decode(row["inputs_strong"]) if row["inputs_strong"].strip() else []
    unique: dict[str, list[Any]] = {}
    for inp in [*weak, *strong]:
        unique.setdefault(typed_json.canonical(inp), inp)
    outcomes = cached_outcomes(
        runner, row["program_prefix"] + row["reference"], row["entry_point"], list(unique.values()),
        dataset_hash=row["dataset_hash"], timeout_s=timeout_s, cache_dir=cache_dir,
    )
    if row.get("dataset") == "mbppplus" and row["entry_point"] in MBPP_OUTPUT_NOT_NONE_TASKS:
        outcomes = [not_none_outcome(o) for o in outcomes]
    by_key = dict(zip(unique, outcomes, strict=True))
    out: dict[str, str] = {}
    dropped, detail = 0, ""
    for name, inputs in (("weak", weak), ("strong", strong)):
        kept_in, kept_out, total = [], [], 0
        for inp in inputs:
            o = by_key[typed_json.canonical(inp)]
            size = len(o.output or "")
            if o.status == "ok" and o.output is not None and size <= MAX_OUTPUT_CHARS \
                    and total + size <= MAX_SUITE_OUTPUT_CHARS and not LONG_INT.search(o.output):
                kept_in.append(inp)
                kept_out.append(json.loads(o.output))
                total += size
            else:
                dropped += 1
                why = o.detail if o.status != "ok" else (
                    f"output of {size} chars is over the cap" if size > MAX_OUTPUT_CHARS
                    else f"an int of over {MAX_INT_DIGITS} digits" if LONG_INT.search(o.output or "")
                    else f"the suite's outputs are over {MAX_SUITE_OUTPUT_CHARS} chars")
                detail = detail or f"{o.status}: {why}"[:300]
        has = bool(inputs)
        out[f"inputs_{name}"] = typed_json.encode(kept_in) if has and kept_in else ""
        out[f"outputs_{name}"] = json.dumps(kept_out, allow_nan=True) if has and kept_in else ""
    return out, dropped, detail


def fill_expected_outputs(
    problems: pl.DataFrame, *, runner: Runner | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
    cache_dir: Path | None = CACHE_DIR, workers: int = 0,
) -> pl.DataFrame:
    """Problems with ``outputs_weak``/``outputs_strong`` filled in from the reference solution."""
    frame, report = fill_expected_outputs_with_report(
        problems, runner=runner, timeout_s=timeout_s, cache_dir=cache_dir, workers=workers)
    if report.total_dropped:
        worst = sorted(report.dropped.items(), key=lambda kv: -kv[1])[:5]
        log.warning("expected outputs: dropped %d input(s) where the reference has no output: %s",
                    report.total_dropped, ", ".join(f"{p} ({n}: {report.details[p]})" for p, n in worst))
    return frame


def fill_expected_outputs_with_report(
    problems: pl.DataFrame, *, runner: Runner | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
    cache_dir: Path | None = CACHE_DIR, workers: int = 0,
) -> tuple[pl.DataFrame, ExpectedReport]:
    """As :func:`fill_expected_outputs`, and the per-problem count of dropped inputs."""
    rows = list(problems.iter_rows(named=True))
    todo = [i for i, r in enumerate(rows)
            if r["kind"] == "code" and (r["inputs_weak"].strip() or r["inputs_strong"].strip())]
    own = runner is None and bool(todo)
    run = sandbox_runner() if own else runner
    try:
        with ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool:
            results = list(pool.map(lambda i: _suites(rows[i], run, timeout_s, cache_dir), todo))
    finally:
        if own:
            run.close()  # type: ignore[union-attr]
    dropped, details = {}, {}
    for i, (cols, n, detail) in zip(todo, results, strict=True):
        rows[i] = {**rows[i], **cols}
        if n:
            dropped[rows[i]["problem_id"]], details[rows[i]["problem_id"]] = n, detail
    return pl.DataFrame(rows, schema=problems.schema), ExpectedReport(dropped, details)
