"""The openai backend: OpenAI request/response shapes, seeds, faults, and the API key's secrecy."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest
import yaml

from stages.backends import get_backend, sample_seed
from stages.backends.http_client import ServerGone
from stages.io import write_table
from stages.params import GenerateParams
from stages.schemas import PROBLEMS
from tests.backends.fake_server import FakeServer, GenReply, faults_at, faults_when
from tests.backends.problem_rows import as_problems

COMPLETION_FIELDS = {
    "model",
    "prompt",
    "n",
    "max_tokens",
    "temperature",
    "top_p",
    "seed",
    "stop",
    "logprobs",
}
CHAT_FIELDS = {
    "model", "messages", "n", "max_tokens", "temperature", "top_p", "seed", "logprobs", "top_logprobs",
}


def problems() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "problem_id": ["A/0", "A/1"],
            "kind": ["code", "math"],
            "prompt": ["def g(x):\n", "What is 3*3?"],
            "program_prefix": ["def g(x):\n", ""],
        }
    )


def params(url: str, **openai: object) -> GenerateParams:
    settings = {
        "url": url + "/v1",
        "concurrency": 4,
        "backoff_s": 0.001,
        "backoff_max_s": 0.01,
        "max_retries": 3,
        "timeout_s": 0.5,
        **openai,
    }
    return GenerateParams(backend="openai", model="fake/test-model", openai=settings)


def run(p: GenerateParams, n: int = 4, seed: int = 3) -> pl.DataFrame:
    return pl.concat(list(get_backend("openai", p).generate(problems(), n, seed))).sort(
        "problem_id", "sample_idx"
    )


def test_completions_request_and_reply_shapes() -> None:
    with FakeServer() as srv:
        df = run(params(srv.url))
    bodies = [b for p, b in srv.requests if p == "/v1/completions"]
    assert len(bodies) == 8 and all(set(b) <= COMPLETION_FIELDS for b in bodies)
    assert all(
        b["n"] == 1 and b["logprobs"] == 1 and b["model"] == "fake/test-model" for b in bodies
    )
    assert df["seed"].to_list() == [
        sample_seed(3, p, i) for p, i in df.select("problem_id", "sample_idx").iter_rows()
    ]
    assert df["error"].null_count() == 8 and (df["mean_logprob"] < 0).all()
    assert (df["completion_tokens"] > 0).all() and df["latency_s"].is_not_null().all()


def test_batched_requests_send_n_with_one_seed_per_request() -> None:
    with FakeServer() as srv:
        df = run(params(srv.url, batch_size=3), n=4)
    bodies = [b for p, b in srv.requests if p == "/v1/completions"]
    assert sorted(b["n"] for b in bodies) == [1, 1, 3, 3]
    first = df.filter(pl.col("problem_id") == "A/0")
    assert first["seed"].to_list() == [sample_seed(3, "A/0", 0)] * 3 + [sample_seed(3, "A/0", 3)]
    assert first["completion"].n_unique() == 4  # the n choices of one request differ


def test_chat_request_shape_and_math_reply_kept_whole() -> None:
    with FakeServer() as srv:
        df = run(params(srv.url, chat=True), n=2)
    bodies = [b for p, b in srv.requests if p == "/v1/chat/completions"]
    assert bodies and all(set(b) <= CHAT_FIELDS and b["logprobs"] is True for b in bodies)
    assert all(b["top_logprobs"] == 1 for b in bodies)  # llama-cpp sends no logprobs without it
    assert bodies[0]["messages"] == [
        {"role": "user", "content": bodies[0]["messages"][0]["content"]}
    ]
    math = df.filter(pl.col("problem_id") == "A/1")
    assert not math["completion"][0].startswith("\n")  # math replies are not code-extracted
    assert math["raw_completion"].to_list() == math["completion"].to_list()


def test_a_chat_reply_is_kept_whole_next_to_the_code_taken_from_it() -> None:
    reply = "Sure! Here it is:\n```python\ndef g(x):\n    return x\n```\nHope it helps."
    with FakeServer(responder=lambda req: GenReply(text=reply)) as srv:
        df = run(params(srv.url, chat=True), n=1)
    code = df.filter(pl.col("problem_id") == "A/0")
    assert code["completion"][0] == "\ndef g(x):\n    return x\n"
    assert code["raw_completion"][0] == reply
    assert (df["mean_logprob"] < 0).all()


@pytest.mark.parametrize("fault", ["500", "429", "drop", "truncate"])
def test_each_fault_is_retried_and_ends_in_the_same_rows(fault: str) -> None:
    with FakeServer() as srv:
        clean = run(params(srv.url)).drop("latency_s")
    with FakeServer(faults=faults_at({2: fault})) as srv:
        faulted = run(params(srv.url)).drop("latency_s")  # client-measured: differs run to run
    assert faulted.equals(clean)


def test_a_request_that_keeps_failing_becomes_error_rows_for_its_samples() -> None:
    with FakeServer(faults=faults_when("3*3", "503")) as srv:
        df = run(params(srv.url, batch_size=2))
    bad = df.filter(pl.col("problem_id") == "A/1")
    assert (
        bad.height == 4
        and bad["error"].is_not_null().all()
        and set(bad["finish_reason"]) == {"error"}
    )
    assert df.filter(pl.col("problem_id") == "A/0")["error"].null_count() == 4


def test_a_wrong_api_key_stops_the_run_naming_the_status_and_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INFSCALE_TEST_KEY", "wrong")
    with FakeServer(api_key="right") as srv, pytest.raises(ServerGone) as err:
        run(params(srv.url, api_key_env="INFSCALE_TEST_KEY"), n=1)
    assert "HTTP 401" in str(err.value) and "read from $INFSCALE_TEST_KEY" in str(err.value)
    assert "wrong" not in str(err.value)
    assert srv.count == 1  # the model check at the start; 401 is not retried


def test_an_unset_key_variable_is_named_when_the_server_refuses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("INFSCALE_TEST_KEY", raising=False)
    with FakeServer(api_key="right") as srv, pytest.raises(ServerGone, match=r"\$INFSCALE_TEST_KEY is unset"):
        run(params(srv.url, api_key_env="INFSCALE_TEST_KEY"), n=1)


def test_generate_model_is_checked_against_the_served_models() -> None:
    with FakeServer() as srv:
        p = params(srv.url).model_copy(update={"model": "synthetic-beta-policy"})
        with pytest.raises(ValueError, match=r"serves 'fake/test-model'.*generate.model is 'synthetic-beta-policy'"):
            run(p)
    assert not [r for r, _ in srv.requests if r == "/v1/completions"]  # stopped before any sample


def test_a_server_listing_no_models_is_used_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with FakeServer(list_models=False) as srv:
        df = run(params(srv.url), n=1)
    assert df["error"].null_count() == 2
    assert "lists no models" in caplog.text


def test_a_server_without_logprobs_is_warned_about_once(caplog: pytest.LogCaptureFixture) -> None:
    def no_logprobs(path: str, body: dict, reply: dict) -> dict:
        for ch in reply.get("choices", []):
            ch["logprobs"] = None
        return reply

    with FakeServer(rewrite=no_logprobs) as srv:
        backend = get_backend("openai", params(srv.url, chat=True))
        df = pl.concat(list(backend.generate(problems(), 3, 0)))
    assert df["mean_logprob"].null_count() == 6 and df["error"].null_count() == 6
    assert caplog.text.count("returned no logprobs") == 1
    assert backend.metadata["samples_without_logprobs"] == 6


def test_a_launched_server_gets_one_request_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """launch: llamacpp (single-slot server): concurrency 1 whatever openai.concurrency says."""
    import contextlib

    from stages.backends import openai_compat

    with FakeServer(delay_s=0.02) as srv:
        monkeypatch.setattr(openai_compat.OpenAIBackend, "_server",
                            lambda self: contextlib.nullcontext(srv.url + "/v1"))
        monkeypatch.setattr(openai_compat.OpenAIBackend, "fingerprint", lambda self: "")
        run(params(srv.url, launch="llamacpp", concurrency=8), n=4)
    assert srv.max_in_flight == 1


@pytest.mark.slow  # runs the whole stage (its Great Expectations import is slow)
def test_the_api_key_is_sent_but_appears_in_no_output_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from stages import generate as stage

    key = "sk-test-" + os.urandom(8).hex()
    monkeypatch.setenv("INFSCALE_TEST_KEY", key)
    monkeypatch.chdir(tmp_path)
    problems_path = tmp_path / "data" / "problems.parquet"
    problems_path.parent.mkdir()
    write_table(as_problems(problems()), problems_path, PROBLEMS, "problems")
    with FakeServer(api_key=key) as srv:
        gen = params(srv.url, api_key_env="INFSCALE_TEST_KEY").model_dump(mode="json") | {
            "n_samples": 3
        }
        (tmp_path / "params.yaml").write_text(
            yaml.safe_dump({"base": {"seed": 1}, "generate": gen})
        )
        stage.main([])
    assert any(h.get("authorization") == f"Bearer {key}" for h in srv.headers_seen)
    samples = pl.read_parquet(tmp_path / "data" / "samples.parquet")
    assert samples.height == 6 and samples["error"].null_count() == 6
    captured = capsys.readouterr()
    assert key not in captured.out + captured.err
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), f"API key leaked into {path}"


def test_the_fake_server_can_script_top_logprobs_for_judges() -> None:
    """Other tests (LLM judges) script replies with alternatives; the chat shape carries them."""
    import asyncio

    from stages.backends.http_client import HttpClient, RetryPolicy
    from tests.backends.fake_server import GenReply

    judge = lambda req: GenReply(
        text="Yes", token_logprobs=(-0.1,), top_logprobs=({"Yes": -0.1, "No": -2.4},)
    )

    async def ask(url: str) -> dict:
        async with HttpClient(url, 1, RetryPolicy()) as c:
            return await c.post_json(
                "/v1/chat/completions",
                {
                    "model": "m",
                    "messages": [{"role": "user", "content": "Is it correct?"}],
                    "logprobs": True,
                    "top_logprobs": 2,
                },
            )

    with FakeServer(responder=judge) as srv:
        reply = asyncio.run(ask(srv.url))
    content = reply["choices"][0]["logprobs"]["content"][0]
    assert reply["choices"][0]["message"]["content"] == "Yes" and content["logprob"] == -0.1
    assert {t["token"]: t["logprob"] for t in content["top_logprobs"]} == {"Yes": -0.1, "No": -2.4}
