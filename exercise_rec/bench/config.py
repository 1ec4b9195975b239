"""What one benchmark run measures and how hard: the single settings object every section reads.

Why ``quick`` is a set of smaller choices rather than fewer sections: CI runs ``--quick`` so that
every code path of every section keeps working, in about 1.5 minutes on 2 idle cores; the choices
it shrinks (input size, file length, repetitions, configurations) are printed with the table.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from exercise_rec.bench.timing import NOISE_LIMIT, SHARED_LIMIT, NoiseRule
from exercise_rec.errors import ConfigError

SECTIONS = {  # name -> title in the table, in the table's order
    "inference": "1. inference",
    "decode": "2. decode",
    "loader": "3. data loader",
    "cam": "4. explanations",
    "e2e": "5. end to end",
    "gpu": "6. GPU training",
}
DEFAULT_SECTIONS = tuple(SECTIONS)[:-1]  # gpu only with --gpu
DEFAULT_DATA_DIR = Path(tempfile.gettempdir()) / "exercise_rec_bench"
SHIPPED_WIDTH = 0.5  # mobilenet_v2_3d's width in the shipped checkpoints
# What --quick changes; --help is written from it (``quick_help``), so the two cannot disagree.
QUICK = {
    "repeats": 5,
    "clip": (8, 32, 32),
    "long_seconds": 20,
    "widths": (SHIPPED_WIDTH,),
    "fast_configs": (("standard", SHIPPED_WIDTH),),
    "synth_classes": 4,
}


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass(frozen=True)
class BenchConfig:
    """Settings of one run; :meth:`preset` fills the full or ``--quick`` defaults."""

    sections: tuple[str, ...] = DEFAULT_SECTIONS
    quick: bool = False
    repeats: int = 7
    warmup: int = 1
    threads: int = field(default_factory=available_cores)
    data_dir: Path = DEFAULT_DATA_DIR
    clip: tuple[int, int, int] = (16, 128, 128)  # T, H, W of the inference section's input
    long_seconds: int = 120  # the long decode file (the short one is always 10 s)
    widths: tuple[float, ...] = (1.0, SHIPPED_WIDTH)  # mobilenet_v2_3d widths with an eager row
    # mobilenet_v2_3d (mode, width) configurations with fast-path and batch-8 rows
    fast_configs: tuple[tuple[str, float], ...] = (
        ("standard", 1.0), ("standard", 0.5), ("high_temporal", 1.0), ("high_temporal", 0.5),
    )
    synth_classes: int = 17  # classes in the loader's synthetic dataset (6 videos each, 4 in train)
    noise_limit: float = NOISE_LIMIT  # p90/median above this: no ratio for the row (the noise rule)
    shared_limit: float = SHARED_LIMIT  # other processes' share of the CPUs during a row: the same

    def __post_init__(self) -> None:
        unknown = sorted(set(self.sections) - set(SECTIONS))
        if unknown:
            raise ConfigError(f"unknown section(s) {', '.join(unknown)}; valid: {', '.join(SECTIONS)}")
        if self.repeats < 1 or self.warmup < 0 or self.threads < 1:
            raise ConfigError(f"need repeats >= 1, warmup >= 0, threads >= 1; got {self.repeats}, {self.warmup}, "
                             f"{self.threads}")
        if not self.noise_limit > 1:
            raise ConfigError(f"the noise limit is a p90/median ratio and must be > 1; got {self.noise_limit}")
        if not self.shared_limit > 0:
            raise ConfigError(f"the shared limit is a share of the CPUs and must be > 0; got {self.shared_limit}")
        missing = sorted({w for _, w in self.fast_configs} - set(self.widths))
        if missing:
            raise ConfigError(f"fast-path width(s) {missing} have no eager row (widths {list(self.widths)})")

    @classmethod
    def preset(cls, quick: bool, **overrides: object) -> BenchConfig:
        """The full run's defaults, or the quick ones (:data:`QUICK`): smaller inputs and files, fewer
        runs, mobilenet_v2_3d at the shipped width only and the fast path for the shipped standard
        model only (its code path is the same for every configuration)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return cls(quick=quick, **({**QUICK, **given} if quick else given))  # type: ignore[arg-type]

    @property
    def rule(self) -> NoiseRule:
        return NoiseRule(self.noise_limit, self.shared_limit)

    def settings(self) -> dict[str, object]:
        """The settings printed above the table and stored in the JSON."""
        t, h, w = self.clip
        return {
            "mode": "quick" if self.quick else "full",
            "repeats": self.repeats,
            "warmup": self.warmup,
            "threads": self.threads,
            "inference input": f"3x{t}x{h}x{w}",
            "mobilenet_v2_3d widths": "/".join(f"{w:g}" for w in self.widths),
            "long file": f"{self.long_seconds} s",
            "data dir": str(self.data_dir),
            "noise limit (p90/median)": self.noise_limit,
            "shared limit": f"{self.shared_limit:.0%}",
        }


def quick_help() -> str:
    """What ``--quick`` does, in the words of ``--help``, from :data:`QUICK` itself."""
    t, h, w = QUICK["clip"]  # type: ignore[misc]
    widths = "/".join(f"{width:g}" for width in QUICK["widths"])  # type: ignore[attr-defined]
    return (f"{QUICK['repeats']} runs per row, 3x{t}x{h}x{w} clips, a {QUICK['long_seconds']} s long file, "
            f"mobilenet_v2_3d at the shipped width {widths} only, fast path for the standard model only "
            f"(the CI smoke run)")
