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


# Measured 2026-11-29 with the round-4 files, which crop around the person (README "Person
# framing"): standard answers side_bend (45%) on cam01, no_exercise (79%) on cam04 and `uncertain`
# on the other two; high_temporal side_bend (80%) on cam03 and `uncertain` on the other three.
# Round 3 without framing answered side_bend on all four. The pose stream trained with any camera
# view (mobilenet_v2_3d_pose.pt) answers `uncertain` on all four: side_bend 54%, 45%, 56%, and
# sit_up 15% on cam04 (filmed from high up and behind, the camera rolled: a view never rendered).
STANDARD_DISAGREES = pytest.mark.xfail(strict=True, reason="standard: side_bend on cam01 but no_exercise on cam04 "
                                       "(person framing, round 4)")
VIEWS_DIFFER = pytest.mark.xfail(strict=True, reason="round 4 with person framing: the four views get different "
                                 "verdicts (standard: exercise, uncertain x2, no_exercise; high_temporal: exercise "
                                 "on one view, uncertain on three; pose stream: `uncertain` on all four, side_bend "
                                 "on three, sit_up on cam04)")


@pytest.mark.parametrize(
    "checkpoint", [pytest.param(c, marks=STANDARD_DISAGREES) if "standard" in c else c for c in CHECKPOINTS]
)
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
