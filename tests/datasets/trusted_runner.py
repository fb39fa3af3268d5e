"""A test double for ``stages.datasets.expected_outputs.Runner`` shared by the expected-output
and augmentation tests: runs a *trusted test program* in-process and counts its calls."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from stages.datasets.expected_outputs import RefOutcome


class TrustedRunner:
    """Runs a trusted test program in-process (never a candidate) and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, program: str, entry: str, inputs: Sequence[list[Any]], timeout_s: float) -> list[RefOutcome]:
        self.calls += 1
        scope: dict = {}
        exec(program, scope)  # noqa: S102 - trusted test programs only
        out = []
        for args in inputs:
            try:
                out.append(RefOutcome("ok", json.dumps(scope[entry](*args))))
            except Exception as exc:  # noqa: BLE001 - the outcome records it
                out.append(RefOutcome("error", None, repr(exc)))
        return out
