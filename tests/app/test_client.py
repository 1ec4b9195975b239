"""The app through a real Gradio client: each tab's named endpoint with real sample files."""

from __future__ import annotations

import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import cv2
import gradio as gr
import httpx
import numpy as np
import pytest
import torch
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from exercise_rec.app import AppConfig, ModelStore, build_app, outputs
from exercise_rec.app.predict_tab import (
    LatestRequests,
    frame_strip,
    headline,
    strip_image,
    timeline_figure,
    verdict_label,
)
from exercise_rec.app.segments import merge_windows, segments_markdown
from exercise_rec.app.skeleton import draw_skeleton
from exercise_rec.app.state import SAMPLES_DIR, user_errors
from exercise_rec.app.tempdir import outputs_root, private_root, use_private_gradio_dir
from exercise_rec.checkpoint import CheckpointError
from exercise_rec.data.video import write_video
from exercise_rec.inference import DEFAULT_CHECKPOINT, Prediction, Timeline
from exercise_rec.pose import KEYPOINT_NAMES, PoseTrack, PoseUnavailable, model_files
from exercise_rec.verdict import Verdict

from .server import fake_launches, serve

STANDARD = DEFAULT_CHECKPOINT.name
HIGH_TEMPORAL = "mobilenet_v2_3d_high_temporal.pt"


def _pose_installed() -> bool:
    try:
        model_files()
    except PoseUnavailable:
        return False
    return True


needs_pose = pytest.mark.skipif(not _pose_installed(), reason="the pose estimator (mediapipe wheel) is not installed")


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with serve(AppConfig(device="cpu")) as served:
        yield served


def _sample(name: str) -> dict:
    return handle_file(str(SAMPLES_DIR / name))


def test_the_api_has_one_named_endpoint_per_tab(client):
    endpoints = set(client.view_api(return_format="dict", print_info=False)["named_endpoints"])
    assert {"/predict", "/timeline", "/augment", "/explain", "/compare_modes", "/compare_streams", "/models"} <= endpoints


@pytest.mark.parametrize("sample,label", [("squat.mp4", "squat"), ("push_up.mp4", "push_up")])
def test_predict_returns_the_right_class_and_the_frames_seen(client, sample, label):
    top, strip, summary = client.predict(_sample(sample), STANDARD, api_name="/predict")
    assert top["label"] == label
    confidences = [c["confidence"] for c in top["confidences"]]
    assert len(confidences) == 5 and confidences == sorted(confidences, reverse=True)
    assert 0 < sum(confidences) <= 1 + 1e-6
    height, width = cv2.imread(strip).shape[:2]
    assert height == 2 * 128 and width == 8 * 171  # 16 frames in two rows; 320x240 decoded at short side 128
    assert label in summary and " ms" in summary
    pretty = label.replace("_", " ").capitalize()
    assert summary.startswith(f"### {pretty} ({confidences[0]:.0%})\n") and "verdict `exercise`: " in summary
    assert "meaningless" not in summary and "segments" not in summary  # a 3 s clip is one clip: its label is it
    segments, plot = client.predict(_sample(sample), STANDARD, api_name="/timeline")
    assert segments["visible"] is False and plot["visible"] is False  # a 3 s clip needs no segments or timeline


def test_predict_takes_show_skeleton_as_its_third_input(client):
    parameters = client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/predict"]["parameters"]
    assert [p["parameter_name"] for p in parameters] == ["video", "checkpoint", "show_skeleton"]
    assert parameters[2]["parameter_has_default"] and parameters[2]["parameter_default"] is True


