"""What every tab shares: the app's settings, the loaded models, the samples, and error handling.

Why one store: a checkpoint is loaded once and its ``Predictor`` shared by every prediction (models
are read-only at inference). CAMs and profiling hook into a model's layers, and a hook records every
forward pass through its module, whichever thread runs it: so they get a second instance of the
checkpoint (:meth:`ModelStore.explainer`), where ``explain.model_lock`` serialises them, and
predictions never run through hooked layers.
Why one frame store: what the sliders scrub (MBs per request) is kept server-side under one byte
budget for all sessions together (:mod:`exercise_rec.app.frame_store`); sessions hold tokens.
Why one error wrapper: a user's mistake (a corrupt upload, a wrong checkpoint) must reach the page
as a readable ``gr.Error`` while the server keeps serving; anything else is logged with its
traceback and shown as a short failure message.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr

from exercise_rec.app.frame_store import FrameStore
from exercise_rec.app.limits import check_video, parse_pixels, parse_size
from exercise_rec.checkpoint import CheckpointError
from exercise_rec.data.dataset import VIDEO_SUFFIXES
from exercise_rec.data.limits import DEFAULT_LIMITS, DecodeLimits
from exercise_rec.data.video import VideoError, VideoInfo
from exercise_rec.errors import ConfigError, ExerciseRecError
from exercise_rec.inference import CHECKPOINT_DIR, DEFAULT_CHECKPOINT, Predictor

log = logging.getLogger(__name__)

SAMPLES_DIR = CHECKPOINT_DIR.parent / "samples"
# How long a session keeps the token of its frames for the scrubbing sliders. Gradio frees a browser
# tab's state when the tab closes, but an API client's session never closes; expiry also drops the
# frames from the store (its delete callback), before the byte budget would.
FRAMES_TTL_S = 15 * 60
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class AppConfig:
    """Start-up settings (``python app.py --help`` sets them)."""

    checkpoint_dir: Path = CHECKPOINT_DIR
    samples_dir: Path = SAMPLES_DIR
    default_checkpoint: Path = DEFAULT_CHECKPOINT
    extra_checkpoints: tuple[Path, ...] = ()
    device: str | None = None
    concurrency: int = 2  # requests computing at once; the rest wait in the queue
    max_upload: str | int = "200mb"  # bytes, or "200mb"/"1gb" (binary units, as Gradio's max_file_size)
    max_pixels: str | int = "4096x2160"  # largest decoded frame: "WIDTHxHEIGHT" or a pixel count (DCI 4K)
    # Memory for the frames the sliders scrub, all sessions together (about 2-8 MB per result): sized
    # for a 2-core / 4 GB server, where the app itself takes about 1.1 GB.
    frames_budget: str | int = "256mb"
    # Sessions whose Gradio state is kept (0.3-0.5 MB each: Gradio copies the page's config per
    # session and keeps it, 10,000 sessions by default); the least recently active go first.
    max_sessions: int = 1000

    def __post_init__(self) -> None:
        """A bad limit fails at start-up (``ValueError``), not on the first request."""
        parse_size(self.max_upload)
        parse_pixels(self.max_pixels)
        try:
            parse_size(self.frames_budget)
        except ValueError:
            raise ConfigError(f"frames budget must look like 256mb or 1gb, got {self.frames_budget!r}") from None
        if self.max_sessions < 1:
            raise ConfigError(f"max sessions must be at least 1, got {self.max_sessions}")

    @property
    def upload_bytes(self) -> int:
        return parse_size(self.max_upload)

    @property
    def frame_pixels(self) -> int:
        return parse_pixels(self.max_pixels)

    @property
    def decode_limits(self) -> DecodeLimits:
        """The library's decoding limits with this server's pixel limit (every decode the app does)."""
        return replace(DEFAULT_LIMITS, max_pixels=self.frame_pixels)

    @property
    def frames_bytes(self) -> int:
        return parse_size(self.frames_budget)


@dataclass
class ModelStore:
    """Checkpoints by display name, each loaded on first use and then shared; and the sliders' frames."""

    config: AppConfig
    frames: FrameStore = field(init=False)
    _loaded: dict[tuple[Path, str], Predictor] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.frames = FrameStore(self.config.frames_bytes)

    def checkpoints(self) -> dict[str, Path]:
        """Display name -> file: the default first, then ``checkpoint_dir/*.pt`` and any extras."""
        files = [self.config.default_checkpoint, *sorted(self.config.checkpoint_dir.glob("*.pt"))]
        files += list(self.config.extra_checkpoints)
        named: dict[str, Path] = {}
        for path in files:
            named.setdefault(path.name, path)
        return named

    @property
    def default_name(self) -> str:
        return self.config.default_checkpoint.name

    def resolve(self, name: str | None) -> Path:
        """The file of a listed checkpoint (``None`` or "": the default); any other name is refused.

        Only listed files: a name is never read as a path, so a client cannot make the server load
        a file outside the checkpoint folder and the configured extras.
        """
        if name is not None and not isinstance(name, str):
            raise CheckpointError(f"checkpoint must be one name (a string), got a {type(name).__name__}")
        listed = self.checkpoints()
        name = name or self.default_name
        if path := listed.get(name):
            return path
        raise CheckpointError(f"unknown checkpoint {name[:80]!r}; choose one of: {', '.join(listed)}")

    def get(self, name: str | None) -> Predictor:
        """The predictor of listed checkpoint ``name`` for predictions; loads it once."""
        return self._load(name, "predict")

    def explainer(self, name: str | None) -> Predictor:
        """Checkpoint ``name``'s own instance for CAMs and profiling (see the module docstring).

        A CAM's hooks record every forward pass through the hooked layer, so on a shared instance they
        would also record the predictions running at the same time.
        """
        return self._load(name, "explain")

    def _load(self, name: str | None, role: str) -> Predictor:
        path = self.resolve(name)
        key = (path.resolve(), role)
        with self._lock:
            if key not in self._loaded:
                log.debug("loading %s (%s)", path, role)
                self._loaded[key] = Predictor.from_checkpoint(
                    path, device=self.config.device, limits=self.config.decode_limits
                )
            return self._loaded[key]

    def by_mode(self, mode: str) -> str:
        """The first listed checkpoint of a clip model that runs in ``mode`` (for the modes tab, which
        compares the video model's temporal strides; a pose checkpoint has a mode too, but not frames)."""
        for name in self.checkpoints():
            try:
                if (predictor := self.get(name)).mode == mode and not predictor.is_pose:
                    return name
            except CheckpointError as err:
                log.warning("skipping %s: %s", name, err)
        raise CheckpointError(f"no checkpoint in {mode!r} mode among {', '.join(self.checkpoints())}")

    def card(self, name: str | None) -> str:
        """A short markdown model card for the checkpoint picker."""
        predictor = self.get(name)
        meta = predictor.meta
        params = sum(p.numel() for p in predictor.model.parameters())
        kwargs = ", ".join(f"{k}={v}" for k, v in meta.model_kwargs.items())
        metrics = ", ".join(f"{k} {v:.3f}" for k, v in sorted(meta.metrics.items()) if k.startswith("val"))
        shape = f"{meta.clip_len}x{meta.input_size[0]}x{meta.input_size[1]}"
        if predictor.heatmaps is not None:  # a pose checkpoint: its input is keypoints, not pixels
            shape = f"pose heatmaps {predictor.heatmaps.channels}x{shape} of the estimator's keypoints"
        return f"**{meta.model_name}**({kwargs}) · {params:,} parameters · input {shape} · {meta.num_classes} classes" + (
            f" · validation: {metrics}" if metrics else ""
        )

    def samples(self) -> list[Path]:
        """Sample videos for the examples (sorted; the long recording last)."""
        found = [p for p in sorted(self.config.samples_dir.glob("*")) if p.suffix.lower() in VIDEO_SUFFIXES]
        return sorted(found, key=lambda p: ("long" in p.stem, p.name))


