"""EvalPlus's special oracles: our verdicts vs EvalPlus 0.3.1's own ``untrusted_check``.

For the MBPP+ tasks that EvalPlus special-cases (``MBPP_SPECIAL_ORACLES``: Mbpp/164, /295, /558,
/581 and the three ``re.Match`` tasks /737, /787, /794), CONSTRUCTED candidates (not model
samples: the reference, the reference with its output turned into a bool, a float, or off by
one, programs that always return None / 0 / True, and EvalPlus's own oracle helper as the
program where it has one) are judged on the task's base + plus inputs by ours (``strong_io``,
the verify stage's path) and by EvalPlus's ``untrusted_check`` (``fast_check``; ground truth
from its ``trusted_exec``, with ``output_not_none`` for the three match tasks), run from a
separate virtual environment. Prints each candidate's two verdicts and the agreement.

    .venv/bin/python benchmarks/special_oracles_vs_evalplus.py --evalplus-python /tmp/evalplus-venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl

from stages.datasets import load_dataset, typed_json
from stages.datasets.evalplus import MBPP_SPECIAL_ORACLES
from stages.verifiers.code_tests import run_verifier
from stages.verifiers.sandbox import SandboxExecutor

WRAP = "\n_orig = {ep}\n\ndef {ep}(*a):\n    r = _orig(*a)\n    return {expr}\n"
STYLES = {
    "reference": None,
    "as_bool": "bool(r)",
    "as_float": "float(r) if type(r) in (int, float) else r",
    "off_by_one": "r + 1 if type(r) in (int, float) else r",
    "always_none": "None",
    "always_zero": "0",
    "always_true": "True",
}
HELPERS = {  # EvalPlus's oracle helpers (evalplus/eval/_special_oracle.py), as candidate programs
    "surface_Area": ("import math\ndef surface_Area(base_edge, height):\n"
                     "    slant_height = math.sqrt((base_edge / 2) ** 2 + height**2)\n"
                     "    return round(base_edge**2 + 4 * (base_edge * slant_height) / 2)\n"),
    "digit_distance_nums": ("def digit_distance_nums(num1, num2):\n    a, b = str(num1), str(num2)\n"
                            "    w = max(len(a), len(b))\n"
                            "    return sum(abs(int(x) - int(y)) for x, y in zip(a.zfill(w), b.zfill(w)))\n"),
}
EVALPLUS_SIDE = r'''
import json, sys
from evalplus.eval import untrusted_check
from evalplus.eval._special_oracle import MBPP_OUTPUT_NOT_NONE_TASKS
from evalplus.gen.util import trusted_exec
jobs = json.load(open(sys.argv[1]))
out = {}
for task in jobs:
    ep, inputs = task["entry_point"], task["inputs"]
    exp, times = trusted_exec(task["reference"], inputs, ep, record_time=True,
                              output_not_none=ep in MBPP_OUTPUT_NOT_NONE_TASKS)
    for name, code in task["candidates"].items():
        status, _ = untrusted_check("mbpp", code, inputs, ep, exp, task["atol"], times, fast_check=True)
        out[task["task_id"] + " " + name] = status
print(json.dumps(out))
'''


def candidates(row: dict) -> dict[str, str]:
    ep, ref = row["entry_point"], row["reference"]
    progs = {}
    for name, expr in STYLES.items():
        if name.startswith("always_"):
            progs[name] = f"def {ep}(*a):\n    return {expr}\n"
        else:
            progs[name] = ref if expr is None else ref + WRAP.format(ep=ep, expr=expr)
    if ep in HELPERS:
        progs["evalplus_helper"] = HELPERS[ep]
    return progs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--evalplus-python", default=os.environ.get("EVALPLUS_PYTHON"),
                    help="python of a venv with evalplus 0.3.1 (default: $EVALPLUS_PYTHON)")
    args = ap.parse_args()
    if not args.evalplus_python:
        print("skipped: needs EvalPlus's evaluator (pass --evalplus-python or set EVALPLUS_PYTHON "
              "to the python of a venv with evalplus 0.3.1 installed)")
        return
    problems = load_dataset("mbppplus").filter(pl.col("entry_point").is_in(sorted(MBPP_SPECIAL_ORACLES)))
    rows = list(problems.iter_rows(named=True))
    samples, jobs, names = [], [], {}
    for row in rows:
        progs = candidates(row)
        jobs.append({"task_id": row["problem_id"], "entry_point": row["entry_point"], "atol": row["atol"],
                     "reference": row["reference"], "candidates": progs,
                     "inputs": typed_json.decode(row["inputs_strong"])})
        for i, (name, code) in enumerate(progs.items()):
            samples.append({"problem_id": row["problem_id"], "sample_idx": i, "completion": code})
            names[(row["problem_id"], i)] = name
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "jobs.json"
        path.write_text(json.dumps(jobs))
        proc = subprocess.run([args.evalplus_python, "-c", EVALPLUS_SIDE, str(path)],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            sys.exit(f"evalplus side failed:\n{proc.stderr[-3000:]}")
        theirs = json.loads(proc.stdout.strip().splitlines()[-1])
    with SandboxExecutor(cache_dir=None) as executor:
        timeouts = {p: 60.0 for p in problems["problem_id"]}
        ours = {r.key: r.verdict for r in run_verifier("strong_io", problems, pl.DataFrame(samples),
                                                       executor, timeouts)}
    agree = 0
    for key, name in names.items():
        mine, evalplus = ours[key], theirs[f"{key[0]} {name}"]
        same = (mine == "pass") == (evalplus == "pass")
        agree += same
        print(f"{key[0]:9s} {name:16s} ours={mine:8s} evalplus={evalplus:8s} {'' if same else 'DIFFERS'}")
    print(f"agreement: {agree}/{len(names)} (pass / not pass), {len(rows)} tasks")


if __name__ == "__main__":
    main()