@needs_pose
def test_predict_leads_with_no_person_found_on_a_video_without_a_person(client, tmp_path):
    """3 s of a moving colour gradient: the model still ranks its classes, the verdict says why not to trust it."""
    height, width, fps = 120, 160, 15
    x, y = np.arange(width)[None, :], np.arange(height)[:, None]
    frames = [
        np.stack([(x + 6 * t + 0 * y) % 256, np.broadcast_to(2 * y, (height, width)), np.full((height, width), 90)], -1)
        for t in range(3 * fps)
    ]
    video = write_video(tmp_path / "gradient.mp4", np.asarray(frames, np.uint8), fps)
    top, strip, summary = client.predict(handle_file(str(video)), STANDARD, api_name="/predict")
    assert summary.startswith("### No person found — a person in view (half the limbs or more) in 0 of 16 frames\n")
    assert "verdict `no_person`: " in summary
    assert top["label"] == "no_person"  # the bars' heading is the verdict, not a class it contradicts
    assert len(top["confidences"]) == 5 and all(c["label"] != "no_person" for c in top["confidences"])
    plain = client.predict(handle_file(str(video)), STANDARD, False, api_name="/predict")[1]
    assert (cv2.imread(strip) == cv2.imread(plain)).all()  # no person found: no skeleton to draw


@needs_pose
def test_show_skeleton_draws_on_the_frame_strip_only_when_on(client):
    on = cv2.imread(client.predict(_sample("squat.mp4"), STANDARD, True, api_name="/predict")[1])
    off = cv2.imread(client.predict(_sample("squat.mp4"), STANDARD, False, api_name="/predict")[1])
    assert on.shape == off.shape
    changed = (on != off).any(axis=2)
    assert 0.002 < changed.mean() < 0.1  # limbs and joints, not a repaint of the frames


def test_the_skeleton_checkbox_redraws_stored_frames_without_predicting():
    """Like the sliders: its change handler reads gr.State and the checkbox only."""
    app = build_app(AppConfig(device="cpu"))
    handlers = [
        dep
        for dep in app.fns.values()
        for block_id, event in dep.targets
        if event == "change" and isinstance(app.blocks.get(block_id), gr.Checkbox) and dep.fn.__name__ == "redraw"
    ]
    assert [[type(c).__name__ for c in dep.inputs] for dep in handlers] == [["State", "Checkbox"]]
    redraw = handlers[0].fn
    assert redraw(None, True) == gr.skip()  # no prediction yet in this session
    with pytest.raises(gr.Error, match=r"these frames expired .*; run the prediction again"):
        redraw("a-token-the-store-dropped", False)


def _pose(size: tuple[int, int], found: list[bool], visibility: float = 1.0) -> PoseTrack:
    """A standing stick figure in the middle of ``size`` (height, width) frames, on the frames marked ``found``."""
    height, width = size
    layout = {
        "nose": (0.5, 0.15), "left_ear": (0.45, 0.15), "right_ear": (0.55, 0.15),
        "left_shoulder": (0.4, 0.3), "right_shoulder": (0.6, 0.3), "left_elbow": (0.35, 0.45),
        "right_elbow": (0.65, 0.45), "left_wrist": (0.33, 0.6), "right_wrist": (0.67, 0.6),
        "left_hip": (0.44, 0.6), "right_hip": (0.56, 0.6), "left_knee": (0.44, 0.75), "right_knee": (0.56, 0.75),
        "left_ankle": (0.44, 0.9), "right_ankle": (0.56, 0.9), "left_foot_index": (0.4, 0.93),
        "right_foot_index": (0.6, 0.93),
    }  # fmt: skip
    one = np.zeros((len(KEYPOINT_NAMES), 3), np.float32)
    for name, (fx, fy) in layout.items():
        one[KEYPOINT_NAMES.index(name)] = (fx * width, fy * height, visibility)
    keypoints = np.where(np.asarray(found)[:, None, None], one, 0).astype(np.float32)
    return PoseTrack(keypoints, np.asarray(found, np.float32), size)


