"""Coverage extrapolation: estimators of pass@k at k beyond the samples drawn (see estimators.py)."""
