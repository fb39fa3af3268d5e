"""Progress: a bar on a terminal, a plain periodic line with rate and ETA elsewhere (DVC, CI)."""

from __future__ import annotations

import io

import pytest

from stages import progress
from stages.progress import Counter, Lines


def test_lines_report_count_rate_and_eta_every_interval() -> None:
    now = [0.0]
    out = io.StringIO()
    lines = Lines(280, "generate (openai)", every_s=15, clock=lambda: now[0], out=out)
    for _ in range(40):
        now[0] += 0.5  # two samples a second
        lines.advance()
    assert out.getvalue().splitlines() == [
        "generate (openai): 30/280 samples (11%), 2.00 samples/s, ETA 2m05s",
    ]


def test_a_run_shorter_than_the_interval_prints_nothing() -> None:
    out = io.StringIO()
    lines = Lines(10, "verify", every_s=15, out=out)
    lines.advance(10)
    assert out.getvalue() == ""


def test_without_a_terminal_the_counter_prints_lines_not_a_bar(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("INFSCALE_PROGRESS", raising=False)
    monkeypatch.setenv("INFSCALE_PROGRESS_EVERY_S", "0")
    assert progress.mode() == "lines"  # pytest's stderr is not a terminal, as under DVC
    with Counter(4, "generate (x)") as c:
        c.advance(2)
        c.advance(2)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[1].startswith("generate (x): 4/4 samples (100%), ")
    assert "\x1b" not in "".join(err)  # no terminal codes in a log


def test_progress_can_be_switched_off(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("INFSCALE_PROGRESS", "0")
    monkeypatch.setenv("INFSCALE_PROGRESS_EVERY_S", "0")
    assert list(progress.track(range(3), 3, "verify")) == [0, 1, 2]
    assert capsys.readouterr().err == ""