def test_draw_skeleton_changes_only_frames_with_a_person_and_leaves_the_input_alone():
    frames = np.full((3, 64, 48, 3), 30, np.uint8)
    pose = _pose((64, 48), [True, False, True])
    assert pose.found.tolist() == [True, False, True]
    drawn = draw_skeleton(frames, pose)
    assert (frames == 30).all() and drawn.shape == frames.shape and drawn.dtype == np.uint8
    changed = (drawn != frames).any(axis=3).mean(axis=(1, 2))
    assert changed[0] > 0.02 and changed[1] == 0 and changed[2] == changed[0]
    # Keypoints in pixels of larger frames (the estimator's) are scaled to these frames: the same figure.
    big = _pose((128, 96), [True, False, True])
    assert np.abs(draw_skeleton(frames, big).astype(int) - drawn).mean() < 1
    # Off or without a person: untouched; keypoints below the visibility threshold are not drawn.
    clip = (frames, pose)
    assert (cv2.cvtColor(cv2.imread(strip_image(clip, False)), cv2.COLOR_BGR2RGB) == frame_strip(frames)).all()
    assert (cv2.cvtColor(cv2.imread(strip_image(clip, True)), cv2.COLOR_BGR2RGB) != frame_strip(frames)).any()
    assert (draw_skeleton(frames, _pose((64, 48), [True] * 3, visibility=0.4)) == frames).all()
    assert (cv2.cvtColor(cv2.imread(strip_image((frames, None), True)), cv2.COLOR_BGR2RGB) == frame_strip(frames)).all()
    with pytest.raises(ValueError, match="the pose has 2 frames, the clip 3"):
        draw_skeleton(frames, _pose((64, 48), [True, True]))


def _prediction(verdict: str, reason: str, labels: tuple[str, ...], probs: tuple[float, ...]) -> Prediction:
    return Prediction(
        video="v.mp4", model="m", mode=None, labels=labels, top_probs=probs, probs=np.asarray(probs),
        latency_ms=1.0, clip=torch.zeros(1, 2, 2, 3, dtype=torch.uint8), verdict=verdict, reason=reason,
    )  # fmt: skip


@pytest.mark.parametrize(
    "verdict,reason,labels,probs,expected,heading",
    [
        ("no_person", "a person in view (half the limbs or more) in 1 of 16 frames", ("squat", "lunge"), (0.6, 0.2),
         "No person found — a person in view (half the limbs or more) in 1 of 16 frames", "no_person"),
        ("uncertain", "not sure: squat 41%, lunge 30% (this model needs 55%)", ("squat", "lunge"), (0.41, 0.3),
         "Not sure: squat 41%, lunge 30%", "uncertain"),
        ("no_exercise", "no_exercise 92%; a person in 16 of 16 frames", ("no_exercise", "squat"), (0.92, 0.05),
         "No exercise (92%)", "no_exercise"),
        ("exercise", "push_up 93%; a person in 16 of 16 frames", ("push_up", "plank"), (0.93, 0.04),
         "Push up (93%)", "push_up"),
    ],
)  # fmt: skip
def test_the_headline_and_the_bars_heading_follow_the_verdict(verdict, reason, labels, probs, expected, heading):
    result = _prediction(verdict, reason, labels, probs)
    assert headline(result) == expected
    label = gr.Label().postprocess(verdict_label(result))
    assert label.label == heading
    assert [(c.label, c.confidence) for c in label.confidences] == list(zip(labels, probs))


def test_the_timeline_shades_windows_that_are_not_sure_or_show_no_person():
    starts = np.arange(8, dtype=np.float64)
    verdicts = ["exercise", "exercise", "no_person", "no_person", "uncertain", "exercise", "no_exercise", "exercise"]
    probs = np.tile([[0.8, 0.15, 0.05]], (8, 1))
    timeline = Timeline(
        video="v.mp4", class_names=("squat", "lunge", "no_exercise"), starts_s=starts, ends_s=starts + 3, probs=probs,
        verdicts=tuple(Verdict(v, "") for v in verdicts),
    )  # fmt: skip
    figure = timeline_figure(timeline)
    axes = figure.axes[0]
    assert len(axes.patches) == 3  # one span per no_person / uncertain window, none for the others
    (legend,) = figure.legends
    assert [t.get_text() for t in legend.get_texts()] == ["squat", "lunge", "no_exercise", "no person", "not sure"]
    assert axes.get_title(loc="right") == "windows: 4 exercise, 1 no_exercise, 2 no_person, 1 uncertain"


