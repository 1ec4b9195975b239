"""MobileNet-v4: exact parameter counts and layout of the seed's models, shapes in 2D and video
form, the temporal shift, MobileMQA attention, training, registry and model cards."""

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
    build_model,
    get_entry,
    list_models,
    load_weights,
    model_card,
)
from exercise_rec.models.mobilenet_v4 import (
    CAM_LAYERS,
    UIB,
    VARIANTS,
    VIDEO_CAM_LAYERS,
    MobileMQA,
    MobileNetV4,
    MobileNetV4Config,
    MobileNetV4Video,
    MobileNetV4VideoConfig,
    MultiQueryAttention2d,
    mobilenet_v4_custom,
    mobilenet_v4_hybrid_large,
    mobilenet_v4_large,
    mobilenet_v4_medium,
    mobilenet_v4_nano,
    mobilenet_v4_small,
    temporal_shift,
)
from exercise_rec.models.registry import count_flops

LAYOUT_DIR = Path(__file__).parent / "reference_layouts"
# The seed's README, at in_channels=3 and num_classes=1000.
SEED_COUNTS = {
    "nano": 590_344,
    "small": 1_303_904,
    "medium": 2_276_384,
    "large": 9_740_680,
    "hybrid_large": 35_886_888,
}
CONSTRUCTORS = {
    "nano": mobilenet_v4_nano,
    "small": mobilenet_v4_small,
    "medium": mobilenet_v4_medium,
    "large": mobilenet_v4_large,
    "hybrid_large": mobilenet_v4_hybrid_large,
}
# hybrid_large is slow on a shared CPU (384 channels at full input resolution): heavy.
FAST_VARIANTS = ["nano", "small", "medium", "large"]
ALL_VARIANTS = [*FAST_VARIANTS, pytest.param("hybrid_large", marks=pytest.mark.heavy)]


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _nano_video(num_classes: int = 5, shift_fraction: float = 0.125) -> MobileNetV4Video:
    return MobileNetV4Video(MobileNetV4VideoConfig(VARIANTS["nano"].with_io(3, num_classes), shift_fraction))


def _record(model: nn.Module, names: tuple[str, ...], x: Tensor) -> dict[str, Tensor]:
    """Outputs of the named submodules during one forward pass."""
    modules = dict(model.named_modules())
    seen: dict[str, Tensor] = {}
    handles = [
        modules[n].register_forward_hook(lambda _m, _i, out, n=n: seen.__setitem__(n, out)) for n in names
    ]
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return seen


# --- registry -------------------------------------------------------------------------------


def test_every_variant_is_registered_with_its_input_shape() -> None:
    names = set(list_models())
    for variant in [*SEED_COUNTS, "custom"]:
        entry = get_entry(f"mobilenet_v4_{variant}")
        assert entry.default_input == (3, 224, 224)
        assert entry.cam_layers == CAM_LAYERS
    for variant in SEED_COUNTS:
        assert f"mobilenet_v4_{variant}_video" in names
        entry = get_entry(f"mobilenet_v4_{variant}_video")
        assert entry.default_input == (3, 16, 128, 128)
        assert entry.cam_layers == VIDEO_CAM_LAYERS
        assert entry.kwargs == {"shift_fraction": 0.125}
    assert get_entry("mobilenet_v4_nano").kwargs == {"in_channels": 3}


def test_cam_layers_name_real_modules() -> None:
    for model in (build_model("mobilenet_v4_nano", 3), build_model("mobilenet_v4_nano_video", 3)):
        modules = dict(model.named_modules())
        assert model.cam_layers and all(name in modules for name in model.cam_layers)


def test_build_model_rejects_unknown_argument_by_name() -> None:
    with pytest.raises(ValueError, match="shift_fraction"):
        build_model("mobilenet_v4_nano_video", 3, shift=0.1)


# --- 2D family: counts and layout -------------------------------------------------------------


@pytest.mark.parametrize("variant", list(SEED_COUNTS))
def test_parameter_count_equals_seed_table(variant: str) -> None:
    expected = SEED_COUNTS[variant]
    assert _params(CONSTRUCTORS[variant](in_channels=3, num_classes=1000)) == expected
    assert _params(CONSTRUCTORS[variant]()) == expected  # the seed's defaults
    assert _params(build_model(f"mobilenet_v4_{variant}", 1000)) == expected
    # The video form adds no parameter: the shift and the video views hold none.
    assert _params(build_model(f"mobilenet_v4_{variant}_video", 1000)) == expected


