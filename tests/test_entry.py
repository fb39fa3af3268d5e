"""Stage entries: one line and exit 2 for bad input, the full traceback for a bug (issue 17)."""

from __future__ import annotations

import pytest

from stages.contracts import ContractError
from stages.entry import run_entry
from stages.errors import InputError, MissingInputError
from stages.io import read_table
from stages.params import ParamsError
from stages.schemas import PROBLEMS, SchemaError


@pytest.mark.parametrize("error", [ParamsError, SchemaError, ContractError, InputError, MissingInputError])
def test_input_errors_are_one_line_and_exit_2(error: type[Exception], capsys: pytest.CaptureFixture[str]) -> None:
    def body() -> None:
        raise error("params.yaml: unknown key 'generate.n_sample'")

    with pytest.raises(SystemExit) as info:
        run_entry("verify", body)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err == "infscale verify: error: params.yaml: unknown key 'generate.n_sample'\n"


def test_a_value_error_from_a_bug_keeps_its_traceback() -> None:
    def body() -> None:
        raise ValueError("math domain error")  # e.g. a bug in a statistic, not the user's fault

    with pytest.raises(ValueError, match="math domain error"):
        run_entry("analyze", body)


def test_a_missing_input_is_an_input_error(tmp_path) -> None:
    with pytest.raises(MissingInputError, match="problems.parquet: input file not found"):
        read_table(tmp_path / "problems.parquet", PROBLEMS, "problems")
    assert issubclass(MissingInputError, FileNotFoundError) and issubclass(InputError, ValueError)
