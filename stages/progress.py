"""A progress bar with rate and ETA for long loops (generate, verify), via rich.

Shown only on an interactive terminal or when ``INFSCALE_PROGRESS=1``; logs stay clean in CI.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

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


def _enabled() -> bool:
    flag = os.environ.get("INFSCALE_PROGRESS")
    if flag is not None:
        return flag not in ("0", "false", "")
    return sys.stderr.isatty()


def track(items: Iterable[T], total: int, description: str, unit: str = "samples") -> Iterator[T]:
    """Yield from ``items`` while showing done/total, rate in ``unit``/s and time remaining.

    ``items`` may yield batches; callers that do should use :class:`Counter` instead.
    """
    if not _enabled():
        yield from items
        return
    with _bar(unit) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)


class Counter:
    """A progress bar advanced by arbitrary amounts (for batched producers)."""

    def __init__(self, total: int, description: str, unit: str = "samples") -> None:
        self._bar = _bar(unit) if _enabled() else None
        self._total, self._description = total, description

    def __enter__(self) -> Counter:
        if self._bar is not None:
            self._bar.__enter__()
            self._task = self._bar.add_task(self._description, total=self._total)
        return self

    def advance(self, amount: int = 1) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, amount)

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
