"""CAMs of a pose checkpoint: explain_video reads them per joint on the frames the volume came from,
the CAM CLI writes the skeleton video, the joints x time chart and the per-joint JSON, and the app's
Grad-CAM tab shows the skeleton panels (its functions called directly, no browser).

Tiny: mobilenet_v2_3d_pose at width 0.25 on 4-frame 32x32 volumes, untrained; the estimator runs
on 4 frames of samples/squat.mp4 (a person in every frame). Layer ``features.1`` keeps the volume's
32x32 resolution, so the CAM differs from joint to joint (the last layer's map is one pixel).
"""

from __future__ import annotations

import json
from dataclasses import astuple, replace
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch

from exercise_rec.app import cam_tab
from exercise_rec.app.page import build_page
from exercise_rec.app.panels import LEGEND_HEIGHT
from exercise_rec.app.state import AppConfig, ModelStore
from exercise_rec.cam import main as cam_main
from exercise_rec.checkpoint import CheckpointMeta, save_checkpoint
from exercise_rec.data.framing import FramingConfig
from exercise_rec.data.video import probe
from exercise_rec.display import MIN_HEIGHT, draw_box, side_by_side
from exercise_rec.explain import CamError
from exercise_rec.explain.joints import MIN_PEAK, joint_importance
from exercise_rec.explain.video import VideoExplanation, explain_video, joint_frames
from exercise_rec.inference import DEFAULT_CHECKPOINT, Predictor
from exercise_rec.models import build_model
from exercise_rec.pose.heatmaps import COCO_KEYPOINTS, heatmap_volume, sample_frames

CLASSES = ("jumping_jack", "no_exercise", "squat")
FRAMES, SIZE = 4, 32
LAYER = "features.1"
VIDEO = Path(__file__).resolve().parents[2] / "samples" / "squat.mp4"
K = len(COCO_KEYPOINTS)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    meta = CheckpointMeta(
        model_name="mobilenet_v2_3d_pose", model_kwargs={"width_mult": 0.25}, class_names=CLASSES, clip_len=FRAMES,
        input_size=(SIZE, SIZE), mean=(0.0,) * 3, std=(1.0,) * 3, framing={"margin": FramingConfig().margin},
    )  # fmt: skip
    model = build_model("mobilenet_v2_3d_pose", len(CLASSES), width_mult=0.25)
    return save_checkpoint(tmp_path_factory.mktemp("pose_cam") / "pose.pt", model, meta)


@pytest.fixture(scope="module")
def predictor(checkpoint: Path) -> Predictor:
    return Predictor.from_checkpoint(checkpoint, device="cpu")


@pytest.fixture(scope="module")
def clip_and_track(predictor: Predictor):
    clip = predictor.decode(VIDEO)
    return clip, predictor.track(clip)


