"""Which metrics are *headline* numbers: the few a person compares across runs.

``metrics/metrics.json`` (a DVC metric: every key is a column of ``dvc exp show`` and a row of
``dvc metrics show``) holds only these, a few dozen keys; the full metrics go to
``metrics/details.json``, which is not a DVC metric. MLflow logs the same headline keys under
names that sort first (``flows.tracking.HEADLINE_PREFIX``). :data:`HEADLINE` is the ONE list to
edit when a metric is added or renamed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

DETAILS_OUT = Path("metrics/details.json")

# Regexes over "/"-joined key paths of the metrics JSON ("strong_io/pass@1",
# "false_positives/fp_share_of_weak_passes"). A dict matched whole is kept whole. Why a number
# is missing ("skipped") stays in the details: long text makes no readable table column.
HEADLINE: tuple[str, ...] = (
    r"n_problems", r"n_samples",
    r"[^/]+/pass@(1|10|100)(_ci)?",  # pass@1/10/100 per verifier, with the 95% interval
    r"[^/]+/coverage@\d+",  # coverage@N per verifier
    r"[^/]+/n_failed",  # samples whose verification itself failed (harness errors)
    r"false_positives/(weak|strong)",
    r"false_positives/(fp_share_of_weak_passes|fp_given_weak_pass)(_ci_low|_ci_high)?",
    r"fits/[^/]+/default",
    r"fits/[^/]+/power_law/b(_ci_low|_ci_high)?",  # the fitted power-law exponent
)
_PATTERN = re.compile("^(?:" + "|".join(HEADLINE) + ")$")


def is_headline(path: str) -> bool:
    """Whether a "/"-joined metric path is a headline number."""
    return bool(_PATTERN.match(path))


def headline(metrics: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The nested subset of ``metrics`` whose paths match :data:`HEADLINE` (empty dicts dropped)."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        path = f"{prefix}{key}"
        if is_headline(path):
            out[key] = value
        elif isinstance(value, dict):
            sub = headline(value, f"{path}/")
            if sub:
                out[key] = sub
    return out


def split_metrics(metrics: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(headline for ``metrics/metrics.json``, everything for ``metrics/details.json``).

    The details are the full metrics (headline included) so a reader needs one file only.
    """
    return headline(metrics), metrics


def write_split(metrics: dict[str, Any], metrics_path: Path, details_path: Path = DETAILS_OUT) -> None:
    """Write the headline (DVC metric) and the full details (not a DVC metric) side by side."""
    from stages.io import write_json

    head, full = split_metrics(metrics)
    write_json(full, details_path)
    write_json(head, metrics_path)


def read_details(metrics_path: Path) -> Any:
    """The full metrics of a run: ``details.json`` next to ``metrics.json`` when it exists."""
    from stages.io import read_json

    details = Path(metrics_path).with_name(DETAILS_OUT.name)
    return read_json(details if details.exists() else metrics_path)