def test_nano_count_by_part() -> None:
    """The issue's breakdown: 696 + 31,072 + 16,992 + 12,642 + 2,118 + 526,824 = 590,344."""
    model = mobilenet_v4_nano()
    parts = [model.stem, *model.stages, model.head]
    assert [_params(part) for part in parts] == [696, 31_072, 16_992, 12_642, 2_118, 526_824]


@pytest.mark.parametrize("variant", ["nano", "hybrid_large"])
def test_layout_matches_seed_tensor_for_tensor(variant: str) -> None:
    """Same tensors, same shapes, same order as the seed's ``state_dict()`` (measured with its
    code); only names differ, so each seed tensor has exactly one counterpart here."""
    layout = json.loads((LAYOUT_DIR / f"raven4567_mobilenet_v4_{variant}.json").read_text())
    ours = CONSTRUCTORS[variant]().state_dict()
    assert [list(t.shape) for t in ours.values()] == list(layout["state_dict"].values())
    learned = [s for k, s in layout["state_dict"].items() if "running" not in k and "tracked" not in k]
    assert sum(math.prod(s) for s in learned) == layout["num_parameters"] == SEED_COUNTS[variant]


def test_custom_with_seed_signature_reproduces_the_variants() -> None:
    nano = mobilenet_v4_custom(
        in_channels=3, num_classes=1000, base_channels=24, expanded_channels=64, squeeze_ratio=0.25,
        num_heads=4, hidden_dim_classifier=512, dropout=0.2,
        FusedIBs=2, UIB_and_ExtraDWs=2, SE_and_UIBs=3, SE_and_MobileMQAs=1,
    )
    assert nano.config == VARIANTS["nano"]
    hybrid = mobilenet_v4_custom(3, 1000, 384, 768, 0.25, 16, 1280, 0.3, 3, 7, 6, 4, mqa_reduction=True)
    assert hybrid.config == VARIANTS["hybrid_large"]
    # Seed defaults (C=16, E=32, squeeze 4, 2 heads, hidden 64, one block of each kind):
    # stem 464 + FusedIB 5,216 + (UIB 1,552 + ExtraDW 1,904) + (SE 148 + UIB 1,552)
    # + (SE 148 + MQA 816) + head 66,216 = 78,016.
    assert _params(mobilenet_v4_custom()) == 78_016


# --- 2D family: shapes -------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_2d_output_and_feature_shapes(variant: str) -> None:
    model = CONSTRUCTORS[variant](in_channels=3, num_classes=7).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        logits = model(x)
        features = model.forward_features(x)
    assert logits.shape == (2, 7)
    assert features.shape == (2, VARIANTS[variant].base_channels)
    assert torch.isfinite(logits).all()


def test_2d_grayscale_and_odd_sizes() -> None:
    model = mobilenet_v4_nano(in_channels=1, num_classes=4).eval()
    x = torch.randn(2, 1, 37, 50)
    with torch.no_grad():
        stages = _record(model, CAM_LAYERS, x)
        assert model(x).shape == (2, 4)
    # Two FusedIBs, each ceil(n / 2): 37 -> 19 -> 10, 50 -> 25 -> 13; later blocks keep the size.
    assert [tuple(stages[n].shape) for n in CAM_LAYERS] == [(2, 24, 10, 13)] * 4
    with torch.no_grad():  # a single pixel survives every stride
        assert model(torch.randn(2, 1, 1, 1)).shape == (2, 4)


def test_hybrid_style_reduction_keeps_block_shapes() -> None:
    """Stride-2 query and key/value paths; the attention output returns to the input size."""
    model = mobilenet_v4_custom(3, 5, 16, 32, 0.25, 2, 32, 0.1, 1, 1, 1, 2, mqa_reduction=True).eval()
    x = torch.randn(2, 3, 23, 17)
    with torch.no_grad():
        stages = _record(model, CAM_LAYERS, x)
        assert model(x).shape == (2, 5)
    assert tuple(stages["stages.se_mqa"].shape) == (2, 16, 12, 9)


def test_wrong_input_is_refused_by_shape() -> None:
    model = mobilenet_v4_nano(num_classes=3)
    with pytest.raises(ModelInputError, match=r"\[B, 3, H, W\]"):
        model(torch.randn(1, 1, 32, 32))
    with pytest.raises(ModelInputError):
        model(torch.randn(1, 3, 4, 32, 32))
    video = _nano_video()
    with pytest.raises(ModelInputError, match=r"\[B, 3, T, H, W\]"):
        video(torch.randn(1, 3, 32, 32))


