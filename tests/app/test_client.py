"""The app through a real Gradio client: each tab's named endpoint with real sample files."""

from __future__ import annotations

import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import gradio as gr
import httpx
import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from exercise_rec.app import AppConfig, ModelStore, build_app, outputs
from exercise_rec.app.state import SAMPLES_DIR, user_errors
from exercise_rec.app.tempdir import outputs_root, private_root, use_private_gradio_dir
from exercise_rec.checkpoint import CheckpointError
from exercise_rec.inference import DEFAULT_CHECKPOINT

from .server import fake_launches, serve

STANDARD = DEFAULT_CHECKPOINT.name
HIGH_TEMPORAL = "mobilenet_v2_3d_high_temporal.pt"


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with serve(AppConfig(device="cpu")) as served:
        yield served


def _sample(name: str) -> dict:
    return handle_file(str(SAMPLES_DIR / name))


def test_the_api_has_one_named_endpoint_per_tab(client):
    endpoints = set(client.view_api(return_format="dict", print_info=False)["named_endpoints"])
    assert {"/predict", "/timeline", "/augment", "/explain", "/compare_modes", "/models"} <= endpoints


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
    timeline = client.predict(_sample(sample), STANDARD, api_name="/timeline")
    assert timeline["visible"] is False  # a 3 s clip needs no timeline


def test_predict_a_long_recording_adds_a_timeline(client):
    timeline = client.predict(_sample("long_recording.mp4"), STANDARD, api_name="/timeline")
    assert timeline["visible"] is True and timeline["value"]["type"] == "matplotlib"


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
    standard, high, table, summaries, slider, view = client.predict(_sample("high_knees.mp4"), api_name="/compare_modes")
    assert standard["label"] and high["label"]
    assert "GFLOPs" in table and "peak activation memory" in table
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
    listed = rf"; choose one of: {STANDARD}, {HIGH_TEMPORAL}$"
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


def test_every_tab_offers_the_samples_as_video_thumbnails():
    """One column per example set (the video): Gradio renders that as thumbnails, two columns as a table."""
    app = build_app(AppConfig(device="cpu"))
    datasets = [c["props"] for c in app.config["components"] if c["type"] == "dataset"]
    sample_names = sorted(p.name for p in SAMPLES_DIR.iterdir() if p.suffix == ".mp4")
    assert len(datasets) == 4  # predict, augment, grad-cam, modes
    for props in datasets:
        assert [c["name"] for c in props["components"]] == ["video"]
        shown = sorted(row[0]["orig_name"] for row in props["samples"])
        assert shown == sample_names


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
