"""What every command-line entry point shares: logging set-up and the bad-input contract.

Contract (GUIDE.md): bad input prints one line on stderr naming the file and the problem and
exits with code 2; no traceback for mistakes a user can fix.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from exercise_rec.errors import ExerciseRecError

USAGE_ERROR = 2


def run_cli(main: Callable[[], int]) -> int:
    """Run ``main`` turning the library's typed errors (:class:`ExerciseRecError`: bad video, wrong
    checkpoint, bad setting) and the file system's refusals (``OSError``: a missing folder, no
    permission, a full disk, always naming the path) into one stderr line. Anything else is a bug:
    it propagates with its traceback (exit code 1)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return main()
    except (ExerciseRecError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one stderr line and exit code 2 (the CLI contract)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(USAGE_ERROR)