# --- video form ---------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_video_output_feature_and_cam_shapes(variant: str) -> None:
    model = build_model(f"mobilenet_v4_{variant}_video", 17).eval()
    channels = VARIANTS[variant].base_channels
    x = torch.randn(2, 3, 4, 64, 64)
    with torch.no_grad():
        stages = _record(model, VIDEO_CAM_LAYERS, x)
        logits = model(x)
        features = model.forward_features(x)
    assert logits.shape == (2, 17) and torch.isfinite(logits).all()
    assert features.shape == (2, channels)
    side = 64 // 2 ** VARIANTS[variant].fused_ibs
    assert [tuple(stages[n].shape) for n in VIDEO_CAM_LAYERS] == [(2, channels, 4, side, side)] * 4


def test_video_single_frame_and_tiny_frames() -> None:
    """T=1 (both shifted slices become zeros) and frames down to one pixel still classify."""
    model = _nano_video(num_classes=3).eval()
    with torch.no_grad():
        for shape in [(2, 3, 1, 32, 32), (2, 3, 3, 1, 1), (1, 3, 5, 19, 27)]:
            logits = model(torch.randn(*shape))
            assert logits.shape == (shape[0], 3) and torch.isfinite(logits).all()


def test_video_views_are_the_frames_of_each_clip() -> None:
    """``[B, C, T, H, W]`` at the CAM layers holds clip b's frame t at [b, :, t] (no mixing of
    clips and frames in the reshape): with the shift off, frame t of clip b is the 2D model's
    output for that frame alone."""
    video = _nano_video(shift_fraction=0.0).eval()
    image = mobilenet_v4_nano(num_classes=5).eval()
    image.load_state_dict(video.state_dict())
    clips = torch.randn(2, 3, 3, 32, 32)
    with torch.no_grad():
        stages = _record(video, VIDEO_CAM_LAYERS, clips)
        for b in range(2):
            for t in range(3):
                per_frame = _record(image, CAM_LAYERS, clips[b : b + 1, :, t])
                for v_name, i_name in zip(VIDEO_CAM_LAYERS, CAM_LAYERS):
                    torch.testing.assert_close(stages[v_name][b, :, t], per_frame[i_name][0])


def test_2d_weights_load_into_video_form_and_pool_over_time() -> None:
    """Same state-dict layout: a 2D checkpoint loads strictly. Without shift the clip's logits are
    the head applied to the 2D features averaged over frames (temporal average pooling)."""
    image = mobilenet_v4_nano(num_classes=5)
    video = _nano_video(num_classes=5, shift_fraction=0.0)
    report = load_weights(video, {"state_dict": image.state_dict()}, strict=True)
    assert report.ok and len(report.loaded) == len(image.state_dict())
    image.eval(), video.eval()
    clips = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        per_frame = torch.stack([image.forward_features(clips[:, :, t]) for t in range(4)], dim=1)
        expected = image.head(per_frame.mean(dim=1))
        torch.testing.assert_close(video(clips), expected, rtol=1e-5, atol=1e-5)


def test_temporal_shift_moves_channel_slices_by_one_frame() -> None:
    clips, frames, channels = 2, 4, 8
    x = torch.arange(clips * frames * channels, dtype=torch.float32).reshape(clips * frames, channels, 1, 1)
    out = temporal_shift(x, frames, shifted=2).reshape(clips, frames, channels)
    src = x.reshape(clips, frames, channels)
    torch.testing.assert_close(out[:, 1:, 0:2], src[:, :-1, 0:2], rtol=0, atol=0)  # from the past
    torch.testing.assert_close(out[:, :-1, 2:4], src[:, 1:, 2:4], rtol=0, atol=0)  # from the future
    torch.testing.assert_close(out[:, :, 4:], src[:, :, 4:], rtol=0, atol=0)  # untouched
    assert (out[:, 0, 0:2] == 0).all() and (out[:, -1, 2:4] == 0).all()  # zeros past the clip's ends
    assert torch.equal(x, torch.arange(x.numel(), dtype=torch.float32).reshape_as(x))  # not in place


