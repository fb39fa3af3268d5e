"""Start an SGLang server for one run and stop it afterwards, also when the run fails.

With ``generate.sglang.launch: true`` the sglang backend wraps its requests in
:func:`launched`: it runs ``python -m sglang.launch_server --model-path M --host H --port P
[--tp N] [--dp N] [--enable-deterministic-inference] [extra args]`` in its own process group
with stdout and stderr in ``sglang.log_path``, polls ``GET /health_generate`` (which answers
only once the server can actually generate) until it answers 200 or ``launch_timeout_s``
passes, and on exit sends SIGTERM to the whole group (SGLang starts scheduler and detokenizer
child processes), then SIGKILL after a grace period. The server needs the ``serve`` extra
(``pip install "infscale[serve]"``) and a GPU host; the pipeline itself never imports sglang.
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


def healthy(url: str, timeout: float = 5.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/health_generate", timeout=timeout) as resp:
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


@contextlib.contextmanager
def launched(
    settings: Any,
    model_path: str,
    command: list[str] | None = None,
    poll_s: float = 1.0,
    grace_s: float = 30.0,
) -> Iterator[subprocess.Popen]:
    """Run the server for the duration of the ``with`` block (see module docstring)."""
    cmd = command or launch_command(settings, model_path)
    log_path = Path(settings.log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if healthy(settings.url, timeout=1.0):
        raise ServerLaunchError(
            f"a server already answers at {settings.url}; stop it or set "
            "generate.sglang.launch: false to use it"
        )
    with open(log_path, "ab") as log:
        log.write(f"\n==== infscale: starting {' '.join(cmd)}\n".encode())
        log.flush()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + settings.launch_timeout_s
        while not healthy(settings.url):
            if proc.poll() is not None:
                raise ServerLaunchError(
                    f"the SGLang server exited with code {proc.returncode} before "
                    f"it was healthy; end of {log_path}:\n{_tail(log_path)}"
                )
            if time.monotonic() > deadline:
                raise ServerLaunchError(
                    f"the SGLang server was not healthy after "
                    f"{settings.launch_timeout_s:g} s; end of {log_path}:\n{_tail(log_path)}"
                )
            time.sleep(poll_s)
        yield proc
    finally:
        stop(proc, grace_s)
