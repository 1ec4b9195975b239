"""Synthetic generator appearance domains: the default stays byte-identical; the held-out one differs where promised."""

from __future__ import annotations

import hashlib
from dataclasses import fields, replace
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest

import exercise_rec.synth as synth_cli
from exercise_rec.data.synthetic import (
    APPEARANCE_DOMAINS,
    CLASS_NAMES,
    AppearanceDomain,
    Layout,
    SynthConfig,
    SynthError,
    SynthVideo,
    render_clip,
    render_recording,
    scene,
    video_rng,
)
from exercise_rec.data.synthetic.figure import Body, Pose, forward_kinematics
from exercise_rec.data.synthetic.render import Appearance, Degradation, FigurePainter, rotate_view
from exercise_rec.synth import main as synth_main

TRAIN, SHIFTED = AppearanceDomain(), AppearanceDomain.shifted()
SMALL = SynthConfig(width=64, height=48, duration=0.3, vary_resolution=False)


def _digest(video: SynthVideo, rng: np.random.Generator) -> str:
    """Joints (to 1/1000 px), frame shape, fps, labels and the generator's final state (any added draw shows)."""
    h = hashlib.sha256(np.round(video.joints.astype(np.float64), 3).tobytes())
    h.update(repr((video.frames.shape, video.fps, video.labels, rng.bit_generator.state["state"])).encode())
    return h.hexdigest()[:16]


@pytest.mark.parametrize(
    ("kind", "config", "name", "index", "digest"),
    [
        ("clip", SynthConfig(width=64, height=48, duration=0.5), "jumping_jack", 2, "6488e0f24d632f9b"),
        (
            "clip",
            SynthConfig(width=96, height=54, duration=0.4, layout=Layout.small_off_centre()),
            "burpee",
            0,
            "0ac2b8d3f6689a49",
        ),
        ("recording", SynthConfig(width=48, height=40, duration=8.0), None, 0, "9983e3cd7c9ebb48"),
    ],
)
def test_default_domain_renders_what_it_rendered_before_domains_existed(kind, config, name, index, digest) -> None:
    """Digests taken from the generator before ``AppearanceDomain`` was added."""
    if kind == "clip":
        rng = video_rng(7, CLASS_NAMES.index(name), index)
        video = render_clip(name, rng, config)
    else:
        rng = video_rng(7, 99, index)
        video = render_recording(rng, config)
    assert _digest(video, rng) == digest