def test_shift_block_lets_a_frame_see_its_neighbour() -> None:
    """Only frame 0 carries signal; after one residual block with the shift, frame 1's output
    depends on it (and not without the shift). The shift adds no parameters."""
    block = UIB(24, 64)
    x = torch.zeros(2, 24, 6, 6)  # one clip of two frames, folded
    x[0] = torch.randn(24, 6, 6)
    x.requires_grad_(True)
    shifted = block(x, lambda f: temporal_shift(f, 2, 3))
    (grad,) = torch.autograd.grad(shifted[1].sum(), x)
    assert grad[0].abs().sum() > 0
    plain = block(x)
    (grad,) = torch.autograd.grad(plain[1].sum(), x)
    assert grad[0].abs().sum() == 0
    assert _params(_nano_video()) == _params(_nano_video(shift_fraction=0.0)) == _params(mobilenet_v4_nano(3, 5))


def test_first_frame_reaches_the_last_frame_through_the_network() -> None:
    """Stacked shifts widen the temporal span: the last frame's deepest features depend on frame 0
    of a 4-frame clip (3 frames apart) with the shift, never without it."""
    x = torch.zeros(1, 3, 4, 32, 32)
    x[:, :, 0] = torch.randn(1, 3, 32, 32)
    x.requires_grad_(True)
    for fraction, reaches in ((0.125, True), (0.0, False)):
        model = _nano_video(shift_fraction=fraction).eval()
        deepest = model.feature_map(x)  # [1, C, T, H, W]
        (grad,) = torch.autograd.grad(deepest[:, :, 3].sum(), x)
        assert (grad[:, :, 0].abs().sum() > 0) == reaches


# --- MobileMQA -----------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", [False, True])
def test_attention_rows_sum_to_one(reduction: bool) -> None:
    attention = MultiQueryAttention2d(24, 4, reduction=reduction)
    probs = attention.attention_probs(torch.randn(2, 24, 8, 6))
    n = 48 if not reduction else 12  # 8x6 positions, or 4x3 after the stride-2 paths
    assert probs.shape == (2, 4, n, n)
    assert (probs >= 0).all()
    torch.testing.assert_close(probs.sum(dim=-1), torch.ones(2, 4, n))


