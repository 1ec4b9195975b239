"""The frames the scrubbing sliders show, for every session together, under one byte budget.

Why not the frames themselves in ``gr.State``: Gradio keeps a state value per session for its
time-to-live with no bound across sessions, so a classroom of API clients that each ran one
explanation kept every result (the server went from 1.1 GB to 2.8 GB, about 14 MB per explanation
from a fresh session). Here a session's ``gr.State`` holds only a token; the arrays live in one
least-recently-used store with a byte budget, and a slider asking for evicted frames gets a
message to run the request again instead of a traceback.
"""

from __future__ import annotations

import functools
import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import numpy as np
import torch

from exercise_rec.errors import ExerciseRecError

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class FramesExpired(ExerciseRecError, ValueError):
    """The frames a slider asks for were dropped to stay within the budget (or never kept)."""


def nbytes(value: Any) -> int:
    """Bytes held by the arrays and tensors in ``value`` (nested in mappings, lists and tuples)."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, Mapping):
        return sum(nbytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(nbytes(v) for v in value)
    return 0


class FrameStore:
    """Values by token, least recently used dropped first once their arrays pass ``budget`` bytes."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._entries: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self._used = 0
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        """Bytes held now (never above ``budget``)."""
        return self._used

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, value: Any, replaces: str | None = None) -> str:
        """Keep ``value`` and return its token; ``replaces`` (the session's previous token) is dropped.

        A value larger than the whole budget is not kept: its token reads as expired.
        """
        size = nbytes(value)
        token = secrets.token_urlsafe(16)
        with self._lock:
            if replaces is not None:
                self._drop(replaces)
            if size > self.budget:
                log.warning("frames of %d bytes exceed the whole budget of %d bytes: not kept", size, self.budget)
                return token
            while self._used + size > self.budget:
                _, (_, freed) = self._entries.popitem(last=False)
                self._used -= freed
            self._entries[token] = (value, size)
            self._used += size
        return token

    def get(self, token: str, what: str) -> Any:
        """The value of ``token``, now the most recently used; :class:`FramesExpired` names ``what`` to re-run."""
        with self._lock:
            if token not in self._entries:
                raise FramesExpired(
                    f"these frames expired (the server keeps the most recent results only); run {what} again"
                )
            self._entries.move_to_end(token)
            return self._entries[token][0]

    def discard(self, token: str | None) -> None:
        """Forget ``token`` (``gr.State``'s delete callback: the session closed or its state expired)."""
        if token is not None:
            with self._lock:
                self._drop(token)

    def _drop(self, token: str) -> None:
        entry = self._entries.pop(token, None)
        if entry is not None:
            self._used -= entry[1]

    def picker(self, pick: Callable[[T, float], R], what: str) -> Callable[[str | None, float], R | None]:
        """A slider handler: the stored value of the session's token, passed to ``pick`` with the index."""

        @functools.wraps(pick)
        def handler(token: str | None, index: float) -> R | None:
            return None if token is None else pick(self.get(token, what), index)

        return handler

    def clearer(self, outputs: int) -> Callable[[str | None], tuple[None, ...]]:
        """A new video's handler for a tab: its stored frames dropped and its ``outputs`` emptied
        (the token's state among them), so no tab shows a result under another video."""

        def clear_tab(token: str | None) -> tuple[None, ...]:
            self.discard(token)
            return (None,) * outputs

        return clear_tab
