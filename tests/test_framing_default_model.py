"""The shipped default model on small, off-centre people (wide and portrait frames): right with the
crop around the person, where the centre crop cuts them or leaves them a few pixels tall."""

from __future__ import annotations

from pathlib import Path

import pytest

from exercise_rec.data.dataset import ExerciseVideoDataset
from exercise_rec.data.synthetic import Layout, SynthConfig, generate_dataset
from exercise_rec.inference import DEFAULT_CHECKPOINT, Predictor

SEED = 2027  # the README's off-centre test set; these clips are its index-0 clips
CLASSES = ("arm_circles", "boxing", "high_knees", "lunge", "march_in_place", "mountain_climber")


@pytest.fixture(scope="module")
def off_centre(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = SynthConfig(layout=Layout.small_off_centre())
    return generate_dataset(tmp_path_factory.mktemp("offc") / "synth", 1, seed=SEED, config=config, classes=CLASSES)


def test_off_centre_people_are_classified_right_only_with_framing(off_centre: Path) -> None:
    framed = Predictor.from_checkpoint(DEFAULT_CHECKPOINT, device="cpu", person_check=True)
    centre = Predictor.from_checkpoint(DEFAULT_CHECKPOINT, device="cpu", person_check=True, framing=False)
    items = ExerciseVideoDataset(off_centre, None, framed.meta.clip_len).items
    results = {item.path.name: (framed.predict(item.path), centre.predict(item.path)) for item in items}
    for name, (with_framing, _) in results.items():
        assert with_framing.framing is not None, f"{name}: nobody found"
        assert with_framing.label == name.rsplit("_", 1)[0] and with_framing.verdict == "exercise", name
    centre_right = [name for name, (_, c) in results.items() if c.label == name.rsplit("_", 1)[0]]
    assert len(centre_right) <= 2, f"the centre crop got these right too: {centre_right}"
