"""The contract every generation backend meets, and the per-sample seed rule.

A backend turns problems into sample rows (schema ``stages.schemas.SAMPLES``). Backends are
imported lazily by name (``stages.backends.get_backend``) so that heavy or optional clients
never load unless chosen.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import polars as pl


def sample_seed(base_seed: int, problem_id: str, sample_idx: int) -> int:
    """A stable 63-bit seed for one sample, independent of run order and batching.

    Derived by hashing rather than by advancing one RNG so that a resumed run, a run with a
    different N, or a run over a subset of problems gives every (problem, sample) the same seed.
    """
    h = hashlib.blake2b(f"{base_seed}\x1f{problem_id}\x1f{sample_idx}".encode(), digest_size=8)
    return int.from_bytes(h.digest(), "big") >> 1


def sampling_json(**params: Any) -> str:
    """Sampling parameters as canonical JSON for the samples table."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


@runtime_checkable
class Backend(Protocol):
    """Generates N candidates per problem."""

    name: str

    def generate(
        self,
        problems: pl.DataFrame,
        n_samples: int,
        seed: int,
        skip: frozenset[tuple[str, int]] = frozenset(),
    ) -> Iterator[pl.DataFrame]:
        """Yield frames of sample rows covering every (problem_id, sample_idx < n_samples).

        Rows whose key is in ``skip`` (already made by an interrupted run) may be left out.
        Frames may come in any batching; a failed sample is a row with ``error`` set, never a gap.
        """
        ...
