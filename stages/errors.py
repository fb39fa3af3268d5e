"""The family of *expected* errors: bad input from the user, not a bug in infscale.

A stage entry (``stages.entry.run_entry``) turns these, and only these, into one line on stderr
and exit code 2. Any other exception, a bare ``ValueError`` included, is a bug and keeps its
traceback. Raise an :class:`InputError` (or a subclass) only where the message names the file,
row or params key the user must fix. It stays a ``ValueError`` so callers that caught the old
``ValueError``-based errors keep working.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input: a params key, a table that breaks its schema or contract, a bad file."""


class MissingInputError(InputError, FileNotFoundError):
    """A stage input file does not exist; the message names it and the stage that makes it."""
