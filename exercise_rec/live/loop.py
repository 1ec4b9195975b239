"""The live loop as one library call: a source's frames through a :class:`LiveSession`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from exercise_rec.inference import Predictor
from exercise_rec.live.session import LiveConfig, LiveSession, LiveUpdate
from exercise_rec.live.sources import LatestOnly, open_source, paced


class LiveRun:
    """Iterate to get the updates of ``source`` (a video file, or a camera index such as "0").

    A camera, or a file with ``realtime`` (released at its own frame rate), goes through a one-frame
    slot: frames the loop has no time for are dropped (:attr:`dropped`), never queued. A file without
    ``realtime`` is read as fast as the loop goes, every frame offered (the session still keeps only
    those at the checkpoint's frame rate)."""

    def __init__(self, source: str, predictor: Predictor, config: LiveConfig | None = None, realtime: bool = False) -> None:
        frames, camera = open_source(source, predictor.limits)
        self.session = LiveSession(predictor, config or LiveConfig())
        if realtime and not camera:
            frames = paced(frames)
        self.reader = LatestOnly(frames) if camera or realtime else None
        self._frames = self.reader if self.reader is not None else frames
        self.frames = 0  # frames the loop took

    @property
    def dropped(self) -> int:
        """Frames the reader replaced before the loop took them (0 when reading as fast as it goes)."""
        return self.reader.dropped if self.reader is not None else 0

    def __iter__(self) -> Iterator[LiveUpdate]:
        for frame in self._frames:
            self.frames += 1
            if (update := self.session.push(frame.image, frame.time_s, frame.arrived)) is not None:
                yield update


@dataclass(frozen=True)
class LiveStats:
    """How fast a run answered: labels per wall-clock second and frame-to-label latency percentiles."""

    labels: int
    wall_s: float
    p50_ms: float
    p95_ms: float
    dropped: int

    @property
    def labels_per_s(self) -> float:
        return self.labels / self.wall_s if self.wall_s > 0 else 0.0

    @classmethod
    def of(cls, latencies_ms: Sequence[float], wall_s: float, dropped: int = 0) -> LiveStats:
        p50, p95 = np.percentile(latencies_ms, [50, 95]) if len(latencies_ms) else (np.nan, np.nan)
        return cls(len(latencies_ms), wall_s, float(p50), float(p95), dropped)

    def line(self) -> str:
        return (f"{self.labels} labels in {self.wall_s:.1f} s ({self.labels_per_s:.1f}/s), latency p50 "
                f"{self.p50_ms:.0f} ms, p95 {self.p95_ms:.0f} ms, {self.dropped} frames dropped")  # fmt: skip
