"""The articulated figure: body proportions, pose angles over time, forward kinematics.

Why 3D joints for a 2D video: exercises are defined by how limbs move in the body's own planes
(a lateral raise is abduction, a curl is elbow flexion); posing in 3D and projecting from a random
camera yaw gives front, side and three-quarter views of the same motion for free, and a depth
order for drawing near limbs over far ones.

Frames: world x points to the figure's left, y up, z forward (out of its chest at yaw 0). Angles
are degrees. A limb direction is given by ``flex`` (swing forward, 0 = hanging down, 90 =
horizontal forward, 180 = straight up) and ``abd`` (swing sideways away from the body); both
are absolute in the limb's parent frame (arms: trunk, legs: pelvis), not relative to the
previous segment, which keeps motion programs short (a forearm pointing up is ``abd=180``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

JOINT_NAMES: tuple[str, ...] = (
    "head",
    "neck",
    "r_shoulder",
    "r_elbow",
    "r_wrist",
    "l_shoulder",
    "l_elbow",
    "l_wrist",
    "pelvis",
    "r_hip",
    "r_knee",
    "r_ankle",
    "r_toe",
    "l_hip",
    "l_knee",
    "l_ankle",
    "l_toe",
)
JOINT = {name: i for i, name in enumerate(JOINT_NAMES)}
SIDES = {"l": 1.0, "r": -1.0}  # sign of the figure's side along world x

# Angle names a motion program may set; a bare name sets both sides, an "l_"/"r_" prefix one side.
LIMB_ANGLES = ("ua_flex", "ua_abd", "fa_flex", "fa_abd", "th_flex", "th_abd", "sh_flex", "sh_abd")
BODY_ANGLES = ("pitch", "yaw", "spine_flex", "spine_side", "spine_twist", "x", "y", "z")
_NEUTRAL = {"ua_abd": 6.0, "fa_abd": 5.0, "fa_flex": 6.0, "th_abd": 3.0, "sh_abd": 2.0}


@dataclass(frozen=True)
class Body:
    """Segment lengths and widths in body-height units (a standing figure is about 1.0 tall)."""

    torso: float = 0.30
    neck: float = 0.085
    head_radius: float = 0.065
    shoulder_half: float = 0.12
    hip_half: float = 0.075
    upper_arm: float = 0.165
    forearm: float = 0.16
    thigh: float = 0.235
    shin: float = 0.235
    foot: float = 0.07
    limb_width: float = 0.05  # upper-arm width; other segments scale from it
    torso_depth: float = 0.13

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Body:
        """Random proportions within a plausible adult range (long/short legs, broad/narrow, thin/thick)."""
        base = cls()
        legs, arms, build = rng.uniform(0.9, 1.1), rng.uniform(0.92, 1.08), rng.uniform(0.8, 1.3)
        return cls(
            torso=base.torso * rng.uniform(0.92, 1.08),
            neck=base.neck * rng.uniform(0.85, 1.15),
            head_radius=base.head_radius * rng.uniform(0.9, 1.1),
            shoulder_half=base.shoulder_half * rng.uniform(0.85, 1.15) * build**0.3,
            hip_half=base.hip_half * rng.uniform(0.85, 1.2),
            upper_arm=base.upper_arm * arms,
            forearm=base.forearm * arms,
            thigh=base.thigh * legs,
            shin=base.shin * legs,
            foot=base.foot * rng.uniform(0.9, 1.1),
            limb_width=base.limb_width * build,
            torso_depth=base.torso_depth * build,
        )


@dataclass
class Pose:
    """Pose angles over T frames; arrays of shape [T] (degrees, or body units for x/y/z)."""

    frames: int
    angles: dict[str, np.ndarray] = field(default_factory=dict)

    def get(self, name: str, side: str | None = None) -> np.ndarray:
        """The value of ``name`` for ``side`` (a per-side setting wins over a shared one)."""
        for key in ((f"{side}_{name}",) if side else ()) + (name,):
            if key in self.angles:
                return self.angles[key]
        return np.full(self.frames, _NEUTRAL.get(name, 0.0))

    def set(self, **values: np.ndarray | float) -> Pose:
        """Set angles (broadcast to [T]); returns self so programs can chain."""
        for key, value in values.items():
            base = key[2:] if key[:2] in ("l_", "r_") else key
            if base not in LIMB_ANGLES + BODY_ANGLES:
                raise KeyError(f"unknown pose angle {key!r}")
            self.angles[key] = np.broadcast_to(np.asarray(value, dtype=np.float64), (self.frames,)).copy()
        return self


def blend(a: Pose, b: Pose, weight: np.ndarray) -> Pose:
    """Per-frame mix of two poses (weight 0 -> a, 1 -> b); used for transitions in long recordings."""
    keys = {k for k in a.angles} | {k for k in b.angles}
    out = Pose(a.frames)
    for key in keys:
        side, name = (key[0], key[2:]) if key[:2] in ("l_", "r_") else (None, key)
        out.angles[key] = a.get(name, side) * (1 - weight) + b.get(name, side) * weight
    return out


def limb_direction(flex: np.ndarray, abd: np.ndarray, side: float) -> np.ndarray:
    """Unit vectors [T, 3] in the parent frame for absolute (flex, abd) angles in degrees."""
    f, a = np.radians(flex), np.radians(abd)
    return np.stack([side * np.sin(a), -np.cos(a) * np.cos(f), np.cos(a) * np.sin(f)], axis=-1)


def _rot_x(deg: np.ndarray) -> np.ndarray:
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    o, z = np.ones_like(c), np.zeros_like(c)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _rot_y(deg: np.ndarray) -> np.ndarray:
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    o, z = np.ones_like(c), np.zeros_like(c)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _rot_z(deg: np.ndarray) -> np.ndarray:
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    o, z = np.ones_like(c), np.zeros_like(c)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def _apply(rot: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """Rotate [T, 3] (or a constant [3]) by [T, 3, 3]."""
    return np.einsum("tij,tj->ti", rot, np.broadcast_to(vec, rot.shape[:-1]))


def forward_kinematics(body: Body, pose: Pose) -> np.ndarray:
    """World joint positions [T, J, 3] with the lowest joint on the floor (y = 0) in every frame.

    Grounding per frame keeps feet planted in a squat and hands and toes down in a push-up without
    any contact solver; pose ``y`` is added after grounding (jumps).
    """
    t = pose.frames
    pelvis_rot = _rot_y(pose.get("yaw")) @ _rot_x(pose.get("pitch"))
    trunk_rot = pelvis_rot @ _rot_x(pose.get("spine_flex")) @ _rot_z(pose.get("spine_side")) @ _rot_y(
        pose.get("spine_twist")
    )
    joints = np.zeros((t, len(JOINT_NAMES), 3))
    neck = _apply(trunk_rot, np.array([0.0, body.torso, 0.0]))
    joints[:, JOINT["neck"]] = neck
    joints[:, JOINT["head"]] = neck + _apply(trunk_rot, np.array([0.0, body.neck + body.head_radius * 0.6, 0.012]))
    for side, sign in SIDES.items():
        shoulder = neck + _apply(trunk_rot, np.array([sign * body.shoulder_half, -0.025, 0.0]))
        elbow = shoulder + body.upper_arm * _apply(
            trunk_rot, limb_direction(pose.get("ua_flex", side), pose.get("ua_abd", side), sign)
        )
        wrist = elbow + body.forearm * _apply(
            trunk_rot, limb_direction(pose.get("fa_flex", side), pose.get("fa_abd", side), sign)
        )
        hip = _apply(pelvis_rot, np.array([sign * body.hip_half, 0.0, 0.0]))
        knee = hip + body.thigh * _apply(
            pelvis_rot, limb_direction(pose.get("th_flex", side), pose.get("th_abd", side), sign)
        )
        shin_dir = limb_direction(pose.get("sh_flex", side), pose.get("sh_abd", side), sign)
        ankle = knee + body.shin * _apply(pelvis_rot, shin_dir)
        # the foot points forward, at right angles to the shin, so toes follow the shin in a plank
        ref = np.array([0.0, -0.35, 1.0])  # mostly forward, a little down: never parallel to the shin
        forward = ref - (shin_dir @ ref)[:, None] * shin_dir
        forward /= np.linalg.norm(forward, axis=-1, keepdims=True).clip(1e-6)
        toe = ankle + body.foot * _apply(pelvis_rot, forward)
        for name, value in (("shoulder", shoulder), ("elbow", elbow), ("wrist", wrist), ("hip", hip)):
            joints[:, JOINT[f"{side}_{name}"]] = value
        joints[:, JOINT[f"{side}_knee"]] = knee
        joints[:, JOINT[f"{side}_ankle"]] = ankle
        joints[:, JOINT[f"{side}_toe"]] = toe
    offset = np.stack([pose.get("x"), pose.get("y"), pose.get("z")], -1)
    joints[..., 1] -= joints[..., 1].min(axis=1, keepdims=True)
    joints[..., 1] += body.limb_width * 0.5  # limbs have thickness: the lowest one rests on the floor
    return joints + offset[:, None, :]
