"""The app in a real browser: Debian's headless Chromium driven by Playwright, fully offline.

What the Gradio client cannot see: the page loads and renders, an upload in the video component
triggers the prediction, each tab's button shows its result, the frame sliders scrub what the
server kept, and the page asks no host other than this machine for anything (no CDN, fonts, analytics).

Needs ``/usr/bin/chromium`` (``make setup`` installs it with apt-get when it can) and the
``playwright`` package (requirements-dev.txt); no ``playwright install`` browser download.
Without either the tests are skipped. ``EXERCISE_REC_SCREENSHOTS=1`` writes the README's
screenshots to docs/screenshots/ (otherwise they go to a temporary folder).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from exercise_rec.app import AppConfig, ModelStore, streams_tab
from exercise_rec.app.state import SAMPLES_DIR
from exercise_rec.inference import Predictor

from .server import served

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (requirements-dev.txt; `make setup` installs it)"
)
expect = sync_api.expect

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
MAX_SCREENSHOT_BYTES = 400_000  # larger full-page PNGs are re-encoded with a 256-colour palette
VIEWPORT = {"width": 1280, "height": 900}
LOAD_TIMEOUT_MS = 60_000  # first page load and uploads
RESULT_TIMEOUT_MS = 90_000  # one model call on a slow, busy CPU
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

pytestmark = [
    pytest.mark.heavy,
    pytest.mark.skipif(
        not CHROMIUM.is_file(), reason=f"{CHROMIUM} not found (`make setup` installs Debian's chromium via apt-get)"
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    with served(AppConfig(device="cpu")) as url:
        yield url


@dataclass
class Session:
    """One browser tab on the app, with every URL it asked for and every uncaught script error."""

    page: sync_api.Page
    urls: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def offsite(self) -> list[str]:
        """URLs that are neither on this machine nor in-page (data:, blob:)."""
        return [
            url for url in self.urls
            if urlsplit(url).scheme not in ("data", "blob", "about") and urlsplit(url).hostname not in LOOPBACK
        ]  # fmt: skip

    def tab(self, name: str, button: str) -> sync_api.Locator:
        """Switch to tab ``name``; its panel once its main ``button`` is shown."""
        self.page.get_by_role("tab", name=name, exact=True).click()
        panel = self.page.get_by_role("tabpanel")  # only the visible panel has the role exposed
        panel.get_by_role("button", name=button, exact=True).wait_for(timeout=LOAD_TIMEOUT_MS)
        return panel


@pytest.fixture
def session(browser: sync_api.Browser, app_url: str) -> Iterator[Session]:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    session = Session(page)
    page.on("request", lambda request: session.urls.append(request.url))
    page.on("websocket", lambda socket_: session.urls.append(socket_.url))
    page.on("pageerror", lambda error: session.errors.append(str(error)))
    try:
        page.goto(app_url, wait_until="load")  # "networkidle" never comes: the page keeps a stream open
        page.get_by_role("button", name="Predict", exact=True).wait_for(timeout=LOAD_TIMEOUT_MS)
        yield session
    finally:
        context.close()


def upload(panel: sync_api.Locator, sample: str | Path) -> None:
    """Put ``samples/<sample>`` (or a path) into the page's one video input, as a file picked in the dialog."""
    component = panel.page.locator("#video")
    component.locator('input[type="file"]').set_input_files(SAMPLES_DIR / sample)
    sample = Path(sample).name
    player = component.locator("video")
    expect(player).to_have_attribute("src", re.compile(re.escape(sample)), timeout=LOAD_TIMEOUT_MS)


def replace_video(panel: sync_api.Locator, sample: str) -> None:
    """What a user does to try another video: the video's clear button (x), then the new file."""
    panel.page.locator("#video").get_by_role("button", name="Clear").first.click()
    upload(panel, sample)


# Every image the page renders has loaded. Only rendered ones: Gradio's images are ``loading="lazy"``,
# and Chromium never loads a lazy image inside a hidden (display: none) tab, so one there stays
# ``complete == false`` until its tab is opened. A new video fills the Predict tab's frame strip
# while another tab is open (the shared video), so "every image in the document" never came true
# on any other tab (the Grad-CAM screenshot test waited its full timeout for the hidden #strip).
RENDERED_IMAGES_LOADED = "() => [...document.images].filter(img => img.checkVisibility()).every(img => img.complete)"


