"""Synthetic generator: determinism, masks and joints that match the figure, split files, long layout, CLI."""

from __future__ import annotations

import csv
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from exercise_rec.data.synthetic import (
    CLASS_NAMES,
    JOINT_NAMES,
    SynthConfig,
    SynthError,
    generate_dataset,
    generate_long,
    render_clip,
    video_rng,
)
from exercise_rec.data.synthetic.figure import JOINT, Body, forward_kinematics
from exercise_rec.data.synthetic.motions import MOTIONS
from exercise_rec.data.synthetic.render import SHADOW_STRENGTH
from exercise_rec.data.synthetic.upright import no_exercise
from exercise_rec.data.video import probe
from exercise_rec.synth import main as synth_main

TINY = SynthConfig(width=64, height=48, duration=0.5, vary_resolution=False)


def _clip(name: str, seed: int = 0, index: int = 0, config: SynthConfig = TINY):
    return render_clip(name, video_rng(seed, CLASS_NAMES.index(name), index), config)


def test_class_names_are_the_17_sorted_classes_with_a_program_each() -> None:
    assert len(CLASS_NAMES) == 17 == len(set(CLASS_NAMES))
    assert list(CLASS_NAMES) == sorted(CLASS_NAMES)  # the order a folder-per-class dataset gives
    assert "no_exercise" in CLASS_NAMES
    assert set(MOTIONS) == set(CLASS_NAMES)


def test_same_seed_same_video_and_other_seeds_differ() -> None:
    a, b = _clip("squat", seed=3), _clip("squat", seed=3)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.mask, b.mask)
    assert np.array_equal(a.joints, b.joints) and a.fps == b.fps
    other = _clip("squat", seed=4)
    assert a.frames.shape != other.frames.shape or not np.array_equal(a.frames, other.frames)
    assert not np.array_equal(_clip("squat", index=1).joints, a.joints[: len(_clip("squat", index=1).joints)])


