"""Orchestration around the stages: Prefect flows (evaluate, nightly), MLflow tracking, the
nightly regression check and ``infscale reproduce``. No stage logic lives here: every task calls
the same ``stages.*`` functions that ``dvc repro`` runs."""
