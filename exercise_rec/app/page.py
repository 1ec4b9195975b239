"""What every tab shares on the page: one video input with the named samples, and which tab is open.

Why one video for every tab: a teacher drops a clip once and walks the class through Predict,
Grad-CAM and Modes on it; with one input per tab the same file had to be dropped five times, and a
tab could show a result for a video that was no longer on screen elsewhere.
Why the other tabs run when opened, not all at once: a new video runs the Predict tab (the answer,
a fraction of a second) and the open tab; every other tab empties its outputs at once, so none
shows a result under another video, and runs when it is opened, because its result token is
empty (:func:`automatic`). On a 2-core server running every tab's work (CAMs, both modes, the pose
stream) for each upload would delay the label the user is looking at.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from exercise_rec.app.state import ModelStore

VIDEO_HEIGHT = 260  # px: the shared input stays above the fold on a laptop and on a phone


@dataclass(frozen=True)
class Page:
    """The shared video input and the open tab's name (a ``gr.State``, set by each tab's select event)."""

    video: gr.Video
    active: gr.State

    def opened(self, tab: gr.Tab, name: str) -> Any:
        """``tab``'s select event, which first records ``name`` as the open tab (chain the tab's work on it)."""
        return tab.select(lambda: name, None, self.active, api_name=False, show_progress="hidden", queue=False)

    def follow(
        self, tab: gr.Tab, name: str, clear: Callable[..., Any], state: gr.State, cleared: list[Any],
        run: Callable[..., Any], inputs: list[Any], outputs: list[Any], redraw: tuple[Any, ...] = (),
    ) -> None:  # fmt: skip
        """Wire a tab to the shared video: a new video empties ``cleared`` (``clear`` of the tab's
        result token ``state``) at once; then, and whenever the tab is opened, ``run`` goes ahead if
        the tab is open and shows no result (:func:`automatic`); ``redraw`` (fn, inputs, outputs)
        follows a run (e.g. the view redrawn at the slider's frame)."""
        quiet = {"api_name": False, "show_progress": "hidden"}
        when_open = automatic(run, len(outputs), tab=name)
        emptied = self.video.change(clear, state, cleared, **quiet)
        for event in (emptied, self.opened(tab, name)):
            ran = event.then(when_open, [self.active, *inputs], outputs, api_name=False, trigger_mode="always_last")
            if redraw:
                ran.then(*redraw, **quiet)


def sample_label(path: Path) -> str:
    """A sample's button text: its name in words (``long_recording.mp4`` -> "long recording")."""
    return path.stem.replace("_", " ")


def build_page(store: ModelStore, first_tab: str) -> Page:
    """The video input and the samples as named buttons, above the tabs."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=280):
            video = gr.Video(
                label="Video for every tab (drag and drop, or record)", sources=["upload", "webcam"],
                height=VIDEO_HEIGHT, elem_id="video",
            )  # fmt: skip
        with gr.Column(scale=3, min_width=280):
            if samples := store.samples():
                gr.Examples(
                    [[str(p)] for p in samples], [video], label="Samples (click one)",
                    example_labels=[sample_label(p) for p in samples], examples_per_page=len(samples),
                )  # fmt: skip
    return Page(video=video, active=gr.State(first_tab))


def automatic(run: Callable[..., Any], outputs: int, tab: str | None = None) -> Callable[..., Any]:
    """``run``'s form for the page's own events (a new video, a tab opened, a control changed): it
    skips every output when there is no video (``run``'s first input) instead of raising "upload a
    video first" at a user who just cleared it. With ``tab``, it takes the open tab's name as an
    extra first input and runs only while ``tab`` is open and shows no result (``run``'s last plain
    input, the result token, is empty: a new video cleared it, or the tab never ran).

    The form keeps ``run``'s signature (``active`` in front with ``tab``), so Gradio still hands it
    the request and the progress tracker where ``run`` declares them.
    """
    signature = inspect.signature(run)
    special = [p for p in signature.parameters.values() if _is_special(p)]
    plain = len(signature.parameters) - len(special)

    def when_ready(*args: Any) -> Any:
        active, args = (args[0], args[1:]) if tab is not None else (None, args)
        inputs = args[:plain]
        waiting = tab is not None and (active != tab or inputs[-1] is not None)
        if waiting or not inputs[0]:
            return (gr.skip(),) * outputs if outputs > 1 else gr.skip()
        return run(*args)

    when_ready.__name__ = f"{run.__name__}_automatic"
    parameters = list(signature.parameters.values())
    if tab is not None:
        parameters.insert(0, inspect.Parameter("active", inspect.Parameter.POSITIONAL_OR_KEYWORD))
    when_ready.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    when_ready.__annotations__ = {p.name: gr.Request | None for p in special if not isinstance(p.default, gr.Progress)}
    return when_ready


def _is_special(parameter: inspect.Parameter) -> bool:
    """A parameter Gradio fills itself: the progress tracker or the request (named ``request``)."""
    return isinstance(parameter.default, gr.Progress) or parameter.name == "request"
