"""How far a per-input time limit moves between calibrations, against one candidate's cost.

Issue 15: a program whose CPU time sits within the noise of its limit gets a verdict the clock
decides, and a fresh clone's ``dvc.lock`` moves with it. This calibrates one problem's limits
as the verify stage does (``calibrate_problems``: one reference run per input on the CPU clock)
and with the fastest of ``--repeats`` runs, several times each, and times one sample of the
default run (``data/samples.parquet``) on the same inputs, and prints the ranges per input;
last, the ratio of the sample's CPU time to the reference's with the two timed back to back
(reference, sample, reference), so that a slow spell of the machine slows both alike.

    .venv/bin/python benchmarks/limit_noise.py --problem HumanEval/75 --sample 11
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import polars as pl

from stages.verifiers.sandbox import SandboxExecutor, codec
from stages.verifiers.sandbox.calibrate import calibrate_problems, input_times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problem", default="HumanEval/75")
    ap.add_argument("--sample", type=int, default=11)
    ap.add_argument("--inputs", type=int, default=8, help="the suite's first N inputs")
    ap.add_argument("--calibrations", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=5, help="reference runs per input, fastest counts")
    ap.add_argument("--runs", type=int, default=6, help="timed runs of the sample")
    ap.add_argument("--pairs", type=int, default=6,
                    help="times the sample between two reference runs, for the ratio of the two")
    ap.add_argument("--floor", type=float, default=0.25)
    ap.add_argument("--factor", type=float, default=20.0)
    args = ap.parse_args()

    for path in ("data/problems.parquet", "data/samples.parquet"):
        if not Path(path).exists():
            print(f"limit_noise: skipped: {path} is missing (run `make run` first)")
            return
    problems = pl.read_parquet("data/problems.parquet").filter(pl.col("problem_id") == args.problem)
    chosen = pl.read_parquet("data/samples.parquet").filter(
        (pl.col("problem_id") == args.problem) & (pl.col("sample_idx") == args.sample))
    if problems.is_empty() or chosen.is_empty():
        raise SystemExit(f"limit_noise: data/samples.parquet has no sample {args.sample} of {args.problem}")
    row, completion = problems.row(0, named=True), chosen["completion"][0]
    keys = [codec.encode_args(a) for a in json.loads(row["inputs_strong"])[: args.inputs]]
    print(f"{args.problem} sample {args.sample}, first {len(keys)} strong inputs; "
          f"limit max({args.floor}, {args.factor} x reference CPU s); {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.1f}")
    spans: dict[str, list[list[float]]] = {}
    with SandboxExecutor(workers=2, cache_dir=None) as ex:
        for repeats in (1, args.repeats):
            label = f"limit, fastest of {repeats} reference run(s)"
            for _ in range(args.calibrations):
                limits = calibrate_problems(problems, args.floor, args.factor, ex, repeats=repeats)
                spans.setdefault(label, []).append([limits.inputs[args.problem][k] for k in keys])
        for _ in range(args.runs):
            run = ex.run_inputs(row["program_prefix"] + completion, row["entry_point"], keys, 60.0,
                                timing=True)
            times = input_times(run)
            spans.setdefault("the sample's CPU s", []).append([times.get(i, float("nan")) for i in range(len(keys))])
        for _ in range(args.pairs):  # the sample between two reference runs: a ratio in one spell
            reference, sample, after = (input_times(ex.run_inputs(row["program_prefix"] + program,
                                                                  row["entry_point"], keys, 60.0, timing=True))
                                        for program in (row["reference"], completion, row["reference"]))
            mean = [(reference.get(i, 0.0) + after.get(i, 0.0)) / 2 for i in range(len(keys))]
            spans.setdefault("sample / reference, back to back", []).append(  # nan: under 1 ms
                [sample.get(i, float("nan")) / m if m > 0 else float("nan") for i, m in enumerate(mean)])
    for label, rows in spans.items():
        cells = [f"{min(ok):.2f}-{max(ok):.2f}" if (ok := [v for v in col if v == v]) else "n/a"
                 for col in zip(*rows, strict=True)]
        print(f"{label:>36} ({len(rows)}x): " + "  ".join(cells))


if __name__ == "__main__":
    main()
