"""Tiny drivers and a recording device for the runtime's unit tests.

The sensors and actuators here implement the real ``drivers.base`` interfaces; the device
records every ``update()/set()/finish()`` transaction as the DATA message it would send into a
real :class:`RecordingSink`, so the tests see exactly what leaves the runtime.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest

from drivers.base import Actuator, Quantity, Reading, ReadingValue, Sensor
from drivers.errors import BusError, DeviceNotFound, DriverConfigError
from iotcs_hw.messaging import Message, RecordingSink, data_message
from iotcs_hw.runtime.clock import FakeClock


class ScriptedSensor(Sensor):
    """Reads ``value`` (a number or a callable); ``fail`` decides whether a read raises."""

    NAME = "scripted"
    QUANTITIES: ClassVar[dict[str, Quantity]] = {"temperature": Quantity(float, "degC")}

    def __init__(self, value: float | Callable[[], float] = 21.0, *, key: str = "temperature"):
        self.value = value
        self.key = key
        self.fail: Callable[[int], bool] = lambda n: False
        self.present = True
        self.reads = 0
        self.reinits = 0

    def read(self) -> Reading:
        self.reads += 1
        if not self.present:
            raise DeviceNotFound("no answer (errno 121)", bus=1, address=0x76)
        if self.fail(self.reads):
            raise BusError("remote I/O error", bus=1, address=0x76)
        value = self.value() if callable(self.value) else self.value
        return {self.key: value}

    def reinitialize(self) -> None:
        self.reinits += 1
        if not self.present:
            raise DeviceNotFound("chip id read failed", bus=1, address=0x76)

    def describe(self) -> str:
        return "bus 1, address 0x76"


class BlockingSensor(ScriptedSensor):
    """A read that hangs until ``release`` is set; ``started`` tells when it began."""

    NAME = "blocking"

    def __init__(self, value: float = 5.0) -> None:
        super().__init__(value)
        self.started = threading.Event()
        self.release = threading.Event()

    def read(self) -> Reading:
        self.started.set()
        self.release.wait(10)
        return super().read()


class FakeRelay(Actuator):
    """A boolean or numeric output remembering every value applied."""

    NAME = "fake_relay"

    def __init__(self, safe: ReadingValue = False, *, numeric: bool = False) -> None:
        self._safe = safe
        self._state: ReadingValue = safe
        self.numeric = numeric
        self.history: list[ReadingValue] = []
        self.broken = False

    def apply(self, value: ReadingValue) -> ReadingValue:
        if not self.numeric and not isinstance(value, bool):
            raise DriverConfigError(f"relay takes a boolean, got {value!r}")
        if self.broken:
            raise BusError("expander did not acknowledge", bus=1, address=0x20)
        self._state = value
        self.history.append(value)
        return value

    @property
    def state(self) -> ReadingValue:
        return self._state

    @property
    def safe_state(self) -> ReadingValue:
        return self._safe


class RecordingDevice:
    """Implements update/set/finish like a VirtualDevice, recording DATA messages in a sink."""

    def __init__(self, sink: RecordingSink, endpoint: str = "0-AB", urn: str = "urn:test:gh"):
        self.sink = sink
        self.endpoint = endpoint
        self.urn = urn
        self._open: dict[str, Any] | None = None
        self.values: dict[str, Any] = {}
        self.lock = threading.Lock()

    def update(self) -> RecordingDevice:
        self._open = {}
        return self

    def set(self, attributeName: str, value: Any) -> RecordingDevice:
        self.values[attributeName] = value
        if self._open is not None:
            self._open[attributeName] = value
        else:
            single = {attributeName: value}
            self.sink.offer([data_message(self.endpoint, self.urn + ":attributes", single)])
        return self

    def finish(self) -> None:
        data, self._open = self._open or {}, None
        if data:
            self.sink.offer([data_message(self.endpoint, self.urn + ":attributes", data)])

    def payloads(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for message in self.sink.sent:
            out.append(dict(message.payload["data"]))
        return out


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def device(sink: RecordingSink) -> RecordingDevice:
    return RecordingDevice(sink)


@pytest.fixture
def release_blockers() -> Iterator[list[BlockingSensor]]:
    """Blocking sensors registered here are released at teardown, whatever happened."""
    made: list[BlockingSensor] = []
    yield made
    for sensor in made:
        sensor.release.set()


def data_of(messages: list[Message]) -> list[dict[str, Any]]:
    return [dict(m.payload["data"]) for m in messages]


class Fakes:
    """The helper classes above, handed to tests through the ``fakes`` fixture (test modules
    are imported with importlib, so they cannot import this conftest by name)."""

    ScriptedSensor = ScriptedSensor
    BlockingSensor = BlockingSensor
    FakeRelay = FakeRelay
    RecordingDevice = RecordingDevice
    data_of = staticmethod(data_of)


@pytest.fixture
def fakes() -> type[Fakes]:
    return Fakes
