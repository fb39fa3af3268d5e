"""What the parent sends a fork server (:mod:`.zygote`): a job's message, and each suite's texts.

A suite's inputs, expected outputs and content hash are derived once per suite object
(:class:`Prepared`), not once per job; the hash is part of the verdict-cache key. Every job
message is built by :func:`job_message`, so none lacks its kind (the fork server raises on one
that does, and the executor then gives the job an error after ``MAX_STARTS`` lost workers).
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from stages.verifiers.base import AssertSuite, IOSuite
from stages.verifiers.sandbox import codec
from stages.verifiers.sandbox.runs import Limits


class Prepared:
    """What the parent derives once per suite object: hashes and canonical JSON texts."""

    def __init__(self, suite: AssertSuite | IOSuite, limits: Limits) -> None:
        self.suite = suite
        self.limits: dict[str, Any] | None = None  # per-input limits sent with each job (zygote_job._arm)
        if isinstance(suite, AssertSuite):
            self.inputs, self.expected = None, None
            self.test_source: str | None = f"{suite.test}\ncheck({suite.entry_point})\n"
            content = f"assert\0{suite.entry_point}\0{suite.test}"
        else:
            self.test_source = None
            self.inputs = [codec.encode_args(args) for args in suite.inputs]
            self.expected = [codec.encode(value) for value in suite.expected]
            content = "io\0{}\0{}\0{}\0{!r}".format(
                suite.entry_point, "\n".join(self.inputs), "\n".join(self.expected), suite.atol)
            if suite.compare != "exact":  # the hash of an exact suite stays what it was
                content += "\0" + suite.compare
            if suite.cluster_inputs is not None:  # decides the output digest
                content += f"\0cluster={suite.cluster_inputs}"
            if suite.input_limits_s:
                self.limits = {"load": suite.load_limit_s, "in": list(suite.input_limits_s),
                               "wall": [limits.wall_factor, limits.wall_slack_s]}
        self.hash = hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest()


def job_message(kind: str, entry_point: str, program: str, code: bytes | None = None) -> dict[str, Any]:
    """A job's message to the fork server (``zygote``): its kind (``a``: assertion test, ``i``:
    inputs), nonce, entry point, and code compiled here or else the program's text. Every
    message is built here: one without its kind makes the fork server raise."""
    message: dict[str, Any] = {"n": secrets.token_hex(16), "k": kind, "e": entry_point}
    if code is not None:
        message["c"] = code.decode("ascii")
    else:
        message["p"] = program
    return message
