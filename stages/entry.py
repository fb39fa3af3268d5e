"""The shared shape of every ``python -m stages.<name>`` entry point.

An entry reads its own params section, reads its inputs, calls the stage's pure function and
writes its outputs. Expected failures (a missing input, a bad params key, a table that breaks
its schema or contract) end in one clear line on stderr naming the file or key, and exit 2.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from stages.io import InputError
from stages.params import ParamsError
from stages.schemas import SchemaError

EXPECTED_ERRORS: tuple[type[BaseException], ...] = (InputError, ParamsError, SchemaError, ValueError)


def run_entry(stage: str, body: Callable[[], None]) -> None:
    """Run ``body`` and turn expected errors into one line and exit code 2."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    try:
        body()
    except EXPECTED_ERRORS as exc:
        print(f"infscale {stage}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
