"""MobileNetV2-3D: shapes, strides per mode, width scaling, training, and Efficient-3DCNNs checkpoints."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from exercise_rec.errors import ConfigError
from exercise_rec.models import (
    ModelInputError,
    WeightsError,
    build_model,
    get_entry,
    list_models,
    load_weights,
    model_card,
)
from exercise_rec.models.mobilenet_v2_3d import (
    CAM_LAYERS,
    MobileNet3DConfig,
    MobileNetV2_3D,
    mobilenet_v2_3d,
)

LAYOUT_DIR = Path(__file__).parent / "reference_layouts"
# Measured on okankop/Efficient-3DCNNs' get_model(num_classes=17, sample_size=112, width_mult=1.0).
REFERENCE_PARAMS_W1 = 2_375_825
# Output of the stem and of each group's last block, then the final conv, for a 16-frame clip.
STANDARD_T = [16, 16, 8, 4, 2, 2, 1, 1, 1]
HIGH_TEMPORAL_T = [16] * 9


def _layout(width: float) -> dict:
    tag = f"{width:.1f}".replace(".", "p")
    return json.loads((LAYOUT_DIR / f"efficient3dcnns_mobilenetv2_w{tag}.json").read_text())


def _random_state(shapes: dict[str, list[int]], seed: int) -> dict[str, Tensor]:
    """Tensors of the given shapes with values a trained checkpoint could hold (positive variances)."""
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, Tensor] = {}
    for key, shape in shapes.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=gen) + 0.5
        else:
            state[key] = torch.randn(shape, generator=gen) * 0.1
    return state


def _stage_time_sizes(model: MobileNetV2_3D, x: Tensor) -> list[tuple[int, int]]:
    """(T, H) of the stem's and every CAM layer's output."""
    names = ["features.0", *model.cam_layers]
    modules = dict(model.named_modules())
    sizes: dict[str, tuple[int, int]] = {}
    handles = [
        modules[n].register_forward_hook(lambda _m, _i, out, n=n: sizes.__setitem__(n, tuple(out.shape[2:4])))
        for n in names
    ]
    with torch.no_grad():
        model(x)
    for handle in handles:
        handle.remove()
    return [sizes[n] for n in names]


def test_registered_with_cam_layers_that_exist() -> None:
    assert "mobilenet_v2_3d" in list_models()
    entry = get_entry("mobilenet_v2_3d")
    assert entry.default_input == (3, 16, 128, 128)
    assert entry.kwargs == {"width_mult": 1.0, "mode": "standard", "dropout": 0.2}
    model = build_model("mobilenet_v2_3d", 17)
    assert entry.cam_layers == CAM_LAYERS == model.cam_layers
    assert CAM_LAYERS == tuple(f"features.{i}" for i in (1, 3, 6, 10, 13, 16, 17, 18))
    modules = dict(model.named_modules())
    assert all(name in modules for name in CAM_LAYERS)


@pytest.mark.parametrize("mode", ["standard", "high_temporal"])
@pytest.mark.parametrize("width", [0.5, 1.0, 1.5, 2.0])
def test_output_and_feature_shapes(mode: str, width: float) -> None:
    model = build_model("mobilenet_v2_3d", 5, width_mult=width, mode=mode).eval()
    x = torch.randn(2, 3, 4, 16, 16)
    with torch.no_grad():
        logits = model(x)
        features = model.forward_features(x)
    dim = int(1280 * width) if width > 1.0 else 1280
    assert logits.shape == (2, 5)
    assert features.shape == (2, dim)
    assert torch.isfinite(logits).all()


def test_parameter_count_matches_reference() -> None:
    standard = build_model("mobilenet_v2_3d", 17)
    count = sum(p.numel() for p in standard.parameters())
    assert count == REFERENCE_PARAMS_W1 == _layout(1.0)["num_parameters"]
    high = build_model("mobilenet_v2_3d", 17, mode="high_temporal")
    assert sum(p.numel() for p in high.parameters()) == count
    shapes = {k: v.shape for k, v in standard.state_dict().items()}
    assert {k: v.shape for k, v in high.state_dict().items()} == shapes


def test_width_scaling_truncates_like_reference() -> None:
    """At 0.7x, int(c * 0.7) truncates (24 -> 16, not 17): the Efficient-3DCNNs checkpoint shapes."""
    model = mobilenet_v2_3d(17, width_mult=0.7)
    blocks = list(model.features)[1:-1]
    assert model.features[0][0].out_channels == 22
    per_group = [(11, 1), (16, 2), (22, 3), (44, 4), (67, 3), (112, 3), (224, 1)]
    assert [block.conv[-2].out_channels for block in blocks] == [c for c, n in per_group for _ in range(n)]
    assert blocks[1].conv[0].out_channels == 11 * 6  # expanded width round(in * t)
    assert model.features[-1][0].out_channels == 1280  # widened only above 1.0
    # Measured on the reference's get_model(num_classes=17, sample_size=112, width_mult=0.7).
    assert sum(p.numel() for p in model.parameters()) == 1_303_119


def test_modes_share_topology_and_residuals() -> None:
    def residual_flags(mode: str) -> list[bool]:
        model = mobilenet_v2_3d(17, mode=mode)
        return [block.use_residual for block in list(model.features)[1:-1]]

    flags = residual_flags("standard")
    assert flags == residual_flags("high_temporal")
    # Every block after the first of a group keeps shape and channels; the first never does here.
    assert sum(flags) == 17 - 7


def test_shortcut_is_identity() -> None:
    """With the projection's BatchNorm zeroed, a residual block passes its input through unchanged."""
    model = mobilenet_v2_3d(17, width_mult=0.5).eval()
    block = model.features[3]  # second block of the 24-channel group (12 channels at 0.5x)
    with torch.no_grad():
        nn.init.zeros_(block.conv[-1].weight)
        nn.init.zeros_(block.conv[-1].bias)
        x = torch.randn(1, 12, 2, 4, 4)
        torch.testing.assert_close(block(x), x, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("mode", "expected_t"), [("standard", STANDARD_T), ("high_temporal", HIGH_TEMPORAL_T)]
)
def test_time_steps_at_every_stage(mode: str, expected_t: list[int]) -> None:
    model = build_model("mobilenet_v2_3d", 17, width_mult=0.5, mode=mode).eval()
    sizes = _stage_time_sizes(model, torch.randn(1, 3, 16, 32, 32))
    assert [t for t, _ in sizes] == expected_t
    # Spatial strides are the same in both modes: stem /2, then /2 at groups 2, 3, 4 and 6.
    assert [h for _, h in sizes] == [16, 16, 8, 4, 2, 2, 1, 1, 1]


