"""The Live tab in Chromium with a fake camera: a looped file of squats, then jumping jacks, streamed
by the browser as a webcam would be; the page's label follows it, and the overlay appears when asked.

Chromium's ``--use-file-for-fake-video-capture`` plays a .y4m file as the camera (looped), made here
from the samples with the bundled ffmpeg. ``EXERCISE_REC_SCREENSHOTS=1`` writes docs/screenshots/live.png.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import imageio_ffmpeg
import pytest

from exercise_rec.app import AppConfig
from exercise_rec.app.state import SAMPLES_DIR

from .server import served
from .test_browser import CHROMIUM, LOAD_TIMEOUT_MS, RESULT_TIMEOUT_MS, SCREENSHOT_DIR, VIEWPORT, save_screenshot, sync_api

expect = sync_api.expect

pytestmark = [
    pytest.mark.heavy,
    pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"{CHROMIUM} not found (`make setup` installs Debian's chromium)"),
]
CAMERA_FPS = 15


@pytest.fixture(scope="module")
def fake_camera(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 6 s of squats, then 6 s of jumping jacks, as a .y4m (Chromium's fake camera format)."""
    path = tmp_path_factory.mktemp("camera") / "camera.y4m"
    clips = ["squat", "squat", "jumping_jack", "jumping_jack"]
    inputs = [arg for name in clips for arg in ("-i", str(SAMPLES_DIR / f"{name}.mp4"))]
    chain = "".join(f"[{k}:v]fps={CAMERA_FPS}[v{k}];" for k in range(len(clips)))
    chain += "".join(f"[v{k}]" for k in range(len(clips))) + f"concat=n={len(clips)}:v=1,format=yuv420p"
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    subprocess.run([ffmpeg, "-v", "error", "-y", *inputs, "-filter_complex", chain, str(path)], check=True, timeout=120)
    return path


@pytest.fixture(scope="module")
def live_page(fake_camera: Path) -> Iterator[sync_api.Page]:
    with served(AppConfig(device="cpu")) as url, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
            "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={fake_camera}",
        ])  # fmt: skip
        try:
            page = browser.new_context(viewport=VIEWPORT, permissions=["camera"]).new_page()
            page.goto(url, wait_until="load")
            page.get_by_role("tab", name="Live", exact=True).click(timeout=LOAD_TIMEOUT_MS)
            camera = page.locator("#live-camera")
            camera.get_by_role("button", name="Click to Access Webcam").click(timeout=LOAD_TIMEOUT_MS)
            camera.get_by_role("button", name="capture photo").click(timeout=LOAD_TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def test_the_label_follows_the_camera(live_page):
    """Squat while the camera shows squats, jumping jack once it shows jumping jacks, at >= 5 labels/s."""
    label = live_page.locator("#live-label")
    expect(label).to_contain_text("Squat", timeout=RESULT_TIMEOUT_MS)
    expect(label).to_contain_text("Jumping jack", timeout=RESULT_TIMEOUT_MS)
    expect(live_page.locator("#live-top")).to_contain_text("jumping_jack")
    expect(live_page.locator("#live-seconds")).to_contain_text("squat")
    speed = live_page.locator("#live-speed")
    expect(speed).to_contain_text("labels/s", timeout=RESULT_TIMEOUT_MS)
    rate = float(re.search(r"([\d.]+) labels/s", speed.inner_text()).group(1))
    assert rate >= 4.0, f"{rate} labels/s (the window is kept at 5.3 fps: one label per kept frame)"


def test_the_overlay_appears_on_the_newest_frame(live_page, tmp_path):
    live_page.get_by_label("Overlay: HiResCAM at the checkpoint's measured layer").check()
    expect(live_page.locator("#live-overlay img")).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    expect(live_page.locator("#live-label")).not_to_contain_text("Waiting")
    folder = SCREENSHOT_DIR if os.environ.get("EXERCISE_REC_SCREENSHOTS") == "1" else tmp_path
    assert save_screenshot(live_page, folder / "live.png").stat().st_size > 10_000