def wait_until_idle(page: sync_api.Page, panel: sync_api.Locator, timeout_ms: int = RESULT_TIMEOUT_MS) -> None:
    """No component of the panel still shows progress, and every image the page shows has loaded."""
    expect(panel.locator('[data-testid="status-tracker"]:not(.hide)')).to_have_count(0, timeout=timeout_ms)
    page.wait_for_function(RENDERED_IMAGES_LOADED, timeout=timeout_ms)


def top_label(panel: sync_api.Locator, timeout_ms: int = RESULT_TIMEOUT_MS) -> sync_api.Locator:
    """The panel's (first) top-class heading once a prediction shows; fails the test if none comes."""
    label = panel.get_by_test_id("label-output-value").first
    try:
        label.wait_for(state="visible", timeout=timeout_ms)
    except sync_api.TimeoutError:
        pytest.fail(f"no prediction label appeared within {timeout_ms / 1000:.0f} s")
    return label


def save_screenshot(page: sync_api.Page, path: Path) -> Path:
    """Full-page PNG; one over MAX_SCREENSHOT_BYTES is re-encoded with a dithered 256-colour palette."""
    page.mouse.move(0, 0)  # no hover highlight in the picture
    page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
    if path.stat().st_size > MAX_SCREENSHOT_BYTES:
        from PIL import Image

        with Image.open(path) as shot:
            rgb = shot.convert("RGB")
        palette = rgb.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        rgb.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG).save(path, optimize=True)
    return path


def test_predict_tab_labels_an_uploaded_squat_offline(session, tmp_path):
    page = session.page
    panel = session.tab("Predict", "Predict")
    upload(panel, "squat.mp4")  # the upload alone starts the prediction
    label = top_label(panel)
    assert "squat" in label.inner_text()
    expect(panel.get_by_text("ms (decode + transform + model)")).to_be_visible()
    wait_until_idle(page, panel)
    expect(page.get_by_test_id("toast-body")).to_have_count(0)  # no gr.Error / warning popped up
    shot = save_screenshot(page, tmp_path / "predict.png")
    assert shot.stat().st_size > 10_000
    assert session.errors == [], f"uncaught errors in the page: {session.errors}"
    assert session.offsite() == [], f"the page asked hosts other than this machine: {session.offsite()}"
    assert any("/gradio_api/" in url for url in session.urls)  # the recorder did see the app's own traffic


def _predict(session: Session) -> sync_api.Locator:
    panel = session.tab("Predict", "Predict")
    upload(panel, "squat.mp4")
    assert "squat" in top_label(panel).inner_text()
    return panel


def _augment(session: Session) -> sync_api.Locator:
    panel = session.tab("Augmentations", "Augment")
    upload(panel, "squat.mp4")
    panel.get_by_role("button", name="Augment", exact=True).click()
    expect(panel.get_by_test_id("json")).to_contain_text("output_size", timeout=RESULT_TIMEOUT_MS)
    return panel


def _explain(session: Session) -> sync_api.Locator:
    panel = session.tab("Grad-CAM", "Explain")
    upload(panel, "squat.mp4")
    panel.get_by_role("button", name="Explain", exact=True).click()
    summary = panel.get_by_test_id("markdown").filter(has_text="predicted")
    expect(summary).to_contain_text("hirescam", timeout=RESULT_TIMEOUT_MS)
    return panel


def _compare(session: Session) -> sync_api.Locator:
    panel = session.tab("Modes", "Compare")
    upload(panel, "high_knees.mp4")
    panel.get_by_role("button", name="Compare", exact=True).click()
    expect(panel.get_by_test_id("label-output-value")).to_have_count(2, timeout=2 * RESULT_TIMEOUT_MS)
    expect(panel.get_by_text("model-only latency (this run, ms)")).to_be_visible()
    return panel


def _compare_methods(session: Session) -> sync_api.Locator:
    panel = session.tab("Compare methods", "Compare methods")
    upload(panel, "squat.mp4")
    panel.get_by_role("button", name="Compare methods", exact=True).click()
    expect(panel.locator("#compare-table")).to_contain_text("hirescam", timeout=4 * RESULT_TIMEOUT_MS)
    return panel


