"""Drawing: appearance, background, camera placement, the figure as shaded thick limbs, degradation.

Everything random here is drawn once per video from its own generator (appearance, room,
camera, noise level), so a video is a function of its seed; the ranges drawn from come from the
video's :class:`~exercise_rec.data.synthetic.scene.AppearanceDomain` (training or held out).
OpenCV anti-aliased drawing with sub-pixel coordinates (``shift``) keeps slow motion smooth
instead of jumping pixel to pixel.
The person mask is drawn with the same primitives (outline included, no anti-aliasing), so it
covers every pixel the figure changes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import cv2
import numpy as np

from exercise_rec.data.synthetic.figure import JOINT, Body

if TYPE_CHECKING:
    from exercise_rec.data.synthetic.scene import AppearanceDomain

_SHIFT = 4  # OpenCV fixed-point bits for sub-pixel drawing
SHADOW_STRENGTH = 0.2  # at most this fraction of brightness is taken away under the figure
_ONE = 1 << _SHIFT
_SKIN = np.array([(255, 224, 196), (241, 194, 125), (224, 172, 105), (198, 134, 66), (141, 85, 36), (90, 56, 37)])

# (joint a, joint b, width relative to Body.limb_width, colour slot)
_LIMBS = (
    ("shoulder", "elbow", 1.0, "upper_arm"),
    ("elbow", "wrist", 0.85, "forearm"),
    ("hip", "knee", 1.35, "thigh"),
    ("knee", "ankle", 1.05, "shin"),
    ("ankle", "toe", 0.75, "shoe"),
)


@dataclass(frozen=True)
class Appearance:
    """Colours (RGB) of skin, hair and clothes; ``stripe``: bands of that colour across the clothes."""

    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    shirt: tuple[int, int, int]
    pants: tuple[int, int, int]
    shoes: tuple[int, int, int]
    long_sleeves: bool
    shorts: bool
    stripe: tuple[int, int, int] | None = None  # None: flat-coloured clothes
    bands: int = 0  # stripes across each clothed limb segment and down the shirt

    @classmethod
    def sample(cls, rng: np.random.Generator, domain: AppearanceDomain) -> Appearance:
        skin = _SKIN[rng.integers(len(_SKIN))] * rng.uniform(*domain.skin_tone) + rng.normal(0, 6, 3)
        hair = rng.choice(np.asarray(domain.hair))
        look = cls(
            skin=_rgb(skin),
            hair=_rgb(np.asarray(hair) + rng.normal(0, 8, 3)),
            shirt=_rgb(_random_colour(rng, *domain.shirt)),
            pants=_rgb(_random_colour(rng, *domain.pants)),
            shoes=_rgb(_random_colour(rng, *domain.shoes)),
            long_sleeves=bool(rng.random() < 0.4),
            shorts=bool(rng.random() < 0.4),
        )
        if domain.stripes is None:  # draws nothing more: the training domain stays as it was
            return look
        stripe = _rgb(_random_colour(rng, *domain.stripe))
        bands = int(rng.integers(domain.stripes[0], domain.stripes[1] + 1))
        return replace(look, stripe=stripe, bands=bands)

    def clothed(self, slot: str) -> bool:
        """Is this limb slot covered by the shirt or the trousers (and so striped, if they are)?"""
        return (
            slot in ("upper_arm", "thigh")
            or (slot == "forearm" and self.long_sleeves)
            or (slot == "shin" and not self.shorts)
        )

    def colour(self, slot: str) -> tuple[int, int, int]:
        return {
            "upper_arm": self.shirt,
            "forearm": self.shirt if self.long_sleeves else self.skin,
            "thigh": self.pants,
            "shin": self.skin if self.shorts else self.pants,
            "shoe": self.shoes,
            "hand": self.skin,
        }[slot]


@dataclass(frozen=True)
class Camera:
    """Where the (orthographic) camera puts the figure: image roll, pixels per body unit, placement."""

    roll: float
    scale: float
    origin: tuple[float, float]  # image (u, v) of world x = 0 on the floor
    cut: str | None = None  # the frame edge (one of CUT_EDGES) the figure is placed past, if any


def _rgb(value: np.ndarray) -> tuple[int, int, int]:
    r, g, b = np.clip(np.asarray(value, dtype=float), 0, 255).round().astype(int)
    return (int(r), int(g), int(b))


def _random_colour(rng: np.random.Generator, saturation: tuple[float, float], value: tuple[float, float]) -> np.ndarray:
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(*saturation) * 255, rng.uniform(*value) * 255]]], np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(float)


def _shade(colour: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return _rgb(np.asarray(colour, dtype=float) * factor)


def rotate_view(joints: np.ndarray, elevation: float) -> tuple[np.ndarray, np.ndarray]:
    """World joints [T, J, 3] -> screen-plane coordinates [T, J, 2] (x right, y up) and depth [T, J]."""
    e = np.radians(elevation)
    x, y, z = joints[..., 0], joints[..., 1], joints[..., 2]
    return np.stack([x, y * np.cos(e) - z * np.sin(e)], -1), z * np.cos(e) + y * np.sin(e)


CUT_EDGES = ("bottom", "top", "left", "right")  # where a cut-off figure leaves the frame
CUT_EDGE_P = (0.4, 0.2, 0.2, 0.2)  # feet cut most often, as a camera set too close does


def place_camera(
    plane: np.ndarray,
    body: Body,
    width: int,
    height: int,
    rng: np.random.Generator,
    person_scale: tuple[float, float] = (0.6, 0.9),
    cut_off: float = 0.0,
    cut_depth: tuple[float, float] = (0.1, 0.25),
    roll: float = 4.0,
) -> Camera:
    """Random scale and position that keep the figure in the frame in every frame (unless cut off).

    The scale comes from the largest single-frame extent (so walking across does not shrink the
    person): that extent fills ``person_scale`` (drawn uniformly) of the limiting frame dimension.
    The position comes from the extent over the whole clip when that fits (uniform over the spare
    room, so a small figure lands anywhere, often off centre), else centred. With probability
    ``cut_off`` one edge (:data:`CUT_EDGES`) cuts the figure instead: over the clip it reaches
    ``cut_depth`` (drawn uniformly) of its joints' largest single-frame extent beyond that edge, so
    joints leave the frame. ``cut_off == 0`` draws nothing extra (videos stay as they were). The image
    rolls by up to ``roll`` degrees either way.
    """
    pad = 2.5 * body.limb_width + body.head_radius
    low, high = plane.min(axis=1) - pad, plane.max(axis=1) + pad  # [T, 2]
    frame_extent = (high - low).max(axis=0)
    scale = rng.uniform(*person_scale) * min(width / frame_extent[0], height / frame_extent[1])
    lo_all, hi_all = low.min(axis=0) * scale, high.max(axis=0) * scale
    spare_u = width - (hi_all[0] - lo_all[0])
    u0 = (rng.uniform(0, spare_u) if spare_u > 0 else spare_u / 2) - lo_all[0]
    spare_v = height - (hi_all[1] - lo_all[1])
    v0 = height - (rng.uniform(0, max(spare_v, 0)) + min(spare_v, 0) / 2) + lo_all[1]
    edge = None
    if cut_off > 0 and rng.random() < cut_off:
        # measured on the joints (not the padded box), so joints do leave the frame
        j_lo, j_hi = plane.min(axis=1), plane.max(axis=1)  # [T, 2]
        j_lo_all, j_hi_all = j_lo.min(axis=0) * scale, j_hi.max(axis=0) * scale
        edge = CUT_EDGES[int(rng.choice(len(CUT_EDGES), p=CUT_EDGE_P))]
        beyond = rng.uniform(*cut_depth) * (j_hi - j_lo).max(axis=0) * scale  # (u, v) pixels past the edge
        if edge == "left":  # image u = u0 + scale * x
            u0 = -beyond[0] - j_lo_all[0]
        elif edge == "right":
            u0 = width + beyond[0] - j_hi_all[0]
        elif edge == "bottom":  # image v = v0 - scale * y (y up)
            v0 = height + beyond[1] + j_lo_all[1]
        else:
            v0 = j_hi_all[1] - beyond[1]
    return Camera(roll=rng.uniform(-roll, roll), scale=scale, origin=(u0, v0), cut=edge)


def to_image(plane: np.ndarray, camera: Camera, width: int, height: int) -> np.ndarray:
    """Screen-plane body units [T, J, 2] -> pixel coordinates [T, J, 2] (with the camera roll)."""
    u = camera.origin[0] + camera.scale * plane[..., 0]
    v = camera.origin[1] - camera.scale * plane[..., 1]
    roll = cv2.getRotationMatrix2D((width / 2, height / 2), camera.roll, 1.0)
    points = np.stack([u, v, np.ones_like(u)], -1)
    return points @ roll.T


def make_background(
    rng: np.random.Generator,
    width: int,
    height: int,
    floor: tuple[float, float],
    roll: float,
    domain: AppearanceDomain,
) -> np.ndarray:
    """A room: wall gradient with low-frequency texture, a floor with boards, clutter, an exercise mat.

    ``floor`` is the image point (u, v) where the figure stands (before ``roll``); the horizon goes
    above it and the mat, when there is one, under it. ``domain`` gives the colour ranges, texture,
    clutter count and floor tiles.
    """
    floor_u, floor_v = floor
    ys = np.linspace(0, 1, height)[:, None, None]
    wall_top = _random_colour(rng, *domain.wall)
    wall_bottom = wall_top * rng.uniform(*domain.wall_gradient)
    image = wall_top * (1 - ys) + wall_bottom * ys + np.zeros((1, width, 1))
    texture = cv2.resize(rng.normal(0, 1, domain.texture_grid), (width, height), interpolation=cv2.INTER_CUBIC)
    image += texture[..., None] * rng.uniform(*domain.texture) * rng.uniform(0.8, 1.2, 3)  # blotches, not rainbows
    horizon = int(np.clip(floor_v - rng.uniform(*domain.horizon) * height, height * 0.25, height - 2))
    floor = _random_colour(rng, *domain.floor)
    depth = np.linspace(0.75, 1.1, height - horizon)[:, None, None]
    image[horizon:] = floor * depth
    image = np.clip(image, 0, 255).astype(np.uint8)
    board = _rgb(floor * 0.75)
    for k in range(int(rng.integers(0, 9))):  # floor boards converging to a vanishing point
        x_far = width * (k + 0.5) / 8
        x_near = width / 2 + (x_far - width / 2) * 3
        cv2.line(image, (int(x_far), horizon), (int(x_near), height), board, 1, cv2.LINE_AA)
    if domain.tiles is not None:  # tile joints across the floor, closer together towards the horizon
        rows = int(rng.integers(domain.tiles[0], domain.tiles[1] + 1))
        for k in range(1, rows + 1):
            y = horizon + (height - horizon) * (k / (rows + 0.5)) ** 1.7
            cv2.line(image, (0, int(y)), (width, int(y)), board, 1, cv2.LINE_AA)
    cv2.line(image, (0, horizon), (width, horizon), _rgb(floor * 0.5), max(1, height // 80), cv2.LINE_AA)
    for _ in range(int(rng.integers(domain.clutter[0], domain.clutter[1] + 1))):  # doors, windows, posters, clocks
        colour = _rgb(_random_colour(rng, *domain.clutter_colour))
        w, h = rng.uniform(0.05, 0.3) * width, rng.uniform(0.05, 0.4) * height
        x, y = rng.uniform(-0.1, 1.0) * width, rng.uniform(0.0, 0.9) * horizon
        if rng.random() < 0.75:
            cv2.rectangle(image, (int(x), int(y)), (int(x + w), int(min(y + h, horizon))), colour, -1, cv2.LINE_AA)
            cv2.rectangle(image, (int(x), int(y)), (int(x + w), int(min(y + h, horizon))), _shade(colour, 0.6), 1)
        else:
            cv2.circle(image, (int(x), int(y)), int(min(w, h) / 2), colour, -1, cv2.LINE_AA)
    if rng.random() < 0.5:  # an exercise mat on the floor
        centre = (int(floor_u + rng.normal(0, 0.03) * width), int(floor_v + rng.uniform(0.0, 0.03) * height))
        axes = (int(rng.uniform(0.25, 0.45) * width), int(rng.uniform(0.03, 0.07) * height))
        mat = _rgb(_random_colour(rng, *domain.mat))
        cv2.ellipse(image, centre, axes, 0, 0, 360, mat, -1, cv2.LINE_AA)
    image = cv2.GaussianBlur(image, (0, 0), 0.6)
    roll_m = cv2.getRotationMatrix2D((width / 2, height / 2), roll, 1.0)
    return cv2.warpAffine(image, roll_m, (width, height), borderMode=cv2.BORDER_REFLECT)


def draw_shadow(image: np.ndarray, uv: np.ndarray, floor_v: float, scale: float) -> None:
    """Darken a soft ellipse on the floor (at image row ``floor_v``) under the figure's joints ``uv``.

    Deliberately outside the person mask: a shadow is not the person.
    """
    u_lo, u_hi = uv[:, 0].min(), uv[:, 0].max()
    rx, ry = (u_hi - u_lo) / 2 + 0.05 * scale, 0.025 * scale
    x0, x1 = int(max(0, u_lo - 0.06 * scale)), int(min(image.shape[1], u_hi + 0.06 * scale + 1))
    y0, y1 = int(max(0, floor_v - ry - 1)), int(min(image.shape[0], floor_v + ry + 2))
    if x1 <= x0 or y1 <= y0:
        return
    ys, xs = np.mgrid[y0:y1, x0:x1]
    r = ((xs - (u_lo + u_hi) / 2) / max(rx, 1.0)) ** 2 + ((ys - floor_v) / max(ry, 1.0)) ** 2
    keep = 1 - SHADOW_STRENGTH * np.clip(1 - r, 0, 1)
    image[y0:y1, x0:x1] = (image[y0:y1, x0:x1] * keep[..., None]).astype(np.uint8)


def _pt(p: np.ndarray) -> tuple[int, int]:
    return (int(round(p[0] * _ONE)), int(round(p[1] * _ONE)))


class FigurePainter:
    """Draws one frame of the figure (and its mask) from pixel joints and per-joint depth."""

    def __init__(self, body: Body, appearance: Appearance, scale: float) -> None:
        self.body = body
        self.look = appearance
        self.width = max(2.0, body.limb_width * scale)
        self.outline = max(1, int(round(self.width * 0.12)))
        self.head_radius = body.head_radius * scale
        self.torso_width = max(2, int(round(body.torso_depth * scale)))

    def draw(self, image: np.ndarray, mask: np.ndarray, uv: np.ndarray, depth: np.ndarray, forward: np.ndarray) -> None:
        """Paint far parts first; ``forward`` is the chest direction on screen (for the face)."""
        torso_depth = depth[[JOINT["neck"], JOINT["pelvis"]]].mean()
        parts: list[tuple[float, tuple]] = [(torso_depth, ("torso",)), (depth[JOINT["head"]] + 1e-3, ("head",))]
        for side in ("l", "r"):
            for a, b, rel, slot in _LIMBS:
                ja, jb = JOINT[f"{side}_{a}"], JOINT[f"{side}_{b}"]
                parts.append(((depth[ja] + depth[jb]) / 2, ("limb", ja, jb, rel, slot)))
        for limb_depth, part in sorted(parts, key=lambda item: item[0]):
            far = 0.82 if part[0] == "limb" and limb_depth < torso_depth - 0.02 else 1.0
            if part[0] == "torso":
                self._torso(image, mask, uv)
            elif part[0] == "head":
                self._head(image, mask, uv, forward)
            else:
                _, ja, jb, rel, slot = part
                stripe = _shade(self.look.stripe, far) if self.look.stripe and self.look.clothed(slot) else None
                self._limb(image, mask, uv[ja], uv[jb], self.width * rel, _shade(self.look.colour(slot), far), stripe)
                if slot == "forearm":
                    self._blob(image, mask, uv[jb], self.width * 0.55, _shade(self.look.skin, far))

    def _limb(
        self, image: np.ndarray, mask: np.ndarray, p: np.ndarray, q: np.ndarray, width: float, colour, stripe=None
    ) -> None:
        w = max(1, int(round(width)))
        a, b = _pt(p), _pt(q)
        cv2.line(image, a, b, _shade(colour, 0.55), w + 2 * self.outline, cv2.LINE_AA, _SHIFT)
        cv2.line(image, a, b, colour, w, cv2.LINE_AA, _SHIFT)
        if stripe is not None:
            self._stripes(image, p, q, w / 2, stripe)
        light = np.array([-0.25, -0.25]) * width
        cv2.line(image, _pt(p + light), _pt(q + light), _shade(colour, 1.25), max(1, w // 3), cv2.LINE_AA, _SHIFT)
        cv2.line(mask, a, b, 1, w + 2 * self.outline, cv2.LINE_8, _SHIFT)

    def _stripes(self, image: np.ndarray, p: np.ndarray, q: np.ndarray, half_width: float, colour) -> None:
        """Bands across the segment p-q (``half_width`` either side), inside what the segment painted."""
        axis = q - p
        length = float(np.hypot(*axis))
        if length > 1e-6:
            side = np.array([-axis[1], axis[0]]) / length * half_width
            self._ladder(image, (p + side, q + side), (p - side, q - side), colour)

    def _ladder(self, image: np.ndarray, rail_a: tuple, rail_b: tuple, colour) -> None:
        """``look.bands`` bands between two rails (start, end), spaced evenly: rungs 1, 3, 5... of 2n + 1."""
        parts = 2 * self.look.bands + 1
        (a0, a1), (b0, b1) = rail_a, rail_b
        for k in range(self.look.bands):
            f, g = (2 * k + 1) / parts, (2 * k + 2) / parts
            quad = np.array([a0 + f * (a1 - a0), a0 + g * (a1 - a0), b0 + g * (b1 - b0), b0 + f * (b1 - b0)])
            hull = cv2.convexHull(np.round(quad * _ONE).astype(np.int32))
            cv2.fillConvexPoly(image, hull, colour, cv2.LINE_AA, _SHIFT)

    def _blob(self, image: np.ndarray, mask: np.ndarray, centre: np.ndarray, radius: float, colour) -> None:
        r = int(round(radius * _ONE))
        cv2.circle(image, _pt(centre), r + self.outline * _ONE, _shade(colour, 0.55), -1, cv2.LINE_AA, _SHIFT)
        cv2.circle(image, _pt(centre), r, colour, -1, cv2.LINE_AA, _SHIFT)
        cv2.circle(mask, _pt(centre), r + self.outline * _ONE, 1, -1, cv2.LINE_8, _SHIFT)

    def _torso(self, image: np.ndarray, mask: np.ndarray, uv: np.ndarray) -> None:
        corners = uv[[JOINT["r_shoulder"], JOINT["l_shoulder"], JOINT["l_hip"], JOINT["r_hip"]]]
        hull = cv2.convexHull(np.round(corners * _ONE).astype(np.int32))
        shirt, pants = self.look.shirt, self.look.pants
        neck, pelvis = uv[JOINT["neck"]], uv[JOINT["pelvis"]]
        waist = pelvis + (neck - pelvis) * 0.15
        edge = 2 * self.outline
        for target, colour, grow in ((image, _shade(shirt, 0.55), edge), (image, shirt, 0), (mask, 1, edge)):
            line = cv2.LINE_8 if target is mask else cv2.LINE_AA
            cv2.fillConvexPoly(target, hull, colour, line, _SHIFT)
            if grow:
                cv2.polylines(target, [hull], True, colour, grow, line, _SHIFT)
            cv2.line(target, _pt(neck), _pt(pelvis), colour, self.torso_width + grow, line, _SHIFT)
        if self.look.stripe is not None:  # the shirt's bands, from the shoulders down to the waist
            r_sh, l_sh, l_hip, r_hip = corners
            self._ladder(image, (r_sh, r_sh + 0.85 * (r_hip - r_sh)), (l_sh, l_sh + 0.85 * (l_hip - l_sh)), self.look.stripe)
            # the same bands on the thick neck-pelvis stroke (all there is of the torso side-on), level with those
            axis = pelvis - neck
            top, bottom = (r_sh + l_sh) / 2, (r_sh + l_sh + 0.85 * (r_hip + l_hip - r_sh - l_sh)) / 2
            ends = np.clip([(point - neck) @ axis / max(axis @ axis, 1e-9) for point in (top, bottom)], 0, 1)
            self._stripes(image, neck + ends[0] * axis, neck + ends[1] * axis, self.torso_width / 2, self.look.stripe)
        hips = uv[[JOINT["r_hip"], JOINT["l_hip"]]]
        cv2.line(image, _pt(hips[0]), _pt(hips[1]), pants, int(self.width * 1.3), cv2.LINE_AA, _SHIFT)
        cv2.line(image, _pt(waist), _pt(pelvis), pants, self.torso_width, cv2.LINE_AA, _SHIFT)
        cv2.line(mask, _pt(hips[0]), _pt(hips[1]), 1, int(self.width * 1.3), cv2.LINE_8, _SHIFT)
        neck_top = neck + (uv[JOINT["head"]] - neck) * 0.5
        self._limb(image, mask, neck, neck_top, self.width * 0.8, self.look.skin)

    def _head(self, image: np.ndarray, mask: np.ndarray, uv: np.ndarray, forward: np.ndarray) -> None:
        centre = uv[JOINT["head"]]
        r = self.head_radius
        hair_centre = centre - forward * 0.3 * r + np.array([0.0, -0.12 * r])
        self._blob(image, mask, hair_centre, r * 0.95, self.look.hair)
        self._blob(image, mask, centre, r, self.look.skin)
        if np.linalg.norm(forward) > 0.3:  # nose and eye on the side the figure faces
            nose = _pt(centre + forward * 0.75 * r)
            cv2.circle(image, nose, int(r * 0.25 * _ONE), _shade(self.look.skin, 0.8), -1, cv2.LINE_AA, _SHIFT)
            eye = centre + forward * 0.45 * r + np.array([0.0, -0.2 * r])
            cv2.circle(image, _pt(eye), int(max(1.0, r * 0.12) * _ONE), (30, 25, 20), -1, cv2.LINE_AA, _SHIFT)


@dataclass(frozen=True)
class Degradation:
    """Per-video lighting and camera imperfections: exposure curve, colour cast, blur, sensor noise."""

    gain: float
    gamma: float
    blur_sigma: float
    noise: int  # half-range of the uniform per-pixel noise, in grey levels
    contrast: float = 1.0  # < 1 pulls every level towards mid grey (haze)
    cast: tuple[float, float, float] = (1.0, 1.0, 1.0)  # per-channel (R, G, B) gains of the light's colour

    @classmethod
    def sample(cls, rng: np.random.Generator, domain: AppearanceDomain) -> Degradation:
        out = cls(
            gain=rng.uniform(*domain.gain),
            gamma=rng.uniform(*domain.gamma),
            blur_sigma=float(rng.uniform(0.4, 1.3)) if rng.random() < 0.6 else 0.0,
            noise=int(rng.integers(0, 9)),
        )
        if domain.contrast is not None:  # neither is drawn in the training domain
            out = replace(out, contrast=float(rng.uniform(*domain.contrast)))
        if domain.cast is not None:
            strength, hue = rng.uniform(*domain.cast), rng.uniform(0, 180)
            tint = cv2.cvtColor(np.array([[[hue, 255, 255]]], np.uint8), cv2.COLOR_HSV2RGB)[0, 0] / 255.0
            out = replace(out, cast=tuple(float(g) for g in 1 + strength * (tint - tint.mean())))
        return out

    def lut(self) -> np.ndarray:
        """The exposure curve as a cv2.LUT table: [256] uint8, or [256, 1, 3] with a contrast change or a cast."""
        levels = np.arange(256) / 255.0
        if self.contrast == 1.0 and self.cast == (1.0, 1.0, 1.0):
            return np.clip(255 * self.gain * levels**self.gamma, 0, 255).round().astype(np.uint8)
        curve = 0.5 + (self.gain * levels**self.gamma - 0.5) * self.contrast
        table = 255 * curve[:, None] * np.asarray(self.cast, dtype=float)[None, :]
        return np.clip(table, 0, 255).round().astype(np.uint8)[:, None, :]

    def optics(self, frame: np.ndarray, lut: np.ndarray) -> np.ndarray:
        """The deterministic part: exposure curve and lens blur."""
        out = cv2.LUT(frame, lut)
        return cv2.GaussianBlur(out, (0, 0), self.blur_sigma) if self.blur_sigma > 0 else out

    def apply(self, frame: np.ndarray, lut: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Optics, then fresh sensor noise for this frame."""
        out = self.optics(frame, lut)
        if self.noise:
            noise = rng.integers(0, 2 * self.noise + 1, size=out.shape, dtype=np.uint8)
            out = cv2.subtract(cv2.add(out, noise), (self.noise,) * 3 + (0,))
        return out
