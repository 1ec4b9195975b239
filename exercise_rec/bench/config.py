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
    "batch": "6. batch prediction",
    "live": "7. live loop",
    "gpu": "8. GPU training",
}
DEFAULT_SECTIONS = tuple(SECTIONS)[:-1]  # gpu only with --gpu
DEFAULT_DATA_DIR = Path(tempfile.gettempdir()) / "exercise_rec_bench"
SHIPPED_WIDTH = 0.5  # mobilenet_v2_3d's width in the shipped checkpoints
SYNTH_PER_CLASS = 6  # videos per class of the bench's synthetic set: the split gives 4 train, 1 val, 1 test
# What --quick changes; --help is written from it (``quick_help``), so the two cannot disagree.
QUICK = {
    "repeats": 5,
    "clip": (8, 32, 32),
    "long_seconds": 20,
    "widths": (SHIPPED_WIDTH,),
    "fast_configs": (("standard", SHIPPED_WIDTH),),
    "synth_classes": 4,
    "batch_videos": 8,
    "batch_runs": 2,
    "phone_files": ((3, 30, 1), (3, 60, 2)),
}
# The phone-like files of the full run, (seconds, fps, keyframe interval s): 1080p H.264 as phones record
# it (bench.media.phone_video); the 60 s 1080p30 one is also the app's upload-to-label file.
PHONE_FILES = ((30, 30, 1), (30, 30, 2), (40, 30, 2), (45, 30, 1), (60, 30, 2), (30, 60, 1), (30, 60, 2),
               (60, 60, 1))


@dataclass(frozen=True)
class PhoneSpec:
    """One phone-like file: its length, frame rate and keyframe interval (whole seconds)."""

    seconds: int
    fps: int
    keyframe_s: int

    @property
    def gop(self) -> int:
        """Frames from one keyframe to the next."""
        return self.fps * self.keyframe_s

    @property
    def label(self) -> str:
        return f"phone {self.seconds} s 1080p{self.fps}, keyframe {self.keyframe_s} s"

    def filename(self, index: int) -> str:
        return f"phone{index}_{self.seconds}s_1080p{self.fps}_k{self.keyframe_s}s.mp4"


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
    batch_videos: int = 64  # synthetic videos (of that dataset) in the batch section
    batch_runs: int = 3  # timed runs per batch-section row (one run of the full phone set is a minute or more)
    phone_files: tuple[tuple[int, int, int], ...] = PHONE_FILES  # (seconds, fps, keyframe s) per phone-like file
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
        if not 1 <= self.batch_videos <= self.synth_classes * SYNTH_PER_CLASS:
            raise ConfigError(f"batch videos must be 1..{self.synth_classes * SYNTH_PER_CLASS} (the synthetic "
                              f"dataset's {self.synth_classes} classes x {SYNTH_PER_CLASS}); got {self.batch_videos}")
        if self.batch_runs < 1:
            raise ConfigError(f"batch runs must be >= 1, got {self.batch_runs}")
        if not self.phone_files or any(s < 1 or f < 1 or k < 1 for s, f, k in self.phone_files):
            raise ConfigError(f"need phone files of positive seconds, fps and keyframe interval; got {self.phone_files}")
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
    def phones(self) -> tuple[PhoneSpec, ...]:
        return tuple(PhoneSpec(*spec) for spec in self.phone_files)

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
            "batch videos": self.batch_videos,
            "batch runs": self.batch_runs,
            "phone files": len(self.phone_files),
            "data dir": str(self.data_dir),
            "noise limit (p90/median)": self.noise_limit,
            "shared limit": f"{self.shared_limit:.0%}",
        }


def quick_help() -> str:
    """What ``--quick`` does, in the words of ``--help``, from :data:`QUICK` itself."""
    t, h, w = QUICK["clip"]  # type: ignore[misc]
    widths = "/".join(f"{width:g}" for width in QUICK["widths"])  # type: ignore[attr-defined]
    phones = QUICK["phone_files"]
    seconds = "/".join(sorted({f"{s}" for s, _, _ in phones}))  # type: ignore[attr-defined]
    return (f"{QUICK['repeats']} runs per row, 3x{t}x{h}x{w} clips, a {QUICK['long_seconds']} s long file, "
            f"mobilenet_v2_3d at the shipped width {widths} only, fast path for the standard model only, "
            f"{QUICK['batch_videos']} synthetic videos and {len(phones)} phone-like files of {seconds} s "  # type: ignore[arg-type]
            f"(instead of {BenchConfig.batch_videos} and {len(PHONE_FILES)} of 30-60 s) in the batch and decode sections "
            f"(the CI smoke run)")