def test_the_timeline_plot_has_headroom_and_its_legend_outside():
    starts = np.arange(4, dtype=np.float64)
    timeline = Timeline(
        video="v.mp4", class_names=("squat", "lunge"), starts_s=starts, ends_s=starts + 3,
        probs=np.asarray([[1.0, 0.0]] * 4), verdicts=tuple(Verdict("exercise", "") for _ in starts),
    )  # fmt: skip
    figure = timeline_figure(timeline)
    axes = figure.axes[0]
    bottom, top = axes.get_ylim()
    assert bottom < 0 and top >= 1.05  # markers on 0 and 1 drawn whole, the 1.0 line not on the edge
    assert 1.0 in axes.get_yticks()
    assert figure.get_size_inches()[0] >= 9
    figure.canvas.draw()
    (legend,) = figure.legends
    legend_box = legend.get_window_extent()
    assert legend_box.x0 >= axes.get_window_extent().x1  # right of the axes: it covers no curve


def test_merging_windows_into_segments():
    """Same verdict and class: one segment; uncertain and no_person windows merge whatever their top
    class; each window owns the time halfway to its neighbours' centres, so the segments tile the video."""
    names = ("squat", "lunge", "no_exercise")
    rows = {"squat": [0.9, 0.05, 0.05], "squat.": [0.7, 0.2, 0.1], "lunge": [0.1, 0.8, 0.1], "rest": [0.0, 0.1, 0.9],
            "unsure_s": [0.4, 0.35, 0.25], "unsure_l": [0.3, 0.45, 0.25]}  # fmt: skip
    windows = [
        ("squat", "exercise"), ("squat.", "exercise"), ("unsure_s", "uncertain"), ("unsure_l", "uncertain"),
        ("unsure_l", "uncertain"), ("lunge", "exercise"), ("squat", "no_person"), ("rest", "no_exercise"),
    ]  # fmt: skip
    starts = np.arange(len(windows), dtype=np.float64)
    probs = np.asarray([rows[name] for name, _ in windows])
    segments = merge_windows(starts, starts + 3, probs, names, [verdict for _, verdict in windows])
    assert [(s.verdict, s.label, s.first, s.last) for s in segments] == [
        ("exercise", "squat", 0, 1), ("uncertain", None, 2, 4), ("exercise", "lunge", 5, 5),
        ("no_person", None, 6, 6), ("no_exercise", "no_exercise", 7, 7),
    ]  # fmt: skip
    assert [s.name for s in segments] == ["squat", "not sure", "lunge", "no person", "no_exercise"]
    assert [(s.start_s, s.end_s) for s in segments] == [(0, 3), (3, 6), (6, 7), (7, 8), (8, 10)]
    assert segments[0].prob == pytest.approx(0.8)  # the mean of squat's probability over its windows
    assert segments[1].prob == pytest.approx((0.4 + 0.45 + 0.45) / 3) and segments[1].guess == "lunge"
    assert merge_windows(starts[:0], starts[:0], probs[:0], names, []) == []
    text = segments_markdown(segments, 10.0)
    assert text.startswith("### 5 segments in 10 s\n\nOne label for the whole video would be meaningless")
    assert "| 0–3 s | squat | 80% | `exercise` |" in text
    assert "| 3–6 s | not sure | 43% (top guess lunge) | `uncertain` |" in text
    assert "| 7–8 s | no person | — | `no_person` |" in text
    one = merge_windows(starts[:2], starts[:2] + 3, probs[:2], names, ["exercise"] * 2)
    assert segments_markdown(one, 4.0).startswith("### One segment: squat over all 4 s")


def test_predict_on_a_long_recording_leads_with_its_segments(client):
    """24 s: walk in, rest, a shoulder_press set, rest, a side_bend set, rest (samples/README.md)."""
    top, _, summary = client.predict(_sample("long_recording.mp4"), STANDARD, api_name="/predict")
    assert summary.startswith("### Long video (24 s): one label for the whole video would be meaningless — see the")
    assert "The whole video as one clip" in summary and "not the answer" in summary and "verdict `" in summary
    assert top["label"] == "long_video" and len(top["confidences"]) == 5  # still there, not as the headline
    segments, plot = client.predict(_sample("long_recording.mp4"), STANDARD, api_name="/timeline")
    assert segments["visible"] is True and plot["visible"] is True and plot["value"]["type"] == "matplotlib"
    text = segments["value"]
    assert re.match(r"### \d+ segments in 24 s\n\nOne label for the whole video would be meaningless", text)
    rows = [line.split(" | ") for line in text.splitlines() if re.match(r"\| \d", line)]
    what = [row[1] for row in rows]
    assert what[0] == "no_exercise" and what[-1] == "no_exercise"  # walk in, walk off
    assert "shoulder_press" in what and "side_bend" in what and what.index("shoulder_press") < what.index("side_bend")
    assert rows[0][0].startswith("| 0–") and rows[-1][0].endswith("–24 s")  # the segments tile the video


