"""User-facing errors: each carries the exit code and one line that says what to do.

The CLI prints ``error: <message>`` for these and exits with ``exit_code``; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class DmzbenchError(Exception):
    """A runtime problem the user can fix (missing data, bad checkpoint): exit code 1."""

    exit_code = 1


class UsageError(DmzbenchError):
    """A bad name, option or value on the command line: exit code 2."""

    exit_code = 2


def did_you_mean(kind: str, name: str, known: Iterable[str]) -> UsageError:
    """``unknown model 'dmzz'; did you mean 'dmz'? (known: dmz, pixels)``"""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return UsageError(f"unknown {kind} '{name}'{hint} (known: {', '.join(known) or 'none'})")
