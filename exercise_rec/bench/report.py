"""Rows, ratios and targets, and the one table (markdown) and JSON they are printed as.

Why every row carries its ratio to a peer measured in the same process: absolute times on a shared
2-core machine move with the load, while a ratio of two numbers taken minutes apart mostly does not.

The noise rule: every timed row keeps its samples, and a row whose p90 / median exceeds the noise
limit (``timing.NOISE_LIMIT``, ``--noise-limit``) is marked noisy: no ratio is printed for it, nor
for a row compared with it, and no target is judged on it (issue 29: a quick run of 2 repeats
printed a width-1.0 model at 864 ms against 3.8 ms for width 0.5; the median of 2 runs is their
mean, so one stalled run sets it). Speed ratios below 1 are printed the other way round: 0.41x
faster reads "2.4x slower".
"""

from __future__ import annotations

import datetime
import importlib.metadata
import math
import os
import platform
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch

from exercise_rec.bench.config import SECTIONS, available_cores
from exercise_rec.bench.timing import NoiseRule, Stats, spread

TIME_UNIT = "ms"


def times(value: float) -> str:
    """A ratio as text: two decimals near 1 (where they matter), one from 2x up."""
    return f"{value:.1f}x" if value >= 2 else f"{value:.2f}x"


@dataclass(frozen=True)
class Ratio:
    """``value`` x ``vs`` of a row to its peer, e.g. 31.0 x "faster than r3d_18 eager".

    A speed ratio (``speed``, ``vs`` starting "faster than") below 1 is printed as "N x slower than";
    ``peer_spread`` and ``peer_others`` are the peer row's, so that a noise peer withholds the ratio too.
    """

    value: float
    vs: str
    peer_spread: float | None = None
    peer_others: float | None = None

    @property
    def speed(self) -> bool:
        return self.vs.startswith("faster than ")

    def __str__(self) -> str:
        if self.speed and 0 < self.value < 1:
            return f"{times(1 / self.value)} slower than {self.vs.removeprefix('faster than ')}"
        return f"{times(self.value)} {self.vs}"


def _timed(stats: Stats) -> dict[str, Any]:
    return {"samples_ms": stats.samples_ms, "warmup_calls": stats.warmup_calls, "others_share": stats.others_share}


@dataclass(frozen=True)
class Row:
    """One measured line. For rates, ``p90`` is the rate of the 90th-percentile (slow) run.
    ``samples_ms`` are the timed runs (empty for a value that is not a timing, e.g. memory)."""

    name: str
    unit: str
    median: float | None
    p90: float | None
    runs: int
    ratios: tuple[Ratio, ...] = ()
    peer: bool = False
    note: str = ""
    samples_ms: tuple[float, ...] = ()
    warmup_calls: int = 0
    others_share: float | None = None  # other processes' share of the CPUs meanwhile (``timing.Stats``)

    @property
    def spread(self) -> float | None:
        """p90 / median of the timed runs (None without timed runs)."""
        return spread(self.samples_ms) if self.samples_ms else None

    def noise(self, rule: NoiseRule = NoiseRule()) -> str:
        """Why this row is noise under ``rule``, or ""."""
        return rule.why(self.spread, self.others_share)

    def noisy(self, rule: NoiseRule = NoiseRule()) -> bool:
        return bool(self.noise(rule))

    def faster(self, peer: Row, vs: str) -> Ratio:
        """How many times faster than ``peer`` (``vs`` names it: "faster than ...")."""
        return Ratio(self.speedup(peer), vs, peer.spread, peer.others_share)

    def per(self, peer: Row, vs: str) -> Ratio:
        """self/peer of the medians, e.g. "1.02x the time of forward+backward"."""
        return Ratio(self.relative(peer), vs, peer.spread, peer.others_share)

    @classmethod
    def time(cls, name: str, stats: Stats, **kw: Any) -> Row:
        return cls(name, TIME_UNIT, stats.median, stats.p90, len(stats.samples_ms), **_timed(stats), **kw)

    @classmethod
    def rate(cls, name: str, stats: Stats, items: int, **kw: Any) -> Row:
        """``items`` clips per run as clips/s (the median run's and the p90 run's)."""
        return cls(name, "clips/s", items * 1e3 / stats.median, items * 1e3 / stats.p90, len(stats.samples_ms),
                   **_timed(stats), **kw)

    @classmethod
    def missing(cls, name: str, unit: str, note: str) -> Row:
        """A row that could not be measured here, e.g. ``n/a (install openvino)``."""
        return cls(name, unit, None, None, 0, note=note)

    def speedup(self, peer: Row) -> float:
        """How many times faster than ``peer`` (time rows: peer/self; rate rows: self/peer)."""
        assert self.median is not None and peer.median is not None
        return peer.median / self.median if self.unit == TIME_UNIT else self.median / peer.median

    def relative(self, peer: Row) -> float:
        """self/peer of the medians (a cost or size relative to the peer's)."""
        assert self.median is not None and peer.median is not None
        return self.median / peer.median

    def with_ratios(self, *ratios: Ratio) -> Row:
        return replace(self, ratios=ratios)

    def as_peer(self) -> Row:
        """The same row marked as its section's peer (the reference of other rows' ratios)."""
        return replace(self, peer=True)