def test_a_result_for_an_older_request_of_the_session_is_dropped():
    """The page's upload, Predict and clear first note the request as the session's newest; a timeline
    (or prediction) whose inputs are no longer the newest returns gr.skip() and never shows."""
    latest = LatestRequests(capacity=2)
    assert latest.is_current(None, ("a", "m")) and latest.is_current("api", ("a", "m"))  # no page request: current
    latest.begin("s1", ("long.mp4", "m"))
    latest.begin("s1", ("squat.mp4", "m"))
    assert latest.is_current("s1", ("squat.mp4", "m")) and not latest.is_current("s1", ("long.mp4", "m"))
    assert not latest.is_current("s1", ("squat.mp4", "other.pt"))  # another checkpoint is another request
    latest.begin("s2", ("x", "m"))
    latest.begin("s3", ("x", "m"))  # over capacity: s1, the least recently started, is forgotten
    assert latest.is_current("s1", ("long.mp4", "m"))

    app = build_app(AppConfig(device="cpu"))
    fns = {dep.fn.__name__: dep for dep in app.fns.values() if dep.fn is not None}
    clear, predict, timeline = fns["clear"].fn, fns["predict"].fn, fns["timeline"].fn
    session = SimpleNamespace(session_hash="tab-1")
    long_video, squat = str(SAMPLES_DIR / "long_recording.mp4"), str(SAMPLES_DIR / "squat.mp4")
    cleared = clear(squat, STANDARD, None, session)
    assert [getattr(c, "visible", True) for c in cleared] == [False, True, True, True, False, True]
    assert [getattr(c, "value", c) for c in cleared] == ["", "", None, None, None, None]  # every output emptied
    assert timeline(long_video, STANDARD, session) == (gr.skip(), gr.skip())  # superseded: no work, no result
    assert predict(long_video, STANDARD, True, None, session) == (gr.skip(),) * 4
    clear(long_video, STANDARD, None, session)
    segments, plot = timeline(long_video, STANDARD, session)
    assert segments.visible is True and plot.visible is True
    # Every way into the tab's prediction starts with clear; a busy step runs the newest trigger after it.
    for dep in app.fns.values():
        if dep.fn is not None and dep.fn.__name__ in (
            "predict", "timeline", "clear", "clear_if_new", "predict_if_new_automatic", "timeline_of_shown_automatic",
        ):  # fmt: skip
            assert dep.trigger_mode == "always_last", dep.fn.__name__


def test_augment_returns_both_clips_and_the_drawn_parameters(client):
    settings = [True, 0.3, 0.6, 0.75, 1.33, True, 1.0, True, 20, 96]  # crop, flip always, rotate; 96 px
    original, augmented, params, slider, view = client.predict(_sample("squat.mp4"), *settings, 7, api_name="/augment")
    assert len(original) == len(augmented) == 16
    assert params["seed"] == 7 and params["flipped"] is True and abs(params["angle"]) <= 20
    assert params["output_size"] == [96, 96]
    crop = params["crop"]
    area = crop["height"] * crop["width"] / (params["input_size"][0] * params["input_size"][1])
    assert 0.3 - 0.05 <= area <= 0.6 + 0.05  # the requested area range (rounding to whole pixels)
    again = client.predict(_sample("squat.mp4"), *settings, 7, api_name="/augment")
    assert again[2] == params  # same seed, same draw
    other = client.predict(_sample("squat.mp4"), *settings, 8, api_name="/augment")
    assert other[2]["crop"] != params["crop"]


def test_augment_with_every_transform_off_is_a_centre_crop(client):
    settings = [False, 0.3, 0.6, 0.75, 1.33, False, 1.0, False, 20, 128]
    _, _, params, _, _ = client.predict(_sample("squat.mp4"), *settings, 0, api_name="/augment")
    assert params["flipped"] is False and params["angle"] == 0
    assert params["crop"]["height"] == pytest.approx(params["crop"]["width"], abs=1)


