"""Augmentation: one draw per clip, exposed parameters, deterministic eval, correct layout."""

from __future__ import annotations

import math

import pytest
import torch

from exercise_rec.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    AugmentConfig,
    AugParams,
    TransformError,
    build_transforms,
    denormalize,
)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _moving_dot_clip(frames: int = 6, height: int = 60, width: int = 80) -> tuple[torch.Tensor, list]:
    """A white 5x5 square crossing a black frame; returns the clip and each frame's dot centre (x, y)."""
    clip = torch.zeros(frames, height, width, 3, dtype=torch.uint8)
    centres = []
    for t in range(frames):
        x0, y0 = 20 + 7 * t, 18 + 4 * t
        clip[t, y0 : y0 + 5, x0 : x0 + 5] = 255
        centres.append((x0 + 2.5, y0 + 2.5))  # continuous coordinates: pixel i spans [i, i + 1)
    return clip, centres


def _expected_position(x: float, y: float, params: AugParams) -> tuple[float, float]:
    """Where an input point lands after crop -> resize -> flip -> rotate (counter-clockwise), by geometry."""
    out_h, out_w = params.output_size
    crop = params.crop
    u = (x - crop.left) / crop.width * out_w
    v = (y - crop.top) / crop.height * out_h
    if params.flipped:
        u = out_w - u
    a = math.radians(params.angle)
    du, dv = u - out_w / 2, v - out_h / 2
    return (out_w / 2 + du * math.cos(a) + dv * math.sin(a), out_h / 2 - du * math.sin(a) + dv * math.cos(a))


def _bright_centroid(frame: torch.Tensor) -> tuple[float, float] | None:
    """Intensity-weighted centre (x, y) of the bright pixels of a uint8 [H, W, 3] frame."""
    weight = frame.float().mean(-1)
    weight = torch.where(weight > 60, weight, torch.zeros_like(weight))
    if weight.sum() == 0:
        return None
    ys, xs = torch.meshgrid(torch.arange(frame.shape[0]), torch.arange(frame.shape[1]), indexing="ij")
    total = weight.sum()
    return (float((weight * (xs + 0.5)).sum() / total), float((weight * (ys + 0.5)).sum() / total))


def test_output_layout_dtype_and_normalisation() -> None:
    grey = torch.tensor(IMAGENET_MEAN).mul(255).round().to(torch.uint8)
    clip = grey.view(1, 1, 1, 3).expand(5, 50, 70, 3).contiguous()
    for train in (True, False):
        out = build_transforms(train, size=(32, 40))(clip)
        assert out.shape == (3, 5, 32, 40) and out.dtype == torch.float32
        assert type(out) is torch.Tensor  # a plain tensor, not a tv_tensors subclass
    # eval of a mean-coloured clip is ~0 everywhere after normalisation
    assert out.abs().max() < 0.01


def test_identical_frames_give_identical_outputs() -> None:
    frame = torch.randint(0, 256, (1, 48, 64, 3), dtype=torch.uint8, generator=_gen(0))
    clip = frame.expand(8, -1, -1, -1).contiguous()
    transform = build_transforms(True, size=(32, 32))
    for seed in range(6):
        out, params = transform.with_params(clip, _gen(seed))
        assert torch.equal(out, out[:, :1].expand_as(out)), f"frames differ for seed {seed}: {params}"


def test_moving_dot_gets_the_same_crop_flip_and_rotation_on_every_frame() -> None:
    clip, centres = _moving_dot_clip()
    transform = build_transforms(True, size=(48, 48), config=AugmentConfig(scale=(0.7, 1.0), degrees=10.0))
    seen_flips = set()
    for seed in range(8):
        out, params = transform.with_params(clip, _gen(seed))
        seen_flips.add(params.flipped)
        assert abs(params.angle) <= 10.0
        frames = denormalize(out)
        checked = 0
        for t, (x, y) in enumerate(centres):
            ex, ey = _expected_position(x, y, params)
            if not (5 < ex < 43 and 5 < ey < 43):
                continue  # this frame's dot was cropped or rotated out of view
            got = _bright_centroid(frames[t])
            assert got is not None, f"seed {seed} frame {t}: dot missing, expected at {(ex, ey)}"
            assert math.dist(got, (ex, ey)) < 1.5, f"seed {seed} frame {t}: {got} vs {(ex, ey)} with {params}"
            checked += 1
        assert checked >= 3
    assert seen_flips == {True, False}


