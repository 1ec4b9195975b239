"""Every registered model's card (parameters, FLOPs, input, CAM layers), measured once and shipped.

Why: the app's Models table built all 16 models and counted their FLOPs on the first request,
45-53 s of a 2-core CPU while users waited. The numbers change only when a model's code does, so
they are measured here, kept in ``cards.json`` beside this file, and checked against a fresh
measurement by the test suite (``tests/models/test_card_table.py``). Regenerate after changing a
model with ``python -m exercise_rec.models.card_table``.
"""

from __future__ import annotations

import argparse
import functools
import json
from pathlib import Path
from typing import Any

from exercise_rec.cli_common import OneLineParser, cli
from exercise_rec.io import atomic_path
from exercise_rec.models.registry import list_models, model_card

TABLE = Path(__file__).with_name("cards.json")
FIELDS = ("params", "flops", "default_input", "cam_layers")


def measure(name: str) -> dict[str, Any]:
    """The shipped fields of ``name``'s card at its defaults (17 classes), as JSON values."""
    card = model_card(name)
    return {"params": card.params, "flops": card.flops, "default_input": list(card.default_input),
            "cam_layers": list(card.cam_layers)}  # fmt: skip


@functools.cache
def shipped() -> dict[str, dict[str, Any]]:
    """The table in ``cards.json`` (empty when the file is missing)."""
    return json.loads(TABLE.read_text()) if TABLE.is_file() else {}


def card(name: str) -> dict[str, Any]:
    """``name``'s shipped card, or a fresh measurement for a model the table does not list."""
    return shipped().get(name) or measure(name)


def _build_parser() -> OneLineParser:
    what = f"Measure every registered model and rewrite {TABLE.name} (a developer tool)."
    return OneLineParser(prog="python -m exercise_rec.models.card_table", description=what)


def _write(args: argparse.Namespace) -> int:
    table = {name: measure(name) for name in list_models()}
    with atomic_path(TABLE) as tmp:
        tmp.write_text(json.dumps(table, indent=1) + "\n")
    print(f"wrote {TABLE} ({len(table)} models)")
    return 0


main = cli(_build_parser, _write)

if __name__ == "__main__":
    raise SystemExit(main())
