"""The Compare methods tab: several CAM methods on one clip, each with its deletion / insertion areas."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
import pytest
from gradio_client import Client, handle_file

from exercise_rec.app import AppConfig, ModelStore
from exercise_rec.app.compare_tab import HEADER_HEIGHT, compare_methods, method_choices
from exercise_rec.app.state import SAMPLES_DIR
from exercise_rec.explain.deletion import DeletionConfig
from exercise_rec.inference import DEFAULT_CHECKPOINT

from .server import connect, served

STANDARD = DEFAULT_CHECKPOINT.name
SQUAT = SAMPLES_DIR / "squat.mp4"


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    with served(AppConfig(device="cpu")) as url:
        yield url


@pytest.fixture(scope="module")
def client(app_url: str) -> Client:
    return connect(app_url)


def test_compare_methods_scores_each_method_against_the_clips_random_reference(client):
    view, table, plot, summary, scores, slider = client.predict(
        handle_file(str(SQUAT)), STANDARD, ["hirescam", "gradcam", "eigencam"], "features.3", "squat", 8,
        api_name="/compare_methods",
    )  # fmt: skip
    assert list(scores["methods"]) == ["hirescam", "gradcam", "eigencam"]
    assert scores["fractions"] == pytest.approx(np.linspace(0, 1, 9).tolist())
    assert scores["target"] == "squat" and scores["layer"] == "features.3" and scores["baseline"] == "blur"
    assert scores["clip_prob"] > 0.9 > scores["baseline_prob"]  # blurring the squat takes the class away
    for curves in [scores["random"], *scores["methods"].values()]:
        assert len(curves["deletion"]) == len(curves["insertion"]) == 9
        assert curves["deletion"][0] == curves["insertion"][-1] == scores["clip_prob"]
        assert curves["deletion"][-1] == curves["insertion"][0] == scores["baseline_prob"]
        assert 0 <= curves["deletion_auc"] <= 1 and 0 <= curves["insertion_auc"] <= 1
    # Measured on this clip (README "Comparing methods"): HiResCAM's voxels matter more than random ones.
    assert scores["methods"]["hirescam"]["deletion_auc"] < scores["random"]["deletion_auc"]
    assert table.count("\n| ") == 3 and "| hirescam | " in table and "beats random on" in table
    assert "class **squat**" in summary and "EigenCAM's map ignores the class" in summary
    assert plot["type"] == "matplotlib"
    height, width = cv2.imread(view).shape[:2]
    assert height > 3 * HEADER_HEIGHT and width > 0


def test_compare_methods_needs_a_method(client):
    with pytest.raises(Exception, match="pick at least one method"):
        client.predict(handle_file(str(SQUAT)), STANDARD, [], "features.3", "(predicted class)", 8,
                       api_name="/compare_methods")  # fmt: skip


def test_one_frame_of_the_stack_shows_every_method_at_that_frame():
    """The slider picks one stored frame of the stack: every method's band differs from frame to frame."""
    store = ModelStore(AppConfig(device="cpu"))
    methods = ["gradcam", "hirescam"]
    result = compare_methods(store.explainer(None), SQUAT, "features.3", methods, None, DeletionConfig(steps=2))
    panels = result.panels()
    bands = np.array_split(np.arange(panels.shape[1]), len(methods))  # equal heights: same clip, same crop
    for rows in bands:
        assert (panels[0, rows] != panels[8, rows]).any()
    assert result.target == "squat" and [s.method for s in result.scored] == methods


def test_class_agnostic_methods_say_so_in_the_picker():
    labels = dict((value, label) for label, value in method_choices())
    assert labels["eigencam"] == "eigencam (class-agnostic)" and labels["hirescam"] == "hirescam"


@pytest.mark.heavy
def test_the_one_frame_slider_moves_every_methods_panel_in_the_browser(app_url):
    """Opened with a video, the tab compares its three default methods; moving the slider redraws the
    stacked picture, and every method's band in it shows the new frame."""
    from . import test_browser as ui  # skips without playwright

    if not ui.CHROMIUM.is_file():
        pytest.skip(f"{ui.CHROMIUM} not found")
    with ui.sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(ui.CHROMIUM), headless=True)
        try:
            page = browser.new_page(viewport=ui.VIEWPORT)
            page.goto(app_url, wait_until="load")
            page.get_by_role("button", name="Predict", exact=True).wait_for(timeout=ui.LOAD_TIMEOUT_MS)
            panel = ui.Session(page).tab("Compare methods", "Compare methods")
            ui.upload(panel, "squat.mp4")  # the open tab runs on the new video
            expect = ui.expect
            expect(panel.locator("#compare-table")).to_contain_text("gradcam++", timeout=2 * ui.RESULT_TIMEOUT_MS)
            ui.wait_until_idle(page, panel)
            view = panel.locator("#compare-view img")
            first = view.get_attribute("src") or ""
            frame = panel.get_by_label("number input for frame")
            frame.fill("8")
            frame.press("Enter")
            expect(view).not_to_have_attribute("src", first, timeout=ui.RESULT_TIMEOUT_MS)
            pictures = [
                cv2.imdecode(np.frombuffer(page.request.get(src).body(), np.uint8), cv2.IMREAD_COLOR)
                for src in (first, view.get_attribute("src") or "")
            ]
            assert pictures[0].shape == pictures[1].shape
            for rows in np.array_split(np.arange(pictures[0].shape[0]), 3):  # gradcam, hirescam, gradcam++
                assert (pictures[0][rows] != pictures[1][rows]).any()
            expect(page.get_by_test_id("toast-body")).to_have_count(0)
        finally:
            browser.close()
