"""A real model end to end on CPU (``make real``): SmolLM2-135M-Instruct through llama-cpp-python.

Runs the ``evaluate`` flow twice in one process (one temporary Prefect server for both): a
HumanEval+ subset and a GSM8K subset, each with the server launched by the run
(``generate.openai.launch: llamacpp``), every stage and one MLflow run. Then it measures from
the run directories what docs/benchmarks.md reports: wall time per run, generation tokens/s and
samples/s (requests go one at a time, so the sum of the client-measured latencies is the
generation time), pass@k with intervals per verifier. Figures are written to
``runs/real/benchmark.json``. Needs ``pip install "infscale[real]"``.

    python benchmarks/real_model.py [--limit 8] [--n 8] [--max-new-tokens 256]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

MODEL = "SmolLM2-135M-Instruct.Q4_1"
DATASETS = ("humanevalplus", "gsm8k")


def overrides(dataset: str, limit: int, n: int, max_new_tokens: int, logprobs: bool = False) -> dict[str, Any]:
    """The ``--set`` overrides of one ``make real`` run.

    Logprobs are off by default: llama-cpp-python 0.3.36 builds them in Python per token (a
    softmax and a sort over the 49,152-token vocabulary), which measured here made a 57-token
    reply take 7.3-8.1 s instead of 1.5 s (2026-12-01, idle server, one request at a time); the
    strategies that need scores are then skipped with that reason. ``--logprobs`` turns them on
    (the CI smoke test does, on a few samples)."""
    return {
        "generate.openai.logprobs": logprobs,
        "base.dataset": dataset, "prepare.limit": limit, "generate.backend": "openai",
        "generate.openai.launch": "llamacpp", "generate.openai.chat": True,
        "generate.model": MODEL, "generate.n_samples": n, "generate.max_new_tokens": max_new_tokens,
        "analyze.headline_k": sorted({1, max(1, n // 2), n}),
    }


def measure(run_dir: Path) -> dict[str, Any]:
    """Generation throughput and the pass@k curve of one finished run directory."""
    import polars as pl

    samples = pl.read_parquet(run_dir / "data/samples.parquet")
    curve = pl.read_parquet(run_dir / "data/curve.parquet")
    gen_s = float(samples["latency_s"].sum())
    tokens = int(samples["completion_tokens"].fill_null(0).sum())
    return {
        "samples": samples.height,
        "error_rows": int(samples["error"].is_not_null().sum()),
        "with_logprobs": int(samples["mean_logprob"].is_not_null().sum()),
        "cut_off": int((samples["finish_reason"] == "length").sum()),
        "completion_tokens": tokens,
        "generation_s": round(gen_s, 1),
        "tokens_per_s": round(tokens / gen_s, 1) if gen_s else None,
        "samples_per_s": round(samples.height / gen_s, 3) if gen_s else None,
        "curve": curve.select("verifier", "k", "pass_at_k", "ci_low", "ci_high").to_dicts(),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=8, help="problems per dataset")
    ap.add_argument("--n", type=int, default=8, help="samples per problem")
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument("--logprobs", action="store_true", help="ask for logprobs (about 5x slower generation)")
    ap.add_argument("--out", type=Path, default=Path("runs/real"))
    args = ap.parse_args(argv)

    from flows.evaluate import evaluate

    report: dict[str, Any] = {"model": MODEL, "limit": args.limit, "n": args.n,
                              "max_new_tokens": args.max_new_tokens, "logprobs": args.logprobs, "runs": {}}
    for dataset in DATASETS:
        run_dir = args.out / dataset
        t0 = time.perf_counter()
        result = evaluate("params.yaml", overrides(dataset, args.limit, args.n, args.max_new_tokens, args.logprobs),
                          str(run_dir), source="make-real")
        wall = time.perf_counter() - t0
        report["runs"][dataset] = {"wall_s": round(wall, 1), "mlflow_run_ids": result["mlflow_run_ids"],
                                   **measure(run_dir)}
        print(f"real: {dataset}: {wall:.0f} s, run dir {run_dir}, MLflow {result['mlflow_run_ids']}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmark.json").write_text(json.dumps(report, indent=2))
    for dataset, r in report["runs"].items():
        print(f"{dataset}: {r['samples']} samples, {r['tokens_per_s']} tokens/s, "
              f"{r['samples_per_s']} samples/s, {r['wall_s']} s in all")
        for row in r["curve"]:
            print(f"  {row['verifier']:>12} pass@{row['k']}: {row['pass_at_k']:.3f} "
                  f"[{row['ci_low']:.3f}, {row['ci_high']:.3f}]")
    print(f"real: figures in {args.out / 'benchmark.json'}")


if __name__ == "__main__":
    main()