def test_attention_forward_is_the_weighted_sum_of_values() -> None:
    """The fused ``scaled_dot_product_attention`` computes softmax(QK^T / sqrt(d)) V per head, on
    head ``i`` = channels ``[i*d, (i+1)*d)`` of the shared projections."""
    attention = MultiQueryAttention2d(24, 4)
    x = torch.randn(2, 24, 5, 7)
    probs = attention.attention_probs(x)  # [B, heads, N, N]
    values = attention.value(x).reshape(2, 4, 6, 35)  # [B, heads, d, N]
    expected = torch.einsum("bhqk,bhdk->bhdq", probs, values).reshape(2, 24, 5, 7)
    torch.testing.assert_close(attention(x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("reduction", [False, True])
def test_attention_output_depends_on_a_distant_position(reduction: bool) -> None:
    """Changing the bottom-right pixel changes the top-left output of MobileMQA; in fact that
    output depends on every position of the map (global context in one block)."""
    mqa = MobileMQA(24, 4, reduction=reduction)
    x = torch.randn(1, 24, 12, 12)
    changed = x.clone()
    changed[..., 11, 11] += 5.0
    with torch.no_grad():
        assert (mqa(x)[..., 0, 0] - mqa(changed)[..., 0, 0]).abs().max() > 1e-4
    x.requires_grad_(True)
    (grad,) = torch.autograd.grad(mqa(x)[..., 0, 0].sum(), x)
    assert (grad.abs().sum(dim=1) > 0).all()


# --- training ------------------------------------------------------------------------------------


def test_video_form_fits_a_fixed_batch() -> None:
    model = _nano_video(num_classes=3).train()
    x = torch.randn(4, 3, 4, 32, 32)
    y = torch.tensor([0, 1, 2, 1])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(6):
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < 0.5 * losses[0], losses
    assert model.stem.conv.weight.grad is not None and model.stem.conv.weight.grad.abs().sum() > 0


def test_batch_of_one_trains_with_running_statistics() -> None:
    """BatchNorm1d in the head cannot estimate a variance from one clip: such a batch uses the
    running statistics (left unchanged) instead of raising; larger batches update them."""
    model = _nano_video(num_classes=3).train()
    norm = model.head.norm
    before = (norm.running_mean.clone(), norm.running_var.clone())
    loss = nn.functional.cross_entropy(model(torch.randn(1, 3, 2, 16, 16)), torch.tensor([2]))
    loss.backward()
    assert math.isfinite(loss.item())
    assert torch.equal(norm.running_mean, before[0]) and torch.equal(norm.running_var, before[1])
    assert norm.weight.grad is not None and norm.weight.grad.abs().sum() > 0
    model(torch.randn(2, 3, 2, 16, 16))
    assert not torch.equal(norm.running_mean, before[0])


def test_cam_layer_outputs_are_not_modified_in_place() -> None:
    model = _nano_video(num_classes=4)
    assert not any(getattr(m, "inplace", False) for m in model.modules())
    modules = dict(model.named_modules())
    seen: dict[str, tuple[Tensor, Tensor]] = {}
    for name in VIDEO_CAM_LAYERS:
        modules[name].register_forward_hook(
            lambda _m, _i, out, name=name: seen.__setitem__(name, (out, out.detach().clone()))
        )
    model(torch.randn(2, 3, 3, 32, 32)).sum().backward()
    for name, (stored, snapshot) in seen.items():
        assert torch.equal(stored, snapshot), name


def test_cam_layer_gradients_flow() -> None:
    """What Grad-CAM needs: each video view's output gets a nonzero gradient from the logits."""
    model = _nano_video(num_classes=4).eval()
    grads: dict[str, Tensor] = {}
    modules = dict(model.named_modules())

    def keep(name: str):
        def hook(_m: nn.Module, _i: object, out: Tensor) -> None:
            out.register_hook(lambda g: grads.__setitem__(name, g))

        return hook

    for name in VIDEO_CAM_LAYERS:
        modules[name].register_forward_hook(keep(name))
    model(torch.randn(1, 3, 3, 32, 32))[0, 1].backward()
    assert set(grads) == set(VIDEO_CAM_LAYERS)
    assert all(g.shape[2] == 3 and g.abs().sum() > 0 for g in grads.values())


# --- configuration errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_channels": 4},  # GroupNorm(4 // 8 = 0 groups)
        {"expanded_channels": 33},  # GroupNorm(4 groups) of 33 channels
        {"num_heads": 3},  # 16 channels into 3 heads
        {"dropout": 1.0},
        {"dropout": "0.2"},
        {"squeeze_ratio": 0.0},
        {"squeeze_ratio": 0.01},  # int(16 * 0.01) = 0
        {"FusedIBs": -1},
        {"SE_and_MobileMQAs": 1.5},
        {"num_classes": 0},
        {"in_channels": True},
    ],
)
def test_invalid_custom_configuration(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        mobilenet_v4_custom(**kwargs)
    assert issubclass(ConfigError, ValueError)


@pytest.mark.parametrize("fraction", [-0.1, 0.6, float("nan"), 0.01])
def test_invalid_shift_fraction(fraction: float) -> None:
    with pytest.raises(ConfigError, match="shift"):
        build_model("mobilenet_v4_nano_video", 3, shift_fraction=fraction)


def test_config_is_a_value() -> None:
    config = VARIANTS["small"].with_io(1, 10)
    assert (config.in_channels, config.num_classes, config.base_channels) == (1, 10, 48)
    expected = MobileNetV4Config(48, 96, 12, 6, 1024, 0.2, 2, 3, 4, 2, in_channels=1, num_classes=10)
    assert MobileNetV4(config).config == config == expected


# --- model cards ---------------------------------------------------------------------------


def test_model_card_video_flops_are_per_frame_flops() -> None:
    """The shift costs no FLOPs: a 16-frame clip costs 16 frames of the 2D backbone at the same
    size, plus one head (counted from the 2D model at 128x128, the video's default frame size)."""
    video = model_card("mobilenet_v4_nano_video", 17)
    assert video.params == _params(mobilenet_v4_nano(num_classes=17))
    assert video.cam_layers == VIDEO_CAM_LAYERS and video.default_input == (3, 16, 128, 128)
    image = mobilenet_v4_nano(num_classes=17).eval()
    per_image = count_flops(image, torch.randn(1, 3, 128, 128))
    head = count_flops(image.head, torch.randn(1, 24))
    assert video.flops == 16 * (per_image - head) + head


def test_model_card_2d() -> None:
    card = model_card("mobilenet_v4_nano", 1000)
    assert card.params == SEED_COUNTS["nano"]
    assert card.default_input == (3, 224, 224)
    assert 1e9 < card.flops < 3e9  # 1.67 GFLOPs measured: the stride-1 stem runs at 224x224


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda() -> None:
    model = build_model("mobilenet_v4_nano_video", 5).eval()
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        expected = model(x)
        out = model.cuda()(x.cuda())
    assert out.device.type == "cuda"
    torch.testing.assert_close(out.cpu(), expected, rtol=1e-3, atol=1e-4)
