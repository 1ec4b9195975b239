"""Motion programs of the classes done on the floor: push-up, plank, mountain climber, sit-up, burpee."""

from __future__ import annotations

import numpy as np

from exercise_rec.data.synthetic.figure import Body, Pose
from exercise_rec.data.synthetic.rhythm import osc, rhythm, standing


def _plank_geometry(body: Body, shoulder_height: np.ndarray) -> np.ndarray:
    """Body tilt (pitch, degrees) that puts the shoulders ``shoulder_height`` above the floor, toes down."""
    length = body.shin + body.thigh + body.torso
    return 90 - np.degrees(np.arcsin(np.clip((shoulder_height - body.foot) / length, 0.02, 0.9)))


def _push_up_pose(t: np.ndarray, body: Body, depth: np.ndarray, spread: float) -> Pose:
    """Straight-arm plank lowered by ``depth`` (0 top, 1 bottom): forearms vertical, elbows back."""
    top = 0.97 * (body.upper_arm + body.forearm)
    bottom = body.forearm + 0.12 * body.upper_arm
    height = top + (bottom - top) * depth
    pitch = _plank_geometry(body, height)
    drop = np.clip((height - body.forearm) / body.upper_arm, -1, 1)
    upper_world = -np.degrees(np.arccos(drop))  # swings back towards the feet as the elbows bend
    pose = Pose(len(t)).set(pitch=pitch, th_abd=4, sh_abd=3)
    return pose.set(ua_flex=pitch + upper_world, fa_flex=pitch, ua_abd=spread, fa_abd=spread)


def push_up(t: np.ndarray, rng: np.random.Generator, body: Body) -> Pose:
    """Plank with the elbows bending and the body lowering to near the floor and back."""
    depth = osc(rhythm(t, rng, 0.35, 0.7), hold=rng.uniform(1.0, 1.6)) * rng.uniform(0.75, 1.0)
    return _push_up_pose(t, body, depth, rng.uniform(4, 14))


def plank(t: np.ndarray, rng: np.random.Generator, body: Body) -> Pose:
    """Static hold, straight-arm (the top of a push-up) or on the forearms; breathing and tremor only."""
    breath = 0.03 * np.sin(2 * np.pi * rng.uniform(0.2, 0.35) * t + rng.uniform(0, 6.3))
    tremor = 0.01 * np.sin(2 * np.pi * rng.uniform(3, 5) * t)
    if rng.random() < 0.6:
        return _push_up_pose(t, body, breath + tremor + rng.uniform(0, 0.08), rng.uniform(4, 14))
    pitch = _plank_geometry(body, body.upper_arm * (1 + breath + tremor))
    return Pose(len(t)).set(pitch=pitch, ua_flex=pitch, fa_flex=pitch + 90, ua_abd=8, fa_abd=-10, th_abd=4)


def mountain_climber(t: np.ndarray, rng: np.random.Generator, body: Body) -> Pose:
    """Straight-arm plank driving the knees alternately towards the chest, quickly."""
    phase = rhythm(t, rng, 0.9, 1.5)
    pose = _push_up_pose(t, body, np.full(len(t), 0.05), rng.uniform(4, 12))
    drive = rng.uniform(105, 130)  # in the tilted pelvis frame: the thigh swings towards the chest
    for side, offset in (("r", 0.0), ("l", 0.5)):
        s = osc(phase + offset)
        pose.set(**{f"{side}_th_flex": drive * s, f"{side}_sh_flex": 45 * s})
    return pose


def sit_up(t: np.ndarray, rng: np.random.Generator, body: Body) -> Pose:
    """Lying on the back, knees bent, curling the trunk up and lowering it again."""
    s = osc(rhythm(t, rng, 0.3, 0.5), hold=rng.uniform(1.0, 1.8))
    up = rng.uniform(60, 80) * s
    pose = Pose(len(t)).set(pitch=-90, spine_flex=up, th_flex=rng.uniform(40, 60), sh_flex=-45, th_abd=6)
    if rng.random() < 0.5:  # arms crossed on the chest
        return pose.set(ua_flex=25, ua_abd=-5, fa_flex=120, fa_abd=-55)
    return pose.set(ua_flex=40 + 30 * s, fa_flex=45 + 30 * s, ua_abd=8, fa_abd=6)  # reaching to the knees


# Burpee key poses over one rep: stand, squat with hands down, plank, squat, jump with arms up.
_BURPEE_KEYS: tuple[tuple[float, dict[str, float]], ...] = (
    (0.00, {}),
    (0.18, {"th_flex": 105, "sh_flex": -35, "spine_flex": 55, "ua_flex": 55, "fa_flex": 55}),
    (0.36, {"pitch": 66, "ua_flex": 66, "fa_flex": 66}),
    (0.50, {"pitch": 66, "ua_flex": 66, "fa_flex": 66}),
    (0.66, {"th_flex": 105, "sh_flex": -35, "spine_flex": 55, "ua_flex": 55, "fa_flex": 55}),
    (0.82, {"ua_abd": 165, "fa_abd": 170, "y": 0.08}),
    (1.00, {}),
)


def burpee(t: np.ndarray, rng: np.random.Generator, body: Body) -> Pose:
    """Squat, kick back to a plank, return, and jump up with the arms overhead; one rep per cycle."""
    phase = rhythm(t, rng, 0.3, 0.45) % 1.0
    times = np.array([k for k, _ in _BURPEE_KEYS])
    seg = np.clip(np.searchsorted(times, phase, side="right") - 1, 0, len(times) - 2)
    local = (phase - times[seg]) / (times[seg + 1] - times[seg])
    weight = local * local * (3 - 2 * local)  # smoothstep between neighbouring key poses
    pose = standing(t, rng)
    names = sorted({name for _, key in _BURPEE_KEYS for name in key})
    for name in names:
        values = np.array([key.get(name, pose.get(name)[0]) for _, key in _BURPEE_KEYS])
        pose.set(**{name: values[seg] * (1 - weight) + values[seg + 1] * weight})
    return pose