def test_train_is_the_default_domain_and_spells_out_todays_ranges() -> None:
    spelled_out = AppearanceDomain(
        skin_tone=[0.9, 1.05],
        hair=[[20, 15, 10], [60, 40, 20], [110, 70, 30], [200, 170, 110], [140, 140, 140]],
        shirt=((0.2, 0.9), (0.35, 0.95)),
        pants=((0, 0.6), (0.12, 0.6)),
        shoes=((0, 0.5), (0.1, 0.95)),
        wall=((0, 0.35), (0.45, 0.95)),
        wall_gradient=(0.7, 1.1),
        texture=(3, 15),
        texture_grid=(6, 8),
        horizon=(0.06, 0.25),
        floor=((0.1, 0.6), (0.25, 0.75)),
        clutter=(0, 4),
        clutter_colour=((0, 0.8), (0.2, 1)),
        mat=((0.3, 0.9), (0.3, 0.8)),
        gain=(0.85, 1.15),
        gamma=(0.85, 1.2),
        elevation=(0, 15),
    )
    assert spelled_out == TRAIN == AppearanceDomain.preset("train") == SynthConfig().appearance
    assert SHIFTED == AppearanceDomain.preset("shifted") and APPEARANCE_DOMAINS == ("train", "shifted")
    assert (TRAIN.stripes, TRAIN.tiles, TRAIN.contrast, TRAIN.cast, TRAIN.person_scale) == (None,) * 5
    a = render_clip("squat", video_rng(7, 0, 1), SynthConfig(width=64, height=48, duration=0.3))
    b = render_clip("squat", video_rng(7, 0, 1), SynthConfig(width=64, height=48, duration=0.3, appearance=spelled_out))
    for field in ("frames", "mask", "joints", "background"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field


def _apart(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[1] < b[0] or b[1] < a[0]


def test_every_shifted_range_is_disjoint_from_the_training_one() -> None:
    boxes = ("shirt", "pants", "shoes", "wall", "floor", "clutter_colour", "mat")
    ranges = ("skin_tone", "wall_gradient", "texture", "horizon", "gain", "gamma", "clutter", "elevation")
    added = ("stripes", "tiles", "contrast", "cast")  # absent in training: flat clothes, boards only, plain light
    shared = ("stripe", "texture_grid")  # the stripe colour has no training counterpart; the grid is not drawn
    assert {f.name for f in fields(AppearanceDomain)} == {*boxes, *ranges, *added, *shared, "hair", "person_scale"}
    for name in boxes:  # a colour box is disjoint when its saturation or its value range is
        (s_train, v_train), (s_shift, v_shift) = getattr(TRAIN, name), getattr(SHIFTED, name)
        assert _apart(s_train, s_shift) or _apart(v_train, v_shift), name
    for name in ranges:
        assert _apart(getattr(TRAIN, name), getattr(SHIFTED, name)), name
    for name in added:
        assert getattr(TRAIN, name) is None and getattr(SHIFTED, name) is not None, name
    assert SHIFTED.texture_grid[0] > TRAIN.texture_grid[0] and SHIFTED.texture_grid[1] > TRAIN.texture_grid[1]
    hair_gap = min(np.abs(np.subtract(a, b)).max() for a in TRAIN.hair for b in SHIFTED.hair)
    assert hair_gap > 60  # no shifted hair colour comes near a training one (jitter: 8 levels s.d.)
    assert _apart(Layout().person_scale, SHIFTED.person_scale)  # further away than the default size


def _hsv(rgb: tuple[int, int, int]) -> tuple[float, float]:
    """(saturation, value) in [0, 1] of an RGB colour."""
    _, s, v = cv2.cvtColor(np.array([[rgb]], np.uint8), cv2.COLOR_RGB2HSV)[0, 0] / 255.0
    return float(s), float(v)


def _inside(sv: tuple[float, float], box, slack: float = 0.02) -> bool:
    (s_lo, s_hi), (v_lo, v_hi) = box
    return s_lo - slack <= sv[0] <= s_hi + slack and v_lo - slack <= sv[1] <= v_hi + slack


@pytest.mark.parametrize("domain", [TRAIN, SHIFTED], ids=APPEARANCE_DOMAINS)
def test_sampled_looks_and_lighting_fall_in_their_domain(domain: AppearanceDomain) -> None:
    for k in range(20):
        rng = np.random.default_rng([5, k])
        look = Appearance.sample(rng, domain)
        for slot in ("shirt", "pants", "shoes"):
            assert _inside(_hsv(getattr(look, slot)), getattr(domain, slot)), (k, slot, getattr(look, slot))
        light = Degradation.sample(rng, domain)
        assert domain.gain[0] <= light.gain <= domain.gain[1] and domain.gamma[0] <= light.gamma <= domain.gamma[1]
        if domain is TRAIN:
            assert look.stripe is None and look.bands == 0
            assert light.contrast == 1.0 and light.cast == (1.0, 1.0, 1.0) and light.lut().shape == (256,)
        else:
            assert _inside(_hsv(look.stripe), domain.stripe) and 2 <= look.bands <= 4
            assert 0.6 <= light.contrast <= 0.8 and light.lut().shape == (256, 1, 3)
            assert 0.15 - 1e-9 <= max(light.cast) - min(light.cast) <= 0.3 + 1e-9, light.cast


@cache
def _rendered(domain: AppearanceDomain) -> tuple[list[SynthVideo], list[float], list[np.ndarray]]:
    """One clip per class at 64x48 with the camera elevation and 3D joints each one was rendered from."""
    seen: list[tuple[float, np.ndarray]] = []

    def spy(joints: np.ndarray, elevation: float):
        seen.append((float(elevation), joints))
        return rotate_view(joints, elevation)

    original, scene.rotate_view = scene.rotate_view, spy
    try:
        clips = [
            render_clip(name, video_rng(11, k, 0), replace(SMALL, appearance=domain)) for k, name in enumerate(CLASS_NAMES)
        ]
    finally:
        scene.rotate_view = original
    assert len(seen) == 2 * len(clips)  # the figure's joints, then its chest direction
    return clips, [e for e, _ in seen[::2]], [j for _, j in seen[::2]]


def _fill(video: SynthVideo) -> float:
    """The largest share of a frame side the person's joints span in one frame (the person size)."""
    _, h, w = video.mask.shape
    x, y = video.joints[..., 0], video.joints[..., 1]
    return max(np.ptp(x, axis=1).max() / w, np.ptp(y, axis=1).max() / h)


def _background_stats(video: SynthVideo) -> tuple[float, float]:
    """The empty room's median saturation (0-1) and the spread of its mean R, G, B (grey levels)."""
    hsv = cv2.cvtColor(video.background, cv2.COLOR_RGB2HSV)
    means = video.background.reshape(-1, 3).mean(axis=0)
    return float(np.median(hsv[..., 1])) / 255, float(np.ptp(means))


def test_shifted_clips_differ_where_promised_and_keep_the_motion() -> None:
    train, train_elevation, train_3d = _rendered(TRAIN)
    shifted, shifted_elevation, shifted_3d = _rendered(SHIFTED)
    # camera height: the recorded elevations lie in the two disjoint ranges
    assert all(0 <= e <= 15 for e in train_elevation) and all(20 <= e <= 35 for e in shifted_elevation)
    # distance: every shifted person is smaller than 55% of the frame, and than the same clip in training
    train_fill, shifted_fill = [_fill(v) for v in train], [_fill(v) for v in shifted]
    assert max(shifted_fill) <= 0.55 and all(s < t for s, t in zip(shifted_fill, train_fill))
    assert np.mean(train_fill) - np.mean(shifted_fill) > 0.12, (train_fill, shifted_fill)
    # the room: strongly coloured walls and floor, and a colour cast
    (train_sat, train_cast), (shift_sat, shift_cast) = (
        np.mean([_background_stats(v) for v in clips], axis=0) for clips in (train, shifted)
    )
    assert shift_sat > train_sat + 0.2 and shift_cast > 2 * train_cast, (train_sat, shift_sat, train_cast, shift_cast)
    # the label is untouched: same 3D motion, fps, length, frame size and labels for the same seed
    for a, b, ja, jb in zip(train, shifted, train_3d, shifted_3d):
        assert np.array_equal(ja, jb) and a.fps == b.fps and a.labels == b.labels and a.frames.shape == b.frames.shape
        assert np.abs(a.background.astype(int) - b.background.astype(int)).mean() > 20


def test_shifted_masks_cover_the_joints_and_the_person_stays_in_the_picture() -> None:
    for name, video in zip(CLASS_NAMES, _rendered(SHIFTED)[0]):
        t, h, w = video.mask.shape
        assert video.frames.shape == (t, h, w, 3) and video.mask.reshape(t, -1).any(1).all(), name
        x, y = np.round(video.joints[..., 0]).astype(int), np.round(video.joints[..., 1]).astype(int)
        inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
        assert inside.all(), name  # the default layout never cuts the person off
        frame = np.broadcast_to(np.arange(t)[:, None], x.shape)
        assert video.mask[frame, y, x].all(), name


def test_stripes_stay_inside_the_figure_and_its_mask() -> None:
    body = Body()
    pose = Pose(1)
    pose.set(ua_abd=70.0, fa_abd=80.0, th_flex=25.0, yaw=30.0)
    joints3d = forward_kinematics(body, pose)
    plane, depth = rotate_view(joints3d, 25.0)
    uv = np.stack([60 + 90 * plane[0, :, 0], 110 - 90 * plane[0, :, 1]], -1)
    flat = Appearance((200, 160, 120), (30, 20, 10), (40, 200, 60), (200, 40, 40), (250, 250, 250), True, False)
    striped = replace(flat, stripe=(0, 0, 0), bands=3)
    images, masks = [], []
    for look in (flat, striped):
        image, mask = np.full((120, 120, 3), 128, np.uint8), np.zeros((120, 120), np.uint8)
        FigurePainter(body, look, 90.0).draw(image, mask, uv, depth[0], np.array([1.0, 0.0]))
        images.append(image)
        masks.append(mask)
    assert np.array_equal(masks[0], masks[1])
    changed = (images[0] != images[1]).any(axis=2)
    assert changed.sum() > 200  # the stripes are there
    painted = (images[0] != 128).any(axis=2)
    assert not (changed & ~painted).any()  # only where the flat-coloured figure already painted
    near_mask = cv2.dilate(masks[0], np.ones((3, 3), np.uint8)).astype(bool)  # the mask, plus the anti-aliased rim
    assert not (changed & ~near_mask).any()


def test_same_seed_same_shifted_video_clips_and_recordings() -> None:
    config = replace(SMALL, appearance=SHIFTED)
    a, b = (render_clip("plank", video_rng(4, 3, 1), config) for _ in range(2))
    recording = replace(config, width=48, height=40, duration=8.0)  # room for one set
    c, d = (render_recording(video_rng(4, 99, 0), recording) for _ in range(2))
    for one, other in ((a, b), (c, d)):
        for field in ("frames", "mask", "joints", "background"):
            assert np.array_equal(getattr(one, field), getattr(other, field)), field
        assert one.labels == other.labels
    assert len(c.labels) == len(c.frames) and len(set(c.labels)) > 1


def test_a_layout_size_wins_over_the_shifted_camera_distance() -> None:
    assert TRAIN.scale_range(Layout()) == (0.6, 0.9)
    assert SHIFTED.scale_range(Layout()) == (0.4, 0.55)
    assert SHIFTED.scale_range(Layout.small_off_centre()) == (0.25, 0.45)
    assert SHIFTED.scale_range(Layout(person_scale=(0.7, 0.8))) == (0.7, 0.8)
    assert replace(SHIFTED, person_scale=None).scale_range(Layout()) == (0.6, 0.9)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"shirt": (0.2, 0.9)}, "shirt"),
        ({"wall": ((0.0, 0.35), (0.45, 1.5))}, "wall value"),
        ({"gain": (1.2, 0.8)}, "gain"),
        ({"elevation": (10.0, 95.0)}, "elevation"),
        ({"cast": 0.2}, "cast"),
        ({"stripes": (2.5, 4)}, "stripes"),
        ({"clutter": (-1, 4)}, "clutter"),
        ({"person_scale": (0.0, 0.5)}, "person_scale"),
        ({"hair": ()}, "hair"),
        ({"hair": ((300, 0, 0),)}, "hair"),
    ],
)
def test_bad_domain_values_raise_synth_error_naming_the_field(kwargs, field) -> None:
    with pytest.raises(SynthError, match=f"AppearanceDomain.{field}"):
        AppearanceDomain(**kwargs)


