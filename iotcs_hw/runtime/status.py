"""Live counters and last values the runtime keeps for the health endpoint, metrics and logs.

Each sensor and actuator binding owns one status object and updates it on its own thread; the
health server reads consistent copies through :meth:`snapshot`.  Nothing here does I/O.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from drivers.base import ReadingValue


class SensorState(enum.Enum):
    """Where a supervised sensor stands."""

    #: Not read yet.
    STARTING = "starting"
    #: The last read succeeded.
    OK = "ok"
    #: The last read failed; it is retried with backoff (never given up on).
    FAILING = "failing"


@dataclass(frozen=True)
class SensorSnapshot:
    """A consistent copy of one sensor's status."""

    name: str
    driver: str
    where: str
    state: SensorState
    last_value: Mapping[str, ReadingValue]
    last_read_time: float | None
    last_error: str | None
    last_error_time: float | None
    reads_ok: int
    reads_failed: int
    reads_skipped: int
    values_rejected: int
    consecutive_failures: int
    recoveries: int
    next_attempt_in_s: float | None

    def to_json(self) -> dict[str, Any]:
        """The JSON form served by ``/status``."""
        return {
            "name": self.name,
            "driver": self.driver,
            "where": self.where,
            "state": self.state.value,
            "last_value": dict(self.last_value),
            "last_read_time": self.last_read_time,
            "last_error": self.last_error,
            "last_error_time": self.last_error_time,
            "reads_ok": self.reads_ok,
            "reads_failed": self.reads_failed,
            "reads_skipped": self.reads_skipped,
            "values_rejected": self.values_rejected,
            "consecutive_failures": self.consecutive_failures,
            "recoveries": self.recoveries,
            "next_attempt_in_s": self.next_attempt_in_s,
        }


class SensorStatus:
    """Mutable, lock-protected status of one sensor; written by its supervisor."""

    def __init__(self, name: str, driver: str = "", where: str = "") -> None:
        self._lock = threading.Lock()
        self.name = name
        self.driver = driver
        self.where = where
        self.state = SensorState.STARTING
        self.last_value: dict[str, ReadingValue] = {}
        self.last_read_time: float | None = None
        self.last_error: str | None = None
        self.last_error_time: float | None = None
        self.reads_ok = 0
        self.reads_failed = 0
        self.reads_skipped = 0
        self.values_rejected = 0
        self.consecutive_failures = 0
        self.recoveries = 0
        self.next_attempt_at: float | None = None

    def update(self, **changes: Any) -> None:
        """Set several fields at once, atomically with respect to :meth:`snapshot`."""
        with self._lock:
            for key, value in changes.items():
                if not hasattr(self, key):
                    raise AttributeError(f"SensorStatus has no field {key!r}")
                setattr(self, key, value)

    def count(self, field_name: str, by: int = 1) -> None:
        """Add ``by`` to the counter ``field_name``."""
        with self._lock:
            setattr(self, field_name, getattr(self, field_name) + by)

    def snapshot(self, now: float | None = None) -> SensorSnapshot:
        """A frozen copy; ``now`` (monotonic) turns ``next_attempt_at`` into a delay."""
        with self._lock:
            next_in = None
            if self.next_attempt_at is not None and now is not None:
                next_in = max(0.0, self.next_attempt_at - now)
            return SensorSnapshot(
                name=self.name,
                driver=self.driver,
                where=self.where,
                state=self.state,
                last_value=dict(self.last_value),
                last_read_time=self.last_read_time,
                last_error=self.last_error,
                last_error_time=self.last_error_time,
                reads_ok=self.reads_ok,
                reads_failed=self.reads_failed,
                reads_skipped=self.reads_skipped,
                values_rejected=self.values_rejected,
                consecutive_failures=self.consecutive_failures,
                recoveries=self.recoveries,
                next_attempt_in_s=next_in,
            )


@dataclass(frozen=True)
class ActuatorSnapshot:
    """A consistent copy of one actuator's status."""

    name: str
    attribute: str
    state: ReadingValue | None
    safe_state: ReadingValue | None
    in_safe_mode: bool
    writes_applied: int
    writes_rejected: int
    last_error: str | None

    def to_json(self) -> dict[str, Any]:
        """The JSON form served by ``/status``."""
        return {
            "name": self.name,
            "attribute": self.attribute,
            "state": self.state,
            "safe_state": self.safe_state,
            "in_safe_mode": self.in_safe_mode,
            "writes_applied": self.writes_applied,
            "writes_rejected": self.writes_rejected,
            "last_error": self.last_error,
        }


@dataclass
class GroupCounters:
    """Counters of one sampling group (one device, one interval)."""

    key: str
    interval_s: float
    ticks: int = 0
    missed_ticks: int = 0
    transactions: int = 0
    last_tick_lateness_s: float = 0.0


@dataclass
class HealthRegistry:
    """Everything the health endpoint reports, gathered from the bindings that own it.

    The runtime registers providers (callables returning snapshots) rather than copies, so the
    endpoint always shows live values.  ``ready`` turns true once buses and the model are up.
    """

    sensors: list[SensorStatus] = field(default_factory=list)
    actuators: list[Callable[[], ActuatorSnapshot]] = field(default_factory=list)
    groups: list[Callable[[], GroupCounters]] = field(default_factory=list)
    outbox_depth: Callable[[], int | None] = lambda: None
    cloud_connected: Callable[[], bool | None] = lambda: None
    monotonic: Callable[[], float] | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _not_ready_reason: str = "starting"

    @property
    def ready(self) -> bool:
        """True once the runtime said so with :meth:`set_ready`."""
        return self._ready.is_set()

    @property
    def not_ready_reason(self) -> str:
        """Why the runtime is not ready (``"starting"``, ``"stopping"``)."""
        return "" if self.ready else self._not_ready_reason

    def set_ready(self) -> None:
        """Mark the runtime ready (buses and model up, sampling started)."""
        self._ready.set()

    def set_not_ready(self, reason: str) -> None:
        """Mark the runtime not ready, e.g. while stopping."""
        self._not_ready_reason = reason
        self._ready.clear()

    def sensor_snapshots(self) -> list[SensorSnapshot]:
        """Snapshots of every registered sensor."""
        now = self.monotonic() if self.monotonic is not None else None
        return [s.snapshot(now) for s in self.sensors]

    def to_json(self) -> dict[str, Any]:
        """The whole ``/status`` document."""
        return {
            "ready": self.ready,
            "not_ready_reason": self.not_ready_reason or None,
            "cloud_connected": self.cloud_connected(),
            "outbox_depth": self.outbox_depth(),
            "sensors": [s.to_json() for s in self.sensor_snapshots()],
            "actuators": [a().to_json() for a in self.actuators],
            "sampling_groups": [
                {
                    "key": g.key,
                    "interval_s": g.interval_s,
                    "ticks": g.ticks,
                    "missed_ticks": g.missed_ticks,
                    "transactions": g.transactions,
                }
                for g in (provider() for provider in self.groups)
            ],
        }
