"""Generation backends, imported lazily by name so optional clients load only when chosen."""

from __future__ import annotations

import importlib
from typing import Any

from stages.backends.base import Backend, sample_seed

# name -> "module:factory"; each factory takes the GenerateParams and returns a Backend.
REGISTRY: dict[str, str] = {
    "synthetic": "stages.backends.synthetic:from_params",
    "sglang": "stages.backends.sglang:from_params",
    "openai": "stages.backends.openai_compat:from_params",
    "replay": "stages.backends.replay:from_params",
}


def get_backend(name: str, params: Any) -> Backend:
    """Build the backend called ``name`` from the generate params."""
    try:
        target = REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(f"unknown generate.backend '{name}' (known: {known})") from None
    module, factory = target.split(":")
    return getattr(importlib.import_module(module), factory)(params)


__all__ = ["REGISTRY", "Backend", "get_backend", "sample_seed"]
