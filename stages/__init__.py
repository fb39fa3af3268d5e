"""infscale stages: problems -> samples -> verdicts -> metrics.

Each stage module holds one pure function over polars frames and a thin ``main()`` for
``python -m stages.<name>`` (used by DVC); Prefect tasks in ``flows/`` wrap the same functions.
"""
