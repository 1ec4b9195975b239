"""Synthetic generator layout: the default stays byte-identical; small, off-centre, cut-off people on demand."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np
import pytest

import exercise_rec.synth as synth_cli
from exercise_rec.data.synthetic import (
    CLASS_NAMES,
    JOINT_NAMES,
    LAYOUT_PRESETS,
    Layout,
    SynthConfig,
    SynthError,
    SynthVideo,
    render_clip,
    video_rng,
)
from exercise_rec.synth import main as synth_main

TINY = SynthConfig(width=64, height=48, duration=0.5, vary_resolution=False)
VARY = SynthConfig(width=64, height=48, duration=0.5)  # frame size and shape drawn per video
WIDE = SynthConfig(width=96, height=54, duration=0.4)  # 16:9 nominal, for the layout statistics


def _render(name: str, config: SynthConfig, seed: int = 7, index: int = 0) -> tuple[SynthVideo, np.random.Generator]:
    rng = video_rng(seed, CLASS_NAMES.index(name), index)
    return render_clip(name, rng, config), rng


@pytest.mark.parametrize(
    ("config", "name", "index", "shape", "digest"),
    [
        (TINY, "squat", 0, (12, 48, 64, 3), "3d3bd882e3686979"),
        (TINY, "plank", 1, (14, 48, 64, 3), "784c9a30034a1105"),
        (VARY, "squat", 0, (12, 52, 68, 3), "ae663e459b7623a4"),
        (VARY, "plank", 1, (14, 44, 78, 3), "d2737d78d999a64d"),
    ],
)
def test_default_layout_renders_what_it_rendered_before_layouts_existed(config, name, index, shape, digest) -> None:
    """Digests taken from the generator before ``Layout`` was added: joints (to 1/1000 px), frame
    shape, fps and the generator's final state, which changes with any added or moved draw."""
    video, rng = _render(name, config, index=index)
    h = hashlib.sha256(np.round(video.joints.astype(np.float64), 3).tobytes())
    h.update(repr((video.frames.shape, video.fps, rng.bit_generator.state["state"])).encode())
    assert video.frames.shape == shape
    assert h.hexdigest()[:16] == digest


def test_an_explicit_default_layout_is_the_same_render() -> None:
    spelled_out = Layout(
        person_scale=[0.6, 0.9], aspects=[[4 / 3, 0.55], [16 / 9, 0.3], [3 / 4, 0.15]], cut_off=0, pelvis_reach=0.4
    )
    assert spelled_out == Layout() == Layout.preset("default") == SynthConfig().layout
    for name, index in (("squat", 0), ("jumping_jack", 2)):
        a, _ = _render(name, VARY, index=index)
        b, _ = _render(name, replace(VARY, layout=spelled_out), index=index)
        for field in ("frames", "mask", "joints", "background"):
            assert np.array_equal(getattr(a, field), getattr(b, field)), field


@cache
def _clips(layout: Layout) -> list[SynthVideo]:
    """One clip per class at 96x54 nominal."""
    config = replace(WIDE, layout=layout)
    return [render_clip(name, video_rng(3, k, 0), config) for k, name in enumerate(CLASS_NAMES)]


def _box_height(mask: np.ndarray) -> float:
    """Mean over frames of the person's mask height as a share of the frame height."""
    rows = mask.any(axis=2)
    heights = [np.ptp(np.flatnonzero(r)) + 1 for r in rows if r.any()]
    return float(np.mean(heights)) / mask.shape[1]


def _lost_to_centre_crop(mask: np.ndarray) -> float:
    """Share of the person's pixels outside the centre square crop of each frame."""
    _, h, w = mask.shape
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    return 1 - mask[:, y0 : y0 + side, x0 : x0 + side].sum() / max(mask.sum(), 1)


def _touches_edge(mask: np.ndarray) -> np.ndarray:
    """Per frame: does the mask reach a frame edge."""
    return mask[:, 0].any(1) | mask[:, -1].any(1) | mask[:, :, 0].any(1) | mask[:, :, -1].any(1)


def _joints_outside(video: SynthVideo) -> np.ndarray:
    """Per frame: does a joint lie outside the frame."""
    _, h, w = video.mask.shape
    x, y = video.joints[..., 0], video.joints[..., 1]
    return ((x < 0) | (x > w) | (y < 0) | (y > h)).any(axis=1)


