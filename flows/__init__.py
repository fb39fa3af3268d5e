"""Orchestration around the stages: Prefect flows (evaluate, nightly), MLflow tracking, the
nightly regression check and ``infscale reproduce``. No stage logic lives here: every task calls
the same ``stages.*`` functions that ``dvc repro`` runs."""

import stages  # noqa: F401  (first: pins OpenBLAS's kernels before numpy loads; see stages/__init__.py)
