"""Overlays, CAM videos, explain_video on a real checkpoint and video, and ``python -m exercise_rec.cam``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from exercise_rec.cam import main as cam_main
from exercise_rec.checkpoint import CheckpointMeta, save_checkpoint
from exercise_rec.data.video import probe, write_video
from exercise_rec.display import GAP, MIN_HEIGHT
from exercise_rec.explain import CamError, CamInfo
from exercise_rec.explain.overlay import (
    cam_video,
    frame_importance,
    importance_figure,
    overlay,
)
from exercise_rec.explain.video import explain_video
from exercise_rec.inference import Predictor
from exercise_rec.models import build_model

CLASSES = ("jumping_jack", "no_exercise", "squat")
CLIP_LEN = 4
INPUT_SIZE = (24, 32)


def _frames(t: int = 3, h: int = 6, w: int = 5, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (t, h, w, 3), dtype=np.uint8)


def _jet(value: float) -> np.ndarray:
    return np.round(np.asarray(matplotlib.colormaps["jet"](value)[:3]) * 255).astype(np.uint8)


# -- overlay ------------------------------------------------------------------------------------------


def test_overlay_blends_frames_with_the_colormap():
    frames = _frames()
    cam = np.random.default_rng(1).random((3, 6, 5)).astype(np.float32)
    out = overlay(frames, cam, alpha=0.3)
    assert out.dtype == np.uint8 and out.shape == frames.shape
    np.testing.assert_array_equal(overlay(frames, cam, alpha=0.0), frames)
    np.testing.assert_array_equal(overlay(torch.from_numpy(frames), cam, alpha=0.0), frames)

    cold = overlay(frames, np.zeros((3, 6, 5), np.float32), alpha=1.0)
    hot = overlay(frames, np.ones((3, 6, 5), np.float32), alpha=1.0)
    assert (cold == _jet(0.0)).all() and (hot == _jet(1.0)).all()
    assert not (_jet(0.0) == _jet(1.0)).all()
    half = overlay(frames, np.ones((3, 6, 5), np.float32), alpha=0.5)
    expected = (frames.astype(np.float64) + _jet(1.0)) / 2
    assert np.abs(half - expected).max() <= 0.5 + 1e-9


def test_single_map_overlays_every_frame():
    frames = _frames()
    cam = np.random.default_rng(1).random((1, 6, 5)).astype(np.float32)
    out = overlay(frames, cam, alpha=1.0)
    np.testing.assert_array_equal(out[0], out[2])
    np.testing.assert_array_equal(out, overlay(frames, np.repeat(cam, 3, axis=0), alpha=1.0))


@pytest.mark.parametrize(
    ("frames", "cam", "kwargs", "message"),
    [
        (_frames(), np.zeros((3, 5, 6), np.float32), {}, "does not match"),  # H and W swapped
        (_frames(), np.zeros((2, 6, 5), np.float32), {}, "does not match"),  # 2 maps for 3 frames
        (_frames(), np.zeros((6, 5), np.float32), {}, "does not match"),
        (_frames(), np.zeros((3, 6, 5), np.float32), {"alpha": 1.5}, "alpha"),
        (_frames(), np.zeros((3, 6, 5), np.float32), {"alpha": -0.1}, "alpha"),
        (_frames(), np.zeros((3, 6, 5), np.float32), {"colormap": "no_such_map"}, "unknown colormap"),
        (_frames().astype(np.float32), np.zeros((3, 6, 5), np.float32), {}, "uint8"),
        (_frames()[..., :1], np.zeros((3, 6, 5), np.float32), {}, "uint8 RGB"),
    ],
)
def test_overlay_rejects_mismatched_input(frames, cam, kwargs, message):
    with pytest.raises(CamError, match=message):
        overlay(frames, cam, **kwargs)


# -- importance ---------------------------------------------------------------------------------------


def _info(temporal_resolution: int = 4) -> CamInfo:
    return CamInfo(
        layer="features.13", method="hirescam", target=2, target_name="squat", score=1.5, prob=0.6,
        probs=(0.1, 0.3, 0.6), layer_shape=(temporal_resolution, 4, 4),
        temporal_resolution=temporal_resolution, normalization="clip",
    )  # fmt: skip


def test_frame_importance_is_the_mean_of_each_frame():
    cam = np.zeros((3, 4, 4), np.float32)
    cam[0] = 1.0
    cam[2, :2] = 0.5
    importance = frame_importance(cam)
    np.testing.assert_allclose(importance, [1.0, 0.0, 0.25])
    with pytest.raises(CamError):
        frame_importance(cam[0])


def test_importance_figure_shows_one_bar_per_frame_and_names_layer_and_time_steps():
    importance = np.array([0.1, 0.4, 0.2, 0.3])
    figure = importance_figure(importance, _info(4))
    assert isinstance(figure, Figure)
    (axes,) = figure.axes
    assert [bar.get_height() for bar in axes.patches] == pytest.approx(importance.tolist())
    title = axes.get_title()
    assert "features.13" in title and "T'=4" in title and "squat" in title and "same map" not in title
    assert "same map on every frame" in importance_figure(importance, _info(1)).axes[0].get_title()


# -- cam_video ----------------------------------------------------------------------------------------


def test_cam_video_writes_side_by_side_h264_atomically(tmp_path):
    frames = _frames(t=5, h=32, w=48)
    cam = np.random.default_rng(1).random((5, 32, 48)).astype(np.float32)
    path = tmp_path / "cam.mp4"
    path.write_bytes(b"an older file")
    assert cam_video(path, frames, cam, fps=10) == path

    info = probe(path)
    assert info.codec == "h264" and info.frames == 5 and info.fps == pytest.approx(10)
    height = max(MIN_HEIGHT, 32)
    assert info.height == height and info.width == 2 * round(48 * height / 32) + GAP
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cam.mp4"]  # no temporary file left


# -- explain_video and the CLI on a real checkpoint ---------------------------------------------------


def _checkpoint(path: Path, name: str, **model_kwargs) -> Path:
    meta = CheckpointMeta(
        model_name=name, model_kwargs=model_kwargs, class_names=CLASSES, clip_len=CLIP_LEN,
        input_size=INPUT_SIZE, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25),
    )  # fmt: skip
    return save_checkpoint(path, build_model(name, len(CLASSES), **model_kwargs), meta)


def _video(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    return write_video(tmp_path / "v.mp4", rng.integers(0, 255, (20, 48, 64, 3), dtype=np.uint8), 10)


def test_explain_video_aligns_frames_cam_and_probs(tmp_path, tiny_model):
    predictor = Predictor.from_checkpoint(_checkpoint(tmp_path / "c.pt", tiny_model), device="cpu")
    seen: list[torch.Tensor] = []
    hook = predictor.model.register_forward_hook(lambda module, args, out: seen.append(args[0].detach()))
    video = _video(tmp_path)
    result = explain_video(predictor, video)
    hook.remove()

    assert result.frames.dtype == np.uint8 and result.frames.shape == (CLIP_LEN, *INPUT_SIZE, 3)
    model_input = ((seen[0][0] * 0.25 + 0.5) * 255).permute(1, 2, 3, 0).numpy()  # the pixels the model saw
    assert np.abs(result.frames - model_input.clip(0, 255)).max() <= 0.51
    assert result.cam.shape == (CLIP_LEN, *INPUT_SIZE) and result.cam.max() <= 1
    assert result.cam.info.layer == "conv" and result.cam.info.temporal_resolution == CLIP_LEN
    np.testing.assert_allclose(result.probs, predictor.predict(video).probs, rtol=1e-4)
    assert result.predicted == CLASSES[int(result.probs.argmax())]
    assert result.cam.info.target_name == result.predicted  # default: explain the prediction

    other = explain_video(predictor, video, target="squat", method="hirescam")
    assert other.cam.info.target == 2 and other.cam.info.method == "hirescam"
    np.testing.assert_array_equal(other.frames, result.frames)


def test_cam_cli_writes_video_json_and_plot(tmp_path, tiny_model, capsys):
    checkpoint = _checkpoint(tmp_path / "c.pt", tiny_model)
    video, out, plot = _video(tmp_path), tmp_path / "out.mp4", tmp_path / "imp.png"
    args = [str(video), "--checkpoint", str(checkpoint), "--out", str(out), "--device", "cpu"]

    assert cam_main([*args, "--json", "--plot", str(plot), "--method", "hirescam"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {
        "video", "out", "layer", "method", "target", "prob", "predicted",
        "temporal_resolution", "layer_shape", "normalization", "frame_importance", "joint_importance", "joint_summary",
    }  # fmt: skip
    assert report["joint_importance"] is None and report["joint_summary"] is None  # a clip model: no joints
    assert report["video"] == str(video) and report["out"] == str(out)
    assert report["layer"] == "conv" and report["method"] == "hirescam" and report["normalization"] == "clip"
    assert report["target"] == report["predicted"] and report["predicted"] in CLASSES
    assert report["layer_shape"] == [CLIP_LEN, *INPUT_SIZE] and report["temporal_resolution"] == CLIP_LEN
    assert len(report["frame_importance"]) == CLIP_LEN and 0 <= report["prob"] <= 1
    assert probe(out).frames == CLIP_LEN and probe(out).codec == "h264"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert cam_main([*args, "--target", "squat", "--per-frame"]) == 0  # the human-readable report
    text = capsys.readouterr().out
    assert "explaining squat" in text and f"wrote {out}" in text


def test_cam_cli_json_needs_no_video_output(tmp_path, tiny_model, capsys):
    checkpoint = _checkpoint(tmp_path / "c.pt", tiny_model)
    video = _video(tmp_path)
    assert cam_main([str(video), "--checkpoint", str(checkpoint), "--json", "--device", "cpu"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["out"] is None and len(report["frame_importance"]) == CLIP_LEN
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt", video.name]  # nothing written


def test_cam_cli_lists_layers_with_the_default_last(tmp_path, capsys):
    checkpoint = _checkpoint(tmp_path / "c.pt", "mobilenet_v2_3d", width_mult=0.25)
    assert cam_main(["--list-layers", "--checkpoint", str(checkpoint), "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    expected = list(build_model("mobilenet_v2_3d", 3, width_mult=0.25).cam_layers)
    assert [line.split()[0] for line in lines] == expected
    assert lines[-1].endswith("(default)") and not any("(default)" in line for line in lines[:-1])


def test_cam_cli_bad_input_is_one_error_line_and_exit_2(tmp_path, tiny_model, capsys):
    checkpoint = _checkpoint(tmp_path / "c.pt", tiny_model)
    video, out = _video(tmp_path), tmp_path / "out.mp4"
    common = ["--checkpoint", str(checkpoint), "--device", "cpu"]
    for args, named in (
        ([str(tmp_path / "missing.mp4"), "--out", str(out), *common], "missing.mp4"),
        ([str(video), "--out", str(out), "--layer", "features.99", *common], "features.99"),
    ):
        assert cam_main(args) == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and len(err.strip().splitlines()) == 1 and named in err, err
    assert cam_main([str(video), *common]) == 2  # no --out, --json or --plot
    err = capsys.readouterr().err
    assert err.startswith("error:") and len(err.strip().splitlines()) == 1 and "--out" in err, err
    assert not out.exists()


def test_cam_module_entry_point_runs_in_a_new_process(tmp_path):
    checkpoint = _checkpoint(tmp_path / "c.pt", "mobilenet_v2_3d", width_mult=0.25)  # a registry model
    video, out = _video(tmp_path), tmp_path / "out.mp4"
    done = subprocess.run(
        [sys.executable, "-m", "exercise_rec.cam", str(video), "--checkpoint", str(checkpoint),
         "--out", str(out), "--json", "--device", "cpu"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["layer"] == "features.18" and report["temporal_resolution"] == 1
    assert len(report["frame_importance"]) == CLIP_LEN and probe(out).frames == CLIP_LEN
