"""The shipped checkpoints on real footage: public clips assembled at test time from registry packages.

None of these clips shows an exercise of ours: distant pedestrians (opencv-doc's vtest.avi), an
animated film (Megamind.avi), and one real person doing a one-leg balance with arm swings, filmed by
four synchronised cameras (the pose2sim wheel's demo). The requirement (docs/verdicts.md): no
`exercise` verdict on the first two, and the same verdict and label from the four views.
"""

from __future__ import annotations

from functools import cache

import pytest

from exercise_rec.inference import CHECKPOINT_DIR, Prediction, Predictor
from tests.realclip_fixtures import require

pytestmark = pytest.mark.heavy
CHECKPOINTS = sorted(p.name for p in CHECKPOINT_DIR.glob("*.pt"))
VIEWS = [f"pose2sim_cam0{i}" for i in range(1, 5)]


@cache
def _predictor(name: str) -> Predictor:
    return Predictor.from_checkpoint(CHECKPOINT_DIR / name, device="cpu", person_check=True)


@cache
def _predict(checkpoint: str, clip: str) -> Prediction:
    return _predictor(checkpoint).predict(require(clip))


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
@pytest.mark.parametrize("clip", ["vtest", "megamind"])
def test_no_exercise_is_invented_on_clips_without_one(checkpoint: str, clip: str) -> None:
    result = _predict(checkpoint, clip)
    assert result.verdict != "exercise", f"{clip}: {result.verdict}: {result.reason}"


# Measured 2026-11-29 (`python -m exercise_rec.trust --real`). standard, round 5 (retrained with
# cameras anywhere, behind and rolled included; threshold 0.70 by docs/verdicts.md rule 3):
# `uncertain` on all four, sit_up 43%, 66%, 36% and no_exercise 67% on cam04. high_temporal
# (round 4): side_bend (80%) on cam03 and `uncertain` on the other three. The pose stream
# (mobilenet_v2_3d_pose.pt, all round): side_bend 86% (`exercise`) on cam01, 57% and 57%
# (`uncertain`), sit_up 26% (`uncertain`) on cam04 (filmed from behind, the camera rolled by
# about 24 degrees; all four look down 18-25 degrees). No file gives one verdict and one label.
VIEWS_DIFFER = pytest.mark.xfail(strict=True, reason="the four views get different labels (standard: sit_up x3 and "
                                 "no_exercise, all `uncertain`) or labels and verdicts (pose stream: side_bend x3 and "
                                 "sit_up, `exercise` on one view; high_temporal: exercise on one view, uncertain on three)")


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_the_four_views_never_name_different_exercises(checkpoint: str) -> None:
    """Views that the model is sure of agree on the label (a weaker property than the requirement
    below)."""
    results = {view: _predict(checkpoint, view) for view in VIEWS}
    sure = {r.label for r in results.values() if r.verdict in ("exercise", "no_exercise")}
    assert len(sure) <= 1, {v: (r.verdict, r.reason) for v, r in results.items()}
    assert all(r.verdict != "no_person" for r in results.values()), "one real person, in full view, in every frame"


@pytest.mark.parametrize("checkpoint", [pytest.param(c, marks=VIEWS_DIFFER) for c in CHECKPOINTS])
def test_the_four_views_of_one_movement_get_one_answer(checkpoint: str) -> None:
    answers = {view: (_predict(checkpoint, view).verdict, _predict(checkpoint, view).label) for view in VIEWS}
    assert len(set(answers.values())) == 1, answers
