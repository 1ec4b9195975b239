"""Live recognition: a rolling window over a stream of frames, a steady label every hop (docs/live.md)."""

from exercise_rec.live.loop import LiveRun
from exercise_rec.live.session import LiveConfig, LiveSession, LiveUpdate, longest_shown
from exercise_rec.live.sources import Frame, SourceError

__all__ = ["Frame", "LiveConfig", "LiveRun", "LiveSession", "LiveUpdate", "SourceError", "longest_shown"]
