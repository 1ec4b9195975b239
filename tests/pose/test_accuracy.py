"""The estimator against the synthetic generator's ground-truth joints, and the metric itself."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from exercise_rec.data.synthetic import CLASS_NAMES, JOINT_NAMES, SynthConfig, render_clip, video_rng
from exercise_rec.pose import PoseEstimator, PoseTrack
from exercise_rec.pose.accuracy import keypoint_error
from exercise_rec.pose.keypoints import KEYPOINT_NAMES

SEED = 12345
CLASSES = ("squat", "jumping_jack", "bicep_curl")  # a side view, a front view, arms only


@pytest.fixture(scope="module")
def rendered() -> dict[str, tuple[np.ndarray, PoseTrack]]:
    """Per class: (ground-truth joints [T, J, 2], the estimator's track) of one rendered 3 s clip."""
    estimator = PoseEstimator()
    out = {}
    for name in CLASSES:
        video = render_clip(name, video_rng(SEED, CLASS_NAMES.index(name), 0), SynthConfig())
        out[name] = (video.joints, estimator.frames(video.frames))
    return out


def test_keypoints_match_the_rendered_joints(rendered):
    # Measured (seed 12345, index 0, full clips of 81/90/79 frames, every frame found):
    #   squat         pck 0.874  median_torso_unmirrored 0.111  (3.6 px)
    #   jumping_jack  pck 0.819  median_torso_unmirrored 0.105  (3.6 px)
    #   bicep_curl    pck 0.993  median_torso_unmirrored 0.069  (2.6 px)
    #   all joints of the three clips together: pck 0.892
    # Bounds: 0.8 PCK on the pooled joints with margin (0.85), a per-clip floor of 0.78 (jumping_jack
    # sits at 0.82), and at most 0.15 torso lengths median error per clip.
    hits, joints = 0.0, 0
    for name, (truth, track) in rendered.items():
        error = keypoint_error(track, truth, JOINT_NAMES)
        assert error.missed <= 2 and error.frames == len(truth) - error.missed, (name, error)
        assert error.pck >= 0.78, (name, error)
        assert error.median_torso_unmirrored <= 0.15, (name, error)
        assert error.median_torso_unmirrored <= error.median_torso and error.median_px < 8, (name, error)
        hits += error.pck * error.frames * 12
        joints += error.frames * 12
    assert hits / joints >= 0.85


def test_the_metric_fails_a_misplaced_track(rendered):
    truth, track = rendered["squat"]
    keypoints = track.keypoints.copy()
    keypoints[..., :2] += 100  # every keypoint 100 px right and down (about 3 torso lengths here)
    shifted = keypoint_error(replace(track, keypoints=keypoints), truth, JOINT_NAMES)
    assert shifted.frames > 0  # measured: all 81 frames still count as showing the person
    assert shifted.pck <= 0.05 and shifted.median_torso_unmirrored > 1.0 and shifted.median_px > 90


def test_a_mirrored_answer_is_told_apart_from_a_misplaced_one(rendered):
    """Left/right swapped labels: wrong as labelled, right once each frame's mirror is allowed."""
    truth, track = rendered["jumping_jack"]  # front view: the two sides are far apart
    names = list(KEYPOINT_NAMES)
    swap = [names.index(n.replace("left", "#").replace("right", "left").replace("#", "right")) for n in names]
    mirrored = keypoint_error(replace(track, keypoints=track.keypoints[:, swap]), truth, JOINT_NAMES)
    honest = keypoint_error(track, truth, JOINT_NAMES)
    assert mirrored.median_torso > 0.3  # as labelled: far off
    assert mirrored.median_torso_unmirrored == pytest.approx(honest.median_torso_unmirrored, abs=1e-6)
    assert mirrored.pck == pytest.approx(honest.pck)


def test_nobody_found_is_reported_as_missed_not_as_an_error(rendered):
    truth, track = rendered["bicep_curl"]
    empty = replace(track, presence=np.zeros_like(track.presence))
    error = keypoint_error(empty, truth, JOINT_NAMES)
    assert error.frames == 0 and error.missed == len(truth) and np.isnan(error.pck)
