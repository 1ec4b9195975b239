"""Issue 21 (the app as a teaching instrument) through the app's own handlers and a Gradio client:
EigenCAM says it is class-agnostic, the CAM tab opens on the measured best choice, the Modes tab
shows the model-only cost, results name their checkpoint, panels carry a legend, opacity and
colormap redraw without a new CAM, the Models tab is filled on load, and the RGB vs pose tab
compares the two streams (with a tiny pose checkpoint built here)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import cv2
import gradio as gr
import pytest
import torch
from gradio_client import handle_file

from exercise_rec.app import AppConfig, build_app, cam_tab, streams_tab
from exercise_rec.app.measured import best_choice, measured_note
from exercise_rec.app.panels import LEGEND_HEIGHT
from exercise_rec.app.state import SAMPLES_DIR, ModelStore
from exercise_rec.checkpoint import CheckpointMeta, save_checkpoint
from exercise_rec.data.framing import FramingConfig
from exercise_rec.inference import DEFAULT_CHECKPOINT
from exercise_rec.models import build_model

from .server import serve

STANDARD = DEFAULT_CHECKPOINT.name
SQUAT = SAMPLES_DIR / "squat.mp4"


@pytest.fixture(scope="module")
def pose_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained mobilenet_v2_3d_pose at width 0.25 on 4-frame 32x32 volumes (as tests/explain builds it)."""
    torch.manual_seed(0)
    classes = ("jumping_jack", "no_exercise", "squat")
    meta = CheckpointMeta(
        model_name="mobilenet_v2_3d_pose", model_kwargs={"width_mult": 0.25}, class_names=classes, clip_len=4,
        input_size=(32, 32), mean=(0.0,) * 3, std=(1.0,) * 3, framing={"margin": FramingConfig().margin},
    )  # fmt: skip
    model = build_model("mobilenet_v2_3d_pose", len(classes), width_mult=0.25)
    return save_checkpoint(tmp_path_factory.mktemp("pose_app") / "mobilenet_v2_3d_pose.pt", model, meta)


@pytest.fixture(scope="module")
def client(pose_checkpoint: Path) -> Iterator:
    with serve(AppConfig(device="cpu", extra_checkpoints=(pose_checkpoint,))) as served:
        yield served


def _handlers(app: gr.Blocks) -> dict[str, object]:
    return {dep.fn.__name__: dep.fn for dep in app.fns.values() if dep.fn is not None}


def _component(app: gr.Blocks, label: str) -> dict:
    (props,) = [c["props"] for c in app.config["components"] if c["props"].get("label") == label]
    return props


def test_eigencam_is_class_agnostic_and_greys_the_class_picker_out(client):
    """Issue 21.3: no "for push_up (p=0.6%)" for a map that has no class; every method has its line."""
    summary = client.predict(handle_file(str(SQUAT)), STANDARD, "eigencam", "features.3", "push_up", False,
                             api_name="/explain")[2]  # fmt: skip
    assert "class-agnostic" in summary and "push_up" not in summary and "p=" not in summary
    store = ModelStore(AppConfig(device="cpu"))
    picker, note = cam_tab.method_notes(store, STANDARD, "eigencam", "features.3")
    assert picker["interactive"] is False and "class-agnostic" in note and "3-5 s" in note
    picker, note = cam_tab.method_notes(store, STANDARD, "gradcam", "features.3")
    assert picker["interactive"] is True and note.startswith("Grad-CAM:")
    # Building the tab adds no stray, unlabelled class picker above it (the README screenshot showed one).
    app = build_app(AppConfig(device="cpu"))
    pickers = [c["props"] for c in app.config["components"] if c["props"].get("info") == "the class the map explains"]
    assert [props["label"] for props in pickers] == ["Explain class"]
    assert set(cam_tab.METHOD_NOTES) == set(cam_tab.METHODS)


def test_the_cam_tab_opens_on_the_measured_best_method_and_layer_with_its_figure():
    """Issue 21.4: HiResCAM at features.3 (2.03x / 87.3% on standard round 5), not Grad-CAM at features.18."""
    assert best_choice(STANDARD) == ("features.3", "hirescam")
    assert best_choice("mobilenet_v2_3d_high_temporal.pt") == ("features.3", "hirescam")
    app = build_app(AppConfig(device="cpu"))
    assert _component(app, "Method")["value"] == "hirescam"
    assert _component(app, "Layer (shallow to deep)")["value"] == "features.3"
    (note,) = [c["props"]["value"] for c in app.config["components"] if c["props"].get("elem_id") == "method-note"]
    assert "**2.03x** chance energy" in note and "**87%** of maxima" in note
    assert "localises less well" in measured_note(STANDARD, "features.18", "gradcam")
    assert measured_note("other.pt", "features.3", "hirescam").startswith("Not measured for this checkpoint")


def test_explanation_panels_carry_a_legend_and_restyle_without_a_new_cam(monkeypatch):
    """Issue 21.7: frame number, time, importance strip and colour bar on every panel; opacity and
    colormap redraw the stored map (compute_cam is not called again)."""
    from exercise_rec.explain import video as explain_video_module

    app = build_app(AppConfig(device="cpu"))
    handlers = _handlers(app)
    outputs = handlers["explain"](str(SQUAT), STANDARD, "hirescam", "features.3", cam_tab.PREDICTED, False, 0.5, "jet", None)
    gallery, importance, summary, _plot, _mp4, token, _slider, first = outputs
    assert summary.startswith(f"`{STANDARD}` · **hirescam**")  # issue 21.6: the result names its checkpoint
    shown = cv2.imread(first)
    plain = cv2.imread(gallery[0])
    assert shown.shape == plain.shape and shown.shape[0] > LEGEND_HEIGHT

    def no_cam(*args, **kwargs):
        raise AssertionError("restyling recomputed the CAM")

    monkeypatch.setattr(explain_video_module, "compute_cam", no_cam)
    new_token, view, frames = handlers["restyle"](token, 0.9, "viridis", 3)
    assert new_token != token and len(frames) == len(gallery)
    assert (cv2.imread(view) != cv2.imread(gallery[3])).any()


