"""The verdict cache's key: a change in the code that decides verdicts invalidates it."""

from __future__ import annotations

import shutil

from stages.verifiers.base import ExecJob, IOSuite
from stages.verifiers.sandbox import SandboxExecutor, cache

ADD = "def add(a, b):\n    return a + b\n"
IO = IOSuite("add", ((1, 2), (3, 4)), (3, 7))


def _cached(tmp_path) -> bool:
    with SandboxExecutor(workers=1, cache_dir=tmp_path) as ex:
        return next(iter(ex.run([ExecJob(("p", 0), ADD, IO, 2.0)]))).extra["cached"]


def test_version_covers_the_modules_that_decide_verdicts():
    names = {p.name for p in cache.verdict_modules()}
    assert {"codec.py", "verdicts.py", "zygote.py", "zygote_job.py", "executor.py",
            "worker.py", "calibrate.py", "code_tests.py", "base.py"} <= names
    assert all(p.exists() for p in cache.verdict_modules())


def test_editing_a_verdict_module_changes_the_version(tmp_path):
    copies = []
    for path in cache.verdict_modules():
        copy = tmp_path / path.name
        shutil.copy(path, copy)
        copies.append(copy)
    assert cache.code_version(copies) == cache.CODE_VERSION
    verdicts = tmp_path / "verdicts.py"
    verdicts.write_text(verdicts.read_text() + "\n# a change in how verdicts are decided\n")
    assert cache.code_version(copies) != cache.CODE_VERSION


def test_changed_code_is_a_cache_miss(tmp_path, monkeypatch):
    """The same program, suite and policy: a hit while the code is unchanged, a miss (a fresh
    run) after the verdict code changed."""
    assert _cached(tmp_path) is False
    assert _cached(tmp_path) is True
    edited = tmp_path / "codec.py"
    edited.write_text(cache.verdict_modules()[0].read_text() + "\n# edited\n")
    paths = [edited if p.name == "codec.py" else p for p in cache.verdict_modules()]
    monkeypatch.setattr(cache, "CODE_VERSION", cache.code_version(paths))
    assert _cached(tmp_path) is False
    assert _cached(tmp_path) is True
