"""User-facing errors: each carries the exit code and one line that says what to do.

The CLI prints ``error: <message>`` for these and exits with ``exit_code``; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
import signal
from collections.abc import Iterable


class DmzbenchError(Exception):
    """A runtime problem the user can fix (missing data, bad checkpoint): exit code 1."""

    exit_code = 1


class UsageError(DmzbenchError):
    """A bad name, option or value on the command line: exit code 2."""

    exit_code = 2


class Interrupted(DmzbenchError):
    """SIGINT (exit 130) or SIGTERM (exit 143): what was saved is kept; the same command resumes. Printed without the
    ``error:`` prefix (the user asked for it)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code

    @classmethod
    def by_signal(cls, signum: int, where: str = "") -> "Interrupted":
        at = f" at {where}" if where else ""
        return cls(f"interrupted{at}; the same command resumes", 128 + int(signum))

    @staticmethod
    def raise_on(signum: int, frame: object = None) -> None:
        """A signal handler for outside training (loading data, running a task): stop now, as a one-line message."""
        raise Interrupted.by_signal(signum)


def did_you_mean(kind: str, name: str, known: Iterable[str]) -> UsageError:
    """``unknown model 'resnett'; did you mean 'resnet'? (known: resnet, vit)``"""
    known = sorted(known)
    folded = {k.casefold(): k for k in known}  # case does not count: 'Resnett' suggests 'resnet'
    close = difflib.get_close_matches(name.casefold(), list(folded), n=1, cutoff=0.5)
    hint = f"; did you mean '{folded[close[0]]}'?" if close else ""
    return UsageError(f"unknown {kind} '{name}'{hint} (known: {', '.join(known) or 'none'})")
