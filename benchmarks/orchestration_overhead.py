"""Wall time that Prefect, MLflow and Great Expectations add to a run, against the stages run bare.

Anchor (same script, same shape): the five stage functions called directly, in one process,
writing parquet into a temp dir. Then, in the same process, the Great Expectations contracts of
every table (first call includes importing GE), and MLflow logging of the run (first into a new
sqlite store, which creates its tables, then a second run into the same store). Finally the
whole ``evaluate`` flow (Prefect + GE + MLflow) in a fresh Python process, Prefect's temporary
server included, exactly as ``python -m flows.evaluate`` runs. Verification caching is off in
both so that both verify every sample.

    python benchmarks/orchestration_overhead.py [--limit 40] [--n 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def bare_and_components(overrides: dict, tmp: Path) -> dict[str, float]:
    from flows.config import load_config, load_raw

    cfg = load_config(ROOT / "params.yaml", overrides)
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    from stages.analyze import analyze_all
    from stages.backends import get_backend
    from stages.datasets import load_dataset
    from stages.generate import generate
    from stages.io import write_json, write_table
    from stages.prepare import prepare
    from stages.report import figures, save
    from stages.schemas import COUNTS, CURVE, PROBLEMS, SAMPLES, VERDICTS_SCHEMA
    from stages.verifiers import make_executor
    from stages.verify import verify

    run = tmp / "bare"
    problems = prepare(load_dataset(cfg.base.dataset), cfg.prepare.limit)
    write_table(problems, run / "data/problems.parquet", PROBLEMS, "problems")
    samples = generate(problems, get_backend(cfg.generate.backend, cfg.generate), cfg.generate.n_samples, cfg.base.seed)
    write_table(samples, run / "data/samples.parquet", SAMPLES, "samples")
    t_v = time.perf_counter()
    verdicts, _ = verify(problems, samples, cfg.verify, make_executor(cfg.verify))
    times["verify_only_s"] = time.perf_counter() - t_v
    times["verifiers"] = float(verdicts["verifier"].n_unique())
    write_table(verdicts, run / "data/verdicts.parquet", VERDICTS_SCHEMA, "verdicts")
    result = analyze_all(verdicts, cfg.analyze, cfg.base.seed, samples)
    counts, curve_df, metrics = result.tables["counts"], result.tables["curve"], result.metrics
    write_table(counts, run / "data/counts.parquet", COUNTS, "counts")
    write_table(curve_df, run / "data/curve.parquet", CURVE, "curve")
    write_json(metrics, run / "metrics/metrics.json")
    for name, fig in figures(result.tables, metrics).items():
        save(fig, run / f"plots/{name}.png")
    times["bare_stages_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    from stages.contracts import validate_metrics, validate_table

    times["ge_import_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    validate_table("problems", problems, out_dir=run / "data/validation")
    validate_table("samples", samples, n_samples=cfg.generate.n_samples, out_dir=run / "data/validation")
    validate_table("verdicts", verdicts, n_samples=cfg.generate.n_samples, out_dir=run / "data/validation")
    validate_table("counts", counts, out_dir=run / "data/validation")
    validate_table("curve", curve_df, out_dir=run / "data/validation")
    validate_metrics(metrics, out_dir=run / "data/validation")
    times["ge_validate_all_tables_s"] = time.perf_counter() - t0

    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp / 'bench-mlflow.db'}"
    from flows.tracking import log_record, record_from_files

    t0 = time.perf_counter()
    record = record_from_files(raw_params=load_raw(ROOT / "params.yaml", overrides), root=run, source="bench")
    log_record(record, "bench", project_dir=tmp)
    times["mlflow_first_run_new_store_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    log_record(record, "bench", project_dir=tmp)
    times["mlflow_second_run_s"] = time.perf_counter() - t0
    return times


def flow_subprocess(overrides: dict, tmp: Path) -> float:
    args = [sys.executable, "-m", "flows.evaluate", "--run-dir", str(tmp / "flow")]
    for k, v in overrides.items():
        args += ["--set", f"{k}={v}"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'flow-mlflow.db'}",
           "PREFECT_HOME": str(tmp / "prefect-home"), "INFSCALE_PROGRESS": "0"}
    t0 = time.perf_counter()
    subprocess.run(args, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def bare_subprocess_startup() -> float:
    """Python start + importing the stages: what a bare `python -m` run also pays."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import stages.verify, stages.analyze, stages.generate"],
                   cwd=ROOT, check=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=40, help="problems (HumanEval's first N)")
    ap.add_argument("--n", type=int, default=20, help="samples per problem")
    args = ap.parse_args()
    for key, value in {"DO_NOT_TRACK": "true", "MLFLOW_DISABLE_TELEMETRY": "true", "GX_ANALYTICS_ENABLED": "false",
                       "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "INFSCALE_PROGRESS": "0",
                       "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120"}.items():
        os.environ.setdefault(key, value)
    overrides = {"prepare.limit": args.limit, "generate.n_samples": args.n, "verify.cache": False}
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        startup = bare_subprocess_startup()
        times = bare_and_components(overrides, tmp)
        times["flow_total_prefect_ge_mlflow_s"] = flow_subprocess(overrides, tmp)
    bare = times["bare_stages_s"] + startup
    ge = times["ge_import_s"] + times["ge_validate_all_tables_s"]
    mlf = times["mlflow_first_run_new_store_s"]
    flow = times["flow_total_prefect_ge_mlflow_s"]
    print(f"shape: HumanEval first {args.limit} problems x N={args.n} = {args.limit * args.n} samples, "
          f"synthetic backend, {int(times['verifiers'])} verifier(s); {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
    print(f"bare stages (anchor, incl. {startup:.1f}s python start + imports): {bare:8.1f} s   1.00x")
    print(f"  of which verify:                              {times['verify_only_s']:8.1f} s")
    print(f"+ GE contracts, 6 tables (import {times['ge_import_s']:.1f}s):       {ge:8.1f} s   {ge / bare:.2f}x of anchor")
    print(f"+ MLflow, first run into a new sqlite store:     {mlf:8.1f} s   {mlf / bare:.2f}x")
    print(f"  MLflow, a further run into the same store:     {times['mlflow_second_run_s']:8.1f} s   "
          f"{times['mlflow_second_run_s'] / bare:.2f}x")
    print(f"whole evaluate flow (Prefect temp server + GE + MLflow), fresh process: {flow:.1f} s   {flow / bare:.2f}x")
    print(f"  => Prefect's share (flow - bare - GE - MLflow first run): {flow - bare - ge - mlf:.1f} s")


if __name__ == "__main__":
    main()
