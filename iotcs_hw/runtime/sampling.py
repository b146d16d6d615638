"""The sampling engine: scheduled reads, one ``update()...finish()`` transaction per tick.

Sensors of one device that share an interval form a :class:`SamplingGroup`, sampled by one
apscheduler job.  Each tick submits every due sensor's read to that sensor's own single-thread
executor and waits at most the group's read timeout, so a slow or hung sensor costs the others
at most one timeout once (while it stays hung it is skipped, not waited for) and a failing one
costs them nothing.  The readings go through each attribute's value stage (filters and report
strategy), are checked against the attribute (a NaN or out-of-range value is reported and not
sent) and leave as one transaction on the device.

Jobs run with ``coalesce=True``, ``max_instances=1`` and a misfire grace time, so ticks missed
while the process was starved are counted (``missed_ticks``) rather than piled up.  An
edge-triggered input pushes its reading through :meth:`SamplingEngine.push_reading` and is
reported at once.

Threads: the scheduler's worker threads run ticks; ``sensor-<name>`` threads run reads.  User
hooks (``on_value_rejected``, ``on_tick``) are guarded: an exception is logged, never fatal.
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
from apscheduler.executors.pool import ThreadPoolExecutor as JobPool
from apscheduler.schedulers.background import BackgroundScheduler

from drivers.base import Reading, ReadingValue
from drivers.errors import HardwareTimeout
from iotcs_hw.runtime.clock import SYSTEM_CLOCK, Clock
from iotcs_hw.runtime.device_link import DeviceWriter
from iotcs_hw.runtime.healing import SupervisedSensor
from iotcs_hw.runtime.status import GroupCounters
from iotcs_hw.runtime.values import ValueCheck

log = logging.getLogger(__name__)


#: One attribute's processing after the read: ``(value, monotonic_now) -> value or None``.
#: ``None`` means "nothing to send this time" (a filter held it back, or the report strategy).
ValueStage = Callable[[ReadingValue, float], ReadingValue | None]

#: Told about every value that was not sent because it was impossible: (sensor, problem).
RejectHandler = Callable[[str, str], None]


@dataclass
class AttributeFeed:
    """One reading of a sensor feeding one attribute."""

    reading: str
    check: ValueCheck
    stage: ValueStage | None = None
    #: Values the stage emits because time passed (heartbeat, timeout, throttle_average):
    #: asked at every tick, whether or not the sensor could be read.
    poll: Callable[[float], ReadingValue | None] | None = None

    @property
    def attribute(self) -> str:
        """The attribute this feed sets."""
        return self.check.attribute


@dataclass(eq=False)
class SensorChannel:
    """A supervised sensor with its attribute feeds and its own reader thread."""

    sensor: SupervisedSensor
    feeds: Sequence[AttributeFeed]
    timeout_s: float = 2.0
    _executor: concurrent.futures.ThreadPoolExecutor | None = None
    _pending: concurrent.futures.Future[Reading | None] | None = None

    @property
    def name(self) -> str:
        """The sensor's name."""
        return self.sensor.name

    def executor(self) -> concurrent.futures.ThreadPoolExecutor:
        """This sensor's single reader thread (created on first use)."""
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"sensor-{self.name}"
            )
        return self._executor

    def busy(self) -> bool:
        """True while an earlier read has not returned yet."""
        return self._pending is not None and not self._pending.done()

    def submit(self) -> concurrent.futures.Future[Reading | None]:
        """Start a read on the reader thread."""
        self._pending = self.executor().submit(self.sensor.sample)
        return self._pending

    def shutdown(self) -> None:
        """Stop the reader thread without waiting for a hung read."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


@dataclass(eq=False)
class SamplingGroup:
    """The sensors of one device sampled together every ``interval_s``."""

    key: str
    device: DeviceWriter
    interval_s: float
    channels: list[SensorChannel]
    counters: GroupCounters = field(init=False)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.counters = GroupCounters(self.key, self.interval_s)


@dataclass(frozen=True)
class TickResult:
    """What one tick did (returned for tests and logs)."""

    sent: dict[str, object]
    skipped: tuple[str, ...]
    failed: tuple[str, ...]
    rejected: tuple[str, ...]


class SamplingEngine:
    """Schedules sampling groups with apscheduler and runs their ticks.

    Parameters:
        clock: monotonic time for the value stages (filters, report strategies).
        on_value_rejected: told about impossible values (also logged and counted).
        on_tick: called after every tick (the systemd watchdog ping).
        misfire_grace_s: a tick later than this is missed (counted) instead of run late;
            defaults to half the group's interval.
        time_scale: simulated seconds per real second; groups are scheduled every
            ``interval_s / time_scale`` real seconds (1 outside simulations).
        lateness_window: how many lateness samples are kept per engine for the benchmark.
    """

    def __init__(
        self,
        *,
        clock: Clock = SYSTEM_CLOCK,
        on_value_rejected: RejectHandler | None = None,
        on_tick: Callable[[], None] | None = None,
        misfire_grace_s: float | None = None,
        lateness_window: int = 10_000,
        time_scale: float = 1.0,
    ) -> None:
        if not time_scale > 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale}")
        self._time_scale = time_scale
        self._clock = clock
        self._on_value_rejected = on_value_rejected
        self._on_tick = on_tick
        self._misfire_grace_s = misfire_grace_s
        self._groups: dict[str, SamplingGroup] = {}
        self._by_sensor: dict[str, tuple[SamplingGroup, SensorChannel]] = {}
        self._scheduler: Any = None
        self._anchor: dict[str, float] = {}
        self._periodic: list[tuple[str, float, Callable[[], None]]] = []
        self.lateness_s: deque[float] = deque(maxlen=lateness_window)
        self._lock = threading.Lock()

    # -- building --------------------------------------------------------------------------

    def add_group(self, group: SamplingGroup) -> None:
        """Register a group before :meth:`start`; sensor names must be unique."""
        if group.key in self._groups:
            raise ValueError(f"sampling group {group.key!r} already exists")
        if not group.interval_s > 0:
            raise ValueError(f"sampling group {group.key!r}: interval must be > 0")
        for channel in group.channels:
            if channel.name in self._by_sensor:
                raise ValueError(f"sensor {channel.name!r} is in two sampling groups")
            self._by_sensor[channel.name] = (group, channel)
        self._groups[group.key] = group

    def add_periodic(self, name: str, interval_s: float, function: Callable[[], None]) -> None:
        """Run ``function`` every ``interval_s`` on the sampling scheduler (housekeeping such as
        the cloud-loss guard and the systemd watchdog); exceptions are logged."""

        def guarded() -> None:
            try:
                function()
            except Exception:
                log.exception("periodic job %s raised", name)

        self._periodic.append((name, interval_s, guarded))

    @property
    def groups(self) -> list[SamplingGroup]:
        """Every registered group."""
        return list(self._groups.values())

    # -- scheduling ------------------------------------------------------------------------

    def start(self) -> None:
        """Start one apscheduler job per group; the first tick runs immediately."""
        workers = max(2, min(len(self._groups) + len(self._periodic) + 1, 8))
        scheduler = BackgroundScheduler(
            executors={
                "default": JobPool(
                    max_workers=workers, pool_kwargs={"thread_name_prefix": "sampling-tick"}
                )
            },
            timezone="UTC",
        )
        scheduler.add_listener(self._job_missed, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        start = datetime.now(UTC) + timedelta(milliseconds=20)
        for group in self._groups.values():
            period = self.period_s(group)
            grace = self._misfire_grace_s
            if grace is None:
                grace = period / 2
            self._anchor[group.key] = start.timestamp()
            scheduler.add_job(
                self._scheduled_tick,
                "interval",
                args=(group.key,),
                id=group.key,
                name=f"sample {group.key}",
                seconds=period,
                start_date=start,
                next_run_time=start,
                coalesce=True,
                max_instances=1,
                # apscheduler takes whole seconds here (a positive int).
                misfire_grace_time=max(1, math.ceil(grace)),
            )
        for name, interval_s, function in self._periodic:
            scheduler.add_job(
                function,
                "interval",
                id=f"periodic:{name}",
                name=name,
                seconds=interval_s,
                next_run_time=start,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=max(1, math.ceil(interval_s)),
            )
        scheduler.start()
        self._scheduler = scheduler

    def period_s(self, group: SamplingGroup) -> float:
        """Real seconds between two ticks of ``group``."""
        return group.interval_s / self._time_scale

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the jobs, wait for a running tick at most ``timeout_s``, stop reader threads."""
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            done = threading.Event()

            def _shutdown() -> None:
                scheduler.shutdown(wait=True)
                done.set()

            stopper = threading.Thread(target=_shutdown, name="sampling-stop", daemon=True)
            stopper.start()
            if not done.wait(timeout_s):
                log.error("sampling did not stop within %.1f s (a sensor read hangs)", timeout_s)
        for group in self._groups.values():
            for channel in group.channels:
                channel.shutdown()

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._scheduler is not None

    def _job_missed(self, event: Any) -> None:
        group = self._groups.get(event.job_id)
        if group is None:
            return
        with group.lock:
            group.counters.missed_ticks += 1
        log.warning("sampling %s: a tick was missed (the previous one is still running)", group.key)

    def _scheduled_tick(self, key: str) -> None:
        group = self._groups[key]
        anchor = self._anchor.get(key)
        if anchor is not None:
            period = self.period_s(group)
            elapsed = time.time() - anchor
            late = elapsed - math.floor(elapsed / period + 1e-9) * period
            self.lateness_s.append(late)
            group.counters.last_tick_lateness_s = late
        self.tick(key)

    # -- ticks -----------------------------------------------------------------------------

    def tick(self, key: str) -> TickResult:
        """Sample group ``key`` once and send what came out as one transaction.

        Called by the scheduler; tests call it directly with a fake clock.
        """
        group = self._groups[key]
        futures: dict[SensorChannel, concurrent.futures.Future[Reading | None]] = {}
        skipped: list[str] = []
        for channel in group.channels:
            if channel.busy():
                channel.sensor.status.count("reads_skipped")
                skipped.append(channel.name)
                continue
            if not channel.sensor.due():
                channel.sensor.status.count("reads_skipped")
                skipped.append(channel.name)
                continue
            futures[channel] = channel.submit()
        # Each read gets its own deadline from the tick's start: a sensor with a short timeout
        # is given up on as soon as that passes, whatever the others allow themselves.
        started = time.monotonic()
        for channel in sorted(futures, key=lambda c: c.timeout_s):
            remaining = started + channel.timeout_s - time.monotonic()
            concurrent.futures.wait([futures[channel]], timeout=max(0.0, remaining))
        readings: list[tuple[SensorChannel, Reading]] = []
        failed: list[str] = []
        for channel, future in futures.items():
            if not future.done():
                channel.sensor.record_failure(
                    HardwareTimeout(f"read did not finish within {channel.timeout_s:g} s")
                )
                failed.append(channel.name)
                continue
            reading = future.result()
            if reading is None:
                failed.append(channel.name)
            else:
                readings.append((channel, reading))
        values, rejected = self._process(readings)
        self._poll_feeds(group, values, rejected)
        self._send(group, values)
        with group.lock:
            group.counters.ticks += 1
        self._after_tick()
        return TickResult(values, tuple(skipped), tuple(failed), tuple(rejected))

    def push_reading(
        self, sensor_name: str, reading: Reading
    ) -> concurrent.futures.Future[TickResult]:
        """Report a reading an edge-triggered sensor pushed (``EdgeSensor.on_reading``).

        Safe to call from the driver's event thread: the work is handed to the sensor's reader
        thread and the call returns at once.
        """
        group, channel = self._by_sensor[sensor_name]

        def _run() -> TickResult:
            channel.sensor.record_success(reading)
            values, rejected = self._process([(channel, reading)])
            self._send(group, values)
            return TickResult(values, (), (), tuple(rejected))

        return channel.executor().submit(_run)

    def _process(
        self, readings: Sequence[tuple[SensorChannel, Reading]]
    ) -> tuple[dict[str, object], list[str]]:
        values: dict[str, object] = {}
        rejected: list[str] = []
        now = self._clock.monotonic()
        for channel, reading in readings:
            for feed in channel.feeds:
                raw = reading.get(feed.reading)
                if raw is None:
                    problem = f"reading {feed.reading!r} missing from {sorted(reading)}"
                    self._reject(channel, problem)
                    rejected.append(feed.attribute)
                    continue
                if isinstance(raw, float) and not math.isfinite(raw):
                    self._reject(channel, f"{feed.attribute}: sensor produced {raw}")
                    rejected.append(feed.attribute)
                    continue
                value: ReadingValue | None = raw
                if feed.stage is not None:
                    try:
                        value = feed.stage(raw, now)
                    except Exception as exc:
                        log.exception("filters of %s.%s raised", channel.name, feed.attribute)
                        self._reject(channel, f"{feed.attribute}: filter failed: {exc}")
                        rejected.append(feed.attribute)
                        continue
                if value is not None:
                    self._accept(channel, feed, value, values, rejected)
        return values, rejected

    def _poll_feeds(
        self, group: SamplingGroup, values: dict[str, object], rejected: list[str]
    ) -> None:
        now = self._clock.monotonic()
        for channel in group.channels:
            for feed in channel.feeds:
                if feed.poll is None or feed.attribute in values:
                    continue
                try:
                    value = feed.poll(now)
                except Exception:
                    log.exception("timed filters of %s.%s raised", channel.name, feed.attribute)
                    continue
                if value is not None:
                    self._accept(channel, feed, value, values, rejected)

    def _accept(
        self,
        channel: SensorChannel,
        feed: AttributeFeed,
        value: ReadingValue,
        values: dict[str, object],
        rejected: list[str],
    ) -> None:
        """Keep ``value`` for ``feed``'s attribute if the attribute's check allows it.

        Sampled values and values released later by timed filters are checked alike, so a
        filter can never send what the device model would refuse.
        """
        refusal = feed.check.problem(value)
        if refusal is not None:
            self._reject(channel, refusal)
            rejected.append(feed.attribute)
            return
        values[feed.attribute] = feed.check.coerce(value)

    def _reject(self, channel: SensorChannel, problem: str) -> None:
        channel.sensor.status.count("values_rejected")
        channel.sensor.status.update(last_error=f"value not sent: {problem}")
        log.warning("sensor %s: value not sent: %s", channel.name, problem)
        if self._on_value_rejected is not None:
            try:
                self._on_value_rejected(channel.name, problem)
            except Exception:
                log.exception("value-rejected handler raised")

    def _send(self, group: SamplingGroup, values: dict[str, object]) -> None:
        if values and group.device.send(values):
            with group.lock:
                group.counters.transactions += 1

    def _after_tick(self) -> None:
        if self._on_tick is not None:
            try:
                self._on_tick()
            except Exception:
                log.exception("tick hook raised")
