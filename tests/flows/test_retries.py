"""Which generation failures the evaluate flow retries (a server, yes; a misconfiguration, no)."""

from __future__ import annotations

from prefect.states import Failed

from flows.evaluate import transient_failure
from stages.backends.http_client import ServerGone
from stages.errors import InputError


def test_a_wrong_model_name_is_not_retried() -> None:
    state = Failed(data=InputError("the server serves 'a', but generate.model is 'b'"))
    assert transient_failure(None, None, state) is False


def test_a_server_that_is_down_is_retried() -> None:
    assert transient_failure(None, None, Failed(data=ServerGone("32 requests in a row failed")))
