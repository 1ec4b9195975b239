"""Decoded videos to model calls and records: what ``Predictor.predict`` does per video, for a batch.

Why not ``Predictor.predict`` in a loop: the workers already decoded the clips and ran the person
check (:mod:`exercise_rec.batch.loader`), and one model call on the whole batch is cheaper than one
per video. The steps after decoding are Predictor's own (``person_box``, ``probabilities``,
``rule.decide``), so a batch gives the same answers as single predictions with the same flags.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch

from exercise_rec.batch.loader import Decoded
from exercise_rec.data.framing import CropBox
from exercise_rec.inference import Prediction, Predictor, Timeline, person_frames
from exercise_rec.pose import PoseTrack

Inputs = tuple[list[torch.Tensor], list[CropBox | None], list[PoseTrack] | None]


def clip_inputs(predictor: Predictor, items: Sequence[Decoded]) -> Inputs:
    """Every clip of ``items`` (in order, all views), its framing crop from the worker's person-check
    track, and the tracks themselves when every clip has one (a pose checkpoint's input)."""
    clips = [clip for item in items for clip in item.clips]
    tracks = [track for item in items for track in item.tracks]
    boxes = [predictor.person_box(track, clip.shape[1:3]) for clip, track in zip(clips, tracks)]
    complete = [t for t in tracks if t is not None]
    return clips, boxes, complete if len(complete) == len(tracks) else None


def predictions(predictor: Predictor, items: Sequence[Decoded], top_k: int) -> list[Prediction]:
    """One :class:`Prediction` per item (each decoded, one view), from one model call. ``latency_ms``:
    the item's hashing, decoding and person check in its worker plus its share of the model call."""
    clips, boxes, tracks = clip_inputs(predictor, items)
    started = time.perf_counter()
    probs = predictor.probabilities(clips, boxes, tracks=tracks)
    share_ms = (time.perf_counter() - started) * 1e3 / max(1, len(items))
    out = []
    for item, clip, box, p in zip(items, clips, boxes, probs):
        track = item.tracks[0]
        verdict = predictor.rule.decide(p.numpy(), predictor.class_names, person_frames(track))
        top = p.topk(min(top_k, len(p)))
        out.append(Prediction(
            video=item.source.name, model=predictor.meta.model_name, mode=predictor.mode,
            labels=tuple(predictor.class_names[k] for k in top.indices.tolist()), top_probs=tuple(top.values.tolist()),
            probs=p.numpy(), latency_ms=item.decode_ms + share_ms, clip=clip, verdict=verdict.verdict,
            reason=verdict.reason, pose=track, framing=box,
        ))  # fmt: skip
    return out


def timeline_json(timeline: Timeline) -> list[dict[str, Any]]:
    """The ``timeline`` field of a predict record: one entry per window (docs/formats.md)."""
    return [
        {"start_s": round(float(s), 3), "end_s": round(float(e), 3), "label": label,
         "prob": round(float(p.max()), 6), "verdict": v.verdict, "reason": v.reason}
        for s, e, label, p, v in zip(timeline.starts_s, timeline.ends_s, timeline.labels, timeline.probs,
                                     timeline.verdicts)
    ]  # fmt: skip
