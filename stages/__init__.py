"""infscale stages: problems -> samples -> verdicts -> metrics.

Each stage module holds one pure function over polars frames and a thin ``main()`` for
``python -m stages.<name>`` (used by DVC); Prefect tasks in ``flows/`` wrap the same functions.

Importing this package first pins OpenBLAS's matrix kernels (:func:`pin_blas_kernel`), so that
the analysis gives the same bits, and ``dvc.lock`` the same hashes, on every x86-64 machine.
"""

from __future__ import annotations

import os
import platform


def pin_blas_kernel() -> str | None:
    """Ask OpenBLAS (numpy's and scipy's) for its Haswell kernels on x86-64 CPUs with AVX2 and
    FMA, unless ``OPENBLAS_CORETYPE`` is set already or ``INFSCALE_BLAS_KERNEL=native`` (the
    CPU's own kernels: perhaps faster, not reproducible elsewhere); returns the kernel asked for,
    or None.

    Why: OpenBLAS picks its kernels by CPU when it loads, and each rounds a matrix product's last
    bits its own way. The same counts then gave other bootstrap tables on an AVX-512 Intel than
    on an AMD Zen (whose kernels are Haswell's), so a fresh clone's ``dvc repro`` rewrote
    dvc.lock (``benchmarks/blas_kernel_sensitivity.py``). Haswell's run on every AVX2 CPU
    (Intel since 2013, AMD since Zen). Only a process that has not loaded numpy yet is affected:
    ``python -m stages.<name>`` and ``python -m flows.<name>`` import this package first.
    """
    if os.environ.get("INFSCALE_BLAS_KERNEL") == "native" or "OPENBLAS_CORETYPE" in os.environ:
        return None
    if not runs_haswell_kernels():
        return None
    os.environ["OPENBLAS_CORETYPE"] = "Haswell"
    return "Haswell"


def runs_haswell_kernels() -> bool:
    """Whether this CPU can run OpenBLAS's Haswell kernels: x86-64 with AVX2 and FMA, as Linux's
    /proc/cpuinfo says (elsewhere: unknown, so no)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        with open("/proc/cpuinfo") as fh:
            flags = next((line for line in fh if line.startswith("flags")), "").split()
    except OSError:
        return False
    return {"avx2", "fma"} <= set(flags)


pin_blas_kernel()
