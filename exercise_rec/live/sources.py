"""Where live frames come from (a video file or a camera) and how a slow consumer skips, not queues.

Why a one-frame slot between reader and classifier (:func:`latest_only`): a camera delivers 30
frames a second whether or not the model keeps up; a queue would grow, and with it the delay from
movement to label. The reader overwrites the slot, the classifier always takes the newest frame,
and every frame overwritten unread is counted as dropped. Latency stays one classification long.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from exercise_rec.data.limits import DEFAULT_LIMITS, DecodeLimits
from exercise_rec.data.video import probe
from exercise_rec.errors import ExerciseRecError


class SourceError(ExerciseRecError, ValueError):
    """A camera that cannot be opened or stops delivering frames."""


@dataclass(frozen=True)
class Frame:
    """One RGB uint8 frame [H, W, 3], its stream time, and ``time.perf_counter()`` when it was read."""

    image: np.ndarray
    time_s: float
    arrived: float


def _rgb(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def file_frames(path: str | Path, limits: DecodeLimits = DEFAULT_LIMITS) -> Iterator[Frame]:
    """Every frame of a video file in order, timed by its frame rate; a bad file is a ``VideoError``
    at once (the file is probed before the first frame is asked for)."""
    fps = probe(path, limits=limits).fps

    def frames() -> Iterator[Frame]:
        capture = cv2.VideoCapture(str(path))
        try:
            index = 0
            while (read := capture.read())[0]:
                yield Frame(_rgb(read[1]), index / fps, time.perf_counter())
                index += 1
        finally:
            capture.release()

    return frames()


def camera_frames(index: int) -> Iterator[Frame]:
    """Frames of camera ``index`` as it delivers them, timed from the first."""
    capture = cv2.VideoCapture(index)
    if not capture.isOpened():
        raise SourceError(f"camera {index} could not be opened (is one connected, and free?)")
    try:
        start = time.perf_counter()
        while True:
            ok, frame = capture.read()
            if not ok:
                raise SourceError(f"camera {index} stopped delivering frames")
            now = time.perf_counter()
            yield Frame(_rgb(frame), now - start, now)
    finally:
        capture.release()


def open_source(source: str, limits: DecodeLimits = DEFAULT_LIMITS) -> tuple[Iterator[Frame], bool]:
    """Frames of ``source``: a camera index ("0") or a video file; and whether it is a live camera."""
    if source.isdigit():
        return camera_frames(int(source)), True
    return file_frames(source, limits), False


def paced(frames: Iterator[Frame]) -> Iterator[Frame]:
    """A file's frames released at their own times, as a camera would deliver them; each frame's
    arrival is the moment it is released."""
    start = time.perf_counter()
    for frame in frames:
        time.sleep(max(0.0, start + frame.time_s - time.perf_counter()))
        yield Frame(frame.image, frame.time_s, time.perf_counter())


class LatestOnly:
    """Frames read on a thread into a one-frame slot; iterating takes the newest (see the module docstring).

    ``dropped``: frames overwritten before they were taken. A reader error is raised in the consumer."""

    def __init__(self, frames: Iterator[Frame]) -> None:
        self.dropped = 0
        self._slot: Frame | None = None
        self._done = False
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._ready = threading.Condition()
        # not a daemon: at exit the interpreter waits for it to see the stop flag (one frame at most)
        self._thread = threading.Thread(target=self._read, args=(frames,), name="live-reader")
        self._thread.start()

    def _read(self, frames: Iterator[Frame]) -> None:
        try:
            for frame in frames:
                if self._stop.is_set():
                    break
                with self._ready:
                    self.dropped += self._slot is not None
                    self._slot = frame
                    self._ready.notify()
        except BaseException as err:  # handed to the consumer, which raises it
            self._error = err
        finally:
            with self._ready:
                self._done = True
                self._ready.notify()

    def __iter__(self) -> Iterator[Frame]:
        try:
            while True:
                with self._ready:
                    self._ready.wait_for(lambda: self._slot is not None or self._done)
                    frame, self._slot = self._slot, None
                if frame is None:
                    if self._error is not None:
                        raise self._error
                    return
                yield frame
        finally:
            self._stop.set()
