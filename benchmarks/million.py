"""A large run through every stage, with each stage's wall time and peak memory (issue 16).

Default workload: GSM8K's 1,319 problems x 800 samples (1,055,200 samples) from the
``synthetic`` backend (an offline stand-in policy, NOT a model: its math answers are drawn, not
generated), verified by ``math_answer``; ``--dataset humaneval --samples 2000`` runs 164 x 2,000
code samples through both code verifiers. The stages run as DVC runs them (each ``cmd`` of
``dvc.yaml`` in order, ``track`` left out), in a copy of the project so nothing here is touched.

Memory is the peak, sampled every 0.1 s, of the summed resident set of the stage's whole process
tree (the stage and every worker it starts), so a stage that fans out is charged for all of it;
``harness_peak_rss_mib`` is the same without the candidates' own job processes in the sandbox
(a candidate may hold up to ``verify.memory_mb``, 2 GiB by default, per worker: that is the
program under test, not the pipeline).

    python benchmarks/million.py                      # needs INFSCALE_DATA_MIRROR for gsm8k
    python benchmarks/million.py --dataset humaneval --samples 2000

Prints one line per stage, ``stage=<name> wall_s=<x> peak_rss_mib=<y> harness_peak_rss_mib=<z>``,
then ``samples=<n>``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
SKIP = {".git", ".venv", ".cache", ".prefect", "data", "metrics", "plots", "runs", "mlflow.db",
        "mlruns", "logs", "__pycache__", ".dvc/cache", ".dvc/tmp"}


def copy_project(dst: Path) -> None:
    """The project's files (code, params, dvc.yaml), none of its outputs."""
    def ignore(folder: str, names: list[str]) -> set[str]:
        rel = Path(folder).relative_to(ROOT)
        return {n for n in names if n in SKIP or str(rel / n) in SKIP}

    shutil.copytree(ROOT, dst, ignore=ignore)
    (dst / "data").mkdir(exist_ok=True)
    for keep in (ROOT / "data").glob("*.dvc"):
        shutil.copy2(keep, dst / "data" / keep.name)
    if (ROOT / "data/.gitignore").exists():
        shutil.copy2(ROOT / "data/.gitignore", dst / "data/.gitignore")


def tree_rss(proc: psutil.Process) -> tuple[int, int]:
    """(the summed RSS of the whole tree, of the candidates' own job processes among it).

    A job process is a fork of a sandbox fork server (its parent's argv names the executor's
    ``infscale-sandbox-`` label, and it has the same argv): the candidate program's memory,
    which the sandbox holds to ``verify.memory_mb`` per job, not the harness's."""
    total = jobs = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            rss = p.memory_info().rss
            parent = p.parent()
            argv = parent.cmdline() if parent is not None else []
            if any(a.startswith("infscale-sandbox-") for a in argv) and p.cmdline() == argv:
                jobs += rss
            total += rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total, jobs


def run_stage(cmd: str, cwd: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """(wall seconds, peak MiB of the process tree's summed RSS, peak MiB of that tree without
    the candidates' job processes: the harness's own) of one stage command."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, shell=True, cwd=cwd, env=env)
    ps, peak, harness = psutil.Process(proc.pid), 0, 0
    while proc.poll() is None:
        try:
            total, jobs = tree_rss(ps)
        except psutil.NoSuchProcess:
            break
        peak, harness = max(peak, total), max(harness, total - jobs)
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"stage command failed ({proc.returncode}): {cmd}")
    return wall, peak / 2**20, harness / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="gsm8k")
    ap.add_argument("--samples", type=int, default=800, help="samples per problem")
    ap.add_argument("--limit", type=int, default=None, help="first N problems only")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--workdir", default=None, help="default: a temporary directory")
    args = ap.parse_args()

    work = Path(args.workdir or tempfile.mkdtemp(prefix="infscale-million-"))
    if work.exists() and any(work.iterdir()):
        raise SystemExit(f"{work} is not empty")
    copy_project(work / "project")
    proj = work / "project"
    params = yaml.safe_load((proj / "params.yaml").read_text())
    params["base"]["dataset"] = args.dataset
    params["prepare"]["limit"] = args.limit
    params["generate"].update(backend="synthetic", n_samples=args.samples)
    params["analyze"]["bootstrap"] = args.bootstrap
    params["track"]["mlflow"] = False
    (proj / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    stages = yaml.safe_load((proj / "dvc.yaml").read_text())["stages"]
    env = {**os.environ, "PYTHONPATH": str(proj), "INFSCALE_PROGRESS": "0"}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    print(f"workload: {args.dataset} x {args.samples} samples per problem, synthetic backend "
          f"(an offline stand-in, NOT a model); bootstrap {args.bootstrap}; {os.cpu_count()} cores; "
          f"work dir {proj}", flush=True)
    for name, stage in stages.items():
        if name == "track":
            continue
        wall, peak, harness = run_stage(stage["cmd"], proj, env)
        print(f"stage={name} wall_s={wall:.1f} peak_rss_mib={peak:.0f} "
              f"harness_peak_rss_mib={harness:.0f}", flush=True)
    n = pl.scan_parquet(proj / "data/samples.parquet").select(pl.len()).collect().item()
    print(f"samples={n}")


if __name__ == "__main__":
    main()
