"""What every command-line entry point shares: logging set-up and the bad-input contract.

Contract (GUIDE.md): bad input prints one line on stderr naming the file and the problem and
exits with code 2; no traceback for mistakes a user can fix.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

USAGE_ERROR = 2


def run_cli(main: Callable[[], int]) -> int:
    """Run ``main`` turning user-fixable errors (``ValueError``, ``OSError``) into one stderr line."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return main()
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
