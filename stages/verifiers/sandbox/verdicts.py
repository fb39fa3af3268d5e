"""Verdicts decided in the trusted parent from what it observed of a job (pure functions).

The child's report lines carry a per-job secret nonce; lines without it are the candidate's own
output and count only against the output budget. For input/output suites the parent itself
compares each reported output with the expected value (:class:`IOCheck`), so exiting
early, printing a fake report, or an object whose ``__eq__`` is always true cannot pass: a pass
needs every expected output, in order, followed by the completion marker. For assertion suites
(HumanEval's ``check``) a pass is the completion marker, which the candidate's own process
writes: that verifier is gameable by design, and measured as such (docs/sandbox.md).
"""

from __future__ import annotations

import hashlib
import json
import signal
from dataclasses import dataclass, field

from stages.verifiers.sandbox import codec, oracles
from stages.verifiers.sandbox.runs import RawRun

_FIRST_FLOAT: dict[int, tuple[list[str], int]] = {}  # id(expected) -> (expected, index)


def first_float(expected: list[str]) -> int:
    """Index of the first expected output EvalPlus's ``is_floats`` holds for (``len`` if none),
    computed once per suite's list of texts (kept alive with its entry so the id stays valid)."""
    entry = _FIRST_FLOAT.get(id(expected))
    if entry is not None and entry[0] is expected:
        return entry[1]
    index = next((i for i, text in enumerate(expected) if codec.is_floats(json.loads(text))),
                 len(expected))
    if len(_FIRST_FLOAT) > 4096:
        _FIRST_FLOAT.clear()
    _FIRST_FLOAT[id(expected)] = (expected, index)
    return index


GOT_CHARS = 200  # of a wrong output kept in the verdict's detail (inspection shows it)

@dataclass
class IOCheck:
    """Streaming comparison of reported outputs with the expected ones (parent side).

    ``compare`` (``IOSuite.compare``): ``exact`` is EvalPlus's default oracle
    (:func:`codec.evalplus_equal`; its tolerance becomes 1e-6 from the first float expected
    output on, for the rest of the suite, when the task gives none: EvalPlus assigns ``atol``
    inside its loop over inputs), ``strict`` the typed comparison (:func:`codec.strict_equal`),
    ``set`` EvalPlus's set oracle for MBPP+ tasks, and EvalPlus's other special oracles
    (:mod:`oracles`: ``poly_root`` for HumanEval/32 reads the input, ``arguments``, and no
    expected output; ``not_none``; ``any_output``, ``or_zero``, ``surface_area``,
    ``digit_distance``).

    Clustering (majority vote): the first ``cluster_inputs`` inputs always run, even past a
    wrong output, and :meth:`outputs_digest` hashes the raw outputs on them (an exception counts
    as an output ``E``), so that no expected output decides which samples cluster. None: no
    inputs reserved; the digest covers the inputs that ran (which, stopping at the first wrong
    output, depends on the expected outputs: code_tests always sets it).
    """

    expected: list[str]  # canonical JSON text per input
    atol: float
    stop_at_first_failure: bool = True
    compare: str = "exact"  # "exact" (EvalPlus), "strict", "set" or a special oracle (IOSuite.compare)
    cluster_inputs: int | None = None
    arguments: list[str] = field(default_factory=list)  # typed-JSON text of each input's call
    mismatch: int | None = None
    got: str = ""  # what the candidate returned on the first wrong input (canonical JSON, cut)
    digests: list[str] = field(default_factory=list)
    seen: int = 0

    def on_line(self, body: bytes) -> bool:
        """Called per report line; True asks the worker to stop the job now."""
        kind, _, rest = body.partition(b" ")
        if kind == b"E" and len(self.digests) == self.seen:
            self.digests.append("E")  # behaviour, not answer: the program raised here
        if kind not in (b"O", b"U"):
            return False
        index_text, _, payload = rest.partition(b" ")
        if not index_text.isdigit() or int(index_text) != self.seen:
            return False  # out of order or forged index: ignored, so the run cannot complete
        index = self.seen
        self.seen += 1
        self.digests.append(hashlib.sha256(payload).hexdigest()[:12])
        if self.mismatch is None and not self._accepts(kind, payload, index):
            self.mismatch = index
            text = _text(payload, GOT_CHARS)
            self.got = f"unencodable {text}" if kind == b"U" else text
        return (self.mismatch is not None and self.stop_at_first_failure
                and self.seen >= (self.cluster_inputs or 0))

    def _accepts(self, kind: bytes, payload: bytes, index: int) -> bool:
        if index >= len(self.expected):
            return False
        if kind == b"U":  # an output the codec cannot carry (a re.Match): only known not to be None
            return self.compare == "not_none" and self.expected[index] == "true"
        return self._matches(payload, index)

    def _arguments(self, index: int) -> list:
        return codec.decode_typed(json.loads(self.arguments[index]))

    def _matches(self, payload: bytes, index: int) -> bool:
        text = payload.decode("utf-8", "surrogatepass")
        if text == self.expected[index] and self.compare != "poly_root":
            return True
        # The payload is the candidate's: no value it can produce (a 10**400 where a float is
        # expected, JSON nested past the recursion limit) may raise here, in the trusted parent.
        try:
            if self.compare == "poly_root":
                return oracles.poly_root(self._arguments(index)[0], json.loads(text), self.atol)
            out, exp = json.loads(text), json.loads(self.expected[index])
            if self.compare == "set":
                return codec.set_equal(out, exp)
            if self.compare == "strict":
                return codec.strict_equal(out, exp, self.atol)
            if self.compare == "not_none":
                return oracles.not_none(out, exp)
            atol = self.atol
            if atol == 0 and index >= first_float(self.expected):
                atol = codec.FLOAT_DEFAULT_ATOL
            if codec.evalplus_equal(out, exp, atol):
                return True
            return (self.compare in oracles.EXTENDING
                    and oracles.extends_equality(self.compare, out, self._arguments(index), atol))
        except (ValueError, OverflowError, RecursionError, TypeError, MemoryError, IndexError):
            return False

    def outputs_digest(self) -> str:
        """Digest of the raw outputs on the clustering inputs (see the class doc)."""
        digests = self.digests if self.cluster_inputs is None else self.digests[: self.cluster_inputs]
        return hashlib.sha256(".".join(digests).encode()).hexdigest()[:16]


