"""Fixtures for the alert tests: a fake Slack Web API server, a dead port, recorders."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from fake_slack import FakeSlack


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def dead_slack_url() -> str:
    """A base URL on a local port where nothing listens (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/"


@pytest.fixture
def sleeps() -> list[float]:
    """Records the waits deliver_pending asks for; pass `sleeps.append` as its `sleep`."""
    return []


@pytest.fixture
def log_lines() -> list[str]:
    """Collects deliver_pending's log; pass `log_lines.append` as its `log`."""
    return []
