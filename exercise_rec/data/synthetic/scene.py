"""Whole videos in memory: a posed figure in a random room through a random camera.

``render_clip`` makes one trimmed clip of a class; ``render_recording`` an untrimmed recording
(sets of exercises with rests between them, per-frame labels). All randomness comes from the
generator passed in, so a video is a function of its seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from exercise_rec.data.synthetic.figure import (
    JOINT,
    Body,
    Pose,
    blend,
    forward_kinematics,
)
from exercise_rec.data.synthetic.motions import BACKGROUND_CLASS, CLASS_NAMES, MOTIONS, Motion
from exercise_rec.data.synthetic.render import (
    Appearance,
    Degradation,
    FigurePainter,
    draw_shadow,
    make_background,
    place_camera,
    rotate_view,
    to_image,
)
from exercise_rec.data.synthetic.upright import no_exercise
from exercise_rec.errors import ExerciseRecError

TRANSITION_S = 0.6  # seconds a long recording takes to move between activities (labelled no_exercise)


class SynthError(ExerciseRecError, ValueError):
    """A generator setting or output location that cannot work."""


def _pair(
    name: str, value: tuple[float, float], low: float, high: float, *, low_allowed: bool = False
) -> tuple[float, float]:
    """``value`` as a (min, max) float pair with low < min <= max <= high (``low_allowed``: low <= min),
    else SynthError."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise SynthError(f"Layout.{name} must be a (min, max) pair, got {value!r}") from None
    above = low <= lo if low_allowed else low < lo
    if not (above and lo <= hi <= high):
        bound = "<=" if low_allowed else "<"
        raise SynthError(f"Layout.{name} must satisfy {low:g} {bound} min <= max <= {high:g}, got {value!r}")
    return lo, hi


