"""Fixtures for the delivery tests: an outbox in tmp_path, a fake clock and a fake transport.

The local server's data directory (``cloud_dir``) comes from ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from iotcs_hw.messaging import Message, Priority, Reliability, data_message
from iotcs_hw.transport.clock import FakeClock
from iotcs_hw.transport.fake import FakeTransport
from iotcs_hw.transport.outbox import Outbox

ENDPOINT = "0-AE-DEVICE"
URN = "urn:test:sensor"


def make_data(
    n: int,
    *,
    priority: Priority = Priority.MEDIUM,
    reliability: Reliability = Reliability.BEST_EFFORT,
    event_time: int | None = None,
) -> Message:
    """A DATA message whose ``data.n`` identifies it in assertions."""
    return data_message(
        ENDPOINT,
        URN + ":attributes",
        {"n": n},
        priority=priority,
        reliability=reliability,
        event_time=1_700_000_000_000 + n if event_time is None else event_time,
    )


def numbers(messages: list[Message]) -> list[int]:
    """The ``data.n`` of each DATA message, in order."""
    return [m.payload["data"]["n"] for m in messages]


@pytest.fixture
def outbox_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "outbox.sqlite3"


@pytest.fixture
def outbox(outbox_path: Path) -> Iterator[Outbox]:
    box = Outbox(outbox_path)
    yield box
    box.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def transport() -> Iterator[FakeTransport]:
    fake = FakeTransport()
    yield fake
    fake.close()


# --------------------------------------------------------------------------- local server (e2e)

PASSWORD = "changeit"
THERMO_URN = "urn:test:delivery:thermometer"
THERMO_MODEL = {
    "urn": THERMO_URN,
    "name": "Thermometer",
    "attributes": [
        {"name": "temp", "type": "NUMBER"},
        {"name": "setpoint", "type": "NUMBER", "writable": True},
    ],
    "actions": [],
    "formats": [],
}


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one device model the end-to-end tests use."""
    import json

    path = tmp_path_factory.mktemp("models")
    (path / "thermometer.json").write_text(json.dumps(THERMO_MODEL))
    return path
