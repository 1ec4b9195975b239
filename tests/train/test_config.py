"""The one trainer config: the parser generated from it, its limits, model options and the model check.

In-process and fast (no training); the command line's messages are tested in real processes in test_cli.py.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from torch import nn

from exercise_rec.errors import ConfigError
from exercise_rec.models import list_models
from exercise_rec.train.cli import build_parser, config_from_args, model_option
from exercise_rec.train.config import TrainConfig, check_trainable, video_models
from exercise_rec.train.module import match_grad_layout
from exercise_rec.train.run import build_module


def _config(*argv: str) -> TrainConfig:
    return config_from_args(build_parser().parse_args(["--data", "ds", *argv]))


def test_every_field_is_an_option_with_a_description_and_its_default() -> None:
    actions = {a.dest: a for a in build_parser()._actions}
    for spec in dataclasses.fields(TrainConfig):
        action = actions[spec.name]
        assert action.option_strings[0] == f"--{spec.name.replace('_', '-')}"
        assert len(action.help) > 15, f"--{spec.name} has no real description"
    for dest, default in (("epochs", "30"), ("batch_size", "8"), ("lr", "0.001"), ("weight_decay", "0.0001"),
                          ("warmup_epochs", "1.0"), ("label_smoothing", "0.0"),
                          ("out", "runs/exp"), ("channels_last", "True")):
        assert actions[dest].help.count("(default: %(default)s)") == 1 and str(actions[dest].default) == default
    # Chosen by the model's input kind (video clips or pose volumes); the help says both.
    assert actions["clip_len"].default is None and "default 16" in actions["clip_len"].help
    assert "default 32" in actions["clip_len"].help
    assert actions["size"].default is None and "default 128" in actions["size"].help and "default 56" in actions["size"].help
    assert "(default: 30)" in build_parser().format_help()


def test_model_help_lists_the_registry_and_marks_models_it_cannot_train() -> None:
    text = " ".join(build_parser().format_help().split())
    for name in list_models():
        assert name in text
    assert "mobilenet_v4_nano (image only)" in text and "mobilenet_v4_nano_video (" not in text
    assert "see list_models" not in text


def test_parser_defaults_are_the_dataclass_defaults() -> None:
    assert _config() == TrainConfig(data=Path("ds"))


def test_model_kwargs_reach_the_model() -> None:
    """An I3D option (unreachable from the command line before) builds into the model."""
    config = _config("--model", "i3d", "--model-kwargs", "dropout_keep_prob=0.25", "use_pretrained=false")
    assert config.resolved_model_kwargs() == {"dropout_keep_prob": 0.25, "use_pretrained": False}
    model = build_module(config, ["a", "b"]).model
    assert [m.p for m in model.modules() if isinstance(m, nn.Dropout)] == [pytest.approx(0.75)]


@pytest.mark.parametrize(("text", "value"), [("depth=18", 18), ("lr=1e-3", 1e-3), ("p=0.5", 0.5), ("on=true", True),
                                             ("on=False", False), ("arch=r3d_18", "r3d_18"), ("path=", "")])
def test_model_option_values(text: str, value: object) -> None:
    key, parsed = model_option(text)
    assert key == text.split("=")[0] and parsed == value and type(parsed) is type(value)


def test_shortcuts_merge_with_model_kwargs_and_a_clash_is_refused() -> None:
    config = _config("--mode", "high_temporal", "--model-kwargs", "dropout=0.1")
    assert config.resolved_model_kwargs() == {"dropout": 0.1, "mode": "high_temporal"}
    assert _config("--mode", "standard", "--model-kwargs", "mode=standard").resolved_model_kwargs() == {"mode": "standard"}
    with pytest.raises(ConfigError, match="mode is set twice"):
        _config("--mode", "standard", "--model-kwargs", "mode=high_temporal")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("epochs", 0, "epochs must be >= 1, got 0"), ("lr", -1.0, "lr must be >= 0"),
    ("label_smoothing", 1.0, "label_smoothing must be below 1"), ("precision", "fp8", "precision must be one of"),
    ("mode", "fast", "mode must be one of standard, high_temporal"), ("num_workers", -1, "num_workers must be >= 0"),
])
def test_out_of_range_settings_are_config_errors(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig(data=Path("ds"), **{field: value})


def test_only_video_models_are_trainable() -> None:
    with pytest.raises(ConfigError, match=r"'mobilenet_v4_nano' takes image input.*its video form mobilenet_v4_nano_video"):
        check_trainable(TrainConfig(data=Path("ds"), model="mobilenet_v4_nano"))
    assert "mobilenet_v4_nano_video" in video_models() and "mobilenet_v4_nano" not in video_models()
    check_trainable(TrainConfig(data=Path("ds"), model="mobilenet_v4_nano_video"))


def test_gradients_take_the_strides_of_channels_last_weights() -> None:
    """A 1x1x1 channels_last_3d weight: its gradient is viewed with the weight's strides (DDP compares them)."""
    conv = nn.Conv3d(8, 4, 1).to(memory_format=torch.channels_last_3d)
    match_grad_layout(conv)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the CPU kernel that returns this gradient with contiguous strides
    try:
        x = torch.randn(2, 8, 2, 4, 4).contiguous(memory_format=torch.channels_last_3d)
        conv(x).sum().backward()
    finally:
        torch.set_num_threads(threads)
    assert conv.weight.grad.stride() == conv.weight.stride()
    expected = torch.einsum("bcthw->c", x).expand(4, 8).reshape(4, 8, 1, 1, 1)
    torch.testing.assert_close(conv.weight.grad, expected)
