"""The one exception the stack raises."""

from __future__ import annotations

from streams.core.errors import DriftlineError


class StackError(DriftlineError):
    """A server could not be installed, started or stopped.

    The message says which server, what failed and where its log is.
    """
