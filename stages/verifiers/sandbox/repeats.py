"""Repeats of a running program wait for its verdict instead of running again.

Sample pools repeat themselves: a synthetic or low-temperature pool holds the same few programs
many times (HumanEval 164 x 2,000 synthetic samples: 5,885 distinct programs up to formatting).
The verdict cache (:mod:`.cache`) answers a repeat only once the first run has finished, and the
executor's feeder runs far ahead of its workers, so before this every repeat missed the cache
and ran. With the cache on, a job whose key is already running is parked here and gets that
run's verdict, as a cache hit would (``cached`` is true). A run that lost its worker says
nothing about the program: its repeats run themselves.
"""

from __future__ import annotations

import threading
from dataclasses import replace

from stages.verifiers.base import ExecJob, ExecResult


class InFlight:
    """Jobs waiting for the verdict of a running job with the same cache key, for one ``run``.

    The feeder registers a key before it hands the job to a worker (:meth:`claim`) or parks a
    repeat under it; ``run`` settles the key when its result comes back (:meth:`settle`). Both
    under one lock, so a repeat is either parked before the settle or finds the verdict in the
    cache after it (it was written before the result was queued).
    """

    def __init__(self) -> None:
        self._waiting: dict[str, list[tuple]] = {}  # key -> the parked jobs' sample keys
        self._lock = threading.Lock()

    def claim(self, key: str, job: ExecJob) -> bool:
        """True: ``job`` runs under ``key``; False: it was parked behind the run of ``key``
        (only its sample key is kept: a million parked programs' texts would not fit)."""
        with self._lock:
            waiting = self._waiting.get(key)
            if waiting is None:
                self._waiting[key] = []
                return True
            waiting.append(job.key)
            return False

    def settle(self, key: str) -> list[tuple]:
        """The sample keys of the jobs parked behind ``key``, which is no longer running."""
        with self._lock:
            return self._waiting.pop(key, [])


def repeat_of(result: ExecResult, sample: tuple) -> ExecResult:
    """Sample ``sample``'s result from the run of an identical program (as a cache hit records it)."""
    return replace(result, key=sample, extra={"cached": True, "tests_run": result.extra.get("tests_run", 0)})