def test_odd_clip_sizes() -> None:
    model = build_model("mobilenet_v2_3d", 17, width_mult=0.5).eval()
    x = torch.randn(1, 3, 5, 37, 37)
    with torch.no_grad():
        fmap = model.feature_map(x)
        logits = model(x)
    # Each stride-2 3x3x3 conv with padding 1 gives ceil(n / 2): T 5->3->2->1, H 37->19->10->5->3->2.
    assert fmap.shape == (1, 1280, 1, 2, 2)
    assert logits.shape == (1, 17)
    assert torch.isfinite(logits).all()
    high = build_model("mobilenet_v2_3d", 17, width_mult=0.5, mode="high_temporal").eval()
    with torch.no_grad():
        assert high.feature_map(x).shape == (1, 1280, 5, 2, 2)


def test_forward_pools_globally() -> None:
    model = build_model("mobilenet_v2_3d", 3, width_mult=0.5).eval()
    x = torch.randn(2, 3, 6, 24, 40)
    with torch.no_grad():
        fmap = model.feature_map(x)
        expected = model.classifier(fmap.flatten(2).mean(-1))
        torch.testing.assert_close(model(x), expected)


def test_gradient_reaches_stem() -> None:
    model = build_model("mobilenet_v2_3d", 4, width_mult=0.5)
    model(torch.randn(2, 3, 4, 16, 16)).sum().backward()
    grad = model.features[0][0].weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_training_fits_a_fixed_batch() -> None:
    """A few optimiser steps in train mode memorise a fixed batch. 64x64 frames keep the deepest
    BatchNorm statistics (a 1x4x4 map per clip) well conditioned; on tinier maps they are noise."""
    model = build_model("mobilenet_v2_3d", 3, width_mult=0.5, dropout=0.0).train()
    x = torch.randn(4, 3, 8, 64, 64)
    y = torch.tensor([0, 1, 2, 1])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(5):
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < 0.5 * losses[0], losses