@dataclass(frozen=True)
class Layout:
    """How the person sits in the frame: size, frame shapes, and how often the frame cuts them.

    The default is the layout every dataset so far was made with (same seed, same bytes). Placement
    is always uniform over the room the figure leaves in the frame, so a small figure lands
    anywhere, mostly off centre. Joints stay in pixel coordinates and may lie outside the frame when
    the person is cut off.
    """

    person_scale: tuple[float, float] = (0.6, 0.9)
    """(min, max) share of the limiting frame dimension that the figure's largest single-frame
    extent fills (drawn uniformly per video; 1 = touching both edges)."""
    aspects: tuple[tuple[float, float], ...] = ((4 / 3, 0.55), (16 / 9, 0.3), (3 / 4, 0.15))
    """(width / height, probability) of the frame shapes; used when ``SynthConfig.vary_resolution``."""
    cut_off: float = 0.0
    """Probability that the person is placed partly outside the frame (past one edge; feet most often)."""
    cut_depth: tuple[float, float] = (0.1, 0.25)
    """(min, max) share of the figure's single-frame extent (between its outermost joints) that
    reaches past the edge when cut off."""
    pelvis_reach: float = 0.4
    """How far from the frame centre, as a share of the width, the pelvis may go; a path that goes
    further (walking in or out) is compressed towards the centre. 0.5: anywhere in the frame (always
    so for a person cut off by the left or right edge)."""
    yaw: tuple[float, float] | None = None
    """(min, max) camera yaw in degrees drawn for every class (0 front, 90 side, 180 behind; either
    side at random), instead of each class's own view and jitter (squats from the side, side bends
    from the front, ...). Real cameras stand wherever the room allows; with per-class views the
    view itself tells the class apart. ``(0, 90)``: "any view" (``synth --any-view``)."""
    roll: float = 4.0
    """Largest camera roll in degrees, drawn from [-roll, roll] (a phone or wall camera mounted
    tilted turns the whole image)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "person_scale", _pair("person_scale", self.person_scale, 0.0, 1.0))
        object.__setattr__(self, "cut_depth", _pair("cut_depth", self.cut_depth, 0.0, 0.5))
        if not 0 <= self.cut_off <= 1:
            raise SynthError(f"Layout.cut_off is a probability in [0, 1], got {self.cut_off!r}")
        if not 0 < self.pelvis_reach <= 0.5:
            raise SynthError(f"Layout.pelvis_reach must be in (0, 0.5], got {self.pelvis_reach!r}")
        if self.yaw is not None:
            object.__setattr__(self, "yaw", _pair("yaw", self.yaw, 0.0, 180.0, low_allowed=True))
        if not 0 <= self.roll <= 90:
            raise SynthError(f"Layout.roll is the largest camera roll in degrees, 0-90, got {self.roll!r}")
        try:
            shapes = [(float(a), float(p)) for a, p in self.aspects]
        except (TypeError, ValueError):
            raise SynthError(f"Layout.aspects must be (width/height, probability) pairs, got {self.aspects!r}") from None
        if not shapes or any(not (a > 0 and math.isfinite(a)) or not p >= 0 for a, p in shapes):
            raise SynthError(f"Layout.aspects needs positive aspects and probabilities >= 0, got {self.aspects!r}")
        if abs(sum(p for _, p in shapes) - 1) > 1e-6:
            raise SynthError(f"Layout.aspects probabilities must sum to 1, got {self.aspects!r}")
        object.__setattr__(self, "aspects", tuple(shapes))

    @classmethod
    def small_off_centre(cls) -> Layout:
        """Small people anywhere in wide (16:9) and tall (9:16) frames, one in five cut by an edge.

        The framing test set: a centre crop loses or shrinks the person; person framing is needed.
        """
        return cls(person_scale=(0.25, 0.45), aspects=((16 / 9, 0.5), (9 / 16, 0.5)), cut_off=0.2, pelvis_reach=0.5)

    @classmethod
    def preset(cls, name: str) -> Layout:
        """A named layout: one of :data:`LAYOUT_PRESETS`."""
        if name == "default":
            return cls()
        if name == "small_off_centre":
            return cls.small_off_centre()
        raise SynthError(f"unknown layout {name!r}; valid: {', '.join(LAYOUT_PRESETS)}")


LAYOUT_PRESETS = ("default", "small_off_centre")


_Range = tuple[float, float]
_HSVBox = tuple[_Range, _Range]  # (saturation, value) ranges of a colour whose hue is uniform over the circle


_OPTIONAL = ("stripes", "tiles", "contrast", "cast", "person_scale")  # AppearanceDomain fields that may be None


def _span(name: str, value, low: float, high: float, whole: bool = False) -> tuple:
    """An AppearanceDomain (min, max) range with low <= min <= max <= high (whole numbers if ``whole``)."""
    kind = int if whole else float
    try:
        lo, hi = (kind(v) for v in value)
        fits = low <= lo <= hi <= high and (not whole or all(float(v) == int(v) for v in value))
    except (TypeError, ValueError):
        fits = False
    if not fits:
        raise SynthError(
            f"AppearanceDomain.{name} must be a (min, max) pair with {low:g} <= min <= max <= {high:g}, got {value!r}"
        )
    return lo, hi


@dataclass(frozen=True)
class AppearanceDomain:
    """How the videos look: figure palette and clothing, room, lighting, camera height and distance.

    The default (``"train"``) is what every dataset so far was made with (same seed, same bytes).
    :meth:`shifted` is a held-out domain for measuring how a model copes with looks it never saw:
    every range it draws from is disjoint from the training one (a colour's (saturation, value)
    box is, its hue is uniform over the circle in both), and it adds what training never has
    (striped clothes, tiled floors, a colour cast, a contrast change). The person's motion, body
    proportions, frame size, camera yaw and roll, blur and sensor noise are shared, and a video's
    pose is the same for the same seed in both domains: only the look differs. Ranges are (min,
    max), counts inclusive; colours are (saturation, value) boxes in [0, 1].

    ======================  ==============================  ======================================
    field                   ``train`` (default)             ``shifted`` (held out)
    ======================  ==============================  ======================================
    ``skin_tone``           x 0.9-1.05 of the skin palette  x 0.72-0.86
    ``hair``                black, browns, blond, grey      dyed: red, blue, pink, green, white
    ``shirt``               S 0.2-0.9, V 0.35-0.95          S 0.93-1.0, V 0.96-1.0 (neon)
    ``pants``               S 0.0-0.6, V 0.12-0.6           S 0.65-1.0, V 0.65-0.95
    ``shoes``               S 0.0-0.5, V 0.1-0.95           S 0.55-1.0, V 0.96-1.0
    ``stripes``             none (flat colours)             2-4 bands per shirt / trouser segment
    ``stripe``              --                              S 0.0-1.0, V 0.0-0.08 (near black)
    ``wall``                S 0.0-0.35, V 0.45-0.95         S 0.45-0.85, V 0.2-0.42
    ``wall_gradient``       bottom = top x 0.7-1.1          x 1.25-1.6 (bright towards the horizon)
    ``texture``             amplitude 3-15 grey levels      20-35
    ``texture_grid``        6 x 8 blotches                  12 x 16 (finer)
    ``horizon``             0.06-0.25 of H above the feet   0.27-0.45
    ``floor``               S 0.1-0.6, V 0.25-0.75          S 0.65-0.95, V 0.78-0.95
    ``tiles``               none (boards only)              2-5 tile rows across the floor
    ``clutter``             0-4 wall items                  5-9
    ``clutter_colour``      S 0.0-0.8, V 0.2-1.0            S 0.85-1.0, V 0.2-1.0
    ``mat``                 S 0.3-0.9, V 0.3-0.8            S 0.0-0.25, V 0.85-1.0
    ``gain`` (brightness)   0.85-1.15                       0.62-0.8
    ``gamma``               0.85-1.2                        0.6-0.8
    ``contrast``            none (1)                        0.6-0.8 about mid grey (hazy)
    ``cast``                none (neutral)                  channel gains 0.15-0.3 apart, any hue
    ``elevation``           0-15 deg looking down           20-35 deg (a higher camera)
    ``person_scale``        the layout's (0.6-0.9)          0.4-0.55 (further away)
    ======================  ==============================  ======================================

    ``person_scale`` (None: the layout's) replaces the layout's size only while the layout keeps
    its default 0.6-0.9: a layout with its own size (``small_off_centre``, ``--person-scale``)
    keeps it. ``stripes``, ``tiles``, ``contrast`` and ``cast`` are None when absent; only then
    does the generator draw nothing for them, which is what keeps the default byte-identical.
    """

    skin_tone: _Range = (0.9, 1.05)
    hair: tuple[tuple[int, int, int], ...] = ((20, 15, 10), (60, 40, 20), (110, 70, 30), (200, 170, 110), (140, 140, 140))
    shirt: _HSVBox = ((0.2, 0.9), (0.35, 0.95))
    pants: _HSVBox = ((0.0, 0.6), (0.12, 0.6))
    shoes: _HSVBox = ((0.0, 0.5), (0.1, 0.95))
    stripes: tuple[int, int] | None = None
    stripe: _HSVBox = ((0.0, 1.0), (0.0, 0.08))
    wall: _HSVBox = ((0.0, 0.35), (0.45, 0.95))
    wall_gradient: _Range = (0.7, 1.1)
    texture: _Range = (3.0, 15.0)
    texture_grid: tuple[int, int] = (6, 8)
    horizon: _Range = (0.06, 0.25)
    floor: _HSVBox = ((0.1, 0.6), (0.25, 0.75))
    tiles: tuple[int, int] | None = None
    clutter: tuple[int, int] = (0, 4)
    clutter_colour: _HSVBox = ((0.0, 0.8), (0.2, 1.0))
    mat: _HSVBox = ((0.3, 0.9), (0.3, 0.8))
    gain: _Range = (0.85, 1.15)
    gamma: _Range = (0.85, 1.2)
    contrast: _Range | None = None
    cast: _Range | None = None
    elevation: _Range = (0.0, 15.0)
    person_scale: _Range | None = None

    def __post_init__(self) -> None:
        for name in ("shirt", "pants", "shoes", "stripe", "wall", "floor", "clutter_colour", "mat"):
            value = getattr(self, name)
            if not (isinstance(value, (tuple, list)) and len(value) == 2):
                raise SynthError(f"AppearanceDomain.{name} must be ((s_min, s_max), (v_min, v_max)), got {value!r}")
            object.__setattr__(
                self, name, (_span(f"{name} saturation", value[0], 0, 1), _span(f"{name} value", value[1], 0, 1))
            )
        bounds = {
            "skin_tone": (0, 2),
            "wall_gradient": (0, 3),
            "texture": (0, 128),
            "horizon": (0, 1),
            "gain": (0, 4),
            "gamma": (0.01, 4),
            "contrast": (0, 4),
            "cast": (0, 1),
            "elevation": (0, 89),
            "person_scale": (0.01, 1),
        }
        for name, (low, high) in bounds.items():
            if getattr(self, name) is not None or name not in _OPTIONAL:
                object.__setattr__(self, name, _span(name, getattr(self, name), low, high))
        for name, (low, high) in {
            "stripes": (1, 64),
            "tiles": (1, 64),
            "clutter": (0, 64),
            "texture_grid": (2, 256),
        }.items():
            if getattr(self, name) is not None or name not in _OPTIONAL:
                object.__setattr__(self, name, _span(name, getattr(self, name), low, high, whole=True))
        try:
            hair = tuple(tuple(int(v) for v in rgb) for rgb in self.hair)
        except (TypeError, ValueError):
            hair = ()
        if not hair or any(len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb) for rgb in hair):
            raise SynthError(f"AppearanceDomain.hair must be (r, g, b) colours in 0-255, got {self.hair!r}")
        object.__setattr__(self, "hair", hair)

    @classmethod
    def shifted(cls) -> AppearanceDomain:
        """The held-out domain (table above): nothing in it is ever drawn for training."""
        return cls(
            skin_tone=(0.72, 0.86),
            hair=((200, 40, 40), (40, 90, 200), (220, 90, 180), (60, 170, 80), (240, 240, 240)),
            shirt=((0.93, 1.0), (0.96, 1.0)),
            pants=((0.65, 1.0), (0.65, 0.95)),
            shoes=((0.55, 1.0), (0.96, 1.0)),
            stripes=(2, 4),
            wall=((0.45, 0.85), (0.2, 0.42)),
            wall_gradient=(1.25, 1.6),
            texture=(20.0, 35.0),
            texture_grid=(12, 16),
            horizon=(0.27, 0.45),
            floor=((0.65, 0.95), (0.78, 0.95)),
            tiles=(2, 5),
            clutter=(5, 9),
            clutter_colour=((0.85, 1.0), (0.2, 1.0)),
            mat=((0.0, 0.25), (0.85, 1.0)),
            gain=(0.62, 0.8),
            gamma=(0.6, 0.8),
            contrast=(0.6, 0.8),
            cast=(0.15, 0.3),
            elevation=(20.0, 35.0),
            person_scale=(0.4, 0.55),
        )

    @classmethod
    def preset(cls, name: str) -> AppearanceDomain:
        """A named domain: one of :data:`APPEARANCE_DOMAINS`."""
        if name == "train":
            return cls()
        if name == "shifted":
            return cls.shifted()
        raise SynthError(f"unknown appearance domain {name!r}; valid: {', '.join(APPEARANCE_DOMAINS)}")

    def scale_range(self, layout: Layout) -> tuple[float, float]:
        """The person-size range a video draws from: this domain's, unless the layout sets its own."""
        if self.person_scale is not None and layout.person_scale == Layout().person_scale:
            return self.person_scale
        return layout.person_scale


APPEARANCE_DOMAINS = ("train", "shifted")


@dataclass(frozen=True)
class SynthConfig:
    """What every generated video shares; per-video variation is drawn around these."""

    width: int = 320
    height: int = 240
    duration: float = 3.0  # seconds per clip (+-15% per video); long mode: per recording
    fps_range: tuple[int, int] = (24, 30)
    vary_resolution: bool = True  # area +-25% and the layout's frame shapes (default 4:3 / 16:9 / portrait 3:4)
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    layout: Layout = field(default_factory=Layout)  # person size, frame shapes, cut-off people
    appearance: AppearanceDomain = field(default_factory=AppearanceDomain)  # looks: "train" or the held-out "shifted"

    def __post_init__(self) -> None:
        if self.width < 16 or self.height < 16:
            raise SynthError(f"frame size must be at least 16x16, got {self.width}x{self.height}")
        if not 0 < self.fps_range[0] <= self.fps_range[1]:
            raise SynthError(f"bad fps range {self.fps_range}")
        if not self.duration > 0:
            raise SynthError(f"duration must be positive, got {self.duration}s")  # (at least 2 frames are made)
        if self.val_fraction < 0 or self.test_fraction < 0 or self.val_fraction + self.test_fraction >= 1:
            fractions = (self.val_fraction, self.test_fraction)
            raise SynthError(f"val/test fractions must be >= 0 and sum below 1, got {fractions}")
        if not isinstance(self.layout, Layout):
            raise SynthError(f"SynthConfig.layout must be a Layout, got {type(self.layout).__name__}")
        if not isinstance(self.appearance, AppearanceDomain):
            kind = type(self.appearance).__name__
            raise SynthError(f"SynthConfig.appearance must be an AppearanceDomain, got {kind}")


@dataclass
class SynthVideo:
    """One rendered video in memory, before encoding."""

    frames: np.ndarray  # uint8 [T, H, W, 3] RGB
    mask: np.ndarray  # bool [T, H, W]
    joints: np.ndarray  # float32 [T, J, 2] pixel (x, y)
    fps: float
    labels: list[str]  # per frame
    background: np.ndarray  # uint8 [H, W, 3]: the empty room as the camera sees it, without noise or shadow


def video_rng(seed: int, stream: int, index: int) -> np.random.Generator:
    """The generator of one video; ``stream`` is the class index (or the long-mode key)."""
    return np.random.default_rng([seed, stream, index])


def _frame_size(config: SynthConfig, rng: np.random.Generator) -> tuple[int, int]:
    if not config.vary_resolution:
        return config.width - config.width % 2, config.height - config.height % 2
    aspects, weights = zip(*config.layout.aspects)
    weights = np.asarray(weights, dtype=float)
    aspect = rng.choice(np.asarray(aspects, dtype=float), p=weights / weights.sum())
    area = config.width * config.height * rng.uniform(0.8, 1.25)
    width, height = np.sqrt(area * aspect), np.sqrt(area / aspect)
    return int(round(width / 2)) * 2, int(round(height / 2)) * 2


def _view(motion: Motion, rng: np.random.Generator, yaw_range: tuple[float, float] | None) -> float:
    """Camera yaw for a class: its preferred view, jittered (``yaw_range``: drawn from it whatever
    the class), facing left or right at random (drawn first: the default layout's videos are unchanged)."""
    side = rng.choice([-1.0, 1.0])
    if yaw_range is not None:
        yaw = rng.uniform(*yaw_range)
    else:
        yaw = motion.view + rng.uniform(-motion.view_jitter, motion.view_jitter)
    return float(side * yaw)


def render_pose(
    pose: Pose,
    body: Body,
    fps: float,
    size: tuple[int, int],
    rng: np.random.Generator,
    layout: Layout | None = None,
    appearance: AppearanceDomain | None = None,
) -> SynthVideo:
    """Project, place and paint a posed figure in a random room, with random camera degradations.

    ``appearance`` (default: the training domain) sets every look range; ``pose`` is drawn before
    and is untouched by it.
    """
    layout = layout or Layout()
    domain = appearance or AppearanceDomain()
    width, height = size
    joints3d = forward_kinematics(body, pose)
    elevation = rng.uniform(*domain.elevation)  # degrees the camera looks down
    plane, depth = rotate_view(joints3d, elevation)
    scale_range = domain.scale_range(layout)
    camera = place_camera(
        plane, body, width, height, rng, scale_range, cut_off=layout.cut_off, cut_depth=layout.cut_depth, roll=layout.roll
    )
    uv = to_image(plane, camera, width, height)
    # keep the person (pelvis) inside the frame when walking would take them out: compress the path
    centre_u = uv[:, JOINT["pelvis"], 0] - width / 2
    reach = 0.5 if camera.cut in ("left", "right") else layout.pelvis_reach  # do not pull a cut person back in
    squeeze = min(1.0, reach * width / max(np.abs(centre_u).max(), 1e-6))
    uv[..., 0] -= ((1 - squeeze) * centre_u)[:, None]
    # the chest's facing direction on screen (x right, y down) puts the face on the right side of the head
    across = joints3d[:, JOINT["l_shoulder"]] - joints3d[:, JOINT["r_shoulder"]]
    chest = np.cross(across, joints3d[:, JOINT["neck"]] - joints3d[:, JOINT["pelvis"]])
    chest /= np.linalg.norm(chest, axis=-1, keepdims=True).clip(1e-6)
    chest_plane, _ = rotate_view(chest[:, None, :], elevation)
    roll = np.radians(camera.roll)
    turn = np.array([[np.cos(roll), np.sin(roll)], [-np.sin(roll), np.cos(roll)]])  # as the image rolls
    forward = (chest_plane[:, 0] * np.array([1.0, -1.0])) @ turn.T

    floor_u = float(uv[:, JOINT["pelvis"], 0].mean())
    under = np.stack([plane[:, JOINT["pelvis"], 0], np.zeros(pose.frames)], -1)
    floor_v = to_image(under, camera, width, height)[:, 1]  # floor row below the figure, roll included
    background = make_background(rng, width, height, (floor_u, camera.origin[1]), camera.roll, domain)
    painter = FigurePainter(body, Appearance.sample(rng, domain), camera.scale)
    degradation = Degradation.sample(rng, domain)
    lut = degradation.lut()
    frames = np.empty((pose.frames, height, width, 3), np.uint8)
    masks = np.zeros((pose.frames, height, width), np.uint8)
    for t in range(pose.frames):
        image = background.copy()
        draw_shadow(image, uv[t], floor_v[t], camera.scale)
        painter.draw(image, masks[t], uv[t], depth[t], forward[t])
        frames[t] = degradation.apply(image, lut, rng)
    clean_plate = degradation.optics(background, lut)
    return SynthVideo(frames, masks.astype(bool), uv.astype(np.float32), float(fps), [], clean_plate)


def render_clip(class_name: str, rng: np.random.Generator, config: SynthConfig) -> SynthVideo:
    """One trimmed clip of ``class_name``, all randomness from ``rng``."""
    motion = MOTIONS[class_name]
    fps = int(rng.integers(config.fps_range[0], config.fps_range[1] + 1))
    frames = max(2, int(round(config.duration * rng.uniform(0.85, 1.15) * fps)))
    t = np.arange(frames) / fps
    body = Body.sample(rng)
    pose = motion.program(t, rng, body)
    pose.set(yaw=pose.get("yaw") + _view(motion, rng, config.layout.yaw))
    video = render_pose(pose, body, fps, _frame_size(config, rng), rng, config.layout, config.appearance)
    video.labels = [class_name] * frames
    return video


_IDLE_S, _SET_S = (1.5, 4.0), (4.0, 9.0)  # seconds of rest between sets, and of one set


def plan_recording(duration: float, rng: np.random.Generator) -> list[tuple[str, float, float]]:
    """(label, start, end) segments: idle, set, idle, set, ..., idle, filling ``duration``.

    A set is never cut short: when one no longer fits before a closing rest, the rest fills the end.
    """
    exercises = [name for name in CLASS_NAMES if name != BACKGROUND_CLASS]
    order = [str(name) for name in rng.permutation(exercises)]
    segments, now, idle = [], 0.0, True
    while duration - now > 1e-9:
        if idle:
            label, length = BACKGROUND_CLASS, rng.uniform(*_IDLE_S)
            if duration - (now + length) < _SET_S[0] + _IDLE_S[0]:
                length = duration - now  # no room for another set and a rest after it
        else:
            label = order.pop() if order else exercises[int(rng.integers(len(exercises)))]
            length = min(rng.uniform(*_SET_S), duration - now - _IDLE_S[0])
        segments.append((label, now, now + length))
        now += length
        idle = not idle
    return segments


def _segment_pose(
    label: str,
    t: np.ndarray,
    span: tuple[float, float],
    variant: str | None,
    rng,
    body: Body,
    yaw_range: tuple[float, float] | None,
) -> Pose:
    """Run ``label``'s program on its own time span (plus the transitions), holding the edge poses outside."""
    start, end = span
    inside = np.flatnonzero((t >= start - TRANSITION_S) & (t <= end + TRANSITION_S))
    local = t[inside] - start
    motion = MOTIONS[label]
    part = no_exercise(local, rng, body, variant) if label == BACKGROUND_CLASS else motion.program(local, rng, body)
    part.set(yaw=part.get("yaw") + _view(motion, rng, yaw_range))
    full = Pose(len(t))
    pad = (int(inside[0]), len(t) - 1 - int(inside[-1]))
    for key, values in part.angles.items():
        full.angles[key] = np.pad(values, pad, mode="edge")
    return full


def render_recording(rng: np.random.Generator, config: SynthConfig) -> SynthVideo:
    """An untrimmed recording: several exercises with idle stretches between, per-frame labels.

    Between activities the figure blends from one program to the next over TRANSITION_S seconds
    (it turns, gets down or up); those frames are labelled ``no_exercise``.
    """
    fps = int(rng.integers(config.fps_range[0], config.fps_range[1] + 1))
    frames = max(2, int(round(config.duration * fps)))
    t = np.arange(frames) / fps
    body = Body.sample(rng)
    labels = np.full(frames, BACKGROUND_CLASS, dtype=object)
    parts = []
    plan = plan_recording(frames / fps, rng)
    for k, (label, start, end) in enumerate(plan):
        variant = "walk_in" if k == 0 else "walk_out" if k == len(plan) - 1 else "idle"
        part = _segment_pose(label, t, (start, end), variant, rng, body, config.layout.yaw)
        ramp = np.clip((t - start + TRANSITION_S / 2) / TRANSITION_S, 0, 1)
        parts.append((part, ramp * ramp * (3 - 2 * ramp)))
        labels[(t >= start + TRANSITION_S / 2) & (t < end - TRANSITION_S / 2)] = label
    pose = parts[0][0]
    for part, weight in parts[1:]:
        pose = blend(pose, part, weight)
    video = render_pose(pose, body, fps, _frame_size(config, rng), rng, config.layout, config.appearance)
    video.labels = list(labels)
    return video
