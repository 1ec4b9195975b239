"""posec3d_slowonly: PoseC3D's SlowOnly on pose heatmap volumes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from exercise_rec.errors import ConfigError
from exercise_rec.models import ModelInputError, build_model, get_entry, list_models, load_weights
from exercise_rec.models.pose_c3d import CAM_LAYERS, PoseC3D

TINY = {"width": 4}
# MMAction2's metafile: slowonly_r50_u48_240e_ntu60_xsub_keypoint has 2,024,860 parameters (60 classes).
MMACTION_NTU60_PARAMS = 2_024_860


def _tiny(**kwargs: object) -> PoseC3D:
    return build_model("posec3d_slowonly", 5, **{**TINY, **kwargs}).eval()


def test_registered_as_a_pose_model() -> None:
    assert "posec3d_slowonly" in list_models()
    entry = get_entry("posec3d_slowonly")
    assert entry.input_kind == "pose" and PoseC3D.input_kind == "pose"
    assert entry.default_input == (17, 32, 56, 56)
    assert entry.kwargs == {"in_channels": 17, "width": 32, "dropout": 0.5}
    assert entry.cam_layers == CAM_LAYERS == ("body.layer1", "body.layer2", "body.layer3")


def test_forward_shapes_and_strides() -> None:
    model = _tiny()
    x = torch.rand(2, 17, 8, 16, 16)
    with torch.no_grad():
        assert model(x).shape == (2, 5)
        # 16 * width channels; space /8 (three stride-2 stages), time /2 (the last stage only)
        assert model.feature_map(x).shape == (2, 64, 4, 2, 2)
        assert model.forward_features(x).shape == (2, 64)


def test_limb_channels_option() -> None:
    model = _tiny(in_channels=34)
    with torch.no_grad():
        assert model(torch.rand(1, 34, 2, 8, 8)).shape == (1, 5)
    with pytest.raises(ModelInputError):
        model(torch.rand(1, 17, 2, 8, 8))


def test_refuses_a_video_clip_with_the_interface_error() -> None:
    with pytest.raises(ModelInputError, match=r"expected a \[B, 17, T, H, W\] pose heatmap volume tensor") as info:
        _tiny()(torch.rand(1, 3, 8, 16, 16))
    assert "(1, 3, 8, 16, 16)" in str(info.value)


def test_cam_layers_are_modules() -> None:
    model = _tiny()
    modules = dict(model.named_modules())
    assert model.cam_layers == CAM_LAYERS
    assert all(isinstance(modules[name], nn.Module) for name in model.cam_layers)


def test_bad_options_raise_config_error() -> None:
    for kwargs in ({"width": 0}, {"in_channels": 0}, {"dropout": 1.0}):
        with pytest.raises(ConfigError):
            build_model("posec3d_slowonly", 5, **kwargs)


@pytest.mark.heavy
def test_default_size_matches_mmaction2() -> None:
    """The full-size network has MMAction2's parameter count, its last stage's map is 512x16x7x7."""
    model = build_model("posec3d_slowonly", 60)
    assert sum(p.numel() for p in model.parameters()) == MMACTION_NTU60_PARAMS
    assert model.config.feature_dim == 512


def test_reads_mmaction2_key_names(tmp_path) -> None:
    """A state dict under MMAction2's names (written out here from its module layout) loads fully."""
    source = _tiny()
    blocks = {
        "conv_a": "conv1.conv", "norm_a": "conv1.bn", "conv_b": "conv2.conv", "norm_b": "conv2.bn",
        "conv_c": "conv3.conv", "norm_c": "conv3.bn", "shortcut_conv": "downsample.conv", "shortcut_norm": "downsample.bn",
    }  # fmt: skip
    renamed = {}
    for key, tensor in source.state_dict().items():
        parts = key.split(".")
        if parts[0] == "stem":
            name = f"backbone.conv1.{'conv' if parts[1] == 'conv' else 'bn'}.{parts[2]}"
        elif parts[0] == "head":
            name = f"cls_head.fc_cls.{parts[2]}"
        else:  # body.layerN.block.module.param
            name = f"backbone.{parts[1]}.{parts[2]}.{blocks[parts[3]]}.{parts[4]}"
        renamed[name] = torch.randn_like(tensor.float()).to(tensor.dtype) if tensor.is_floating_point() else tensor
    path = tmp_path / "posec3d_mmaction.pth"
    torch.save({"meta": {}, "state_dict": renamed}, path)
    target = _tiny()
    report = load_weights(target, path)
    assert report.ok, report.describe()
    assert torch.equal(
        target.body.layer3[0].shortcut_norm.running_mean, renamed["backbone.layer3.0.downsample.bn.running_mean"]
    )
