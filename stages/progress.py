"""Progress with rate and ETA for long loops (generate, verify).

On an interactive terminal: a rich bar. Elsewhere (under ``dvc repro``, in CI, piped to a
log) a bar is invisible or garbles the log, so a plain line goes to stderr every
``INFSCALE_PROGRESS_EVERY_S`` seconds (default 15): ``generate (openai): 40/280 samples
(14%), 1.31 samples/s, ETA 3m03s``. A run shorter than that prints none. ``INFSCALE_PROGRESS``
forces the mode: ``1`` the bar, ``lines`` the lines, ``0`` nothing.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TextIO, TypeVar

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

T = TypeVar("T")


def mode() -> str:
    """``bar`` (a terminal), ``lines`` (anything else) or ``off``; ``INFSCALE_PROGRESS`` forces it."""
    flag = os.environ.get("INFSCALE_PROGRESS")
    if flag is not None:
        return "off" if flag in ("0", "false", "") else "lines" if flag == "lines" else "bar"
    return "bar" if sys.stderr.isatty() else "lines"


def _every_s() -> float:
    try:
        return float(os.environ.get("INFSCALE_PROGRESS_EVERY_S", "15"))
    except ValueError:
        return 15.0


def track(items: Iterable[T], total: int, description: str, unit: str = "samples") -> Iterator[T]:
    """Yield from ``items`` while showing done/total, rate in ``unit``/s and time remaining.

    ``items`` may yield batches; callers that do should use :class:`Counter` instead.
    """
    with Counter(total, description, unit) as counter:
        for item in items:
            yield item
            counter.advance()


def _duration(seconds: float) -> str:
    s = round(seconds)
    h, rest = divmod(s, 3600)
    return f"{h}h{rest // 60:02d}m" if h else f"{rest // 60}m{rest % 60:02d}s"


class Lines:
    """Progress as a plain line every ``every_s`` seconds (for logs: no terminal codes)."""

    def __init__(self, total: int, description: str, unit: str = "samples", every_s: float = 15.0,
                 clock: Callable[[], float] = time.monotonic, out: TextIO | None = None) -> None:
        self.total, self.description, self.unit, self.every_s = total, description, unit, every_s
        self._clock, self._out = clock, out
        self.done = 0
        self._start = self._last = clock()

    def line(self) -> str:
        elapsed = self._clock() - self._start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        pct = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        eta = _duration((self.total - self.done) / rate) if rate > 0 else "--"
        return (f"{self.description}: {self.done}/{self.total} {self.unit}{pct}, "
                f"{rate:,.2f} {self.unit}/s, ETA {eta}")

    def advance(self, amount: int = 1) -> None:
        self.done += amount
        now = self._clock()
        if now - self._last >= self.every_s:
            self._last = now
            print(self.line(), file=self._out or sys.stderr, flush=True)


class Counter:
    """Progress advanced by arbitrary amounts (for batched producers): a bar or lines (:func:`mode`)."""

    def __init__(self, total: int, description: str, unit: str = "samples") -> None:
        how = mode()
        self._bar = _bar(unit) if how == "bar" else None
        self._lines = Lines(total, description, unit, _every_s()) if how == "lines" else None
        self._total, self._description = total, description

    def __enter__(self) -> Counter:
        if self._bar is not None:
            self._bar.__enter__()
            self._task = self._bar.add_task(self._description, total=self._total)
        return self

    def advance(self, amount: int = 1) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, amount)
        elif self._lines is not None:
            self._lines.advance(amount)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


class _Rate(ProgressColumn):
    """Items per second, with the unit name."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.1f} {self.unit}/s" if speed else f"-- {self.unit}/s", style="cyan")


def _bar(unit: str) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(unit),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        refresh_per_second=4,
    )
