"""Start an inference server for one run and stop it afterwards, also when the run fails.

One lifecycle for every server a run may start (:func:`serve`): the command runs in its own
process group with stdout and stderr appended to a log file, a readiness URL is polled until it
answers 200 or the launch timeout passes (an early exit is an error quoting the log's end), and
on leaving the block (normal end, an exception, Ctrl-C, or SIGTERM, which is turned into an
exception while the server runs so that ``finally`` still stops it) the whole group gets
SIGTERM, then SIGKILL after a grace period.

* SGLang (``generate.sglang.launch: true``, :func:`launched`): ``python -m
  sglang.launch_server --model-path M --host H --port P [--tp N] [--dp N]
  [--enable-deterministic-inference] [extra args]``, ready when ``GET /health_generate``
  answers (only once it can actually generate; SGLang starts scheduler and detokenizer child
  processes, hence the process group). Needs the ``serve`` extra and a GPU host; the pipeline
  itself never imports sglang.
* llama-cpp-python on CPU (``generate.openai.launch: llamacpp``): see
  :mod:`stages.backends.llamacpp`, ready when ``GET /v1/models`` answers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse


class ServerLaunchError(RuntimeError):
    """The server exited or never became healthy; the message holds the end of its log."""


def launch_command(
    settings: Any,
    model_path: str,
    python: str = sys.executable,
    module: str = "sglang.launch_server",
) -> list[str]:
    """The command line that starts the server described by ``generate.sglang``."""
    if not model_path:
        raise ValueError(
            "generate.sglang.launch needs a model: set generate.sglang.model_path "
            "(or generate.model)"
        )
    url = urlparse(settings.url)
    cmd = [
        python,
        "-m",
        module,
        "--model-path",
        model_path,
        "--host",
        url.hostname or "127.0.0.1",
        "--port",
        str(url.port or 30000),
    ]
    if settings.tp > 1:
        cmd += ["--tp", str(settings.tp)]
    if settings.dp > 1:
        cmd += ["--dp", str(settings.dp)]
    if settings.deterministic:
        cmd.append("--enable-deterministic-inference")
    return cmd + list(settings.extra_args)


@dataclass(frozen=True)
class ServerSpec:
    """What :func:`serve` needs to run one server: its command, readiness probe and log."""

    name: str  # for messages: "SGLang", "llama.cpp"
    command: list[str]
    url: str  # base URL; ready when GET url + probe answers 200
    probe: str
    log_path: Path
    launch_timeout_s: float
    hint: str  # how to use an already running server instead


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now (the OS picks it; a tiny race with other starters)."""
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def healthy(url: str, timeout: float = 5.0, probe: str = "/health_generate") -> bool:
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}{probe}", timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(proc: subprocess.Popen, grace_s: float = 30.0) -> None:
    """SIGTERM the server's process group, then SIGKILL whatever is left after ``grace_s``."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


class _Terminated(SystemExit):
    """SIGTERM arrived while a server ran: unwinds the stack so that the server is stopped."""


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """Within the block, SIGTERM raises (exit code 143) instead of killing without cleanup.

    Only in the main thread (the only one that may set handlers); elsewhere the caller's own
    shutdown has to close the generator. Ctrl-C already raises KeyboardInterrupt.
    """
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise _Terminated(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def serve(spec: ServerSpec, poll_s: float = 1.0, grace_s: float = 30.0) -> Iterator[subprocess.Popen]:
    """Run the server of ``spec`` for the duration of the ``with`` block (see module docstring)."""
    log_path = Path(spec.log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if healthy(spec.url, timeout=1.0, probe=spec.probe):
        raise ServerLaunchError(f"a server already answers at {spec.url}; stop it or {spec.hint}")
    with open(log_path, "ab") as log:
        log.write(f"\n==== infscale: starting {' '.join(spec.command)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            spec.command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    with _sigterm_unwinds():
        try:
            deadline = time.monotonic() + spec.launch_timeout_s
            while not healthy(spec.url, probe=spec.probe):
                if proc.poll() is not None:
                    raise ServerLaunchError(
                        f"the {spec.name} server exited with code {proc.returncode} before "
                        f"it was healthy; end of {log_path}:\n{_tail(log_path)}"
                    )
                if time.monotonic() > deadline:
                    raise ServerLaunchError(
                        f"the {spec.name} server was not healthy after "
                        f"{spec.launch_timeout_s:g} s; end of {log_path}:\n{_tail(log_path)}"
                    )
                time.sleep(poll_s)
            yield proc
        finally:
            stop(proc, grace_s)


def launched(
    settings: Any,
    model_path: str,
    command: list[str] | None = None,
    poll_s: float = 1.0,
    grace_s: float = 30.0,
) -> contextlib.AbstractContextManager[subprocess.Popen]:
    """Run the SGLang server described by ``generate.sglang`` for the ``with`` block."""
    spec = ServerSpec(
        name="SGLang",
        command=command or launch_command(settings, model_path),
        url=settings.url,
        probe="/health_generate",
        log_path=Path(settings.log_path),
        launch_timeout_s=settings.launch_timeout_s,
        hint="set generate.sglang.launch: false to use it",
    )
    return serve(spec, poll_s, grace_s)
