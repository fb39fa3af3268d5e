"""Statistics of inference-time scaling: pure numpy/polars functions, no I/O."""