def test_train_mode_step_updates_weights_and_statistics() -> None:
    model = build_model("mobilenet_v2_3d", 3, width_mult=0.5).train()
    stem_before = model.features[0][0].weight.detach().clone()
    stats_before = model.features[18][1].running_mean.clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss = nn.functional.cross_entropy(model(torch.randn(4, 3, 4, 16, 16)), torch.tensor([0, 1, 2, 1]))
    loss.backward()
    optimizer.step()
    assert math.isfinite(loss.item())
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert not torch.equal(model.features[0][0].weight, stem_before)
    assert not torch.equal(model.features[18][1].running_mean, stats_before)


def test_state_dict_round_trip_through_file(tmp_path: Path) -> None:
    source = build_model("mobilenet_v2_3d", 6, width_mult=0.5, mode="high_temporal")
    source.load_state_dict(_random_state({k: list(v.shape) for k, v in source.state_dict().items()}, seed=3))
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": source.state_dict(), "model_name": "mobilenet_v2_3d"}, path)
    target = build_model("mobilenet_v2_3d", 6, width_mult=0.5, mode="high_temporal")
    report = load_weights(target, path, strict=True)
    assert report.ok and len(report.loaded) == len(source.state_dict())
    x = torch.randn(1, 3, 4, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(target.eval()(x), source.eval()(x), rtol=0, atol=0)


@pytest.mark.parametrize("width", [0.5, 1.0, 2.0])
def test_loads_efficient3dcnns_layout_strict(width: float) -> None:
    layout = _layout(width)
    reference = _random_state(layout["state_dict"], seed=int(width * 10))
    # Their training script saves {"epoch", "arch", "state_dict", "optimizer"} from a DataParallel model.
    checkpoint = {
        "epoch": 10,
        "arch": "mobilenetv2",
        "state_dict": {f"module.{k}": v for k, v in reference.items()},
        "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]},
    }
    model = build_model("mobilenet_v2_3d", layout["num_classes"], width_mult=width)
    assert list(model.state_dict()) == list(layout["state_dict"])  # same names, same order
    report = load_weights(model, checkpoint, strict=True)
    assert report.ok
    for key, tensor in model.state_dict().items():
        assert torch.equal(tensor, reference[key]), key


def test_wrong_width_checkpoint_is_refused_by_name() -> None:
    half_width = _random_state(_layout(0.5)["state_dict"], seed=0)
    checkpoint = {"state_dict": {f"module.{k}": v for k, v in half_width.items()}}
    model = build_model("mobilenet_v2_3d", 17, width_mult=1.0)
    before = model.features[0][0].weight.detach().clone()
    with pytest.raises(WeightsError, match=r"features\.0\.0\.weight checkpoint \(16, 3, 3, 3, 3\)"):
        load_weights(model, checkpoint, strict=True)
    assert torch.equal(model.features[0][0].weight, before)  # nothing loaded


def test_fine_tuning_load_skips_other_head() -> None:
    """A Kinetics-600 checkpoint into a 17-class model: everything but the classifier loads."""
    shapes = dict(_layout(1.0)["state_dict"])
    shapes["classifier.1.weight"], shapes["classifier.1.bias"] = [600, 1280], [600]
    model = build_model("mobilenet_v2_3d", 17)
    report = load_weights(model, {"state_dict": _random_state(shapes, 1)}, strict=False)
    assert [key for key, _, _ in report.mismatched] == ["classifier.1.weight", "classifier.1.bias"]
    assert not report.missing and not report.unexpected


def test_cam_layer_outputs_are_not_modified_in_place() -> None:
    model = build_model("mobilenet_v2_3d", 4, width_mult=0.5)
    assert not any(getattr(m, "inplace", False) for m in model.modules())
    modules = dict(model.named_modules())
    seen: dict[str, tuple[Tensor, Tensor]] = {}

    def keep(name: str):
        return lambda _m, _i, out: seen.__setitem__(name, (out, out.detach().clone()))

    for name in CAM_LAYERS:
        modules[name].register_forward_hook(keep(name))
    model(torch.randn(2, 3, 4, 16, 16)).sum().backward()
    for name, (stored, snapshot) in seen.items():
        assert torch.equal(stored, snapshot), name


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "fast"},
        {"width_mult": 0.0},
        {"width_mult": -1.0},
        {"width_mult": float("nan")},
        {"width_mult": "1.0"},
        {"width_mult": 0.05},  # int(16 * 0.05) = 0 channels
        {"dropout": 1.0},
        {"dropout": -0.1},
    ],
)
def test_invalid_configuration_raises_value_error(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        build_model("mobilenet_v2_3d", 17, **kwargs)
    assert issubclass(ConfigError, ValueError)


def test_invalid_num_classes_and_input() -> None:
    with pytest.raises(ValueError):
        MobileNet3DConfig(num_classes=0)
    model = build_model("mobilenet_v2_3d", 3, width_mult=0.5)
    with pytest.raises(ModelInputError, match=r"\[B, 3, T, H, W\]"):
        model(torch.randn(1, 1, 4, 16, 16))
    with pytest.raises(ModelInputError):
        model(torch.randn(3, 4, 16, 16))


def test_model_card_at_default_input() -> None:
    standard = model_card("mobilenet_v2_3d", 17)
    high = model_card("mobilenet_v2_3d", 17, mode="high_temporal")
    assert standard.params == high.params == REFERENCE_PARAMS_W1
    # Same weights, more time steps after every former temporal stride: ~2.8x the FLOPs at 16 frames.
    assert 2 * standard.flops < high.flops < 4 * standard.flops
    assert standard.cam_layers == CAM_LAYERS


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda() -> None:
    model = build_model("mobilenet_v2_3d", 17, width_mult=0.5).cuda().eval()
    x = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        out = model(x.cuda())
    assert out.device.type == "cuda"
    torch.testing.assert_close(out.cpu(), model.cpu()(x), rtol=1e-3, atol=1e-4)


def test_pose_form_takes_heatmap_volumes_with_the_video_models_blocks() -> None:
    """``mobilenet_v2_3d_pose``: only the stem's input channels differ, so every other tensor has the
    video model's name and shape (a video checkpoint's blocks can initialise it), and the video
    entry keeps its RGB stem (existing checkpoints load unchanged)."""
    entry = get_entry("mobilenet_v2_3d_pose")
    assert entry.input_kind == "pose" and entry.default_input == (17, 32, 56, 56)
    assert entry.kwargs == {"in_channels": 17, "width_mult": 1.0, "mode": "standard", "dropout": 0.2}
    assert "in_channels" not in get_entry("mobilenet_v2_3d").kwargs
    pose = build_model("mobilenet_v2_3d_pose", 5, in_channels=34, width_mult=0.5).eval()
    video = build_model("mobilenet_v2_3d", 5, width_mult=0.5)
    assert pose.input_kind == "pose" and video.input_kind == "video" and pose.cam_layers == video.cam_layers
    pose_shapes = {k: v.shape for k, v in pose.state_dict().items()}
    video_shapes = {k: v.shape for k, v in video.state_dict().items()}
    assert pose_shapes.keys() == video_shapes.keys()
    assert [k for k in pose_shapes if pose_shapes[k] != video_shapes[k]] == ["features.0.0.weight"]
    assert pose_shapes["features.0.0.weight"][1] == 34
    with torch.no_grad():
        assert pose(torch.randn(2, 34, 4, 16, 16)).shape == (2, 5)
    with pytest.raises(ModelInputError, match=r"\[B, 34, T, H, W\] pose heatmap volume"):
        pose(torch.randn(2, 3, 4, 16, 16))
    with pytest.raises(ConfigError, match="in_channels"):
        build_model("mobilenet_v2_3d_pose", 5, in_channels=0)
    card = model_card("mobilenet_v2_3d_pose", 17)
    assert 1.0e9 < card.flops < 1.3e9  # ~18x below posec3d_slowonly's 20.8 GFLOPs at (17, 32, 56, 56)
