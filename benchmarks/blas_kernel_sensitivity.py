"""Do the extrapolation fits depend on which CPU computed them? The same counts, fitted under
each of OpenBLAS's kernels.

numpy's OpenBLAS picks its matrix kernels by CPU at run time (``DYNAMIC_ARCH``); each rounds a
matrix product's last bits its own way. ``OPENBLAS_CORETYPE`` forces one, so one machine can
stand in for several. Each kernel runs in its own process (the variable is read when numpy
loads) and fits ``scaled_beta`` and ``zi_beta`` with 1,000 bootstrap replicates to each
verifier's counts; the script prints each kernel's point, 95% bounds and a hash of every
replicate, and whether the figures as ``metrics/details.json`` rounds them (6 significant
digits) agree across kernels. A fit whose figures differ between kernels would make a fresh
clone's ``dvc repro`` on another machine rewrite ``dvc.lock``.

    .venv/bin/python benchmarks/blas_kernel_sensitivity.py [--counts data/counts.parquet]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

KERNELS = ("(this CPU's own)", "Haswell", "Zen", "Sandybridge")


def fits(counts: Path) -> dict[str, list[float]]:
    """In this process: {verifier/family: point, low and high bounds, replicate hash}."""
    import polars as pl

    from stages.stats.bootstrap import percentile_interval, resample_weights
    from stages.stats.extrapolation.mixture import FAMILIES, fit_family

    out = {}
    for (verifier,), group in pl.read_parquet(counts).group_by("verifier", maintain_order=True):
        n, c = group["n"].to_numpy(), group["c"].to_numpy()
        for family in ("scaled_beta", "zi_beta"):
            theta = fit_family(family, n, c, resample_weights(n.size, 1000, 0))
            natural = FAMILIES[family].natural(theta)
            low, high = percentile_interval(natural[1:])
            digest = hashlib.md5(theta.tobytes()).hexdigest()[:8]
            out[f"{verifier}/{family}"] = [*natural[0], *low, *high, digest]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--counts", type=Path, default=Path("data/counts.parquet"))
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(fits(args.counts)))
        return
    if not args.counts.exists():
        print(f"skipped: {args.counts} not found (run `dvc repro` first, or pass --counts)")
        return
    results = {}
    for kernel in KERNELS:
        env = dict(os.environ)
        env.pop("OPENBLAS_CORETYPE", None)
        if kernel.startswith("("):
            env["INFSCALE_BLAS_KERNEL"] = "native"  # not the Haswell pin of stages/__init__.py
        else:
            env["OPENBLAS_CORETYPE"] = kernel
        proc = subprocess.run([sys.executable, __file__, "--child", "--counts", str(args.counts)], env=env,
                              capture_output=True, text=True, check=True)
        results[kernel] = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in results[KERNELS[0]]:
        print(f"{key} (point, low, high per parameter; replicate hash):")
        rounded = set()
        for kernel in KERNELS:
            *values, digest = results[kernel][key]
            rounded.add(tuple(float(f"{v:.6g}") for v in values))
            print(f"  {kernel:>18}: " + " ".join(f"{v:.10g}" for v in values) + f"  {digest}")
        print(f"  to 6 significant digits: {'the same under every kernel' if len(rounded) == 1 else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
