"""``infscale reproduce <mlflow-run-id>``: re-compute a tracked run through DVC and compare.

1. Checks provenance: the git commit and the dataset content hash of the run's tags (a mismatch
   stops, unless ``--force``: then the comparison is of a *different* setup and says so).
2. Restores the run's ``params.yaml`` (and its ``dvc.lock`` when the run logged one). A file it
   replaces is first saved as ``<name>.before-reproduce.<N>``, N the first free number: a
   saved file is never overwritten.
3. Restores the outputs of the stages before the first one to re-run (default ``verify``:
   recorded samples are re-verified and re-analysed; ``--regenerate``: ``generate``, sampling
   again) with ``dvc pull <stage>``: from the local cache, else the DVC remote, so reproducing a
   GPU run needs no GPU. If such a stage's outputs cannot be restored or no longer match its
   inputs (``dvc status``), re-running starts there instead, and it says so.
4. Runs ``dvc repro --force --downstream <first>``: DVC's run cache is bypassed, so every stage
   from there on really re-computes. It prints which stages ran and which were restored, then
   the run's metrics and the new ones side by side.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml

from flows.tracking import client, git_commit, tracked_metrics
from stages.headline import read_details

GENERATE = "generate"  # the stage that samples a model: re-run only with --regenerate
DEFAULT_FIRST = "verify"  # re-verify and re-analyse the recorded samples


class Dvc(Protocol):
    """The DVC commands reproduce needs (a stand-in in tests)."""

    def pull(self, stages: Sequence[str]) -> bool: ...
    def clean(self, stage: str) -> bool: ...
    def repro_from(self, stage: str) -> int: ...


@dataclass
class DvcCli:
    """:class:`Dvc` through ``python -m dvc`` in the project."""

    project: Path

    def _run(self, *args: str, quiet: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=self.project, text=True,
                              capture_output=quiet, check=False)

    def pull(self, stages: Sequence[str]) -> bool:
        return not stages or self._run("pull", *stages).returncode == 0

    def clean(self, stage: str) -> bool:
        proc = self._run("status", "--json", stage, quiet=True)
        try:
            return proc.returncode == 0 and not json.loads(proc.stdout or "{}")
        except json.JSONDecodeError:
            return False

    def repro_from(self, stage: str) -> int:
        return self._run("repro", "--force", "--downstream", stage).returncode


def pipeline(project: Path) -> tuple[list[str], dict[str, set[str]]]:
    """The stages of ``dvc.yaml`` in file order and, for each, the stages it reads from."""
    spec = yaml.safe_load((project / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    produced: dict[str, str] = {}
    for name, st in spec.items():
        for key in ("outs", "metrics", "plots"):
            for out in st.get(key, []):
                produced[next(iter(out)) if isinstance(out, dict) else out] = name
    upstream = {name: {produced[d] for d in st.get("deps", [])
                       if d in produced and produced[d] != name} for name, st in spec.items()}
    return list(spec), upstream


def downstream_of(first: str, order: list[str], upstream: dict[str, set[str]]) -> list[str]:
    """``first`` and every stage that reads from it, directly or not, in pipeline order."""
    hit = {first}
    for name in order:
        if upstream[name] & hit:
            hit.add(name)
    return [n for n in order if n in hit]


def backup(path: Path) -> Path | None:
    """Copy ``path`` to the first free ``<name>.before-reproduce.<N>``; None if it is absent."""
    if not path.exists():
        return None
    n = 1
    while (saved := path.with_name(f"{path.name}.before-reproduce.{n}")).exists():
        n += 1
    saved.write_bytes(path.read_bytes())
    return saved


def restore(path: Path, text: str) -> None:
    """Write the run's ``text`` to ``path``, saving a different current file first. A YAML file
    that already holds the run's values is left as it is: the run logs its params as a plain
    dump, and rewriting an equal ``params.yaml`` would only strip its comments."""
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    if path.exists() and path.suffix in (".yaml", ".yml") and _same_yaml(path.read_text(encoding="utf-8"), text):
        print(f"reproduce: {path.name} already holds the run's values: kept as it is")
        return
    saved = backup(path)
    if saved is not None:
        print(f"reproduce: current {path.name} kept as {saved.name}")
    path.write_text(text, encoding="utf-8")


def _same_yaml(a: str, b: str) -> bool:
    try:
        return yaml.safe_load(a) == yaml.safe_load(b)
    except yaml.YAMLError:
        return False


def current_dataset_hash(dataset: str, project: Path) -> str:
    """The content hash the problems table gets from the project's dataset (no full load)."""
    from stages.datasets.provenance import dataset_hash

    return dataset_hash(dataset, project)


