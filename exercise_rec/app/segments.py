"""A long video's timeline as segments: what happens, from when to when, how sure (pure, no Gradio).

Why segments lead for long videos: an untrimmed recording (walk in, a set, a rest, another set)
has no single answer; the whole-video prediction of one 16-frame clip spread over 24 s said
"jumping_jack 55%" while every window said shoulder_press, side_bend or no_exercise. Consecutive
windows with the same verdict (and, for ``exercise``/``no_exercise``, the same class) become one
segment; ``uncertain`` and ``no_person`` windows merge whatever their top class, which is no answer.
Why each window gets only its own stretch of time: windows overlap (3 s every 1 s), so segments
built from whole windows would overlap too; each window owns the time halfway to its neighbours'
centres, and the first and last reach the video's ends, so the segments tile the video.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from exercise_rec.inference import Timeline

# How a segment whose verdict is not a class is named (the API's data keeps the verdict itself).
VERDICT_NAMES = {"no_person": "no person", "uncertain": "not sure"}


@dataclass(frozen=True)
class Segment:
    """Windows ``first..last`` (inclusive) of a timeline, covering ``[start_s, end_s)``.

    ``label``: the class for ``exercise``/``no_exercise`` segments, None for ``uncertain``/``no_person``;
    ``prob``: the mean calibrated probability of ``label`` over the windows (of each window's top class
    when ``label`` is None); ``guess``: the top class most often among the windows (what an uncertain
    segment leans to).
    """

    verdict: str
    label: str | None
    start_s: float
    end_s: float
    prob: float
    guess: str
    first: int
    last: int

    @property
    def name(self) -> str:
        """What the segment is, for people: the class, or "not sure" / "no person"."""
        return self.label if self.label is not None else VERDICT_NAMES.get(self.verdict, self.verdict)

    @property
    def windows(self) -> int:
        return self.last - self.first + 1


def window_spans(starts_s: np.ndarray, ends_s: np.ndarray) -> list[tuple[float, float]]:
    """Each window's own stretch of the time axis: halfway to its neighbours' centres; the first and
    last windows reach the video's start and end (see the module docstring)."""
    starts, ends = np.asarray(starts_s, np.float64), np.asarray(ends_s, np.float64)
    centres = (starts + ends) / 2
    bounds = np.concatenate([[starts[0]], (centres[1:] + centres[:-1]) / 2, [ends[-1]]])
    return [(float(a), float(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def _key(verdict: str, label: str) -> tuple[str, str | None]:
    return (verdict, label if verdict in ("exercise", "no_exercise") else None)


def merge_windows(
    starts_s: np.ndarray,
    ends_s: np.ndarray,
    probs: np.ndarray,
    class_names: Sequence[str],
    verdicts: Sequence[str],
) -> list[Segment]:
    """Consecutive windows with the same verdict and class as one :class:`Segment` each, in time order.

    ``probs`` [N, C] calibrated; ``verdicts`` one name per window. No windows, no segments.
    """
    probs = np.asarray(probs, np.float64)
    if len(probs) == 0:
        return []
    if not len(starts_s) == len(ends_s) == len(probs) == len(verdicts):
        raise ValueError(f"need one start, end, probability row and verdict per window, got "
                         f"{len(starts_s)}, {len(ends_s)}, {len(probs)}, {len(verdicts)}")  # fmt: skip
    top = probs.argmax(axis=1)
    keys = [_key(v, class_names[k]) for v, k in zip(verdicts, top)]
    spans = window_spans(starts_s, ends_s)
    segments = []
    first = 0
    for k in range(1, len(keys) + 1):
        if k < len(keys) and keys[k] == keys[first]:
            continue
        verdict, label = keys[first]
        rows = probs[first:k]
        column = list(class_names).index(label) if label is not None else None
        prob = rows[:, column].mean() if column is not None else rows.max(axis=1).mean()
        guesses = np.bincount(top[first:k], minlength=len(class_names))
        segments.append(Segment(
            verdict=verdict, label=label, start_s=spans[first][0], end_s=spans[k - 1][1], prob=float(prob),
            guess=class_names[int(guesses.argmax())], first=first, last=k - 1,
        ))  # fmt: skip
        first = k
    return segments


def timeline_segments(timeline: Timeline) -> list[Segment]:
    """:func:`merge_windows` of a :class:`~exercise_rec.inference.Timeline`."""
    verdicts = [v.verdict for v in timeline.verdicts]
    return merge_windows(timeline.starts_s, timeline.ends_s, timeline.probs, timeline.class_names, verdicts)


def seconds(value: float) -> str:
    """0 -> "0", 6.5 -> "6.5", 12.25 -> "12.2" (tenths: window spans fall on half seconds at a 1 s stride)."""
    return f"{value:.1f}".removesuffix(".0")


def segments_markdown(segments: Sequence[Segment], duration_s: float) -> str:
    """The segments as the long video's headline: a heading, the sentence that one label for the
    whole video would be meaningless (when it shows more than one thing), and a table."""
    kinds = {(s.verdict, s.label) for s in segments}
    if len(kinds) > 1:
        heading = f"### {len(segments)} segments in {seconds(duration_s)} s"
        note = (
            f"One label for the whole video would be meaningless: it shows {len(kinds)} different things "
            "(each row is a stretch of 3 s windows with the same answer)."
        )
    else:
        only = segments[0]
        heading = f"### One segment: {only.name} over all {seconds(duration_s)} s"
        note = "Every 3 s window gives the same answer."
    rows = [f"| {seconds(s.start_s)}–{seconds(s.end_s)} s | {s.name} | {_sure(s)} | `{s.verdict}` |" for s in segments]
    table = "| when | what | how sure | verdict |\n|---|---|---|---|\n" + "\n".join(rows)
    return f"{heading}\n\n{note}\n\n{table}"


def _sure(segment: Segment) -> str:
    """The mean probability; an uncertain segment's lean; nothing for no person (no class to be sure of)."""
    if segment.verdict == "no_person":
        return "—"
    if segment.verdict == "uncertain":
        return f"{segment.prob:.0%} (top guess {segment.guess})"
    return f"{segment.prob:.0%}"
