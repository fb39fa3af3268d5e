"""Launching a server for a run and stopping it, with the fake server standing in for SGLang."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import polars as pl
import pytest

from stages.backends import get_backend, server_lifecycle
from stages.backends.server_lifecycle import ServerLaunchError, healthy, launch_command, launched
from stages.params import GenerateParams, SglangParams

FAKE = "tests.backends.fake_server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def settings(tmp_path: Path, **kw: object) -> SglangParams:
    return SglangParams(
        url=f"http://127.0.0.1:{free_port()}",
        log_path=str(tmp_path / "server.log"),
        launch_timeout_s=20,
        **kw,
    )


def test_launch_command_has_sglang_flags() -> None:
    s = SglangParams(
        url="http://0.0.0.0:31000", tp=2, dp=4, extra_args=["--mem-fraction-static", "0.8"]
    )
    assert launch_command(s, "Qwen/Qwen2.5-0.5B", python="py") == [
        "py",
        "-m",
        "sglang.launch_server",
        "--model-path",
        "Qwen/Qwen2.5-0.5B",
        "--host",
        "0.0.0.0",
        "--port",
        "31000",
        "--tp",
        "2",
        "--dp",
        "4",
        "--enable-deterministic-inference",
        "--mem-fraction-static",
        "0.8",
    ]
    with pytest.raises(ValueError, match="model_path"):
        launch_command(s, "")


def test_server_is_healthy_inside_and_stopped_after_even_on_failure(tmp_path: Path) -> None:
    s = settings(tmp_path, tp=2)
    cmd = launch_command(s, "fake/m", module=FAKE) + ["--startup-delay", "0.3"]
    with (
        pytest.raises(RuntimeError, match="boom"),
        launched(s, "fake/m", command=cmd, poll_s=0.1) as proc,
    ):
        assert healthy(s.url)
        raise RuntimeError("boom")
    assert proc.poll() is not None and not healthy(s.url)
    log = Path(s.log_path).read_text()
    assert "starting" in log and "model=fake/m tp=2" in log


def test_a_server_that_exits_early_is_an_error_with_its_log(tmp_path: Path) -> None:
    s = settings(tmp_path)
    cmd = [sys.executable, "-c", "import sys; print('CUDA out of memory'); sys.exit(3)"]
    with pytest.raises(ServerLaunchError, match=r"(?s)exited with code 3.*CUDA out of memory"):
        with launched(s, "m", command=cmd, poll_s=0.05):
            pass


def test_a_server_that_never_gets_healthy_times_out(tmp_path: Path) -> None:
    s = settings(tmp_path).model_copy(update={"launch_timeout_s": 0.3})
    cmd = [sys.executable, "-c", "import time; time.sleep(30)"]
    with pytest.raises(ServerLaunchError, match="not healthy after 0.3 s"):
        with launched(s, "m", command=cmd, poll_s=0.05):
            pass


def test_sglang_backend_with_launch_true_runs_and_stops_its_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = server_lifecycle.launch_command
    monkeypatch.setattr(server_lifecycle, "launch_command", lambda s, m: real(s, m, module=FAKE))
    s = settings(tmp_path, launch=True, batch_size=2, concurrency=2)
    p = GenerateParams(backend="sglang", model="fake/launched", sglang=s)
    probs = pl.DataFrame({"problem_id": ["X/0"], "kind": ["code"], "prompt": ["def f():\n"]})
    df = pl.concat(list(get_backend("sglang", p).generate(probs, 3, 0)))
    assert (
        df.height == 3 and df["error"].null_count() == 3 and set(df["model"]) == {"fake/launched"}
    )
    assert not healthy(s.url)
