"""The shared shape of every ``python -m stages.<name>`` entry point.

An entry reads its own params section, reads its inputs, calls the stage's pure function and
writes its outputs. Expected failures, i.e. :class:`stages.errors.InputError` and its subclasses
(a missing input, a bad params key, a table that breaks its schema or contract), end in one clear
line on stderr naming the file or key, and exit 2. Everything else is a bug and keeps its full
traceback: a ``ValueError`` raised by stage code is not assumed to be the user's fault.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from stages.errors import InputError

EXPECTED_ERRORS: tuple[type[BaseException], ...] = (InputError,)


def run_entry(stage: str, body: Callable[[], None]) -> None:
    """Run ``body`` and turn expected (input) errors into one line and exit code 2."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    try:
        body()
    except EXPECTED_ERRORS as exc:
        print(f"infscale {stage}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
