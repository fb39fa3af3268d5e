"""The LLM judge against the local test server: replies, logprobs, faults, cache, k-combination."""

from __future__ import annotations

import math

import polars as pl
import pytest

from stages.datasets.math_prompts import math_problems_frame
from stages.params import JudgeParams, SyntheticJudgeParams, VerifyParams
from stages.schemas import SAMPLES, conform
from stages.verifiers.judge import judge_verdicts, judge_verdicts_timed
from stages.verifiers.judge_prompts import Judgment, combine, p_yes_from_logprobs, read_score
from tests.backends.fake_server import FakeServer, GenReply, GenRequest, faults_when

# What the fake judge replies to each candidate (keyed by a marker in the completion).
REPLIES = {
    "CAND-A": ("yes", [math.log(0.8)]),  # yes with P = 0.8
    "CAND-B": ("No.", [math.log(0.9)]),  # no with P = 0.9 -> P(yes) = 0.1
    "CAND-C": ("I think it might be right", None),  # unparseable
    "CAND-D": ("yes", None),  # the server will answer 400 for this one: judge_error
    "CAND-E": ("Yes, the answer is correct.", [math.log(0.6)] + [-0.1] * 6),
}


def responder(req: GenRequest) -> GenReply:
    for marker, (text, lps) in REPLIES.items():
        if marker in req.prompt:
            n = len(text.split())
            lp = tuple(lps) + (-0.1,) * (n - len(lps)) if lps else None
            return GenReply(text=text, token_logprobs=lp)
    return GenReply(text="no")


