"""``python -m exercise_rec.bench``: measure, then print one table (stdout) and optionally JSON.

    python -m exercise_rec.bench                 # full run (about 10 minutes on 2 cores)
    python -m exercise_rec.bench --quick         # every section, smaller inputs, well under 2 minutes
    python -m exercise_rec.bench --sections decode cam --repeats 10 --json out.json
    python -m exercise_rec.bench --gpu           # adds CUDA training throughput when a GPU is there

Progress goes to stderr; the table to stdout.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path

from exercise_rec.bench.config import (
    DEFAULT_DATA_DIR,
    DEFAULT_SECTIONS,
    SECTIONS,
    BenchConfig,
)
from exercise_rec.cli_common import OneLineParser, cli


def build_parser() -> OneLineParser:
    p = OneLineParser(prog="python -m exercise_rec.bench",
                      description="Measure and print the benchmark table (progress on stderr).")
    p.add_argument("--quick", action="store_true",
                   help="smaller inputs and files, 3 runs, shipped widths only (the CI smoke run)")
    p.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(DEFAULT_SECTIONS),
                   help=f"sections to run (default: {' '.join(DEFAULT_SECTIONS)})")
    p.add_argument("--gpu", action="store_true", help="also the gpu section (skipped without CUDA)")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    p.add_argument("--threads", type=int, help="torch/OpenCV threads (default: the cores this process may use)")
    p.add_argument("--repeats", type=int, help="timed runs per row (default 7, --quick 3)")
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                   help=f"where generated videos are cached between runs (default {DEFAULT_DATA_DIR})")
    return p


def _run(args: argparse.Namespace) -> int:
    from exercise_rec.bench import report

    sections = tuple(dict.fromkeys([*args.sections, *(["gpu"] if args.gpu else [])]))
    cfg = BenchConfig.preset(args.quick, sections=sections, repeats=args.repeats, threads=args.threads,
                             data_dir=args.data_dir)
    machine = report.machine_info(cfg.threads)  # load before the run; the end's is added below
    started = time.perf_counter()
    results = []
    for name in SECTIONS:
        if name in cfg.sections:
            results.append(importlib.import_module(f"exercise_rec.bench.{name}").run(cfg))
        else:
            results.append(report.Section(name, skipped="not selected (--sections, --gpu)"))
    settings = {**cfg.settings(), "wall s": round(time.perf_counter() - started)}
    machine["load_1min"] = f"{machine['load_1min']} -> {os.getloadavg()[0]:.2f}"
    targets = [t.check(results) for section in results for t in section.targets]
    print(report.render(machine, settings, results, targets))
    if args.json:
        args.json.write_text(json.dumps(report.to_json(machine, settings, results, targets), indent=2))
    return 0


# progress with timestamps; the exporters' chatter stays below WARNING
main = cli(build_parser, _run, log_format="[%(relativeCreated)6.0f ms] %(message)s")


if __name__ == "__main__":
    sys.exit(main())
