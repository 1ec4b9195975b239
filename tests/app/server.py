"""The app served in-process on a free loopback port, for the client, browser and reliability tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from gradio_client import Client

from exercise_rec.app import AppConfig, build_app, launch_options


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served(config: AppConfig) -> Iterator[str]:
    """The URL of ``build_app(config)``, launched as ``python app.py`` launches it; closed afterwards."""
    app = build_app(config)
    port = free_port()
    app.launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **launch_options(config)
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()


def connect(url: str) -> Client:
    """A quiet ``gradio_client`` session with its Hub telemetry off (tests stay offline)."""
    return Client(url, verbose=False, analytics_enabled=False)


@contextmanager
def serve(config: AppConfig) -> Iterator[Client]:
    """A client connected to :func:`served`."""
    with served(config) as url:
        yield connect(url)


def fake_launches(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``python app.py``'s ``main`` records the config it built and its ``launch()`` settings here
    instead of serving (the start-up path without a server)."""
    launched: dict[str, Any] = {}

    class FakeApp:
        def launch(self, **kwargs: Any) -> None:
            launched.update(kwargs)

    def build_app(config: AppConfig) -> FakeApp:
        launched["config"] = config
        return FakeApp()

    monkeypatch.setattr("exercise_rec.app.build_app", build_app)
    return launched