def test_explain_video_reads_a_pose_cam_per_joint_on_the_frames_the_volume_came_from(predictor, clip_and_track):
    clip, track = clip_and_track
    seen: list[torch.Tensor] = []
    hook = predictor.model.register_forward_hook(lambda module, args, out: seen.append(args[0].detach()))
    result = explain_video(predictor, clip, LAYER, "hirescam", track=track)
    hook.remove()

    volume = seen[0][0].numpy()  # what the model was given: a prediction's own input
    np.testing.assert_array_equal(volume, predictor.inputs([clip], tracks=[track])[0].numpy())
    joints = result.joints
    assert joints is not None and joints.names == COCO_KEYPOINTS
    assert joints.importance.shape == (K, FRAMES) and result.cam.shape == (FRAMES, SIZE, SIZE)
    np.testing.assert_array_equal(joints.importance, joint_importance(result.cam, volume))
    np.testing.assert_array_equal(np.isnan(joints.importance), volume.max(axis=(2, 3)) < MIN_PEAK)
    finite = joints.importance[np.isfinite(joints.importance)]
    assert finite.size > K and finite.max() == pytest.approx(1.0) and finite.std() > 0.01

    # Aligned: the volume's frames are these clip frames, its crop this box, its keypoints these.
    np.testing.assert_array_equal(joints.frame_indices, sample_frames(len(clip), FRAMES))
    np.testing.assert_array_equal(result.clip, clip.numpy()[joints.frame_indices])
    assert joints.keypoints.shape == (FRAMES, K, 3) and result.framed
    rendered = heatmap_volume(joints.keypoints, result.crop, predictor.heatmaps)
    np.testing.assert_allclose(rendered, volume, atol=1e-6)
    assert result.frame_cam().shape == (FRAMES, *clip.shape[1:3])
    np.testing.assert_array_equal(result.frames[..., 0], np.round(volume.max(axis=0) * 255).astype(np.uint8))

    np.testing.assert_allclose(result.probs, predictor.probabilities([clip], tracks=[track])[0].numpy(), rtol=1e-4)
    assert result.cam.info.target_name == result.predicted
    ranked = joints.ranked()
    assert [value for _, value in ranked] == sorted((value for _, value in ranked), reverse=True)
    record = joints.to_json()
    assert list(record["joint_importance"]) == list(COCO_KEYPOINTS) == list(record["joint_summary"])

    per_frame = explain_video(predictor, clip, LAYER, "hirescam", normalize="frame", track=track).joints
    np.testing.assert_allclose(np.nanmax(per_frame.importance, axis=0), 1.0)
    found = explain_video(predictor, VIDEO, LAYER, "hirescam")  # the estimator's own track of the decoded file
    np.testing.assert_allclose(found.joints.importance, joints.importance, atol=1e-6)


def test_a_track_of_larger_frames_lands_on_the_clip_and_a_foreign_one_is_refused(predictor, clip_and_track):
    clip, track = clip_and_track
    plain = explain_video(predictor, clip, LAYER, track=track)
    doubled = replace(track, keypoints=track.keypoints * np.array([2, 2, 1], np.float32),
                      frame_size=(2 * track.frame_size[0], 2 * track.frame_size[1]))  # fmt: skip
    scaled = explain_video(predictor, clip, LAYER, track=doubled)
    np.testing.assert_allclose(scaled.joints.keypoints, plain.joints.keypoints, rtol=1e-5)
    np.testing.assert_allclose(astuple(scaled.crop), astuple(plain.crop), rtol=1e-5)
    np.testing.assert_allclose(scaled.joints.importance, plain.joints.importance, atol=1e-5)

    short = replace(track, keypoints=track.keypoints[:2], presence=track.presence[:2])
    with pytest.raises(CamError, match="track of the clip's 4 frames, got a track of 2 frames"):
        explain_video(predictor, clip, LAYER, track=short)
    clip_model = replace(plain, joints=None)
    with pytest.raises(CamError, match="pose checkpoints only"):
        joint_frames(clip_model)


def test_joint_frames_draw_the_skeleton_by_importance_on_the_real_frames(predictor, clip_and_track):
    clip, track = clip_and_track
    result = explain_video(predictor, clip, LAYER, "hirescam", track=track)
    drawn = joint_frames(result)
    plain = side_by_side([draw_box(result.clip, result.crop)], [f"hirescam {LAYER} -> {result.predicted}: joints"])
    assert drawn.shape == plain.shape and drawn.shape[:2] == (FRAMES, MIN_HEIGHT)
    changed = (drawn != plain).any(axis=-1).mean(axis=(1, 2))
    assert (changed > 0.002).all() and (changed < 0.2).all()  # a skeleton on every frame, not a repaint
    assert not np.array_equal(joint_frames(result, colormap="viridis"), drawn)


