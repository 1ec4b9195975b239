"""What every command-line entry point shares: one ``python -m`` shell, logging, argument types.

Contract (docs/cli.md): bad input prints one line on stderr naming the file and the problem and
exits with code 2; no traceback for mistakes a user can fix.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from exercise_rec.errors import ExerciseRecError

USAGE_ERROR = 2


LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
Run = Callable[[argparse.Namespace], int]


def configure_logging(verbose: int, log_format: str = LOG_FORMAT) -> None:
    """Our own messages at INFO; other libraries' only from WARNING unless ``-v`` (``-vv``: DEBUG).

    Why: the ONNX exporters alone log ~75 INFO lines per export; a default run prints what the user
    needs (our progress and results) and nothing else.
    """
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format=log_format, force=True)
    logging.getLogger("exercise_rec").setLevel(logging.DEBUG if verbose > 1 else logging.INFO)


def cli(build_parser: Callable[[], OneLineParser], run: Run, log_format: str = LOG_FORMAT) -> Callable[..., int]:
    """The one ``python -m`` shell every command shares: parse (bad arguments: one line, exit 2),
    set up logging, run, and turn the library's typed errors (:class:`ExerciseRecError`: bad
    video, wrong checkpoint, bad setting) and the file system's refusals (``OSError``, which always
    names the path) into one stderr line with exit code 2. Anything else is a bug: it propagates
    with its traceback (exit code 1)."""

    def main(argv: Sequence[str] | None = None) -> int:
        args = build_parser().parse_args(argv)
        configure_logging(args.verbose, log_format)
        try:
            return run(args)
        except (ExerciseRecError, OSError) as err:
            print(f"error: {err}", file=sys.stderr)
            return USAGE_ERROR
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130

    return main


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one stderr line and exit code 2 (the CLI contract),
    with the ``-v/--verbose`` flag every command has."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument("-v", "--verbose", action="count", default=0,
                          help="also show other libraries' INFO messages (-vv: DEBUG)")  # fmt: skip

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(USAGE_ERROR)


def output_file(*suffixes: str) -> Callable[[str], Path]:
    """An argparse ``type`` for a file the command will write: refused at once (one line) when it
    names a folder, has another suffix, or lies in a folder this user cannot write, instead of after
    the work (an export ran 26 s, then failed with "[Errno 21] Is a directory")."""

    def parse(text: str) -> Path:
        path = Path(text)
        if text.endswith(("/", os.sep)) or path.is_dir():
            raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name ending in {' or '.join(suffixes)}")
        if path.suffix.lower() not in suffixes:
            raise argparse.ArgumentTypeError(f"{text}: the file name must end in {' or '.join(suffixes)}")
        folder = next((p for p in path.absolute().parents if p.exists()), Path("/"))
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            raise argparse.ArgumentTypeError(f"{text}: cannot write in {folder}")
        return path

    parse.__name__ = "output file"  # argparse names the type in its messages
    return parse


def positive_int(text: str) -> int:
    """An argparse ``type``: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value