def test_predict_names_the_checkpoint_that_produced_the_result(client):
    """Issue 21.6: two checkpoints of one model give different answers; the summary says which file."""
    for name in (STANDARD, "mobilenet_v2_3d_high_temporal.pt"):
        summary = client.predict(handle_file(str(SQUAT)), name, api_name="/predict")[2]
        assert f"mobilenet_v2_3d from `{name}`" in summary


def test_the_modes_tab_shows_model_only_cost_and_takes_method_and_layer(client):
    """Issue 21.5: the model-only latency and the activations of a forward pass, per mode, in one run."""
    standard, high, table, summaries, _slider, view, plot = client.predict(
        handle_file(str(SQUAT)), "hirescam", "features.3", api_name="/compare_modes"
    )
    rows = {line.split(" | ")[0].strip("| *"): line for line in table.splitlines()}
    assert "model-only latency (this run, ms)" in rows and "activations of one forward pass (MiB)" in rows
    activations = [float(v.strip(" *|")) for v in rows["activations of one forward pass (MiB)"].split(" | ")[1:]]
    assert activations[1] > 1.5 * activations[0]  # 16 time steps to the end cost memory
    assert summaries.count("**hirescam** at `features.3`") == 2
    assert plot["type"] == "matplotlib" and cv2.imread(view) is not None


def test_the_models_tab_is_filled_on_load_and_names_the_shipped_checkpoints():
    """Issue 21.11: 2.38 M in the registry row, 0.77 M in the shipped files (width 0.5), side by side."""
    app = build_app(AppConfig(device="cpu"))
    table = _component(app, "Registry")["value"]
    rows = {row[0]: row for row in table["data"]}
    assert "shipped checkpoint" in table["headers"]
    shipped = rows["mobilenet_v2_3d"][table["headers"].index("shipped checkpoint")]
    assert f"{STANDARD} (mode=standard, width_mult=0.5): 0.77 M parameters" in shipped
    assert rows["mobilenet_v2_3d"][1].startswith("2,3")  # the default width 1.0: about 2.4 M


def test_the_rgb_vs_pose_tab_compares_both_streams_on_one_clip(client, pose_checkpoint):
    """Issue 20.7: predictions, verdicts, the cost of each stream measured in one run, both explanations."""
    rgb, pose, table, summaries, _slider, view = client.predict(handle_file(str(SQUAT)), api_name="/compare_streams")
    assert rgb["label"] and pose["label"] and len(rgb["confidences"]) == 3
    assert f"`{pose_checkpoint.name}`" in table and "| pose estimation (ms) | - |" in table
    assert "| model only (ms) |" in table and table.count("(`") >= 2  # both verdicts
    assert "most important:" in summaries  # the pose explanation is per joint
    assert cv2.imread(view) is not None


def test_without_a_pose_checkpoint_the_tab_says_what_to_add(tmp_path):
    """The note and the button/API error say what to add; a new video or opening the tab pops up no
    error (a persistent toast over every tab's result). An empty folder: checkpoints/ may hold a pose file."""
    rgb = [path for path in AppConfig().checkpoint_dir.glob("*.pt") if "pose" not in path.name]  # the Modes tab needs both
    config = AppConfig(device="cpu", checkpoint_dir=tmp_path, extra_checkpoints=tuple(rgb))
    assert streams_tab.pose_checkpoint(ModelStore(config)) is None
    app = build_app(config)
    (note,) = [c["props"]["value"] for c in app.config["components"] if c["props"].get("elem_id") == "streams-note"]
    assert note == streams_tab.NO_POSE
    handlers = _handlers(app)
    with pytest.raises(gr.Error, match="No pose checkpoint in the checkpoint folder"):
        handlers["compare"](str(SQUAT), None)
    skipped = handlers["compare_if_pose_automatic"](streams_tab.NAME, str(SQUAT), None)
    assert len(skipped) == 7 and all(output == gr.skip() for output in skipped)


def test_the_pages_timeline_follows_only_the_prediction_on_screen():
    """Issue 21.10: a timeline step chained on an older video's prediction starts with the page's
    inputs, already the next video's; it must not run (had that video been unreadable, its error
    showed twice: once from its prediction, once from this step)."""
    app = build_app(AppConfig(device="cpu"))
    handlers = _handlers(app)  # ("clear" is a name of several tabs' handlers: the Predict tab's one below)
    (handlers["clear"],) = {
        dep.fn for dep in app.fns.values() if dep.fn is not None and dep.fn.__qualname__ == "build.<locals>.clear"
        and dep.fn.__module__ == "exercise_rec.app.predict_tab"
    }  # fmt: skip
    request = SimpleNamespace(session_hash="one tab")
    video = str(SAMPLES_DIR / "long_recording.mp4")
    handlers["clear"](video, STANDARD, None, request)  # the new video's request began; nothing shown yet
    assert handlers["timeline_of_shown_automatic"](video, STANDARD, request) == (gr.skip(), gr.skip())
    handlers["predict"](video, STANDARD, True, None, request)  # its prediction is on screen
    segments, plot = handlers["timeline_of_shown_automatic"](video, STANDARD, request)
    assert "shoulder_press" in segments.value and plot.visible
