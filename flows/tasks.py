"""One Prefect task per stage: read -> the stage's pure function -> validate -> write.

The business logic stays in ``stages.*`` (the functions DVC's entries call); a task only moves
tables between files in the run directory and the function, and checks the contract on the way
out. analyze and report, whose outputs keep growing (fits, strategies, more plots), run their
DVC entries themselves with the run directory as working directory, so the flow cannot drift
from ``dvc repro``. Tasks pass :class:`TableRef` (path + content hash) rather than frames: the cache key of a
task is then its inputs' *contents* plus the task's source (``TASK_SOURCE + INPUTS``), so a
re-run after a failure resumes from the last finished stage and never reuses a stale result.
Verification fans out: one task per chunk of problems, each a separate process-level job, so a
Dask cluster (``prefect_dask.DaskTaskRunner``) can spread it across machines. Chunk tasks read
the run directory by path, so remote Dask workers need it on a shared filesystem.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import yaml
from prefect import task
from prefect.cache_policies import INPUTS, TASK_SOURCE, CachePolicy

from flows.cluster import run_logger, worker_name
from stages.contracts import validate_table
from stages.datasets.mirror import DATASET_DIR, sha256_file
from stages.datasets.provenance import materialize
from stages.generate import generate
from stages.headline import read_details
from stages.io import read_table, write_table
from stages.params import AugmentParams, BaseParams, GenerateParams, PrepareParams, VerifyParams
from stages.prepare import prepare_problems
from stages.schemas import (
    PROBLEMS,
    SAMPLES,
    SYNTHETIC_TRUTH,
    TIMINGS,
    VERDICTS_SCHEMA,
    empty,
)
from stages.shards import ShardStore, run_key
from stages.verifiers import make_executor
from stages.verifiers.code_tests import applicable_verifiers
from stages.verify import verify


@dataclass
class RunDirToken(CachePolicy):
    """Part of the cache key: a random token kept in the run directory.

    Cached results point at files in the run directory; if that directory is deleted, a fresh
    token is made and every task runs again instead of returning references to missing files.
    """

    def compute_key(self, task_ctx: Any, inputs: dict[str, Any], flow_parameters: dict[str, Any],
                    **kwargs: Any) -> str | None:
        run_dir = inputs.get("run_dir")
        return run_token(run_dir) if run_dir else None


def run_token(run_dir: str | Path) -> str:
    path = Path(run_dir) / ".infscale-run-token"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(16))
    return path.read_text().strip()


PROJECT = Path(__file__).resolve().parents[1]
CACHE = TASK_SOURCE + INPUTS + RunDirToken()


@dataclass(frozen=True)
class TableRef:
    """A table on disk and the sha256 of its bytes (what cache keys and MLflow tags use)."""

    path: str
    sha256: str

    @classmethod
    def of(cls, path: str | Path) -> TableRef:
        return cls(str(path), sha256_file(Path(path)))


@dataclass(frozen=True)
class AnalyzeOutputs:
    counts: TableRef
    curve: TableRef
    metrics_path: str
    metrics: dict[str, Any]




class RunPaths:
    """Where one run's files live: the same relative layout as the DVC outputs."""

    def __init__(self, run_dir: str | Path) -> None:
        self.root = Path(run_dir)
        self.problems = self.root / "data/problems.parquet"
        self.samples = self.root / "data/samples.parquet"
        self.truth = self.root / "data/synthetic_truth.parquet"
        self.verdicts = self.root / "data/verdicts.parquet"
        self.timings = self.root / "data/timings.parquet"
        self.counts = self.root / "data/counts.parquet"
        self.curve = self.root / "data/curve.parquet"
        self.curve_csv = self.root / "metrics/curve.csv"
        self.metrics = self.root / "metrics/metrics.json"
        self.coverage_png = self.root / "plots/coverage.png"
        self.validation = self.root / "data/validation"


@task(cache_policy=CACHE, persist_result=True)
def prepare_task(base: BaseParams, params: PrepareParams, augment: AugmentParams,
                 run_dir: str) -> TableRef:
    paths = RunPaths(run_dir)
    # The dataset's bytes through DVC (at base.dataset_rev when set), under the run directory,
    # with their DVC md5 and commit recorded for the MLflow tags (stages/datasets/provenance.py).
    root = paths.root / DATASET_DIR
    materialize(base.dataset, root, base.dataset_rev)
    problems, _report = prepare_problems(base, params, augment, root)
    validate_table("problems", problems, out_dir=paths.validation)
    write_table(problems, paths.problems, PROBLEMS, "problems")
    return TableRef.of(paths.problems)


@task(cache_policy=CACHE, persist_result=True)
def generate_task(problems_ref: TableRef, base: BaseParams, params: GenerateParams, run_dir: str) -> TableRef:
    """Generation; the flow adds retries to this task only when the backend talks HTTP."""
    from stages.backends import get_backend

    paths = RunPaths(run_dir)
    problems = read_table(problems_ref.path, PROBLEMS, "problems")
    backend = get_backend(params.backend, params)
    # The same resumable shards as the DVC entry: a retried task asks only for missing samples.
    fingerprint = getattr(backend, "fingerprint", lambda: "")()
    store = ShardStore(paths.root / "data/shards" / run_key(params, base.seed, problems, fingerprint))
    samples = generate(problems, backend, params.n_samples, base.seed, store)
    validate_table("samples", samples, n_samples=params.n_samples, out_dir=paths.validation)
    write_table(samples, paths.samples, SAMPLES, "samples")
    truth_fn = getattr(backend, "truth", None)
    truth = truth_fn(problems, params.n_samples, base.seed) if truth_fn else empty(SYNTHETIC_TRUTH)
    write_table(truth, paths.truth, SYNTHETIC_TRUTH, "synthetic_truth")
    store.remove()
    return TableRef.of(paths.samples)


