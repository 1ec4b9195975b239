"""Batch prediction: many videos (paths, folders, globs, archives) through one parallel loader, the
model batched, resumable records, and as many processes or machines as Lightning's predict loop runs.

Modules: :mod:`sources` (what to classify), :mod:`loader` (hashing, decoding and the person check in
DataLoader workers, shared with ``evaluate``), :mod:`records` (the crash-safe JSONL / CSV output),
:mod:`engine` (the Lightning predict loop, shards and the final merge).
"""

from exercise_rec.batch.loader import Decoded, DecodeSpec, make_loader
from exercise_rec.batch.sources import VideoSource, collect

__all__ = ["DecodeSpec", "Decoded", "VideoSource", "collect", "make_loader"]