def _measure(session: Session) -> sync_api.Locator:
    panel = session.tab("Models", "Measure all models")
    table = panel.locator("#models-table")
    expect(table.get_by_text("mobilenet_v2_3d", exact=True)).to_be_visible()  # filled on load (issue 21.11)
    panel.get_by_role("button", name="Measure all models", exact=True).click()  # re-reads the card table
    expect(table.get_by_text("mobilenet_v2_3d", exact=True)).to_be_visible(timeout=4 * RESULT_TIMEOUT_MS)
    expect(table).to_contain_text("mobilenet_v2_3d_standard.pt (mode=standard, width_mult=0.5)")
    return panel


def _streams(session: Session) -> sync_api.Locator:
    panel = session.tab("RGB vs pose", "Compare streams")
    upload(panel, "squat.mp4")
    if streams_tab.pose_checkpoint(ModelStore(AppConfig(device="cpu"))) is None:
        # The tab says what to add and its button is off; the new video pops up no error (the test's check).
        expect(panel.locator("#streams-note")).to_contain_text("No pose checkpoint")
        expect(panel.get_by_role("button", name="Compare streams", exact=True)).to_be_disabled()
        return panel
    panel.get_by_role("button", name="Compare streams", exact=True).click()
    expect(panel.get_by_test_id("label-output-value")).to_have_count(2, timeout=2 * RESULT_TIMEOUT_MS)
    expect(panel.locator("#streams-table")).to_contain_text("pose estimation (ms)")
    return panel


TABS = {
    "predict": _predict, "augmentations": _augment, "grad-cam": _explain, "compare-methods": _compare_methods,
    "modes": _compare,
    "rgb-vs-pose": _streams, "models": _measure,
}  # fmt: skip
PHONE = {"width": 390, "height": 844}
# Each tab after the first, with the button its panel shows (the sign that the tab was reached).
MAIN_BUTTONS = {
    "Augmentations": "Augment", "Grad-CAM": "Explain", "Compare methods": "Compare methods", "Modes": "Compare",
    "RGB vs pose": "Compare streams",
    "Models": "Measure all models",
}  # fmt: skip