def frames(markers: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    problems = math_problems_frame([{
        "problem_id": "p0", "dataset": "t", "kind": "math", "prompt": "What is 1+1?",
        "reference": "1+1=\\boxed{2}", "answer": "2", "dataset_hash": "x"}])
    n = len(markers)
    samples = conform(pl.DataFrame({
        "problem_id": ["p0"] * n, "sample_idx": list(range(n)),
        "completion": [f"{m}: so \\boxed{{2}}" for m in markers], "backend": ["t"] * n,
        "model": ["t"] * n, "sampling_params": ["{}"] * n, "seed": list(range(n)),
        "prompt_tokens": [1] * n, "completion_tokens": [1] * n, "latency_s": [0.0] * n,
        "finish_reason": ["stop"] * n, "mean_logprob": [0.0] * n, "sum_logprob": [0.0] * n,
        "error": [None] * n}), SAMPLES, "samples")
    return problems, samples


def params(url: str, **kw: object) -> VerifyParams:
    settings = JudgeParams(url=url + "/v1", model="fake-judge", max_retries=0, concurrency=4, **kw)
    return VerifyParams(judge="openai", judge_settings=settings)


def test_judge_on_local_server_gives_right_verdicts_for_replies_and_faults(tmp_path):
    problems, samples = frames(list(REPLIES))
    with FakeServer(responder=responder, faults=faults_when("CAND-D", "400")) as server:
        out = judge_verdicts(problems, samples, params(server.url), cache_dir=tmp_path)
    got = dict(zip(out["sample_idx"].to_list(), out["verdict"].cast(pl.String).to_list()))
    assert got == {0: "correct", 1: "incorrect", 2: "judge_unparseable", 3: "judge_error", 4: "correct"}
    score = dict(zip(out["sample_idx"].to_list(), out["score"].to_list()))
    assert score[0] == pytest.approx(0.8) and score[1] == pytest.approx(0.1)
    assert score[2] is None and score[3] is None
    assert set(out["verifier"].to_list()) == {"judge:fake-judge"}
    assert all("prompt=" in d and "temperature=0.0" in d for d in out["detail"].to_list())


def test_judgments_are_cached_but_errors_are_retried(tmp_path):
    problems, samples = frames(["CAND-A", "CAND-D"])
    with FakeServer(responder=responder, faults=faults_when("CAND-D", "400")) as server:
        judge_verdicts(problems, samples, params(server.url), cache_dir=tmp_path)
        first = server.count
        again, timings = judge_verdicts_timed(problems, samples, params(server.url), cache_dir=tmp_path)
        assert server.count - first == 1  # only the errored candidate is asked again
    assert timings.sort("sample_idx")["cached"].to_list() == [True, False]
    assert again.filter(pl.col("sample_idx") == 1)["verdict"].cast(pl.String)[0] == "judge_error"


def test_k_judge_samples_are_sent_with_distinct_seeds_and_combined(tmp_path):
    problems, samples = frames(["CAND-A"])
    with FakeServer(responder=responder) as server:
        out = judge_verdicts(problems, samples, params(server.url, k=3), cache_dir=tmp_path)
        seeds = {body["seed"] for _, body in server.requests}
    assert len(seeds) == 3
    assert out["verdict"].cast(pl.String).to_list() == ["correct"]
    assert "k=3 parsed=3" in out["detail"][0]


def test_score_mode_parses_only_a_bare_score():
    assert read_score("7").p_yes == pytest.approx(6 / 9)
    assert read_score("Score: 10/10").p_yes == pytest.approx(1.0)
    assert read_score("7 because the proof is fine").status == "unparseable"
    assert read_score("11").status == "unparseable"


def test_p_yes_uses_top_logprobs_when_given():
    entry = {"token": "Yes", "logprob": math.log(0.6),
             "top_logprobs": [{"token": "Yes", "logprob": math.log(0.6)},
                              {"token": " no", "logprob": math.log(0.2)}]}
    assert p_yes_from_logprobs([entry]) == pytest.approx(0.75)


def test_combination_never_turns_failures_into_incorrect():
    err, bad = Judgment("error", None, "HTTP 500"), Judgment("unparseable", None, "hmm")
    assert combine([err, err], "vote", 0.5)[0] == "judge_error"
    assert combine([err, bad], "vote", 0.5)[0] == "judge_unparseable"
    yes, no = Judgment("ok", 0.9), Judgment("ok", 0.2)
    assert combine([yes, no, err], "vote", 0.5)[0] == "correct"  # tie: mean 0.55 decides
    assert combine([yes, no, no], "vote", 0.5)[0] == "incorrect"
    assert combine([yes, no, no], "mean", 0.4)[0] == "correct"  # mean 0.433


def test_synthetic_judge_has_its_configured_error_rates():
    problems, samples = frames(["x"] * 4000)
    truth = pl.DataFrame({"problem_id": ["p0"] * 4000, "sample_idx": list(range(4000)),
                          "correct": [i % 2 == 0 for i in range(4000)]})
    syn = SyntheticJudgeParams(tpr=0.8, fpr=0.3)
    p = VerifyParams(judge="synthetic", judge_settings=JudgeParams(synthetic=syn))
    out = judge_verdicts(problems, samples, p, truth=truth).join(truth, on=["problem_id", "sample_idx"])
    yes = out["verdict"].cast(pl.String) == "correct"
    tpr = yes.filter(out["correct"]).mean()
    fpr = yes.filter(~out["correct"]).mean()
    assert abs(tpr - 0.8) < 0.03 and abs(fpr - 0.3) < 0.03
    assert set(out["verifier"].to_list()) == {"judge:synthetic"}
    assert "offline stand-in" in out["detail"][0]


def test_judge_none_gives_no_rows():
    problems, samples = frames(["CAND-A"])
    assert judge_verdicts(problems, samples, VerifyParams()).height == 0


def score_responder(req: GenRequest) -> GenReply:
    if "CAND-A" in req.prompt:
        return GenReply(text="9")
    if "CAND-B" in req.prompt:
        return GenReply(text="2")
    return GenReply(text="quite good overall")


@pytest.mark.parametrize("chat", [True, False])
def test_score_mode_on_both_endpoints(tmp_path, chat):
    problems, samples = frames(["CAND-A", "CAND-B", "CAND-C"])
    with FakeServer(responder=score_responder) as server:
        out = judge_verdicts(problems, samples, params(server.url, mode="score", chat=chat),
                             cache_dir=tmp_path)
        paths = {path for path, _ in server.requests}
    assert paths == {"/v1/chat/completions" if chat else "/v1/completions"}
    assert out["verdict"].cast(pl.String).to_list() == ["correct", "incorrect", "judge_unparseable"]
    assert out["score"].to_list()[:2] == pytest.approx([8 / 9, 1 / 9])


def test_reference_is_shown_only_when_guided(tmp_path):
    problems, samples = frames(["CAND-A"])
    with FakeServer(responder=responder) as server:
        judge_verdicts(problems, samples, params(server.url), cache_dir=tmp_path)
        judge_verdicts(problems, samples, params(server.url, reference_guided=True), cache_dir=tmp_path)
        shown = ["Reference solution" in str(body) for _, body in server.requests]
    assert shown == [False, True]