def test_explain_returns_one_overlay_per_frame_and_the_importance(client):
    result = client.predict(
        _sample("squat.mp4"), HIGH_TEMPORAL, "hirescam", "features.13", "squat", False, api_name="/explain"
    )
    gallery, importance, summary, plot, video = result[:5]
    assert len(gallery) == 16 and len(importance) == 16
    assert all(0 <= v <= 1 for v in importance) and max(importance) > 0
    assert "hirescam" in summary and "features.13" in summary and "T'=16" in summary
    assert Path(video).suffix == ".mp4" and Path(video).stat().st_size > 0


def test_explain_standard_last_layer_says_it_has_one_time_step(client):
    result = client.predict(_sample("squat.mp4"), STANDARD, "gradcam", "features.18", "(predicted class)", False,
                            api_name="/explain")  # fmt: skip
    importance, summary = result[1], result[2]
    assert "T'=1" in summary and len(set(importance)) == 1  # one map stretched over every frame


def test_compare_modes_returns_both_predictions_and_costs(client):
    standard, high, table, summaries, slider, view, plot = client.predict(
        _sample("high_knees.mp4"), api_name="/compare_modes"
    )
    assert standard["label"] and high["label"]
    assert len(standard["confidences"]) == len(high["confidences"]) == 3
    verdicts = table.split("\n")[2]
    assert verdicts.startswith("| verdict | ") and verdicts.count("(`") == 2  # each mode's headline and verdict
    assert "GFLOPs" in table and "peak activation memory" in table
    assert plot["type"] == "matplotlib" and cv2.imread(view) is not None
    assert "[1280, 1, 4, 4]" in table and "[1280, 16, 4, 4]" in table  # T' after the strides, per mode
    assert "T'=1" in summaries and "T'=16" in summaries


def test_bad_uploads_are_readable_errors_and_the_app_keeps_serving(client, tmp_path):
    not_video = tmp_path / "holiday.mp4"
    not_video.write_text("this is not a video")
    with pytest.raises(Exception, match="not a video"):
        client.predict(handle_file(str(not_video)), STANDARD, api_name="/predict")
    with pytest.raises(Exception, match="nope is not in the list of choices"):
        client.predict(_sample("squat.mp4"), STANDARD, "gradcam", "nope", "(predicted class)", False,
                       api_name="/explain")  # fmt: skip
    top, *_ = client.predict(_sample("squat.mp4"), STANDARD, api_name="/predict")
    assert top["label"] == "squat"


def test_frame_sliders_only_pick_stored_frames(monkeypatch):
    """Scrubbing must never recompute: every slider's change handler reads gr.State and the slider only,
    and frames that the store dropped give a message, not a traceback."""
    from exercise_rec.app import cam_tab
    from exercise_rec.explain import video as explain_video_module

    app = build_app(AppConfig(device="cpu"))
    blocks = app.blocks
    handlers = {}
    for dep in app.fns.values():
        for block_id, event in dep.targets:
            if event == "change" and isinstance(blocks.get(block_id), gr.Slider):
                handlers[dep.fn.__name__] = dep.fn, [type(component).__name__ for component in dep.inputs]
    assert {name: inputs for name, (_, inputs) in handlers.items()} == {
        name: ["State", "Slider"] for name in ("pair_frame", "pick_frame", "stacked_frame")
    }

    def no_cam(*args, **kwargs):
        raise AssertionError("a slider recomputed the CAM")

    monkeypatch.setattr(explain_video_module, "compute_cam", no_cam)
    panels = np.arange(4 * 2 * 3 * 3, dtype=np.uint8).reshape(4, 2, 3, 3)
    assert (cam_tab.pick_frame(panels, 2) == panels[2]).all() and (cam_tab.pick_frame(panels, 99) == panels[3]).all()
    pick = handlers["pick_frame"][0]
    assert pick(None, 0) is None  # no explanation yet in this session
    with pytest.raises(gr.Error, match=r"these frames expired .*; run the explanation again"):
        pick("a-token-the-store-dropped", 3)


