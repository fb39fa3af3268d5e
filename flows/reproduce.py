"""``infscale reproduce <mlflow-run-id>``: re-run a tracked run through DVC and compare.

Restores the run's params (its ``params.yaml`` artifact) into the project, checks that the git
commit and the dataset content hash match the run's tags (a mismatch stops, unless ``--force``:
then the comparison is of a *different* setup and says so), runs ``dvc repro`` and prints the
run's metrics and the new ones side by side. The current ``params.yaml`` is kept as
``params.yaml.before-reproduce`` when it differs.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import yaml

from flows.tracking import client, flatten_metrics, git_commit
from stages.io import read_json


def dvc_repro(project: Path) -> int:
    return subprocess.call([sys.executable, "-m", "dvc", "repro"], cwd=project)


def current_dataset_hash(dataset: str) -> str:
    from stages.datasets import load_dataset

    return ",".join(sorted(load_dataset(dataset)["dataset_hash"].unique().to_list()))


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


def reproduce(
    run_id: str, project: Path | None = None, force: bool = False,
    runner: Callable[[Path], int] = dvc_repro, dataset_hash: Callable[[str], str] = current_dataset_hash,
) -> int:
    """Exit code: 0 reproduced (metrics printed), 3 a provenance check failed, else the runner's."""
    project = (project or Path.cwd()).resolve()
    mc = client(project)
    run = mc.get_run(run_id)
    tags = run.data.tags
    with tempfile.TemporaryDirectory() as tmp:
        params_text = Path(mc.download_artifacts(run_id, "params.yaml", tmp)).read_text(encoding="utf-8")
    raw = yaml.safe_load(params_text)
    problems = []
    commit, dirty = git_commit(project)
    if tags.get("infscale.git_commit") != commit:
        problems.append(f"git commit: run {tags.get('infscale.git_commit')}, here {commit}")
    if dirty:
        print("reproduce: warning: the work tree has uncommitted changes", file=sys.stderr)
    want, have = tags.get("infscale.dataset_hash", ""), dataset_hash(raw.get("base", {}).get("dataset", "humaneval"))
    if want != have:
        problems.append(f"dataset hash: run {want[:16]}..., here {have[:16]}...")
    for p in problems:
        print(f"reproduce: mismatch: {p}", file=sys.stderr)
    if problems and not force:
        print("reproduce: stopping (use --force to re-run anyway)", file=sys.stderr)
        return 3
    params = project / "params.yaml"
    if params.exists() and params.read_text(encoding="utf-8") != params_text:
        params.replace(project / "params.yaml.before-reproduce")
        print("reproduce: current params.yaml kept as params.yaml.before-reproduce")
    params.write_text(params_text, encoding="utf-8")
    print(f"reproduce: params of run {run_id} ('{run.info.run_name}') restored; running dvc repro")
    rc = runner(project)
    if rc != 0:
        return rc
    new = flatten_metrics(read_json(project / "metrics/metrics.json"))
    old = {k: v for k, v in run.data.metrics.items() if k in new}
    print(side_by_side(old, new))
    if problems:
        print("reproduce: NOTE: provenance differed (see above); this is not a strict reproduction")
    return 0