@dataclass(frozen=True)
class Target:
    """A goal on one ratio of one row: ``ratio >= at_least`` or ``ratio <= at_most``."""

    text: str
    section: str
    row: str
    ratio: int = 0
    at_least: float | None = None
    at_most: float | None = None

    def check(self, sections: list[Section], rule: NoiseRule = NoiseRule()) -> dict[str, Any]:
        """Met or missed, and by how much (missed: the shortfall as a share of the goal); not judged
        when the row or its peer is noise."""
        rows = {r.name: r for s in sections if s.name == self.section for r in s.rows}
        row = rows.get(self.row)
        if row is None or len(row.ratios) <= self.ratio:
            return {"target": self.text, "value": None, "met": None, "verdict": "not measured"}
        ratio = row.ratios[self.ratio]
        value = ratio.value
        withheld = _withheld(row, ratio, rule)
        if withheld:
            return {"target": self.text, "value": value, "met": None, "verdict": f"not judged: {withheld}"}
        goal = self.at_least if self.at_least is not None else self.at_most
        assert goal is not None
        met = value >= goal if self.at_least is not None else value <= goal
        sign = ">=" if self.at_least is not None else "<="
        verdict = f"met ({times(value)} {sign} {goal:g}x)"
        if not met:
            verdict = f"missed by {abs(goal - value) / goal:.0%} ({times(value)}, goal {sign} {goal:g}x)"
        return {"target": self.text, "value": value, "met": met, "verdict": verdict}


@dataclass(frozen=True)
class Section:
    """What one section measured, or why it was skipped."""

    name: str
    rows: tuple[Row, ...] = ()
    targets: tuple[Target, ...] = ()
    notes: tuple[str, ...] = ()
    skipped: str = ""

    @property
    def title(self) -> str:
        return SECTIONS[self.name]