def _user_message(err: Exception) -> str:
    """Files by their name only: the server's temporary paths mean nothing to the user (and are its own)."""
    if isinstance(err, VideoError):
        return f"{err.path.name}: {err.reason}"
    if isinstance(err, OSError) and err.filename is not None:
        return f"{Path(err.filename).name}: {err.strerror or 'could not be read or written'}"
    return str(err)


def user_errors(fn: F) -> F:
    """Turn a user's mistake (an :class:`ExerciseRecError`: bad video, wrong checkpoint, bad setting;
    or an ``OSError`` naming a file) into a readable ``gr.Error``; anything else is a bug, logged
    with its traceback and reported without internals.

    Every ``gr.Error`` here has ``print_exception=False``: Gradio would otherwise print a traceback
    to the server console for each rejected upload; the one log line below says what happened.
    And ``duration=None``: the message stays until the user dismisses it (a teacher reading it out
    to a class must not see it vanish after ten seconds).
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (ExerciseRecError, OSError) as err:
            log.info("rejected request to %s: %s", fn.__name__, err)
            raise gr.Error(_user_message(err), duration=None, print_exception=False) from None
        except Exception as err:
            log.exception("%s failed", fn.__name__)
            message = f"internal error ({type(err).__name__}); the server log has the details"
            raise gr.Error(message, duration=None, print_exception=False) from None

    return wrapper  # type: ignore[return-value]


def require_video(video: str | None, config: AppConfig) -> Path:
    """The uploaded file's path once it passes the request limits; a readable error otherwise."""
    return require_video_info(video, config)[0]


def require_video_info(video: str | None, config: AppConfig) -> tuple[Path, VideoInfo]:
    """:func:`require_video` and the header the limit check read, for handlers that need it."""
    if not video:
        raise gr.Error("Upload a video first (or click a sample).", duration=None, print_exception=False)
    path = Path(video)
    return path, check_video(path, config.upload_bytes, config.decode_limits)