def side_by_side(old: dict[str, float], new: dict[str, float]) -> str:
    names = sorted(set(old) | set(new))
    width = max([len(n) for n in names] + [6])
    lines = [f"{'metric':<{width}}  {'run':>10}  {'reproduced':>10}  {'diff':>10}"]
    for n in names:
        a, b = old.get(n), new.get(n)
        diff = f"{b - a:+.6f}" if a is not None and b is not None else ""
        fmt = lambda v: "-" if v is None else f"{v:.6f}"
        lines.append(f"{n:<{width}}  {fmt(a):>10}  {fmt(b):>10}  {diff:>10}")
    return "\n".join(lines)


def _artifact(mc, run_id: str, name: str) -> str | None:
    with tempfile.TemporaryDirectory() as tmp:
        try:
            return Path(mc.download_artifacts(run_id, name, tmp)).read_text(encoding="utf-8")
        except Exception:  # noqa: BLE001 - MLflow raises several kinds for a missing artifact
            return None


def plan(order: list[str], upstream: dict[str, set[str]], first: str, dvc: Dvc) -> tuple[list[str], list[str]]:
    """(stages restored, stages to re-run): restore those before ``first``; start earlier at
    the first of them that cannot be restored or whose outputs no longer match its inputs."""
    before = order[:order.index(first)]
    pulled = dvc.pull(before)
    start = next((s for s in before if not dvc.clean(s)), first)
    if start != first:
        why = "could not be fetched" if not pulled else "does not match its inputs"
        print(f"reproduce: stage '{start}' {why} (dvc pull / dvc status): re-running from it")
    rerun = downstream_of(start, order, upstream)
    return [s for s in order if s not in rerun], rerun


def reproduce(
    run_id: str, project: Path | None = None, force: bool = False, regenerate: bool = False,
    dvc: Dvc | None = None,
) -> int:
    """Exit code: 0 reproduced (metrics printed), 3 a provenance check failed, 4 the samples are
    not available and ``regenerate`` is off, else DVC's."""
    project = (project or Path.cwd()).resolve()
    dvc = dvc or DvcCli(project)
    mc = client(project)
    run = mc.get_run(run_id)
    tags = run.data.tags
    params_text = _artifact(mc, run_id, "params.yaml")
    if params_text is None:
        print(f"reproduce: run {run_id} has no params.yaml artifact", file=sys.stderr)
        return 3
    raw = yaml.safe_load(params_text)
    problems = []
    commit, dirty = git_commit(project)
    if tags.get("infscale.git_commit") != commit:
        problems.append(f"git commit: run {tags.get('infscale.git_commit')}, here {commit}")
    if dirty:
        print("reproduce: warning: the work tree has uncommitted changes", file=sys.stderr)
    for p in problems:
        print(f"reproduce: mismatch: {p}", file=sys.stderr)
    if problems and not force:
        print("reproduce: stopping (use --force to re-run anyway)", file=sys.stderr)
        return 3
    restore(project / "params.yaml", params_text)
    lock_text = _artifact(mc, run_id, "dvc.lock")
    if lock_text is not None:
        restore(project / "dvc.lock", lock_text)
    print(f"reproduce: params{' and dvc.lock' if lock_text else ''} of run {run_id} "
          f"('{run.info.run_name}') restored")

    order, upstream = pipeline(project)
    first = GENERATE if regenerate else DEFAULT_FIRST
    restored, rerun = plan(order, upstream, first, dvc)
    if GENERATE in rerun and not regenerate:
        print("reproduce: the run's samples are neither in the DVC cache nor in the remote "
              "(`dvc pull generate` failed); use --regenerate to sample again", file=sys.stderr)
        return 4
    want = tags.get("infscale.dataset_hash", "")
    have = current_dataset_hash(raw.get("base", {}).get("dataset", "humaneval"), project)
    if want != have:
        problems.append(f"dataset hash: run {want[:16]}..., here {have[:16]}...")
        print(f"reproduce: mismatch: {problems[-1]}", file=sys.stderr)
        if not force:
            print("reproduce: stopping (use --force to re-run anyway)", file=sys.stderr)
            return 3
    print(f"reproduce: restored by DVC: {', '.join(restored) or '-'}")
    print(f"reproduce: re-running (dvc repro --force --downstream {rerun[0]}): {', '.join(rerun)}")
    rc = dvc.repro_from(rerun[0])
    if rc != 0:
        return rc
    new = tracked_metrics(read_details(project / "metrics/metrics.json"))  # as the run logged them
    old = {k: v for k, v in run.data.metrics.items() if k in new}
    print(side_by_side(old, new))
    if problems:
        print("reproduce: NOTE: provenance differed (see above); this is not a strict reproduction")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m flows.reproduce RUN_ID [--force] [--regenerate]`` (also ``infscale reproduce``)."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m flows.reproduce", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_id", help="MLflow run id")
    ap.add_argument("--force", action="store_true", help="re-run even if commit or dataset differ")
    ap.add_argument("--regenerate", action="store_true", help="sample again instead of re-verifying")
    args = ap.parse_args(argv)
    return reproduce(args.run_id, force=args.force, regenerate=args.regenerate)


if __name__ == "__main__":
    raise SystemExit(main())