def machine_info(threads: int) -> dict[str, Any]:
    """What the numbers depend on: CPU, cores this process may use, library versions, date."""
    info: dict[str, Any] = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cores": available_cores(),
        "torch_threads": threads,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "load_1min": round(os.getloadavg()[0], 2),  # other work on the machine skews every number
    }
    for package in ("onnxruntime", "openvino", "opencv-python-headless"):
        try:
            info[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            info[package] = None
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


BUSY_LOAD = 0.5  # a 1-min load average above this share of the cores before the run: a shared machine


def busy_note(load_1min: float, cores: int) -> str:
    """A warning for the header when other work held the cores before the run started, else ""."""
    if load_1min < BUSY_LOAD * cores:
        return ""
    return (f"BUSY MACHINE: the 1-min load average was {load_1min:.2f} on {cores} cores before the run. With every "
            f"core in torch's thread pool, each parallel region waits for a thread the other work preempted (on "
            f"the 2-core machine one busy process made eager rows 2-3x slower with 100+ ms stalls, a load of 6-8 "
            f"made forward+backward 30x slower). Rows measured while it lasted are marked noisy or shared and "
            f"get no ratio: re-run idle before trusting the table")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def _withheld(row: Row, ratio: Ratio | None, rule: NoiseRule) -> str:
    """Why a ratio of ``row`` must not be printed (the noise rule), or "" when it may."""
    if noise := row.noise(rule):
        return noise
    if ratio is not None and (noise := rule.why(ratio.peer_spread, ratio.peer_others)):
        return f"peer {noise}"
    return ""


def _ratio_cell(row: Row, rule: NoiseRule) -> str:
    if row.note:
        return row.note
    noise = _withheld(row, None, rule)
    if row.peer:
        return f"peer, {noise}: no ratio to it" if noise else "peer"
    if noise:
        return f"{noise}: no ratio"
    cells = []
    for ratio in row.ratios:
        withheld = _withheld(row, ratio, rule)
        cells.append(f"{withheld}: no ratio to {ratio.vs.removeprefix('faster than ')}" if withheld else str(ratio))
    return "; ".join(cells)


def render(
    machine: dict[str, Any],
    settings: dict[str, Any],
    sections: list[Section],
    targets: list[dict],
    rule: NoiseRule = NoiseRule(),
) -> str:
    """The table as markdown: header lines, one row per measurement, then the notes and the targets."""
    lines = [
        f"{machine['date']} | {machine['cpu']} | {machine['cores']} cores, torch threads {machine['torch_threads']}"
        f" | torch {machine['torch']} | python {machine['python']} | load (1 min) {machine['load_1min']}"
        + (f" | GPU {machine['gpu']}" if "gpu" in machine else ""),
        *([machine["busy"]] if machine.get("busy") else []),
        ", ".join(f"{k}={v}" for k, v in settings.items()),
        ("median and p90 over repeated runs after a pause and a warm-up; for clips/s rows p90 is the rate of the p90 "
         "run; ratios compare medians measured in the same process"),
        "",
        "| section | row | median | p90 | unit | runs | ratio (same run) |",
        "|---|---|---:|---:|---|---:|---|",
    ]
    for section in sections:
        if section.skipped:
            lines.append(f"| {section.title} | skipped: {section.skipped} | | | | | |")
        for row in section.rows:
            lines.append(
                f"| {section.title} | {row.name} | {_number(row.median)} | {_number(row.p90)} | {row.unit} "
                f"| {row.runs} | {_ratio_cell(row, rule)} |"
            )
    noisy = sum(row.noisy(rule) for section in sections for row in section.rows)
    timed = sum(bool(row.samples_ms) for section in sections for row in section.rows)
    notes = [f"- {rule.text()} ({noisy} of {timed} timed rows in this run); speed ratios below 1x read "
             f"\"N x slower\""]
    notes += [f"- {section.title}: {note}" for section in sections for note in section.notes]
    lines += ["", *notes]
    if targets:
        lines += ["", "Targets:", *(f"- {t['target']}: {t['verdict']}" for t in targets)]
    return "\n".join(lines)


def to_json(
    machine: dict[str, Any],
    settings: dict[str, Any],
    sections: list[Section],
    targets: list[dict],
    rule: NoiseRule = NoiseRule(),
) -> dict:
    """The same content as :func:`render`, for tools (``--json``); NaN never appears (None instead).
    Each row also has its samples, ``spread`` and ``noisy``; each ratio its text (or why it is
    withheld), so that a tool applies the same noise rule as the table."""

    def clean(value: Any) -> Any:
        if isinstance(value, tuple):
            return [clean(v) for v in value]
        return None if isinstance(value, float) and not math.isfinite(value) else value

    def ratio(row: Row, q: Ratio) -> dict[str, Any]:
        withheld = _withheld(row, q, rule)
        return {"value": clean(q.value), "vs": q.vs, "text": None if withheld else str(q), "withheld": withheld or None}

    return {
        "machine": machine,
        "settings": settings,
        "noise_rule": rule.text(),
        "sections": [
            {
                "name": s.name,
                "title": s.title,
                "skipped": s.skipped or None,
                "notes": list(s.notes),
                "rows": [
                    {**{k: clean(v) for k, v in asdict(r).items() if k != "ratios"},
                     "spread": clean(r.spread), "noise": r.noise(rule) or None, "noisy": r.noisy(rule),
                     "ratios": [ratio(r, q) for q in r.ratios]}
                    for r in s.rows
                ],
            }
            for s in sections
        ],
        "targets": targets,
    }

