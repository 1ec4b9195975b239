"""Rows, ratios and targets, and the one table (markdown) and JSON they are printed as.

Why every row carries its ratio to a peer measured in the same process: absolute times on a shared
2-core machine move with the load, while a ratio of two numbers taken minutes apart mostly does not.
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
from exercise_rec.bench.timing import Stats

TIME_UNIT = "ms"


@dataclass(frozen=True)
class Ratio:
    """``value`` x ``vs``: e.g. 31.0 x "faster than r3d_18 eager"."""

    value: float
    vs: str

    def __str__(self) -> str:
        return f"{self.value:.2f}x {self.vs}"


@dataclass(frozen=True)
class Row:
    """One measured line. For rates, ``p90`` is the rate of the 90th-percentile (slow) run."""

    name: str
    unit: str
    median: float | None
    p90: float | None
    runs: int
    ratios: tuple[Ratio, ...] = ()
    peer: bool = False
    note: str = ""

    @classmethod
    def time(cls, name: str, stats: Stats, **kw: Any) -> Row:
        return cls(name, TIME_UNIT, stats.median, stats.p90, len(stats.samples_ms), **kw)

    @classmethod
    def rate(cls, name: str, stats: Stats, items: int, **kw: Any) -> Row:
        """``items`` clips per run as clips/s (the median run's and the p90 run's)."""
        return cls(name, "clips/s", items * 1e3 / stats.median, items * 1e3 / stats.p90, len(stats.samples_ms), **kw)

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

    def check(self, sections: list[Section]) -> dict[str, Any]:
        """Met or missed, and by how much (missed: the shortfall as a share of the goal)."""
        rows = {r.name: r for s in sections if s.name == self.section for r in s.rows}
        row = rows.get(self.row)
        if row is None or len(row.ratios) <= self.ratio:
            return {"target": self.text, "value": None, "met": None, "verdict": "not measured"}
        value = row.ratios[self.ratio].value
        goal = self.at_least if self.at_least is not None else self.at_most
        assert goal is not None
        met = value >= goal if self.at_least is not None else value <= goal
        sign = ">=" if self.at_least is not None else "<="
        verdict = f"met ({value:.2f}x {sign} {goal:g}x)"
        if not met:
            verdict = f"missed by {abs(goal - value) / goal:.0%} ({value:.2f}x, goal {sign} {goal:g}x)"
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


def _ratio_cell(row: Row) -> str:
    if row.note:
        return row.note
    if row.peer:
        return "peer"
    return "; ".join(str(r) for r in row.ratios)


def render(machine: dict[str, Any], settings: dict[str, Any], sections: list[Section], targets: list[dict]) -> str:
    """The table as markdown: header lines, one row per measurement, then the targets."""
    lines = [
        f"{machine['date']} | {machine['cpu']} | {machine['cores']} cores, torch threads {machine['torch_threads']}"
        f" | torch {machine['torch']} | python {machine['python']} | load (1 min) {machine['load_1min']}"
        + (f" | GPU {machine['gpu']}" if "gpu" in machine else ""),
        ", ".join(f"{k}={v}" for k, v in settings.items()),
        ("median and p90 over repeated runs after warm-up; for clips/s rows p90 is the rate of the p90 run; "
         "ratios compare medians measured in the same process"),
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
                f"| {row.runs} | {_ratio_cell(row)} |"
            )
    notes = [f"- {section.title}: {note}" for section in sections for note in section.notes]
    if notes:
        lines += ["", *notes]
    if targets:
        lines += ["", "Targets:", *(f"- {t['target']}: {t['verdict']}" for t in targets)]
    return "\n".join(lines)


def to_json(machine: dict[str, Any], settings: dict[str, Any], sections: list[Section], targets: list[dict]) -> dict:
    """The same content as :func:`render`, for tools (``--json``); NaN never appears (None instead)."""

    def clean(value: Any) -> Any:
        return None if isinstance(value, float) and not math.isfinite(value) else value

    return {
        "machine": machine,
        "settings": settings,
        "sections": [
            {
                "name": s.name,
                "title": s.title,
                "skipped": s.skipped or None,
                "notes": list(s.notes),
                "rows": [
                    {**{k: clean(v) for k, v in asdict(r).items() if k != "ratios"},
                     "ratios": [{"value": clean(q.value), "vs": q.vs} for q in r.ratios]}
                    for r in s.rows
                ],
            }
            for s in sections
        ],
        "targets": targets,
    }