def test_unknown_domain_and_non_domain_are_refused() -> None:
    with pytest.raises(SynthError, match="unknown appearance domain 'night'.*shifted"):
        AppearanceDomain.preset("night")
    with pytest.raises(SynthError, match="appearance"):
        SynthConfig(appearance="shifted")


def test_cli_appearance_flag_reaches_the_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    seen: list[SynthConfig] = []

    def fake_generate(root, per_class, seed, config, classes, workers, progress):
        seen.append(config)
        return root

    monkeypatch.setattr(synth_cli, "generate_dataset", fake_generate)
    base = ["--out", str(tmp_path / "o"), "--per-class", "3", "--classes", "squat"]
    assert synth_main(base) == 0
    assert synth_main([*base, "--appearance", "shifted"]) == 0
    assert synth_main([*base, "--appearance", "shifted", "--layout", "small_off_centre"]) == 0
    assert synth_main([*base, "--appearance", "shifted", "--person-scale", "0.6,0.9"]) == 0
    assert seen[0].appearance == TRAIN and seen[1].appearance == SHIFTED
    assert seen[2].appearance == SHIFTED and seen[2].layout == Layout.small_off_centre()
    assert seen[3].appearance == replace(SHIFTED, person_scale=None)  # an explicit size wins
    assert seen[3].appearance.scale_range(seen[3].layout) == (0.6, 0.9)
    assert synth_main([*base, "--elevation", "0", "30"]) == 0  # a higher camera, everything else the usual look
    assert synth_main([*base, "--appearance", "shifted", "--elevation", "5", "5"]) == 0
    assert seen[4].appearance == replace(TRAIN, elevation=(0, 30))
    assert seen[5].appearance == replace(SHIFTED, elevation=(5, 5))
    capsys.readouterr()
    try:
        code = synth_main([*base, "--appearance", "night"])
    except SystemExit as stop:  # argparse errors exit from inside parse_args
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--appearance" in err, err