def test_generator_makes_draws_reproducible_and_leaves_global_rng_alone() -> None:
    clip = torch.randint(0, 256, (4, 40, 60, 3), dtype=torch.uint8, generator=_gen(1))
    transform = build_transforms(True, size=(24, 24))
    before = torch.get_rng_state()
    a, pa = transform.with_params(clip, _gen(7))
    b, pb = transform.with_params(clip, _gen(7))
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(a, b) and pa == pb
    draws = {transform.with_params(clip, _gen(s))[1] for s in range(10)}
    assert len(draws) == 10  # crop boxes / angles actually vary between draws
    assert len({p.angle for p in draws}) == 10


def test_global_rng_drives_plain_calls() -> None:
    clip = torch.randint(0, 256, (3, 40, 60, 3), dtype=torch.uint8, generator=_gen(2))
    transform = build_transforms(True, size=(24, 24))
    torch.manual_seed(3)
    a = transform(clip)
    torch.manual_seed(3)
    assert torch.equal(a, transform(clip))
    assert not torch.equal(a, transform(clip))


def test_full_crop_with_certain_flip_equals_mirrored_eval() -> None:
    clip = torch.randint(0, 256, (3, 30, 40, 3), dtype=torch.uint8, generator=_gen(4))
    config = AugmentConfig(scale=(1.0, 1.0), ratio=(40 / 30, 40 / 30), hflip_p=1.0, degrees=0.0)
    out, params = build_transforms(True, size=(30, 40), config=config).with_params(clip, _gen(0))
    reference = build_transforms(False, size=(30, 40))(clip)
    assert params.flipped and params.angle == 0.0
    assert params.crop.width == 40 and params.crop.height == 30
    torch.testing.assert_close(out, reference.flip(-1))


def test_eval_is_deterministic_resize_and_center_crop() -> None:
    # a horizontal ramp, 64x96 input, 32x32 output: resize to 32x48, centre crop drops 8 columns each side
    ramp = torch.linspace(0, 255, 96).round().to(torch.uint8)
    clip = ramp.view(1, 1, 96, 1).expand(2, 64, 96, 3).contiguous()
    transform = build_transforms(False, size=32)
    out, params = transform.with_params(clip)
    assert torch.equal(out, transform(clip))
    assert params.flipped is False and params.angle == 0.0
    assert (params.crop.top, params.crop.left, params.crop.height, params.crop.width) == (0, 16, 64, 64)
    seen = denormalize(out)[0, 0, :, 0].float()
    expected_first, expected_last = 255 * 16.5 / 95, 255 * 79.5 / 95  # columns 16..80 of the input ramp
    assert abs(seen[0] - expected_first) < 4 and abs(seen[-1] - expected_last) < 4


def test_portrait_input_covers_target_without_padding() -> None:
    clip = torch.full((2, 100, 40, 3), 255, dtype=torch.uint8)  # tall and narrow, landscape target
    for train in (False, True):
        out, params = build_transforms(train, size=(30, 60), config=AugmentConfig(degrees=0.0)).with_params(
            clip, _gen(0)
        )
        assert denormalize(out).min() >= 250, f"black padding appeared (train={train})"
        assert params.crop.top + params.crop.height <= 100 + 1e-6 and params.crop.width <= 40 + 1e-6


def test_denormalize_inverts_normalisation() -> None:
    clip = torch.randint(0, 256, (3, 16, 24, 3), dtype=torch.uint8, generator=_gen(5))
    out = build_transforms(False, size=(16, 24))(clip)  # same size: no resampling
    assert torch.equal(denormalize(out), clip)
    batch = denormalize(out.unsqueeze(0), mean=IMAGENET_MEAN, std=IMAGENET_STD)
    assert batch.shape == (1, 3, 16, 24, 3)


@pytest.mark.parametrize(
    "clip",
    [
        torch.zeros(2, 8, 8, 3),  # float, not uint8
        torch.zeros(2, 8, 8, 1, dtype=torch.uint8),  # one channel
        torch.zeros(8, 8, 3, dtype=torch.uint8),  # a single image, no time axis
        torch.zeros(0, 8, 8, 3, dtype=torch.uint8),  # no frames
    ],
)
def test_bad_clips_raise_transform_error(clip: torch.Tensor) -> None:
    with pytest.raises(TransformError):
        build_transforms(False, size=8)(clip)


@pytest.mark.parametrize(
    "kwargs", [{"scale": (0.0, 1.0)}, {"scale": (0.9, 0.5)}, {"hflip_p": 1.5}, {"degrees": -1.0}, {"std": (1, 0, 1)}]
)
def test_bad_config_raises(kwargs: dict) -> None:
    with pytest.raises(TransformError):
        AugmentConfig(**kwargs)
    with pytest.raises(ValueError):
        build_transforms(True, size=(0, 8))
