"""The Gradio app: one module per tab, all work done by library calls; ``build_app`` assembles them."""

from __future__ import annotations

from exercise_rec.app.tempdir import use_private_gradio_dir

use_private_gradio_dir()  # before gradio is imported (see the function)

from dataclasses import replace  # noqa: E402
from typing import Any  # noqa: E402

import gradio as gr  # noqa: E402

from exercise_rec.app import (  # noqa: E402
    augment_tab,
    cam_tab,
    compare_tab,
    live_tab,
    models_tab,
    modes_tab,
    predict_tab,
    streams_tab,
)  # fmt: skip
from exercise_rec.app.page import build_page  # noqa: E402
from exercise_rec.app.state import AppConfig, ModelStore  # noqa: E402
from exercise_rec.device import pick_device  # noqa: E402

__all__ = ["AppConfig", "ModelStore", "build_app", "launch_options"]

TITLE = "exercise_rec: which exercise, and where the 3D CNN looks"
# Uploads and outputs in Gradio's cache are deleted once this old (checked as often): by default
# Gradio keeps every file for the life of the server, so disk use grew with every request.
CACHE_MAX_AGE_S = 3600
# (tab name, module): each module's ``build(store, page, tab)`` fills its tab.
TABS = (
    ("Predict", predict_tab), ("Augmentations", augment_tab), ("Grad-CAM", cam_tab), ("Compare methods", compare_tab),
    ("Modes", modes_tab),
    ("RGB vs pose", streams_tab), ("Live", live_tab), ("Models", models_tab),
)  # fmt: skip


def build_app(config: AppConfig | None = None) -> gr.Blocks:
    """All tabs over one shared model store, queued with the configured concurrency.

    The device is chosen here, once, in the main thread: probing CUDA from a request's worker thread
    (as choosing per model load did) makes the CUDA build of torch log initialisation errors on a
    machine without a GPU.
    """
    config = config or AppConfig()
    store = ModelStore(replace(config, device=str(pick_device(config.device))))
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(CACHE_MAX_AGE_S, CACHE_MAX_AGE_S)) as app:
        gr.Markdown(f"# {TITLE}", elem_id="title")
        page = build_page(store, first_tab=TABS[0][0])
        for name, module in TABS:
            with gr.Tab(name) as tab:
                module.build(store, page, tab)
    app.queue(default_concurrency_limit=store.config.concurrency, max_size=64)
    return app


# The title on one line on a phone (390 px) and a laptop alike; tables scroll inside themselves.
CSS = """
#title h1 { font-size: clamp(0.8rem, 3.3vw, 2rem); white-space: nowrap; margin: 0.2em 0; }
#modes-table, #streams-table { overflow-x: auto; }
"""


# The shared video input's own playback error is not shown. Gradio turns a file the browser cannot play
# into an "Error: Video not playable" toast (10 s) and a red pill on the input, but the app reads files
# Chromium cannot play (AVI, MKV, HEVC), and for a file it cannot read the server's message names the
# file and why. That toast also took the server's message with it: Gradio groups toasts and closes the
# group on its first member's timer, so the error that must stay until dismissed vanished after 10 s.
JS = """() => {
    window.addEventListener("error", (event) => {
        if (event.target instanceof HTMLVideoElement && event.target.closest("#video")) event.stopImmediatePropagation();
    }, true);
}"""


def launch_options(config: AppConfig) -> dict[str, Any]:
    """``launch()`` settings that enforce ``config``'s limits (Gradio takes these only at launch) and
    the page's style and script (Gradio 6 takes CSS and JS at launch too)."""
    return {
        "max_file_size": config.upload_bytes, "state_session_capacity": config.max_sessions, "css": CSS, "js": JS,
    }  # fmt: skip