def test_cam_cli_writes_the_skeleton_video_the_joints_chart_and_the_joint_json(checkpoint, tmp_path, capsys):
    out, plot = tmp_path / "joints.mp4", tmp_path / "joints.png"
    args = [str(VIDEO), "--checkpoint", str(checkpoint), "--layer", LAYER, "--device", "cpu"]
    assert cam_main([*args, "--out", str(out), "--plot", str(plot), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["out"] == str(out) and report["layer"] == LAYER and len(report["frame_importance"]) == FRAMES
    importance, summary = report["joint_importance"], report["joint_summary"]
    assert list(importance) == list(summary) == list(COCO_KEYPOINTS)
    assert all(len(row) == FRAMES for row in importance.values())
    values = [v for row in importance.values() for v in row if v is not None]
    assert len(values) > K and all(0 <= v <= 1 for v in values) and max(values) == pytest.approx(1.0)
    assert all(v is None or 0 <= v <= 1 for v in summary.values())
    info = probe(out)
    assert info.codec == "h264" and info.frames == FRAMES and info.height == MIN_HEIGHT
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert cam_main([*args, "--plot", str(plot)]) == 0  # the human-readable report names the joints
    text = capsys.readouterr().out
    assert "joints, most important first: " in text and f"wrote {plot}" in text


def test_the_cam_tab_shows_skeleton_panels_and_the_joints_chart_for_a_pose_checkpoint(predictor, checkpoint, tmp_path):
    rendered = cam_tab.render_cam(predictor, VIDEO, LAYER, "hirescam", None)
    assert rendered.kind == "pose" and cam_tab.output_kind(predictor) == "pose"
    assert isinstance(rendered.explanation, VideoExplanation) and rendered.explanation.joints is not None
    skeleton = joint_frames(rendered.explanation)  # the skeleton, not an overlay (its top half: the frame stamp is below)
    np.testing.assert_array_equal(rendered.panels[:, : MIN_HEIGHT // 2], skeleton[:, : MIN_HEIGHT // 2])
    assert rendered.panels.shape[:2] == (FRAMES, MIN_HEIGHT + LEGEND_HEIGHT) and len(rendered.importance) == FRAMES
    (axes, _colourbar) = rendered.figure.axes
    assert [label.get_text() for label in axes.get_yticklabels()] == list(COCO_KEYPOINTS)
    assert probe(rendered.save_mp4()).frames == FRAMES
    assert "most important:" in rendered.summary()

    # The tab's own handlers, as the page calls them: the labels follow the checkpoint, the outputs are the panels.
    store = ModelStore(AppConfig(checkpoint_dir=checkpoint.parent, default_checkpoint=checkpoint,
                                 extra_checkpoints=(DEFAULT_CHECKPOINT,), samples_dir=tmp_path, device="cpu"))  # fmt: skip
    assert "pose heatmaps 17x4x32x32" in store.card(checkpoint.name)
    with gr.Blocks() as blocks:
        with gr.Tab("Grad-CAM") as tab:
            cam_tab.build(store, build_page(store, "Grad-CAM"), tab)
    handlers = {dep.fn.__name__: dep.fn for dep in blocks.fns.values()}
    *_, view, gallery, plot, video = handlers["on_checkpoint"](checkpoint.name)
    assert (view.label, gallery.label, plot.label, video.label) == (
        cam_tab.LABELS["pose"][0], cam_tab.LABELS["pose"][1], cam_tab.LABELS["pose"][2], cam_tab.LABELS["pose"][3],
    )  # fmt: skip
    *_, view, gallery, plot, video = handlers["on_checkpoint"](DEFAULT_CHECKPOINT.name)  # a clip model: as before
    assert (view.label, gallery.label, plot.label, video.label) == (
        "frame with the model's crop (magenta) | overlay", "frame with the model's crop | overlay",
        "per-frame importance (mean CAM)", "overlay video (mp4)",
    )  # fmt: skip
    assert store.by_mode("standard") == DEFAULT_CHECKPOINT.name  # the modes tab compares clip models only
    outputs = handlers["explain"](str(VIDEO), checkpoint.name, "hirescam", LAYER, cam_tab.PREDICTED, False, 0.5, "jet", None)
    frames, importance, summary, figure, mp4, _token, _slider, first = outputs
    assert len(frames) == len(importance) == FRAMES and "most important:" in summary
    assert figure.axes[0].get_yticklabels()[0].get_text() == COCO_KEYPOINTS[0] and Path(mp4).suffix == ".mp4"
    assert Path(first).is_file()
