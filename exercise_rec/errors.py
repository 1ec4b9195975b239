"""The one base class of every error the library raises on purpose.

Why: CLIs and the app turn a user's mistake (a corrupt video, a wrong checkpoint, a bad setting)
into one readable line, and must not do the same to a bug. Catching ``ValueError`` did both, since
Python raises it for bugs too. So every typed error derives from :class:`ExerciseRecError` (and
keeps ``ValueError`` as a second base where callers rely on it), and only those are shown as
messages; anything else surfaces as a bug, with its traceback in the log.
"""

from __future__ import annotations

__all__ = ["ConfigError", "ExerciseRecError"]


class ExerciseRecError(Exception):
    """A problem with the user's input or set-up, described by the message (shown as is)."""


class ConfigError(ExerciseRecError, ValueError):
    """A setting out of its range or of the wrong kind (a limit, a model option, a CLI value)."""