def test_small_off_centre_people_are_small_off_centre_in_wide_and_tall_frames() -> None:
    layout = Layout.small_off_centre()
    assert layout == Layout.preset("small_off_centre") and LAYOUT_PRESETS == ("default", "small_off_centre")
    assert layout.person_scale == (0.25, 0.45) and layout.cut_off == 0.2
    clips = _clips(layout)
    ratios = [clip.mask.shape[2] / clip.mask.shape[1] for clip in clips]
    wide = [abs(r - 16 / 9) < 0.1 for r in ratios]
    tall = [abs(r - 9 / 16) < 0.05 for r in ratios]
    assert all(a or b for a, b in zip(wide, tall)), ratios  # 16:9 or 9:16 only (up to even-pixel rounding)
    assert any(wide) and any(tall)
    heights = [_box_height(clip.mask) for clip in clips]
    assert np.mean(heights) <= 0.4 and max(heights) <= 0.6, heights
    assert all(clip.mask.reshape(len(clip.mask), -1).any(1).all() for clip in clips)  # never out of the picture
    # what the layout is for: a centre crop loses much of the person, which it hardly does by default
    lost = [_lost_to_centre_crop(clip.mask) for clip in clips]
    default_lost = [_lost_to_centre_crop(clip.mask) for clip in _clips(Layout())]
    assert np.mean(lost) > 0.25 and np.mean(default_lost) < 0.1, (lost, default_lost)
    assert np.mean(heights) < np.mean([_box_height(clip.mask) for clip in _clips(Layout())]) - 0.15
    # about one clip in five is cut by an edge (deterministic for these seeds), none by default
    cut = [bool(_touches_edge(clip.mask).any()) for clip in clips]
    assert 1 <= sum(cut) <= 8, cut
    assert not any(_touches_edge(clip.mask).any() for clip in _clips(Layout()))


def test_cut_off_puts_part_of_the_person_past_an_edge() -> None:
    clips = _clips(Layout(cut_off=1.0))
    for name, clip in zip(CLASS_NAMES, clips):
        t, h, w = clip.mask.shape
        assert clip.frames.shape == (t, h, w, 3) and np.isfinite(clip.joints).all()
        assert _touches_edge(clip.mask).any(), f"{name}: the mask never reaches a frame edge"
        assert _joints_outside(clip).any(), f"{name}: no joint ever leaves the frame"
        assert clip.mask.reshape(t, -1).any(1).all(), f"{name}: the person left the picture entirely"
    assert not any(_joints_outside(clip).any() for clip in _clips(Layout()))


def _shoulder_width(clip: SynthVideo) -> float:
    """First frame's shoulder-to-shoulder width in the image over the torso length: ~0 seen from the
    side, largest seen from the front."""
    joints = clip.joints[0]
    shoulders = abs(joints[JOINT_NAMES.index("r_shoulder"), 0] - joints[JOINT_NAMES.index("l_shoulder"), 0])
    hips = (joints[JOINT_NAMES.index("r_hip")] + joints[JOINT_NAMES.index("l_hip")]) / 2
    return float(shoulders / np.linalg.norm(joints[JOINT_NAMES.index("neck")] - hips))


def test_any_view_films_a_side_view_class_from_the_front_too() -> None:
    """Squats are filmed at 70 +- 25 deg (side-on); with any_view the camera also stands in front."""
    widths = {
        view: [_shoulder_width(_render("squat", replace(TINY, layout=Layout(yaw=(0, 90) if view else None)),
                                       index=k)[0]) for k in range(12)]
        for view in (False, True)
    }  # fmt: skip
    assert max(widths[False]) < 0.65 < sorted(widths[True])[-3]  # three front-ish views of 12, none before


def _left_shoulder_on_screen_right(clip) -> bool:
    joints = clip.joints[0]
    return bool(joints[JOINT_NAMES.index("l_shoulder"), 0] > joints[JOINT_NAMES.index("r_shoulder"), 0])


def test_yaw_beyond_90_films_the_person_from_behind() -> None:
    """Facing the camera, a person's left shoulder is on the image's right; seen from behind, on its left."""
    front = [_render("jumping_jack", replace(TINY, layout=Layout(yaw=(0, 10))), index=k)[0] for k in range(4)]
    behind = [_render("jumping_jack", replace(TINY, layout=Layout(yaw=(170, 180))), index=k)[0] for k in range(4)]
    assert all(map(_left_shoulder_on_screen_right, front))
    assert not any(map(_left_shoulder_on_screen_right, behind))


def _torso_tilt(clip) -> float:
    """Degrees between the image's vertical and the pelvis-to-neck line in the first frame."""
    joints = clip.joints[0]
    dx, dy = joints[JOINT_NAMES.index("neck")] - joints[JOINT_NAMES.index("pelvis")]
    return float(abs(np.degrees(np.arctan2(dx, -dy))))


def test_roll_tilts_the_whole_image() -> None:
    """An upright person stays upright on screen with a level camera and leans with a rolled one."""
    level = [_torso_tilt(_render("march_in_place", replace(TINY, layout=Layout(yaw=(0, 0), roll=0)), index=k)[0])
             for k in range(6)]
    rolled = [_torso_tilt(_render("march_in_place", replace(TINY, layout=Layout(yaw=(0, 0), roll=40)), index=k)[0])
              for k in range(6)]  # fmt: skip
    assert max(level) < 8 < 15 < max(rolled), (level, rolled)


