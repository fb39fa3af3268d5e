"""Append-only sample shards, so that a generate run killed at 80% resumes instead of restarting.

Samples are written as they arrive to ``<root>/<run key>/part-NNNNNN.parquet``. Each part is
written whole to a temporary file, fsync'd, renamed into place and the directory fsync'd, so a
part on disk is always complete: a SIGKILL can lose only the replies still in memory (at most
``flush_s`` seconds or ``flush_rows`` rows), which the resumed run asks for again. A resumed run
passes the keys already on disk to the backend as ``skip``; with fixed seeds the regenerated
samples equal the lost ones, so the final table (merged, keyed, sorted) equals that of an
uninterrupted run.

Error rows (a sample that failed after all retries) are kept in the shards but are not in
``done()``: a resumed run tries them again and the newer row wins in :meth:`ShardStore.merged`.

The run key is a hash of everything that changes what a sample is (backend, model, sampling
settings, prompts, seed, the problems' prompts and program prefixes, a replay file's content)
and of nothing that only changes how fast samples arrive (URL, concurrency, retries, timeouts,
launch flags, ``n_samples``: sample i of a problem is the same whatever N), so stale shards are
never mixed in.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from stages.schemas import SAMPLES, conform

if TYPE_CHECKING:
    from collections.abc import Callable

    from stages.backends.base import Backend

KEY = ["problem_id", "sample_idx"]

# Settings of the server sub-sections that never change a sample's content.
OPERATIONAL = frozenset(
    {
        "url",
        "concurrency",
        "max_retries",
        "backoff_s",
        "backoff_max_s",
        "timeout_s",
        "launch",
        "model_path",
        "tp",
        "dp",
        "deterministic",
        "extra_args",
        "launch_timeout_s",
        "log_path",
        "api_key_env",
        "give_up_after",
    }
)


def run_key(generate: Any, seed: int, problems: pl.DataFrame, fingerprint: str = "") -> str:
    """A short hash naming the shards of one run configuration (see module docstring)."""
    params = generate.model_dump(mode="json")
    backend = params["backend"]
    section = dict(params.get(backend) or {})
    for name in OPERATIONAL:
        section.pop(name, None)
    if backend == "sglang":
        section.pop("batch_size", None)  # every sample carries its own seed: batching is moot
    relevant = {
        k: v
        for k, v in params.items()
        if k not in ("n_samples", "synthetic", "sglang", "openai", "replay", "prompts", "prompts_file")
    }
    relevant[backend] = section
    if backend in ("sglang", "openai"):
        relevant["prompts"] = params.get("prompts")
    h = hashlib.sha256()
    h.update(
        json.dumps(
            {"generate": relevant, "seed": seed, "fingerprint": fingerprint}, sort_keys=True
        ).encode()
    )
    cols = [c for c in ("problem_id", "kind", "prompt", "program_prefix") if c in problems.columns]
    for row in problems.select(cols).iter_rows():
        h.update(json.dumps(row).encode())
    return h.hexdigest()[:16]


class ShardStore:
    """The parts of one run key; one writer at a time."""

    def __init__(self, directory: str | Path, flush_rows: int = 4096, flush_s: float = 2.0) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        for stale in self.dir.glob(".part-*.tmp"):  # a write cut short by a kill: never renamed
            stale.unlink(missing_ok=True)
        self.flush_rows, self.flush_s = flush_rows, flush_s
        self._buffer: list[pl.DataFrame] = []
        self._buffered = 0
        self._last = time.monotonic()
        self._seq = max((int(p.stem.split("-")[1]) for p in self.parts()), default=-1) + 1

    def parts(self) -> list[Path]:
        return sorted(self.dir.glob("part-*.parquet"))

    def read(self) -> pl.DataFrame:
        """Every row of every part, in write order."""
        frames = []
        for part in self.parts():
            try:
                frames.append(conform(pl.read_parquet(part), SAMPLES, "samples"))
            except Exception as exc:  # a part is complete by construction; say which one is not
                raise ValueError(
                    f"{part}: unreadable sample shard ({exc}); delete it to regenerate its samples"
                ) from None
        return pl.concat(frames) if frames else pl.DataFrame(schema=SAMPLES)

    def merged(self) -> pl.DataFrame:
        """One row per key (the latest written), sorted by key."""
        rows = self.read()
        return rows.unique(subset=KEY, keep="last", maintain_order=True).sort(KEY)

    def done(self) -> frozenset[tuple[str, int]]:
        """Keys with a successful sample on disk (error rows are retried on resume)."""
        ok = self.read().filter(pl.col("error").is_null()).select(KEY)
        return frozenset(ok.iter_rows())

    def append(self, frame: pl.DataFrame) -> None:
        if frame.height:
            self._buffer.append(frame)
            self._buffered += frame.height
        if self._buffered >= self.flush_rows or time.monotonic() - self._last >= self.flush_s:
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows as one durable part."""
        self._last = time.monotonic()
        if not self._buffer:
            return
        frame = conform(pl.concat(self._buffer), SAMPLES, "samples")
        buf = io.BytesIO()
        frame.write_parquet(buf, compression="zstd", compression_level=1)
        name = f"part-{self._seq:06d}.parquet"
        tmp = self.dir / f".{name}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(buf.getvalue())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.dir / name)
        _fsync_dir(self.dir)
        self._seq += 1
        self._buffer, self._buffered = [], 0

    def remove(self) -> None:
        """Delete the shards (after the final table has been written)."""
        shutil.rmtree(self.dir, ignore_errors=True)


def fill(
    store: ShardStore,
    backend: Backend,
    problems: pl.DataFrame,
    n_samples: int,
    seed: int,
    advance: Callable[[int], None] = lambda n: None,
) -> pl.DataFrame:
    """Generate what ``store`` lacks, appending replies as they arrive; return the full table.

    Keys already on disk are passed to the backend as ``skip``; rows a backend sends anyway
    for such keys are dropped, so nothing is duplicated. Whatever arrived is flushed also when
    the run fails, so a crash (short of SIGKILL) loses no reply at all.
    """
    wanted = problems.select("problem_id").join(
        pl.DataFrame({"sample_idx": range(n_samples)}, schema={"sample_idx": pl.Int64}), how="cross"
    )
    done = store.done()
    done_frame = pl.DataFrame(
        list(done), schema={"problem_id": pl.String, "sample_idx": pl.Int64}, orient="row"
    ).join(wanted, on=KEY, how="semi")
    advance(done_frame.height)
    stream = backend.generate(problems, n_samples, seed, skip=frozenset(done_frame.iter_rows()))
    try:
        for part in stream:
            part = conform(part, SAMPLES, "samples").join(done_frame, on=KEY, how="anti")
            store.append(part)
            advance(part.height)
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # stops a launched server and cancels requests still in flight
        store.flush()
    return store.merged().join(wanted, on=KEY, how="semi").sort(KEY)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
