"""Shared by the reliability tests: the generated corpus, one predictor and one served app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client, handle_file

from exercise_rec.app import AppConfig
from exercise_rec.inference import DEFAULT_CHECKPOINT, Predictor
from tests.app.server import serve

from .corpus import Corpus, build_corpus


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return build_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def predictor() -> Predictor:
    return Predictor.from_checkpoint(device="cpu")


@pytest.fixture(scope="session")
def app_client() -> Iterator[Client]:
    """The app with its default limits, as ``python app.py`` starts it (shared by input and load tests)."""
    with serve(AppConfig(device="cpu")) as client:
        yield client


def predict_upload(client: Client, path: Path) -> Any:
    """``/predict`` on an uploaded file with the default checkpoint: (top-5 label, frame strip, summary)."""
    return client.predict(handle_file(str(path)), DEFAULT_CHECKPOINT.name, api_name="/predict")