def test_checkpoints_are_only_the_listed_ones(client, tmp_path):
    """A name is never read as a path: not even a real checkpoint outside the folder loads."""
    store = ModelStore(AppConfig(device="cpu"))
    assert store.resolve(None) == store.resolve("") == DEFAULT_CHECKPOINT
    outside = tmp_path / "copy.pt"
    shutil.copy(DEFAULT_CHECKPOINT, outside)
    assert list(store.checkpoints())[:2] == [STANDARD, HIGH_TEMPORAL]  # the default first, then the folder's
    listed = "; choose one of: " + re.escape(", ".join(store.checkpoints())) + "$"
    for name in (str(outside), "../checkpoints/" + STANDARD, "nope.pt"):
        with pytest.raises(CheckpointError, match=rf"^unknown checkpoint .*{listed}"):
            store.get(name)
    with pytest.raises(CheckpointError, match="checkpoint must be one name"):
        store.get([STANDARD])  # type: ignore[arg-type]
    with pytest.raises(AppError, match=r"^checkpoint must be one name \(a string\), got a list$"):
        client.predict(_sample("squat.mp4"), [STANDARD], api_name="/predict")


def test_uploads_and_outputs_stay_in_a_private_folder(client):
    """Not the shared /tmp/gradio, which Gradio serves to anyone who knows a path in it."""
    with open(SAMPLES_DIR / "squat.mp4", "rb") as handle:
        uploaded = Path(httpx.post(f"{client.src}gradio_api/upload", files={"files": handle}, timeout=30).json()[0])
    shared = Path(tempfile.gettempdir(), "gradio").resolve()
    assert not uploaded.resolve().is_relative_to(shared)
    assert uploaded.resolve().is_relative_to(private_root().resolve())
    for folder in (private_root(), use_private_gradio_dir(), outputs_root()):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert Path(outputs.image_file(np.zeros((4, 6, 3), np.uint8))).is_relative_to(outputs_root())


def test_a_gradio_folder_the_user_chose_is_kept(monkeypatch, tmp_path):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    assert use_private_gradio_dir() == tmp_path


def test_messages_name_files_not_server_paths(monkeypatch):
    monkeypatch.setattr(cv2, "imwrite", lambda *args: False)  # a full disk
    with pytest.raises(gr.Error) as caught:
        user_errors(outputs.image_file)(np.zeros((4, 6, 3), np.uint8))
    assert "could not write the result image" in caught.value.message and "/" not in caught.value.message

    def missing() -> None:
        raise FileNotFoundError(2, "No such file or directory", str(outputs_root() / "x" / "clip.mp4"))

    with pytest.raises(gr.Error) as caught:
        user_errors(missing)()
    assert caught.value.message == "clip.mp4: No such file or directory"


def test_one_video_input_with_named_samples_serves_every_tab():
    """Issue 21.11: one video component (above the tabs) and one sample set, each sample named."""
    app = build_app(AppConfig(device="cpu"))
    components = app.config["components"]
    assert len([c for c in components if c["type"] == "video"]) == 1
    (props,) = [c["props"] for c in components if c["type"] == "dataset"]
    sample_names = sorted(p.name for p in SAMPLES_DIR.iterdir() if p.suffix == ".mp4")
    assert [c["name"] for c in props["components"]] == ["video"]
    assert sorted(row[0]["orig_name"] for row in props["samples"]) == sample_names
    assert sorted(props["sample_labels"]) == sorted(name.removesuffix(".mp4").replace("_", " ") for name in sample_names)


def test_app_py_passes_the_frame_budget_and_session_cap(monkeypatch, capsys):
    import app as app_script

    launched = fake_launches(monkeypatch)
    monkeypatch.setattr(sys, "argv", ["app.py", "--frames-budget", "64mb", "--max-sessions", "10"])
    app_script.main()
    assert launched["config"].frames_bytes == 64 * 2**20 and launched["state_session_capacity"] == 10
    assert ModelStore(launched["config"]).frames.budget == 64 * 2**20
    monkeypatch.setattr(sys, "argv", ["app.py", "--frames-budget", "lots"])
    assert app_script.main() == 2
    assert "frames budget must look like 256mb or 1gb, got 'lots'" in capsys.readouterr().err