def problem_chunks(problems: pl.DataFrame, n_chunks: int) -> list[list[str]]:
    """Contiguous, near-equal chunks of problem ids (order kept; none empty)."""
    ids = problems["problem_id"].to_list()
    n = max(1, min(n_chunks, len(ids)))
    size, extra = divmod(len(ids), n)
    out, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        out.append(ids[start:end])
        start = end
    return [c for c in out if c]


def verifier_names(problems_ref: TableRef) -> list[str]:
    return applicable_verifiers(read_table(problems_ref.path, PROBLEMS, "problems"))


@task(cache_policy=CACHE, persist_result=True)
def verify_chunk_task(
    problems_ref: TableRef, samples_ref: TableRef, problem_ids: list[str], verifiers: list[str],
    params: VerifyParams, run_dir: str,
) -> tuple[TableRef, TableRef]:
    """Verdicts of one chunk of problems, with a one-worker executor (the fan-out is the chunks).

    Written to ``data/verify_chunks/`` so the merge is cached by content like every other step.
    """
    wanted = pl.col("problem_id").is_in(pl.Series(problem_ids, dtype=pl.String).implode())
    problems = read_table(problems_ref.path, PROBLEMS, "problems").filter(wanted)
    samples = read_table(samples_ref.path, SAMPLES, "samples").filter(wanted)
    one = params.model_copy(update={"workers": 1})
    with make_executor(one) as executor:
        verdicts, timings = verify(problems, samples, one, executor, verifiers=verifiers)
    name = hashlib.sha256("\n".join(problem_ids).encode()).hexdigest()[:16]
    where = worker_name()
    run_logger().info("verify chunk %s: %d problems, %d verdicts, on %s", name,
                          problems.height, verdicts.height,
                          f"dask worker {where}" if where else "the flow's process")
    out = RunPaths(run_dir).root / "data/verify_chunks"
    write_table(verdicts, out / f"{name}.verdicts.parquet", VERDICTS_SCHEMA, "verdicts")
    write_table(timings, out / f"{name}.timings.parquet", TIMINGS, "timings")
    return TableRef.of(out / f"{name}.verdicts.parquet"), TableRef.of(out / f"{name}.timings.parquet")


@task(cache_policy=CACHE, persist_result=True)
def merge_verdicts_task(chunks: list[tuple[TableRef, TableRef]], run_dir: str, n_samples: int) -> TableRef:
    paths = RunPaths(run_dir)
    order = ["problem_id", "sample_idx", "verifier"]
    verdicts = pl.concat([read_table(v.path, VERDICTS_SCHEMA, "verdicts") for v, _ in chunks]
                         or [empty(VERDICTS_SCHEMA)]).sort(order)
    timings = pl.concat([read_table(t.path, TIMINGS, "timings") for _, t in chunks] or [empty(TIMINGS)]).sort(order)
    validate_table("verdicts", verdicts, n_samples=n_samples, out_dir=paths.validation)
    write_table(verdicts, paths.verdicts, VERDICTS_SCHEMA, "verdicts")
    write_table(timings, paths.timings, TIMINGS, "timings")
    return TableRef.of(paths.verdicts)


def write_run_params(run_dir: str | Path, raw_params: dict[str, Any]) -> TableRef:
    """The run's effective params.yaml, in the run directory: what the stage entries read there."""
    path = Path(run_dir) / "params.yaml"
    text = yaml.safe_dump(raw_params, sort_keys=False, allow_unicode=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return TableRef.of(path)


class StageError(RuntimeError):
    """A stage entry run by a task failed; the message carries its error line."""


def run_stage_entry(stage: str, run_dir: str) -> None:
    """Run ``python -m stages.<stage>`` with the run directory as its working directory.

    analyze and report run through their DVC entries, whose relative paths (data/, metrics/,
    plots/) then land in the run directory: the flow cannot drift from ``dvc repro`` however
    those stages grow (more tables, more plots), and their contracts run as in DVC.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-m", f"stages.{stage}"], cwd=run_dir, env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        raise StageError(f"stage {stage} failed in {run_dir}: {tail}")
    if proc.stdout.strip():
        print(proc.stdout.strip())


@task(cache_policy=CACHE, persist_result=True)
def analyze_task(verdicts_ref: TableRef, samples_ref: TableRef, params_ref: TableRef, run_dir: str) -> AnalyzeOutputs:
    """The analyze entry on the run directory (it validates counts, curve and metrics itself)."""
    paths = RunPaths(run_dir)
    run_stage_entry("analyze", run_dir)
    metrics = read_details(paths.metrics)  # the full metrics (metrics.json is the headline)
    return AnalyzeOutputs(TableRef.of(paths.counts), TableRef.of(paths.curve), str(paths.metrics), metrics)


@task(cache_policy=CACHE, persist_result=True)
def report_task(analysis: AnalyzeOutputs, run_dir: str) -> str:
    run_stage_entry("report", run_dir)
    return str(RunPaths(run_dir).coverage_png)


def default_chunks(params: VerifyParams) -> int:
    """Four chunks per worker: small enough to balance uneven problems, few enough to be cheap."""
    return 4 * (params.workers or os.cpu_count() or 1)