@pytest.mark.parametrize("name", list(TABS))
def test_each_tab_shows_its_result_and_the_readme_screenshot(session, tmp_path, name):
    page = session.page
    panel = TABS[name](session)
    wait_until_idle(page, panel, 4 * RESULT_TIMEOUT_MS)
    expect(page.get_by_test_id("toast-body")).to_have_count(0)  # no gr.Error / warning popped up
    folder = SCREENSHOT_DIR if os.environ.get("EXERCISE_REC_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    shot = save_screenshot(page, folder / f"{name}.png")
    assert 10_000 < shot.stat().st_size <= MAX_SCREENSHOT_BYTES
    assert session.errors == [], f"uncaught errors in the page: {session.errors}"
    assert session.offsite() == [], f"the page asked hosts other than this machine: {session.offsite()}"


@pytest.mark.parametrize("name", ["augmentations", "grad-cam"])
def test_the_frame_slider_shows_the_stored_frames(session, name):
    """The slider looks the session's frames up on the server (a token in gr.State): a new frame, no error."""
    page = session.page
    panel = TABS[name](session)
    wait_until_idle(page, panel)
    view = panel.locator("img").first  # the "input | overlay" / "original | augmented" image
    shown = view.get_attribute("src")
    frame = panel.get_by_label("number input for frame")
    frame.fill("5")
    frame.press("Enter")
    expect(view).not_to_have_attribute("src", shown or "", timeout=RESULT_TIMEOUT_MS)
    expect(page.get_by_test_id("toast-body")).to_have_count(0)
    assert session.errors == [], f"uncaught errors in the page: {session.errors}"


# What the Predict tab shows, sampled in the page every 50 ms: the summary's first line and whether the
# segments and the timeline plot are on screen.
SAMPLER = """() => {
    window.__shown = [];
    const visible = (id) => { const el = document.getElementById(id); return !!el && el.offsetParent !== null; };
    window.__sampler = setInterval(() => window.__shown.push({
        summary: (document.querySelector('#summary [data-testid="markdown"]')?.innerText || "").split("\\n")[0],
        segments: visible("segments") ? document.getElementById("segments").innerText : null,
        plot: visible("timeline"),
    }), 50);
}"""
TIMELINE_DELAY_S = 4.0  # added to every timeline in the race test: the long recording's is still running


def test_a_new_upload_never_shows_under_the_previous_videos_timeline(session, monkeypatch):
    """Issue 21.1: drop the 24 s recording, and once its label shows (its timeline still running), drop
    squat.mp4: the long recording's segments and plot must never appear under the squat's headline.
    The timeline is slowed by TIMELINE_DELAY_S so the race happens on any machine (the server runs in
    this process)."""
    original = Predictor.predict_windows
    finished = threading.Event()

    def slow_windows(self, *args, **kwargs):
        time.sleep(TIMELINE_DELAY_S)
        try:
            return original(self, *args, **kwargs)
        finally:
            finished.set()

    monkeypatch.setattr(Predictor, "predict_windows", slow_windows)
    page = session.page
    panel = session.tab("Predict", "Predict")
    summary, segments, plot = page.locator("#summary"), page.locator("#segments"), page.locator("#timeline")
    upload(panel, "long_recording.mp4")
    expect(summary).to_contain_text("Long video (24 s)", timeout=RESULT_TIMEOUT_MS)
    page.evaluate(SAMPLER)
    expect(segments).to_be_hidden()  # its timeline is still being computed: the race is on
    started = time.monotonic()
    replace_video(panel, "squat.mp4")
    switched_s = time.monotonic() - started
    expect(summary).to_contain_text("Squat (", timeout=RESULT_TIMEOUT_MS)
    wait_until_idle(page, panel)
    assert finished.wait(RESULT_TIMEOUT_MS / 1000), "the long recording's timeline never finished"
    page.wait_for_timeout(1500)  # its result, had it been sent, has reached the page by now
    shown = page.evaluate("() => { clearInterval(window.__sampler); return window.__shown; }")
    squat = [s for s in shown if s["summary"].startswith("Squat (")]
    assert squat, f"the squat's headline never showed ({len(shown)} samples, upload took {switched_s:.1f} s)"
    stale = [s for s in squat if s["segments"] is not None or s["plot"]]
    assert stale == [], f"the long recording's timeline showed under the squat's headline: {stale[:3]}"
    assert "Long video" in shown[0]["summary"], shown[:3]  # the sampler did start on the long recording
    expect(summary).to_contain_text("Squat (")
    expect(segments).to_be_hidden()
    expect(plot).to_be_hidden()
    expect(page.get_by_test_id("toast-body")).to_have_count(0)
    assert session.errors == [], f"uncaught errors in the page: {session.errors}"

    # The long recording on its own: its segments come, above the whole-video summary, and say why.
    replace_video(panel, "long_recording.mp4")
    expect(segments).to_contain_text("One label for the whole video would be meaningless", timeout=RESULT_TIMEOUT_MS)
    expect(segments).to_contain_text("shoulder_press")
    # Result waits, as everywhere here: on a busy 2-core machine the page's events for the cleared
    # video and the new one interleave (seen once: the result shown, cleared and run again).
    expect(plot).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    expect(summary).to_contain_text("Long video (24 s)", timeout=RESULT_TIMEOUT_MS)
    assert segments.bounding_box()["y"] < summary.bounding_box()["y"]  # the segments lead


def test_a_sample_click_runs_the_prediction_and_a_checkpoint_switch_reruns_it(session):
    """Issue 21.9 / 21.6: clicking a named sample predicts (no Predict click); another checkpoint
    re-runs and the summary names the file that produced the result."""
    page = session.page
    panel = session.tab("Predict", "Predict")
    page.get_by_role("button", name="squat", exact=True).click()
    assert "squat" in top_label(panel).inner_text()
    summary = page.locator("#summary")
    expect(summary).to_contain_text("from mobilenet_v2_3d_standard.pt", timeout=RESULT_TIMEOUT_MS)
    panel.get_by_label("Checkpoint").first.click()
    page.get_by_role("option", name="mobilenet_v2_3d_high_temporal.pt").click()
    expect(summary).to_contain_text("from mobilenet_v2_3d_high_temporal.pt", timeout=RESULT_TIMEOUT_MS)
    assert session.errors == [], f"uncaught errors in the page: {session.errors}"


def test_a_bad_upload_gives_one_message_that_stays_and_clears_the_result(session, tmp_path):
    """Issue 21.10: one toast (not one per step), still there after Gradio's default 10 s, the old label gone."""
    page = session.page
    panel = session.tab("Predict", "Predict")
    upload(panel, "squat.mp4")
    top_label(panel)
    bad = tmp_path / "holiday.mp4"
    bad.write_text("this is not a video")
    page.locator("#video").get_by_role("button", name="Clear").first.click()
    page.locator("#video").locator('input[type="file"]').set_input_files(bad)
    toast = page.get_by_test_id("toast-body")
    expect(toast).to_have_count(1, timeout=RESULT_TIMEOUT_MS)
    expect(toast).to_contain_text("not a video")
    page.wait_for_timeout(11_000)
    expect(toast).to_have_count(1)
    expect(panel.get_by_test_id("label-output-value")).to_have_count(0)
    expect(page.locator("#summary")).not_to_contain_text("Squat")


def test_eigencam_greys_the_class_picker_out_and_opacity_redraws(session):
    """Issue 21.3 / 21.7: the class picker is disabled for EigenCAM and the note says why."""
    page = session.page
    panel = _explain(session)
    wait_until_idle(page, panel)
    target = panel.get_by_label("Explain class")
    expect(target).to_be_enabled()
    panel.get_by_label("Method").click()
    page.get_by_role("option", name="eigencam", exact=True).click()
    expect(target).to_be_disabled()
    expect(page.locator("#method-note")).to_contain_text("class-agnostic")
    expect(page.locator("#cam-summary")).to_contain_text("class-agnostic", timeout=RESULT_TIMEOUT_MS)
    assert session.errors == [], f"uncaught errors in the page: {session.errors}"


def test_every_tab_is_usable_on_a_phone(browser, app_url, tmp_path):
    """Issue 21.12: at 390x844 the title is one line, every tab can be reached, nothing is wider
    than the screen (frame strip, timeline), and the Models table is there."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(app_url, wait_until="load")
        page.get_by_role("button", name="Predict", exact=True).wait_for(timeout=LOAD_TIMEOUT_MS)
        title = page.locator("#title h1")
        line = float(title.evaluate("el => parseFloat(getComputedStyle(el).lineHeight)"))
        assert title.bounding_box()["height"] < 1.6 * line, "the title wraps on a phone"
        page.locator("#video").locator('input[type="file"]').set_input_files(SAMPLES_DIR / "long_recording.mp4")
        expect(page.locator("#segments")).to_be_visible(timeout=RESULT_TIMEOUT_MS)
        for element in ("#strip", "#timeline", "#segments"):
            box = page.locator(element).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1, element
        for name, button in MAIN_BUTTONS.items():
            tab = page.get_by_role("tab", name=name, exact=True)
            if tab.is_visible():
                tab.click()
            else:  # Gradio folds the tabs that do not fit into its "More tabs" menu (plain buttons there)
                page.get_by_role("button", name="More tabs").click()
                page.locator(".overflow-dropdown").get_by_role("button", name=name, exact=True).click()
            page.get_by_role("tabpanel").get_by_role("button", name=button, exact=True).wait_for(timeout=LOAD_TIMEOUT_MS)
        expect(page.locator("#models-table")).to_contain_text("mobilenet_v2_3d")
        expect(page.get_by_test_id("toast-body")).to_have_count(0)  # opening a tab with the video raised nothing
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"] + 1, f"the page scrolls sideways on a phone ({width} px)"
        # Each tab opened with the video started its work: let it finish, or the server's worker
        # threads are still inside torch when the interpreter exits (an abort, exit code 134).
        wait_until_idle(page, page.locator("body"), 12 * RESULT_TIMEOUT_MS)
        save_screenshot(page, tmp_path / "phone.png")
        assert errors == [], f"uncaught errors in the page: {errors}"
    finally:
        context.close()
