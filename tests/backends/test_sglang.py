"""The sglang backend against the local test server (not a GPU server): shapes, rows, faults."""

from __future__ import annotations

import polars as pl
import pytest

from stages.backends import get_backend, sample_seed
from stages.backends.openai_compat import Job
from stages.params import GenerateParams
from stages.schemas import SAMPLES
from tests.backends.fake_server import FakeServer, GenReply, faults_at, faults_when

# Field names as SGLang declares them (python/sglang/srt/managers/io_struct.py GenerateReqInput,
# python/sglang/srt/sampling/sampling_params.py SamplingParams); see docs/backends.md.
GENERATE_REQ_FIELDS = {
    "text",
    "input_ids",
    "sampling_params",
    "rid",
    "return_logprob",
    "logprob_start_len",
    "top_logprobs_num",
    "stream",
}
SAMPLING_FIELDS = {
    "max_new_tokens",
    "stop",
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "n",
    "sampling_seed",
    "ignore_eos",
    "skip_special_tokens",
}


def problems(n: int = 3) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "problem_id": [f"T/{i}" for i in range(n)],
            "kind": ["code"] * (n - 1) + ["math"],
            "prompt": [f'def f{i}(x):\n    """doc"""\n' for i in range(n - 1)] + ["What is 2+2?"],
            "program_prefix": [f'def f{i}(x):\n    """doc"""\n' for i in range(n - 1)] + [""],
        }
    )


def params(url: str, **sglang: object) -> GenerateParams:
    settings = {
        "url": url,
        "batch_size": 4,
        "concurrency": 4,
        "backoff_s": 0.001,
        "backoff_max_s": 0.01,
        "max_retries": 3,
        "timeout_s": 0.5,
        **sglang,
    }
    return GenerateParams(backend="sglang", model="fake/test-model", sglang=settings)


def run(
    p: GenerateParams, n: int = 6, seed: int = 7, probs: pl.DataFrame | None = None
) -> pl.DataFrame:
    backend = get_backend("sglang", p)
    return pl.concat(
        list(backend.generate(probs if probs is not None else problems(), n, seed))
    ).sort("problem_id", "sample_idx")


def test_request_uses_sglang_field_names_and_one_seed_per_sample() -> None:
    with FakeServer() as srv:
        run(params(srv.url))
    gens = [body for path, body in srv.requests if path == "/generate"]
    assert gens and all(set(b) <= GENERATE_REQ_FIELDS for b in gens)
    body = gens[0]
    assert isinstance(body["text"], list) and len(set(body["text"])) == 1  # one prompt, batched
    assert len(body["sampling_params"]) == len(body["text"]) == 4
    assert all(set(sp) <= SAMPLING_FIELDS for sp in body["sampling_params"])
    seeds = [sp["sampling_seed"] for sp in body["sampling_params"]]
    assert len(set(seeds)) == 4 and body["return_logprob"] is True
    assert [p for p, _ in srv.requests[:2]] == ["/health_generate", "/get_model_info"]


def test_seeds_are_the_per_sample_seeds_and_rows_carry_meta_info() -> None:
    with FakeServer() as srv:
        df = run(params(srv.url), n=6, seed=7)
    assert df.schema == pl.Schema(SAMPLES)
    assert df.height == 18 and df["error"].null_count() == 18
    assert df["seed"].to_list() == [
        sample_seed(7, pid, i) for pid, i in df.select("problem_id", "sample_idx").iter_rows()
    ]
    assert set(df["finish_reason"]) == {"stop"}
    assert (df["completion_tokens"] > 0).all() and (df["prompt_tokens"] > 0).all()
    assert (df["mean_logprob"] < 0).all() and (df["sum_logprob"] <= df["mean_logprob"]).all()
    assert df["model"].unique().to_list() == ["fake/test-model"]
    assert df["latency_s"].is_not_null().all()  # meta_info.e2e_latency


def test_length_finish_and_code_stop_sequences() -> None:
    long = lambda req: GenReply(text=" a" * 50)
    with FakeServer(responder=long) as srv:
        df = run(params(srv.url).model_copy(update={"max_new_tokens": 5}), n=2)
    assert set(df["finish_reason"]) == {"length"} and set(df["completion_tokens"]) == {5}
    body = next(b for p, b in srv.requests if p == "/generate")
    assert "\ndef " in body["sampling_params"][0]["stop"]


def test_the_served_model_must_match_generate_model() -> None:
    with (
        FakeServer(model_path="other/model") as srv,
        pytest.raises(ValueError, match="serves model 'other/model'"),
    ):
        run(params(srv.url))


@pytest.mark.parametrize("fault", ["500", "503", "429", "drop", "truncate", "slow"])
def test_each_fault_is_retried_and_ends_in_the_same_rows(fault: str) -> None:
    with FakeServer() as srv:
        clean = run(params(srv.url))
    with FakeServer(faults=faults_at({3: fault}), slow_s=1.0) as srv:
        faulted = run(params(srv.url))
    assert faulted.equals(clean)


def test_a_sample_that_keeps_failing_is_an_error_row_not_a_gap() -> None:
    with FakeServer(faults=faults_when("def f1(", "500")) as srv:
        df = run(params(srv.url), n=6)
    assert df.height == 18
    bad = df.filter(pl.col("problem_id") == "T/1")
    assert bad["error"].is_not_null().all() and set(bad["finish_reason"]) == {"error"}
    assert "HTTP 500" in bad["error"][0] and "4 attempts" in bad["error"][0]
    assert bad["seed"].is_not_null().all()
    assert df.filter(pl.col("problem_id") != "T/1")["error"].null_count() == 12