@pytest.mark.parametrize("name", CLASS_NAMES)
def test_masks_and_joints_cover_the_figure(name: str) -> None:
    config = replace(TINY, width=96, height=72)
    for index in range(2):
        video = _clip(name, index=index, config=config)
        t, h, w = video.mask.shape
        assert video.frames.shape == (t, h, w, 3) and video.frames.dtype == np.uint8
        assert video.joints.shape == (t, len(JOINT_NAMES), 2) and video.labels == [name] * t
        area = video.mask.reshape(t, -1).mean(axis=1)
        assert (area > 0.005).all() and (area < 0.6).all(), f"{name}: mask area per frame {area}"
        # pixels the figure changed (beyond sensor noise) lie in the mask, grown by 2 px for the blur;
        # outside it only the floor shadow may differ, and a shadow only darkens
        diff = video.frames.astype(int) - video.background.astype(int)
        changed = np.abs(diff).max(axis=-1) > 20
        grown = video.mask.copy()
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                grown |= np.roll(video.mask, (dy, dx), axis=(1, 2))
        shadow = (diff <= 12).all(axis=-1) & (video.frames >= video.background * (1 - SHADOW_STRENGTH) - 12).all(-1)
        assert (changed & grown).sum() > 0.1 * video.mask.sum(), f"{name}: the figure barely shows"
        stray = changed & ~grown & ~shadow
        assert stray.sum() <= 0.02 * changed.sum(), f"{name}: {stray.sum()} figure pixels outside the mask"
        # every joint that is in the frame sits on the mask
        cols, rows = np.round(video.joints[..., 0]).astype(int), np.round(video.joints[..., 1]).astype(int)
        inside = (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
        frame_idx = np.broadcast_to(np.arange(t)[:, None], cols.shape)
        on_mask = video.mask[frame_idx[inside], rows[inside], cols[inside]]
        assert on_mask.mean() > 0.98 and inside.mean() > 0.9


def _cycles_per_second(signal: np.ndarray, fps: float) -> float:
    """Dominant frequency of a 1D signal (Hz)."""
    spectrum = np.abs(np.fft.rfft(signal - signal.mean()))
    return float(np.fft.rfftfreq(len(signal), 1 / fps)[1:][spectrum[1:].argmax()])


def test_tempo_pairs_differ_in_tempo_and_small_motion() -> None:
    fps, t = 30.0, np.arange(150) / 30.0
    body = Body()

    def run(name: str, seed: int) -> np.ndarray:
        return forward_kinematics(body, MOTIONS[name].program(t, np.random.default_rng(seed), body))

    march = [_cycles_per_second(run("march_in_place", s)[:, JOINT["r_knee"], 1], fps) for s in range(6)]
    knees = [_cycles_per_second(run("high_knees", s)[:, JOINT["r_knee"], 1], fps) for s in range(6)]
    assert max(march) < min(knees), (march, knees)
    # plank only breathes; a push-up moves the shoulders through most of an arm's length
    def shoulder_travel(name: str, seed: int) -> float:
        y = run(name, seed)[:, JOINT["r_shoulder"], 1]
        return float(y.max() - y.min())

    assert max(shoulder_travel("plank", s) for s in range(6)) < 0.03
    assert min(shoulder_travel("push_up", s) for s in range(6)) > 0.1
    # lateral raise and jumping jack both abduct the arms; only the jack moves the feet apart and hops
    def ankle_spread(name: str, seed: int) -> float:
        joints = run(name, seed)
        gap = np.abs(joints[:, JOINT["l_ankle"], 0] - joints[:, JOINT["r_ankle"], 0])
        return float(gap.max() - gap.min())

    assert max(ankle_spread("lateral_raise", s) for s in range(6)) < 0.01
    assert min(ankle_spread("jumping_jack", s) for s in range(6)) > 0.08


def _read_split(root: Path, split: str) -> list[str]:
    return (root / f"{split}.txt").read_text().split()


def test_dataset_layout_splits_and_ground_truth(tmp_path: Path) -> None:
    classes = ["squat", "plank", "no_exercise"]
    root = generate_dataset(tmp_path / "ds", per_class=4, seed=1, config=TINY, classes=classes, workers=1)
    splits = {name: _read_split(root, name) for name in ("train", "val", "test")}
    listed = [item for items in splits.values() for item in items]
    assert len(listed) == len(set(listed)) == 12  # disjoint and complete
    assert sorted(listed) == sorted(str(p.relative_to(root)) for p in root.glob("*/*.mp4"))
    for items in splits.values():  # stratified: every class in every split (4 -> 2/1/1)
        assert sorted({item.split("/")[0] for item in items}) == sorted(classes)
    assert [len(splits[s]) for s in ("train", "val", "test")] == [6, 3, 3]
    for item in listed:
        info = probe(root / item)
        data = np.load((root / item).with_suffix(".npz"))
        assert data["mask"].dtype == bool and data["mask"].shape == (info.frames, info.height, info.width)
        assert data["joints"].dtype == np.float32 and data["joints"].shape == (info.frames, len(JOINT_NAMES), 2)
        assert float(data["fps"]) == pytest.approx(info.fps, rel=1e-3)
    again = generate_dataset(tmp_path / "again", per_class=4, seed=1, config=TINY, classes=classes, workers=2)
    assert all(_read_split(again, s) == splits[s] for s in splits)
    for item in listed:  # worker count does not change a single byte
        assert (again / item).read_bytes() == (root / item).read_bytes()
        assert (again / item).with_suffix(".npz").read_bytes() == (root / item).with_suffix(".npz").read_bytes()


def test_long_recordings_layout_is_consistent(tmp_path: Path) -> None:
    config = SynthConfig(width=48, height=36, duration=9.0, fps_range=(24, 24), vary_resolution=False)
    root = generate_long(tmp_path / "long", count=3, seed=2, config=config, workers=1)
    with open(root / "split.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    ids = sorted(row["id"] for row in rows)
    assert ids == sorted(p.stem for p in (root / "videos").glob("*.mp4")) and len(ids) == 3
    assert {row["split"] for row in rows} <= {"train", "val", "test"}
    for rec in ids:
        with open(root / "labels" / f"{rec}.csv", newline="") as handle:
            reader = csv.reader(handle)
            assert next(reader) == ["frame", "label"]
            labels = list(reader)
        info = probe(root / "videos" / f"{rec}.mp4")
        assert [int(frame) for frame, _ in labels] == list(range(info.frames))
        names = [label for _, label in labels]
        assert set(names) <= set(CLASS_NAMES) and names[0] == names[-1] == "no_exercise"
        assert len(set(names)) >= 2  # at least one exercise set between rests
        mask = np.load(root / "videos" / f"{rec}.npz")["mask"]
        assert mask.shape == (info.frames, info.height, info.width) and mask.reshape(info.frames, -1).any(1).all()


def test_bad_settings_raise_synth_error(tmp_path: Path) -> None:
    with pytest.raises(SynthError):
        SynthConfig(width=8)
    with pytest.raises(SynthError):
        SynthConfig(val_fraction=0.6, test_fraction=0.5)
    with pytest.raises(SynthError, match="duration"):
        SynthConfig(duration=0.0)
    with pytest.raises(ValueError, match="unknown no_exercise variant"):
        no_exercise(np.arange(4) / 24, np.random.default_rng(0), Body(), variant="dance")
    with pytest.raises(SynthError, match="unknown classes"):
        generate_dataset(tmp_path, per_class=1, classes=["yoga"], config=TINY)
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    with pytest.raises(SynthError, match="not a directory"):
        generate_dataset(afile, per_class=1, config=TINY)


def test_cli_help_runs_as_a_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "exercise_rec.synth", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "--per-class" in result.stdout and "--long" in result.stdout


def test_cli_tiny_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    args = ["--out", str(out), "--per-class", "2", "--seed", "5", "--size", "48x36", "--duration", "0.3"]
    assert synth_main([*args, "--fixed-size", "--workers", "2"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert len(list(out.glob("*/*.mp4"))) == 2 * len(CLASS_NAMES)
    train, val, test = (_read_split(out, s) for s in ("train", "val", "test"))
    assert len(train) == len(val) == len(CLASS_NAMES) and test == []  # 2 per class: one train, one val
    assert not set(train) & set(val)


@pytest.mark.parametrize(
    "args",
    [
        ["--per-class", "1"],  # --out is a file
        ["--per-class", "0"],
        ["--per-class", "1", "--size", "big"],
        ["--per-class", "1", "--classes", "yoga"],
    ],
)
def test_cli_errors_are_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], args) -> None:
    target = tmp_path / "a_file.txt"
    target.write_text("not a folder")
    out = target if args == ["--per-class", "1"] else tmp_path / "out"
    try:
        code = synth_main(["--out", str(out), *args])
    except SystemExit as stop:  # argparse errors exit from inside parse_args
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("error:"), err
    if out == target:
        assert str(target) in err
