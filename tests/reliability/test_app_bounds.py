"""What one client can make the app hold: memory over many sessions.

200 fresh sessions each store frames for a slider; the server's memory must stop growing at the
frame budget.
"""

from __future__ import annotations

import time

import pytest
from gradio_client import Client, handle_file

from exercise_rec.app import AppConfig
from exercise_rec.app.state import SAMPLES_DIR

from .test_load import settled_rss_mb

SAMPLE = SAMPLES_DIR / "squat.mp4"

SESSIONS = 200
OUTPUT_SIZE = 256  # the largest the tab allows: about 7 MB of frames kept per session
BUDGET_MB = 256  # AppConfig's default frame budget
# The frame budget plus Gradio's own state per session (about 0.3 MB each: it copies the page's
# config per session) and allocator slack. Without the budget the same run grew by about 1.4 GB.
MAX_GROWTH_MB = BUDGET_MB + 150
MAX_LATE_GROWTH_MB = 80  # over the last 100 sessions, when the budget is long full


@pytest.mark.heavy
@pytest.mark.timeout(400)
def test_fresh_sessions_storing_frames_stay_within_the_frame_budget(app_client: Client) -> None:
    assert AppConfig().frames_bytes == BUDGET_MB * 2**20
    client = Client(app_client.src, verbose=False, analytics_enabled=False, download_files=False)
    video = handle_file(str(SAMPLE))
    settings = [True, 0.3, 0.6, 0.75, 1.33, True, 0.5, True, 10, OUTPUT_SIZE]

    def new_session(k: int) -> None:
        client.reset_session()  # a new session hash: what a new browser tab or API client brings
        params = client.predict(video, *settings, k, api_name="/augment")[2]
        assert params["seed"] == k

    for k in range(3):  # models, caches and threads warm
        new_session(k)
    started = time.perf_counter()
    _, before = settled_rss_mb()
    for k in range(SESSIONS // 2):
        new_session(k)
    _, half = settled_rss_mb()
    for k in range(SESSIONS // 2, SESSIONS):
        new_session(k)
    raw, after = settled_rss_mb()
    print(
        f"\n{SESSIONS} fresh /augment sessions at {OUTPUT_SIZE} px in {time.perf_counter() - started:.0f} s: "
        f"RSS {before:.0f} -> {half:.0f} -> {after:.0f} MB after malloc_trim ({raw:.0f} MB before it); "
        f"growth {after - before:+.0f} MB (bound {MAX_GROWTH_MB} MB), last half {after - half:+.0f} MB"
    )
    assert after - before < MAX_GROWTH_MB
    assert after - half < MAX_LATE_GROWTH_MB