def test_person_scale_sets_the_person_size() -> None:
    small = _render("squat", replace(TINY, layout=Layout(person_scale=(0.3, 0.3))))[0]
    large = _render("squat", replace(TINY, layout=Layout(person_scale=(0.9, 0.9))))[0]
    assert 2.3 < _box_height(large.mask) / _box_height(small.mask) < 3.7


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"person_scale": (0.0, 0.5)}, "person_scale"),
        ({"person_scale": (0.5, 0.2)}, "person_scale"),
        ({"person_scale": (0.5, 1.5)}, "person_scale"),
        ({"person_scale": 0.5}, "person_scale"),
        ({"aspects": ()}, "aspects"),
        ({"aspects": ((16 / 9, 0.5), (-1.0, 0.5))}, "aspects"),
        ({"aspects": ((16 / 9, 0.5), (9 / 16, 0.4))}, "aspects"),
        ({"aspects": (16 / 9, 1.0)}, "aspects"),
        ({"cut_off": 1.5}, "cut_off"),
        ({"cut_off": -0.1}, "cut_off"),
        ({"cut_depth": (0.3, 0.6)}, "cut_depth"),
        ({"pelvis_reach": 0.7}, "pelvis_reach"),
        ({"yaw": (100, 50)}, "yaw"),
        ({"yaw": (0, 200)}, "yaw"),
        ({"yaw": 90}, "yaw"),
        ({"roll": -1}, "roll"),
    ],
)
def test_bad_layout_values_raise_synth_error_naming_the_field(kwargs, field) -> None:
    with pytest.raises(SynthError, match=f"Layout.{field}"):
        Layout(**kwargs)


def test_unknown_preset_and_non_layout_are_refused() -> None:
    with pytest.raises(SynthError, match="unknown layout 'tiny'.*small_off_centre"):
        Layout.preset("tiny")
    with pytest.raises(SynthError, match="layout"):
        SynthConfig(layout="small_off_centre")


def test_cli_layout_flags_reach_the_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    seen: list[SynthConfig] = []

    def fake_generate(root, per_class, seed, config, classes, workers, progress):
        seen.append(config)
        return root

    monkeypatch.setattr(synth_cli, "generate_dataset", fake_generate)
    base = ["--out", str(tmp_path / "o"), "--per-class", "3", "--classes", "squat"]
    assert synth_main(base) == 0
    assert synth_main([*base, "--layout", "small_off_centre"]) == 0
    assert synth_main([*base, "--layout", "small_off_centre", "--person-scale", "0.1,0.2"]) == 0
    assert synth_main([*base, "--person-scale", "0.5,0.5"]) == 0
    assert synth_main([*base, "--any-view"]) == 0
    assert synth_main([*base, "--yaw", "0", "180", "--roll", "25"]) == 0
    assert seen[0].layout == Layout()
    assert seen[1].layout == Layout.small_off_centre()
    assert seen[2].layout == replace(Layout.small_off_centre(), person_scale=(0.1, 0.2))
    assert seen[3].layout == Layout(person_scale=(0.5, 0.5))
    assert seen[4].layout == Layout(yaw=(0, 90))
    assert seen[5].layout == Layout(yaw=(0, 180), roll=25)
    capsys.readouterr()


@pytest.mark.parametrize(
    "args",
    [["--person-scale", "0.5"], ["--person-scale", "0.6,0.2"], ["--person-scale", "0,1"], ["--layout", "tiny"],
     ["--yaw", "0", "200"], ["--roll", "-3"], ["--any-view", "--yaw", "0", "10"], ["--elevation", "30", "10"],
     ["--elevation", "0", "95"]],
)
def test_cli_bad_layout_flags_are_one_line_and_exit_2(tmp_path: Path, capsys, args) -> None:
    try:
        code = synth_main(["--out", str(tmp_path / "o"), "--per-class", "1", *args])
    except SystemExit as stop:  # argparse errors exit from inside parse_args
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("error:"), err
    assert args[0].lstrip("-") in err  # names the flag (or its Layout field)


def test_cli_small_off_centre_writes_wide_or_tall_clips(tmp_path: Path, capsys) -> None:
    out = tmp_path / "framing"
    args = ["--out", str(out), "--per-class", "3", "--classes", "squat", "--size", "96x54", "--duration", "0.3"]
    assert synth_main([*args, "--layout", "small_off_centre", "--workers", "1"]) == 0
    capsys.readouterr()
    files = sorted(out.glob("squat/*.npz"))
    assert len(files) == 3
    for path in files:
        mask = np.load(path)["mask"]
        ratio = mask.shape[2] / mask.shape[1]
        assert abs(ratio - 16 / 9) < 0.1 or abs(ratio - 9 / 16) < 0.05, (path.name, mask.shape)
        assert mask.reshape(len(mask), -1).any(1).all()
