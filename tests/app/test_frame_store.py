"""The sliders' frame store: one byte budget over every session, least recently used dropped first."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from exercise_rec.app.frame_store import FramesExpired, FrameStore, nbytes
from exercise_rec.errors import ExerciseRecError

MB = 2**20


def frames(mb: int) -> np.ndarray:
    return np.zeros((mb, 1024, 1024), np.uint8)


def test_sizes_count_every_array_and_tensor_inside() -> None:
    value = {"a": frames(1), "b": (frames(2), torch.zeros(256, dtype=torch.float32)), "note": "text"}
    assert nbytes(value) == 3 * MB + 1024


def test_the_least_recently_used_go_first_and_the_budget_holds() -> None:
    store = FrameStore(3 * MB)
    first, second, third = (store.put(frames(1)) for _ in range(3))
    assert store.used == 3 * MB
    store.get(first, "it")  # now the most recently used: the second is the oldest
    fourth = store.put(frames(1))
    assert store.used == 3 * MB and len(store) == 3
    for token in (first, third, fourth):
        store.get(token, "it")
    with pytest.raises(FramesExpired, match="these frames expired .*; run the explanation again"):
        store.get(second, "the explanation")


def test_a_session_replacing_its_frames_frees_the_old_ones() -> None:
    store = FrameStore(10 * MB)
    token = store.put(frames(4))
    again = store.put(frames(2), replaces=token)
    assert store.used == 2 * MB and len(store) == 1
    store.discard(again)  # the session closed or its state expired (gr.State's delete callback)
    store.discard(None)
    assert store.used == 0 and len(store) == 0


def test_a_value_larger_than_the_budget_is_not_kept_and_reads_as_expired() -> None:
    store = FrameStore(2 * MB)
    kept = store.put(frames(1))
    token = store.put(frames(3))
    assert store.used == 1 * MB  # nothing evicted for a value that could never fit
    store.get(kept, "it")
    with pytest.raises(FramesExpired):
        store.get(token, "it")


def test_the_picker_looks_the_token_up_for_the_slider() -> None:
    store = FrameStore(MB)
    panels = np.arange(4, dtype=np.uint8).reshape(4, 1, 1, 1)

    def pick_frame(stored: np.ndarray, index: float) -> np.ndarray:
        return stored[int(index)]

    picker = store.picker(pick_frame, "the explanation")
    assert picker.__name__ == "pick_frame"
    assert picker(store.put(panels), 2) == 2
    assert picker(None, 2) is None  # nothing computed yet in this session
    with pytest.raises(FramesExpired, match="run the explanation again") as caught:
        picker("gone", 2)
    assert isinstance(caught.value, ExerciseRecError)  # a user's message, not a bug