def _marker(run: RawRun, kinds: tuple[bytes, ...]) -> tuple[bytes, bytes] | None:
    for line in run.lines:
        kind, _, rest = line.partition(b" ")
        if kind in kinds:
            return kind, rest
    return None


def _text(raw: bytes, limit: int = 300) -> str:
    return raw.decode("utf-8", "replace")[:limit]


def _abnormal(run: RawRun) -> tuple[str, str] | None:
    """Verdicts that do not depend on the report: limits hit, the worker lost.

    The details name the clock, not the limit's value or the time spent: both move with the
    machine's load (limits are calibrated per input), and verdicts must be byte-identical across
    runs so that ``dvc.lock`` does not change on a re-run.
    """
    if run.output_capped:
        return "error", "output limit exceeded"
    if run.process_limit:
        return "error", "process limit exceeded"
    if run.cpu_limited:
        return "timeout", "exceeded its CPU-time limit"
    if run.timed_out:
        return "timeout", "exceeded its wall-clock limit"
    if run.worker_died:
        return "error", "sandbox worker died (the candidate killed its fork server?)"
    return None


def _exit_detail(status: int | None) -> str:
    if status is None:
        return "no exit status"
    if status & 0x7F:
        sig = status & 0x7F
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"killed by {name} before completing"
    return f"exited with status {status >> 8} before completing"


def _exception(rest: bytes) -> str:
    index, _, text = rest.partition(b" ")
    where = "while loading the program" if index == b"-1" else f"on input {_text(index)}"
    return f"{_text(text)} ({where})"


def decide_assert(run: RawRun) -> tuple[str, str]:
    """pass iff the nonce-tagged completion marker came after ``check(entry_point)`` ran."""
    found = _marker(run, (b"P", b"F", b"E"))
    if found is not None and not run.output_capped and not run.worker_died:
        kind, rest = found
        if kind == b"P":
            return "pass", ""
        if kind == b"F":
            return "fail", _text(rest)
        return "error", _exception(rest)
    return _abnormal(run) or ("error", _exit_detail(run.status))


def stopped_by_clock(run: RawRun) -> bool:
    """The run ended on a time limit: the job's CPU or wall budget, or a per-input timer."""
    sig = (run.status or 0) & 0x7F
    return run.cpu_limited or run.timed_out or sig in (signal.SIGPROF, signal.SIGALRM)


def decide_io(run: RawRun, check: IOCheck, n_inputs: int) -> tuple[str, str]:
    """pass iff every expected output arrived, matched, and the completion marker followed."""
    if check.mismatch is not None:
        return "fail", f"wrong output on input {check.mismatch}; got {check.got}"
    error = _marker(run, (b"E",))
    if error is not None:
        return "error", _exception(error[1])
    abnormal = _abnormal(run)
    if abnormal is not None:
        return abnormal
    if _marker(run, (b"D",)) is not None and check.seen == n_inputs:
        return "pass", ""
    if stopped_by_clock(run):  # here: a per-input limit (zygote_job._arm) ended it
        clock = "CPU-time" if (run.status or 0) & 0x7F == signal.SIGPROF else "wall-clock"
        return "timeout", f"exceeded its per-input {clock} limit on input {check.seen}"
    return "error", _exit_detail(run.status)


def decide_collect(run: RawRun, n_inputs: int) -> tuple[list | None, str]:
    """For a trusted reference: its outputs (parsed JSON values) in input order, or why not."""
    error = _marker(run, (b"E",))
    if error is not None:
        return None, _exception(error[1])
    abnormal = _abnormal(run)
    if abnormal is not None:
        return None, abnormal[1]
    values: list = []
    for line in run.lines:
        kind, _, rest = line.partition(b" ")
        index, _, payload = rest.partition(b" ")
        if kind == b"U":
            return None, f"{_text(payload)} (on input {_text(index)})"
        if kind == b"O" and index == str(len(values)).encode():
            values.append(json.loads(payload))
    if _marker(run, (b"D",)) is None or len(values) != n_inputs:
        return None, _exit_detail(run.status)
    return values, ""
