"""Verification on a Dask cluster: the task runner, and the Prefect API its workers report to.

Why this module: a Dask worker that runs a Prefect task needs a Prefect API. Prefect hands a
task to a worker together with the flow's *settings context*, but when the flow runs on
Prefect's temporary ("ephemeral") server, that context holds no API URL, so every worker
started a temporary server of its own: it timed out on small machines, and where it started,
the task runs landed in each worker's private database instead of the flow's. Here the flow
pins its API URL into the settings context before it submits anything; the workers hydrate that
context and report to the flow's API, with no environment of their own beyond the installed
package.

The temporary server listens on 127.0.0.1, so that covers a cluster on the flow's machine (the
local ``dask scheduler`` + ``dask worker`` setup the tests use). Workers on other machines need a
Prefect server they can reach: set ``PREFECT_API_URL`` for the flow (``prefect server start``,
or Prefect Cloud), and it is passed on the same way (docs/cluster.md).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

DASK_ENV = "INFSCALE_DASK_ADDRESS"


def task_runner(address: str | None) -> Any:
    """``DaskTaskRunner`` on the scheduler at ``address``; else local threads."""
    if address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=address)
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner(max_workers=os.cpu_count() or 1)


@contextlib.contextmanager
def shared_prefect_api() -> Iterator[str]:
    """Inside this block the settings context names the API URL the flow itself talks to.

    With ``PREFECT_API_URL`` set that URL is already in the context. Otherwise the temporary
    server that Prefect started for this process (or starts now) is named explicitly, so that
    the context serialized to Dask workers carries it.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    url = PREFECT_API_URL.value()
    if url:
        yield url
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the per-process singleton that get_client() uses
    server.start()
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        yield server.api_url


def run_logger() -> Any:
    """The Prefect run logger inside a flow or task run (its lines reach the flow's API), else
    a plain logger: task functions are also called directly (``task.fn``) by tests and tools."""
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        import logging

        return logging.getLogger("flows.tasks")


def worker_name() -> str | None:
    """The name of the Dask worker running the caller, or None outside a Dask worker."""
    try:
        from distributed import get_worker

        return str(get_worker().name)
    except (ImportError, ValueError):
        return None