def test_skip_leaves_out_samples_already_made() -> None:
    skip = frozenset({("T/0", 0), ("T/0", 5), ("T/2", 3)})
    with FakeServer() as srv:
        full = run(params(srv.url))
        part = pl.concat(
            list(get_backend("sglang", params(srv.url)).generate(problems(), 6, 7, skip=skip))
        )
    keys = set(part.select("problem_id", "sample_idx").iter_rows())
    assert keys.isdisjoint(skip) and len(keys) == 18 - 3
    assert part.sort("problem_id", "sample_idx").equals(
        full.filter(
            ~pl.struct("problem_id", "sample_idx").is_in(
                [{"problem_id": a, "sample_idx": b} for a, b in skip]
            )
        )
    )


def test_chat_via_the_server_chat_endpoint_one_seeded_request_per_sample() -> None:
    reply = lambda req: GenReply(text="Here:\n```python\ndef f0(x):\n    return x\n```\nDone.")
    with FakeServer(responder=reply) as srv:
        df = run(params(srv.url, chat=True), n=3, probs=problems(2))
    chats = [b for p, b in srv.requests if p == "/v1/chat/completions"]
    assert len(chats) == 6 and all(b["n"] == 1 for b in chats)
    assert len({b["seed"] for b in chats}) == 6
    assert (
        chats[0]["messages"][-1]["role"] == "user"
        and "```python" in chats[0]["messages"][-1]["content"]
    )
    assert (
        df.filter(pl.col("problem_id") == "T/0")["completion"][0] == "\ndef f0(x):\n    return x\n"
    )
    assert set(df["backend"]) == {"sglang"}


def test_chat_template_applied_client_side_keeps_the_native_api() -> None:
    with FakeServer() as srv:
        run(
            params(srv.url, chat=True, chat_template="<|user|>{prompt}<|assistant|>"),
            n=2,
            probs=problems(2),
        )
    gen = next(b for p, b in srv.requests if p == "/generate")
    assert gen["text"][0].startswith("<|user|>Complete the following") and gen["text"][0].endswith(
        "<|assistant|>"
    )
    assert "stop" not in gen["sampling_params"][0]


def test_request_body_for_a_math_problem_asks_for_a_boxed_answer() -> None:
    backend = get_backend("sglang", params("http://127.0.0.1:1"))
    body = backend.request_body(Job("M/1", "math", "What is 1+1?", (0, 1), frozenset()), 3)
    assert "\\boxed{}" in body["text"][0]


def test_an_unreachable_server_is_a_clear_error() -> None:
    with FakeServer() as srv:
        url = srv.url
    with pytest.raises(
        ValueError, match=r"SGLang server at http://127.0.0.1:\d+ is not ready: connection error"
    ):
        run(params(url, max_retries=1))


def test_a_server_that_dies_mid_run_stops_the_run_instead_of_writing_error_rows() -> None:
    from stages.backends.http_client import ServerGone

    with FakeServer(faults=lambda n, path, body: "500" if n >= 4 else None) as srv:
        backend = get_backend(
            "sglang", params(srv.url, give_up_after=3, max_retries=1, concurrency=1)
        )
        got = []
        with pytest.raises(
            ServerGone, match="3 requests in a row .* failed .* start it again to resume"
        ):
            for frame in backend.generate(problems(), 6, 7):
                got.append(frame)
    rows = pl.concat(got)  # replies before the server died, then error rows until the third failure
    assert rows.height == 12 and rows["error"].null_count() == 6


# --- request shapes: SGLang's Python server takes list fields, the Rust router does not -------


def test_no_request_asks_for_n_and_every_sample_has_its_own_rid() -> None:
    with FakeServer() as srv:
        run(params(srv.url), n=8)
    gens = [body for path, body in srv.requests if path == "/generate"]
    assert all("n" not in sp for b in gens for sp in b["sampling_params"])
    rids = [r for b in gens for r in b["rid"]]
    assert len(rids) == len(set(rids)) == 3 * 8


def test_auto_falls_back_to_one_request_per_sample_against_the_rust_router() -> None:
    with FakeServer(router=True) as srv:
        df = run(params(srv.url, concurrency=8), n=8, seed=7)
    assert df.height == 24 and df["error"].null_count() == 24  # nothing lost to the refusal
    gens = [body for path, body in srv.requests if path == "/generate"]
    batched = [b for b in gens if isinstance(b["text"], list)]
    assert len(batched) == 1  # the shape is probed once, not once per request in flight
    singles = [b for b in gens if isinstance(b["text"], str)]
    assert len(singles) == 24 and all(isinstance(b["sampling_params"], dict) for b in singles)
    assert len({b["rid"] for b in singles}) == 24
    assert sorted(b["sampling_params"]["sampling_seed"] for b in singles) == sorted(df["seed"])


def test_single_shape_samples_equal_batched_samples() -> None:
    with FakeServer() as srv:
        batched = run(params(srv.url, request_shape="batch"), n=5, seed=3)
    with FakeServer(router=True) as srv:
        single = run(params(srv.url, request_shape="single"), n=5, seed=3)
    assert all(isinstance(b["text"], str) for p, b in srv.requests if p == "/generate")
    cols = ["problem_id", "sample_idx", "seed", "completion", "finish_reason", "mean_logprob"]
    assert single.select(cols).equals(batched.select(cols))


def test_batch_shape_against_the_router_gives_error_rows_not_a_silent_switch() -> None:
    with FakeServer(router=True) as srv:
        df = run(params(srv.url, request_shape="batch", give_up_after=1000), n=4)
    assert df["error"].null_count() == 0 and df["error"].str.contains("HTTP 422").all()
