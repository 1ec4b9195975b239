"""``python -m exercise_rec.synth``: write a synthetic exercise-video dataset (a thin shell over the library).

    python -m exercise_rec.synth --out data/synth --per-class 30 --seed 0
    python -m exercise_rec.synth --out data/synth_long --long --count 6 --duration 40
    python -m exercise_rec.synth --out data/synth_framing --per-class 10 --layout small_off_centre
    python -m exercise_rec.synth --out data/synth_shifted --per-class 10 --seed 2 --appearance shifted
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace

from tqdm import tqdm

from exercise_rec.cli_common import OneLineParser, cli, positive_int
from exercise_rec.data.synthetic import (
    APPEARANCE_DOMAINS,
    CLASS_NAMES,
    LAYOUT_PRESETS,
    AppearanceDomain,
    Layout,
    SynthConfig,
    generate_dataset,
    generate_long,
    prepare_output_dir,
)
from exercise_rec.data.synthetic.generate import split_counts

log = logging.getLogger("exercise_rec.synth")  # not "__main__" under python -m


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 320x240, got {text!r}") from None
    return width, height


def _scale_range(text: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN,MAX such as 0.3,0.5, got {text!r}") from None
    if not 0 < low <= high <= 1:
        raise argparse.ArgumentTypeError(f"expected 0 < MIN <= MAX <= 1, got {text!r}")
    return low, high


def _classes(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in CLASS_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown classes {unknown}; valid: {', '.join(CLASS_NAMES)}")
    return names


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="python -m exercise_rec.synth",
        description="Render synthetic exercise videos (17 classes, no_exercise included) with per-frame "
        "person masks and 2D joints. Clips: OUT/<class>/<class>_NNNN.mp4 + .npz and OUT/{train,val,test}.txt. "
        "--long: OUT/videos/<id>.mp4 + .npz, OUT/labels/<id>.csv (frame,label) and OUT/split.csv.",
    )
    p.add_argument("--out", required=True, help="output folder (created; existing files are overwritten)")
    p.add_argument("--per-class", type=positive_int, default=30,
                   help="clips per class (default 30; 3 or more give every split, test included, a clip per class)")
    p.add_argument("--seed", type=int, default=0, help="master seed: same seed, same dataset (default 0)")
    p.add_argument("--classes", type=_classes, default=list(CLASS_NAMES), help="comma-separated subset of classes")
    p.add_argument("--long", action="store_true", help="write untrimmed recordings with per-frame labels instead")
    p.add_argument("--count", type=positive_int, default=6, help="--long: number of recordings (default 6)")
    p.add_argument(
        "--duration", type=float, default=None, help="seconds per clip (default 3, +-15%%) or recording (default 40)"
    )
    p.add_argument("--size", type=_size, default=(320, 240), help="nominal frame size WIDTHxHEIGHT (default 320x240)")
    p.add_argument("--fixed-size", action="store_true", help="every video exactly --size (no aspect/size variation)")
    p.add_argument(
        "--layout",
        choices=LAYOUT_PRESETS,
        default="default",
        help="how the person sits in the frame: 'default' (large, 4:3 / 16:9 / 3:4 frames) or 'small_off_centre' "
        "(person fills 25-45%% of the frame, anywhere in it, 16:9 and 9:16 frames, one video in five cut off "
        "by an edge: the framing test set; --fixed-size keeps --size's shape)",
    )
    p.add_argument(
        "--person-scale",
        type=_scale_range,
        default=None,
        metavar="MIN,MAX",
        help="share of the limiting frame side the person's extent fills, drawn per video "
        "(default: the layout's; 0.6,0.9 for 'default')",
    )
    p.add_argument(
        "--appearance",
        choices=APPEARANCE_DOMAINS,
        default="train",
        help="how the videos look: 'train' (the usual palettes, rooms, lighting and camera) or 'shifted', a held-out "
        "domain none of whose ranges training ever draws from (neon and striped clothes, dyed hair, saturated "
        "rooms with tiled floors, dim hazy colour-cast light, a camera 20-35 deg above and further away: person "
        "fills 40-55%% unless --layout or --person-scale sets the size); same seed, same poses in both",
    )
    view = p.add_mutually_exclusive_group()
    view.add_argument(
        "--any-view",
        action="store_true",
        help="camera anywhere from the front to either side (0-90 deg) for every class, instead of each class's "
        "usual view (squats from the side, jumping jacks from the front): view-diverse data; same as --yaw 0 90",
    )
    view.add_argument(
        "--yaw",
        nargs=2,
        type=float,
        metavar=("MIN", "MAX"),
        default=None,
        help="camera yaw range in degrees for every class (0 front, 90 side, 180 behind), e.g. --yaw 0 180",
    )
    p.add_argument(
        "--roll",
        type=float,
        default=None,
        help="largest camera roll in degrees, either way (default 4; a tilted phone or wall camera: 20-25)",
    )
    p.add_argument(
        "--elevation",
        nargs=2,
        type=float,
        metavar=("MIN", "MAX"),
        default=None,
        help="range of degrees the camera looks down, drawn per video (default: the appearance's, 0-15 for 'train', "
        "20-35 for 'shifted'; a wall or tripod camera above head height: 15-30). Ranges above 20 overlap the "
        "held-out look's camera",
    )
    p.add_argument("--workers", type=positive_int, default=None, help="worker processes (default: all cores)")
    return p


def warn_empty_splits(per_class: int, config: SynthConfig) -> None:
    """Say up front that a tiny set leaves val or test empty, which ``train`` refuses."""
    _, val, test = split_counts(per_class, config)
    empty = [name for name, count in (("val", val), ("test", test)) if count == 0]
    if empty:
        log.warning("--per-class %d leaves the %s split empty; training needs --per-class 3 or more",
                    per_class, " and ".join(empty))


def run(args: argparse.Namespace) -> int:
    duration = args.duration if args.duration is not None else (40.0 if args.long else 3.0)
    width, height = args.size
    layout = Layout.preset(args.layout)
    appearance = AppearanceDomain.preset(args.appearance)
    if args.any_view or args.yaw is not None:
        layout = replace(layout, yaw=tuple(args.yaw) if args.yaw is not None else (0.0, 90.0))
    if args.roll is not None:
        layout = replace(layout, roll=args.roll)
    if args.elevation is not None:
        appearance = replace(appearance, elevation=tuple(args.elevation))
    if args.person_scale is not None:  # an explicit size wins over the appearance domain's camera distance
        layout = replace(layout, person_scale=args.person_scale)
        appearance = replace(appearance, person_scale=None)
    config = replace(
        SynthConfig(),
        width=width,
        height=height,
        duration=duration,
        vary_resolution=not args.fixed_size,
        layout=layout,
        appearance=appearance,
    )
    prepare_output_dir(args.out)  # a bad --out fails here, before the progress bar draws
    if not args.long:
        warn_empty_splits(args.per_class, config)
    total = args.count if args.long else args.per_class * len(args.classes)
    with tqdm(total=total, unit="video", desc="synth") as bar:
        if args.long:
            root = generate_long(args.out, args.count, args.seed, config, args.workers, progress=bar.update)
        else:
            root = generate_dataset(
                args.out, args.per_class, args.seed, config, args.classes, args.workers, progress=bar.update
            )
    print(root)
    return 0


main = cli(build_parser, run)


if __name__ == "__main__":
    raise SystemExit(main())
