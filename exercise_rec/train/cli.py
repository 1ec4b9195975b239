"""``python -m exercise_rec.train``: the headless trainer's command line, generated from :class:`TrainConfig`.

Why generated: each option's name, type, default, limits and help text are written once, in the
dataclass, so the parser, the code path and ``config.json`` cannot disagree.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import types
import typing
from typing import Any

from exercise_rec.cli_common import OneLineParser, cli
from exercise_rec.models import list_models
from exercise_rec.train.config import TRAINABLE_KINDS, TrainConfig, input_kind, pose_models, video_models

_BOOLEAN_WORDS = {"true": True, "false": False}


def model_option(text: str) -> tuple[str, Any]:
    """One ``--model-kwargs`` item: ``KEY=VALUE`` with the value read as int, float, true/false or text."""
    key, sep, raw = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE such as depth=18, got {text!r}")
    if raw.lower() in _BOOLEAN_WORDS:
        return key, _BOOLEAN_WORDS[raw.lower()]
    for kind in (int, float):
        try:
            return key, kind(raw)
        except ValueError:
            pass
    return key, raw


def _model_names() -> str:
    """The registry's names, the ones this trainer cannot feed marked with what they take instead."""
    others = [f"{name} ({kind} only)" for name in list_models() if (kind := input_kind(name)) not in TRAINABLE_KINDS]
    return (f"; video models: {', '.join(video_models())}; pose models (heatmap volumes of the pose estimator's "
            f"keypoints): {', '.join(pose_models())}; not trainable here: {', '.join(others) or 'none'}")


def _plain_type(hint: Any) -> Any:
    """``X`` of ``X | None``."""
    if isinstance(hint, types.UnionType):
        return next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return typing.get_origin(hint) or hint


def _argument(spec: dataclasses.Field, hint: Any) -> dict[str, Any]:
    """``add_argument`` keywords for one field: type, action, choices, default and help with the default."""
    kind = _plain_type(hint)
    kwargs: dict[str, Any] = {"choices": spec.metadata["choices"]}
    if kind is bool:
        kwargs = {"action": argparse.BooleanOptionalAction if spec.default else "store_true"}
    elif kind is dict:
        kwargs = {"nargs": "+", "type": model_option, "metavar": "KEY=VALUE"}
    else:
        kwargs["type"] = kind
    if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
        kwargs["required"] = True
    else:
        kwargs["default"] = spec.default_factory() if spec.default is dataclasses.MISSING else spec.default
    shown = kwargs.get("default") not in (None, {}) and kwargs.get("action") != "store_true"
    kwargs["help"] = (spec.metadata["help"].replace("%", "%%") + (" (default: %(default)s)" if shown else "")
                      + (_model_names() if spec.name == "model" else ""))
    return kwargs


def build_parser() -> OneLineParser:
    p = OneLineParser(
        prog="python -m exercise_rec.train",
        description="Train a registry video or pose model on a folder-per-class (or long-recording) video dataset. "
        "Writes OUT/best.pt (deployable), OUT/lightning/last.ckpt (for --resume), logs and test reports.",
    )
    hints = typing.get_type_hints(TrainConfig)
    for spec in dataclasses.fields(TrainConfig):
        p.add_argument(f"--{spec.name.replace('_', '-')}", **_argument(spec, hints[spec.name]))
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    values = {spec.name: getattr(args, spec.name) for spec in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{**values, "model_kwargs": dict(values["model_kwargs"])})


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    from lightning.fabric.utilities.rank_zero import rank_zero_only  # Lightning loads after --help, bad arguments

    from exercise_rec.train.run import train

    if rank_zero_only.rank != 0:  # another process of a distributed run (its rank comes from the launcher's
        logging.getLogger("exercise_rec").setLevel(logging.ERROR)  # environment): process 0 speaks for all
    result = train(config)
    if result.is_global_zero:  # one report per run, not one per process
        print(f"best checkpoint: {result.checkpoint}")
        print(f"test metrics: {result.metrics['test']}")
    return 0


main = cli(build_parser, run)

if __name__ == "__main__":
    sys.exit(main())
