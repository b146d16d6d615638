"""The runtime: a validated model file and its virtual devices, brought to life and kept alive.

:class:`Runtime` builds, from a :class:`~iotcs_hw.runtime.config.model.ModelFile`, one binding
per sensor and actuator (each owning its driver), groups sensors by device and interval for the
sampling engine, registers the actuator ``ChangeCallback`` and the ``ErrorCallback`` on each
virtual device, and starts the housekeeping (cloud-loss guard, systemd watchdog) and the health
endpoint.  Order matters and is fixed:

start:  actuators built and driven to their safe state -> sensors built -> callbacks registered
        -> sampling started -> health ready -> ``READY=1``
stop:   ``STOPPING=1`` and not ready -> sampling stopped -> every actuator to its safe state
        -> drivers closed -> health closed

What the runtime does not do: connect to the cloud.  It is handed the virtual devices (built by
:mod:`iotcs_hw.runtime.launcher` from a directly connected device or a gateway), so tests can
give it virtual devices over a :class:`~iotcs_hw.messaging.RecordingSink`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from drivers.base import Actuator, Device, Reading
from iotcs_hw.client import ErrorEvent, NamedValue, VirtualDevice
from iotcs_hw.errors import ConfigError
from iotcs_hw.runtime.actuation import ActuatorBinding, InterlockGroup
from iotcs_hw.runtime.alerting import DeviceAlerts
from iotcs_hw.runtime.clock import SYSTEM_CLOCK, Clock
from iotcs_hw.runtime.config.model import ModelFile, ReadingBinding, SensorConfig
from iotcs_hw.runtime.device_link import (
    ActuatorChangeCallback,
    DeviceWriter,
    LoggingErrorCallback,
    value_check_for,
)
from iotcs_hw.runtime.drivers_factory import DriverFactory, build_actuator, build_sensor
from iotcs_hw.runtime.healing import Backoff, SupervisedSensor
from iotcs_hw.runtime.health import HealthServer
from iotcs_hw.runtime.safety import CloudLossGuard
from iotcs_hw.runtime.sampling import AttributeFeed, SamplingEngine, SamplingGroup, SensorChannel
from iotcs_hw.runtime.sdnotify import SystemdNotifier, WatchdogPinger
from iotcs_hw.runtime.stages import ReadingStage, build_stage
from iotcs_hw.runtime.status import HealthRegistry

log = logging.getLogger(__name__)

#: Builds the stage (filters + report strategy) of one reading binding.
StageFactory = Callable[[ReadingBinding, Clock], ReadingStage]
#: Told about every value sent: (device id, {attribute: value}).
SentHook = Callable[[str, Mapping[str, object]], None]
#: Told about every actuator change: (device id, attribute, value, why).
ActuatedHook = Callable[[str, str, object, str], None]
#: Told about every error event of a device (delivery failed, sensor failing).
ErrorHook = Callable[[str, ErrorEvent], None]


@dataclass
class RuntimeOptions:
    """Knobs the model file does not hold (the CLI and tests set them)."""

    clock: Clock = SYSTEM_CLOCK
    notifier: SystemdNotifier = field(default_factory=SystemdNotifier.from_environment)
    #: Serve the health endpoint (host/port from the model file; ``health_port`` overrides).
    serve_health: bool = True
    health_port: int | None = None
    #: Read timeout of one sensor read, as a fraction of its interval (capped at 5 s).
    read_timeout_fraction: float = 0.5
    #: How often the cloud-loss guard and the watchdog run.
    housekeeping_s: float = 1.0
    #: Messages waiting in the outbox (``None``: unknown), for the health endpoint.
    outbox_depth: Callable[[], int | None] = lambda: None
    #: Simulated seconds per real second (``ScaledClock``): sampling intervals are divided by
    #: it so the runtime samples on the simulation's time.  1 outside simulations.
    time_scale: float = 1.0
    #: Start the scheduler.  Tests with a fake clock set False and drive :meth:`Runtime.tick`
    #: and :meth:`Runtime.housekeep` themselves.
    schedule: bool = True


class Runtime:
    """One model file running: bindings, sampling, safety, health.

    Parameters:
        model: the validated model file.
        devices: device id (``DeviceConfig.id``) -> its virtual device.
        drivers: where drivers come from (hardware or simulators).
        stage_factory: builds each reading's filter chain and report strategy (default: the
            model file's filters and report strategy).
        options: clock, systemd notifier, health endpoint.
        on_sent: told about every transaction sent (the live view).
        on_actuated: told about every actuator change, cloud write or safe state.
        on_error: told about every ErrorEvent of a device (after it was logged).
    """

    def __init__(
        self,
        model: ModelFile,
        devices: Mapping[str, VirtualDevice],
        drivers: DriverFactory,
        *,
        stage_factory: StageFactory = build_stage,
        options: RuntimeOptions | None = None,
        on_sent: SentHook | None = None,
        on_actuated: ActuatedHook | None = None,
        on_error: ErrorHook | None = None,
    ) -> None:
        missing = [d.id for d in model.devices if d.id not in devices]
        if missing:
            raise ConfigError(f"no virtual device for device(s) {', '.join(missing)}")
        self.model = model
        self.devices = dict(devices)
        self.drivers = drivers
        self.options = options or RuntimeOptions()
        self._clock = self.options.clock
        self._stage_factory = stage_factory
        self._on_sent = on_sent
        self._on_actuated = on_actuated
        self._on_error = on_error
        self.alerts: dict[str, DeviceAlerts] = {}
        self.writers: dict[str, DeviceWriter] = {}
        self.actuators: dict[str, ActuatorBinding] = {}
        self.sensors: dict[str, SupervisedSensor] = {}
        self._devices_owned: list[Device] = []
        self.error_callbacks: dict[str, LoggingErrorCallback] = {}
        self.change_callbacks: dict[str, ActuatorChangeCallback] = {}
        self._sensor_device: dict[str, str] = {}
        self._sensor_attributes: dict[str, list[str]] = {}
        self.notifier = self.options.notifier
        self.engine = SamplingEngine(
            clock=self._clock, on_tick=self._on_tick, time_scale=self.options.time_scale
        )
        self.guard: CloudLossGuard | None = None
        self.health = HealthRegistry(
            outbox_depth=self.options.outbox_depth,
            monotonic=self._clock.monotonic,
        )
        self._health_server: HealthServer | None = None
        # ``health.watchdog: false`` in the model file: never ping, even if systemd asks.
        watchdog_notifier = self.notifier if model.health.watchdog else SystemdNotifier(None)
        self._watchdog = WatchdogPinger(watchdog_notifier)
        self._state = "new"
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Build everything, make actuators safe, start sampling; ``READY=1`` at the end.

        On any failure, what was built is closed (actuators made safe first) and the error
        re-raised.
        """
        with self._lock:
            if self._state != "new":
                raise RuntimeError(f"runtime cannot start: it is {self._state}")
            self._state = "starting"
        try:
            self._build_writers()
            self._build_actuators()
            self._build_sensors()
            self._register_callbacks()
            # The network lives in real time: a simulation running 60x faster must not call a
            # 20 s long poll "20 minutes without the cloud".
            contact_clock = self._clock if self.options.time_scale == 1 else SYSTEM_CLOCK
            self.guard = CloudLossGuard(list(self.actuators.values()), clock=contact_clock)
            self.health.cloud_connected = lambda: self.guard.connected if self.guard else None
            self.engine.add_periodic("housekeeping", self.options.housekeeping_s, self._housekeep)
            if self.options.schedule:
                self.engine.start()
            self._start_health()
        except BaseException:
            self._teardown("start failed")
            with self._lock:
                self._state = "stopped"
            raise
        with self._lock:
            self._state = "running"
        self.health.set_ready()
        sensors, actuators = len(self.sensors), len(self.actuators)
        self.notifier.ready(f"sampling {sensors} sensors, {actuators} actuators")
        log.info("runtime ready: %d sensors, %d actuators", sensors, actuators)

    def stop(self, reason: str = "shutdown") -> None:
        """Stop sampling, apply every safe state, close drivers. Idempotent."""
        with self._lock:
            if self._state in ("stopping", "stopped", "new"):
                self._state = "stopped"
                return
            self._state = "stopping"
        self.notifier.stopping()
        self.health.set_not_ready("stopping")
        self._teardown(reason)
        with self._lock:
            self._state = "stopped"
        log.info("runtime stopped (%s)", reason)

    @property
    def state(self) -> str:
        """``new``, ``starting``, ``running``, ``stopping`` or ``stopped``."""
        with self._lock:
            return self._state

    @property
    def health_url(self) -> str | None:
        """Where the health endpoint listens, once started."""
        return self._health_server.url if self._health_server is not None else None

    def __enter__(self) -> Runtime:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- cloud contact ---------------------------------------------------------------------

    def note_cloud_contact(self) -> None:
        """The cloud answered (wired to the transport)."""
        if self.guard is not None:
            self.guard.note_contact()

    def note_cloud_failure(self) -> None:
        """An exchange with the cloud failed (wired to the transport)."""
        if self.guard is not None:
            self.guard.note_failure()

    # -- building --------------------------------------------------------------------------

    def _build_writers(self) -> None:
        for device in self.model.devices:
            writer = DeviceWriter(self.devices[device.id], device.id)
            if device.alerts:
                self.alerts[device.id] = DeviceAlerts(
                    self.devices[device.id], device.alerts, self._clock
                )
            writer.on_sent = self._sent_hook(device.id)
            self.writers[device.id] = writer

    def _sent_hook(self, device_id: str) -> Callable[[Mapping[str, object]], None]:
        alerts = self.alerts.get(device_id)

        def sent(values: Mapping[str, object]) -> None:
            if self._on_sent is not None:
                self._on_sent(device_id, values)
            if alerts is not None:
                alerts.on_values(values)

        return sent

    def _attribute(self, device_id: str, name: str, where: str) -> Any:
        model = self.devices[device_id].getDeviceModel()
        attribute = model.attribute(name)
        if attribute is None:
            raise ConfigError(f"{where}: attribute {name!r} is not in {model.getURN()}")
        return attribute

    def _build_actuators(self) -> None:
        groups: dict[str, InterlockGroup] = {}
        for config in self.model.actuators:
            where = f"{config.pos}: actuator {config.name}"
            attribute = self._attribute(config.device, config.attribute, where)
            driver: Actuator = build_actuator(self.drivers, config.driver, config.options)
            self._devices_owned.append(driver)
            group = None
            if config.interlock is not None:
                group = groups.setdefault(config.interlock, InterlockGroup(config.interlock))
            limits: tuple[float | None, float | None] = (None, None)
            if config.limits is not None:
                limits = (config.limits.min_value, config.limits.max_value)
            safe = config.safe_state
            if isinstance(safe, str):
                raise ConfigError(f"{where}: safe_state {safe!r} must be a number or boolean")
            writer = self.writers[config.device]
            binding = ActuatorBinding(
                config.name,
                driver,
                value_check_for(attribute),
                safe_state=safe,
                limits=limits,
                min_on_s=config.min_on_s,
                min_off_s=config.min_off_s,
                interlock=group,
                offline_safe_after_s=config.offline_safe_after_s,
                clock=self._clock,
                on_state_reported=lambda a, v, w=writer: w.send({a: v}),  # type: ignore[misc]
                on_applied=self._actuated_hook(config.device),
                on_refused=self._actuated_hook(config.device),
                scale=config.scale,
            )
            self.actuators[config.name] = binding
            self.health.actuators.append(binding.snapshot)
        self._apply_safe_states("start")

    def _actuated_hook(self, device_id: str) -> Callable[[ActuatorBinding, Any, str], None]:
        def actuated(binding: ActuatorBinding, value: Any, why: str) -> None:
            if self._on_actuated is not None:
                self._on_actuated(device_id, binding.attribute, value, why)

        return actuated

    def _apply_safe_states(self, reason: str) -> None:
        """Every actuator to its safe state, reported as one DATA message per device."""
        per_device: dict[str, dict[str, object]] = {}
        for config in self.model.actuators:
            binding = self.actuators.get(config.name)
            if binding is None:
                continue
            if binding.apply_safe(reason, report=False):
                per_device.setdefault(config.device, {})[binding.attribute] = binding.state
        for device_id, values in per_device.items():
            self.writers[device_id].send(values)

    def _build_sensors(self) -> None:
        grouped: dict[tuple[str, float], list[SensorChannel]] = {}
        for config in self.model.sensors:
            channel = self._build_channel(config)
            grouped.setdefault((config.device, config.interval_s), []).append(channel)
        for (device_id, interval_s), channels in grouped.items():
            key = f"{device_id}/{interval_s:g}s"
            group = SamplingGroup(key, self.writers[device_id], interval_s, channels)
            self.engine.add_group(group)
            self.health.groups.append(lambda g=group: g.counters)  # type: ignore[misc]
        for name, supervised in self.sensors.items():
            self._subscribe_edges(name, supervised)

    def _build_channel(self, config: SensorConfig) -> SensorChannel:
        where = f"{config.pos}: sensor {config.name}"
        driver = build_sensor(self.drivers, config.driver, config.options)
        self._devices_owned.append(driver)
        backoff = Backoff(
            initial_s=config.retry.initial_s,
            factor=config.retry.multiplier,
            max_s=config.retry.max_s,
            jitter=0.1,
        )
        supervised = SupervisedSensor(
            config.name,
            driver,
            backoff=backoff,
            clock=self._clock,
            on_fault=self._sensor_fault,
            on_recover=self._sensor_recovered,
        )
        feeds = []
        for binding in config.readings:
            attribute = self._attribute(config.device, binding.attribute, where)
            stage = self._stage_factory(binding, self._clock)
            feeds.append(
                AttributeFeed(binding.reading, value_check_for(attribute), stage.feed, stage.poll)
            )
        self.sensors[config.name] = supervised
        self._sensor_device[config.name] = config.device
        self._sensor_attributes[config.name] = [b.attribute for b in config.readings]
        self.health.sensors.append(supervised.status)
        period = config.interval_s / self.options.time_scale
        timeout = min(5.0, max(0.05, period * self.options.read_timeout_fraction))
        return SensorChannel(supervised, feeds, timeout_s=timeout)

    def _subscribe_edges(self, name: str, supervised: SupervisedSensor) -> None:
        on_reading = getattr(supervised.sensor, "on_reading", None)
        if callable(on_reading):

            def pushed(reading: Reading, sensor_name: str = name) -> None:
                try:
                    self.engine.push_reading(sensor_name, reading)
                except RuntimeError:  # an edge racing the shutdown: the reader thread is gone
                    log.debug("edge of %s after shutdown ignored", sensor_name)

            on_reading(pushed)

    def _register_callbacks(self) -> None:
        for device in self.model.devices:
            vd = self.devices[device.id]
            bound = {a.attribute: self.actuators[a.name] for a in device.actuators}
            if bound:
                callback = ActuatorChangeCallback(bound)
                vd.setOnChange(callback)
                self.change_callbacks[device.id] = callback
            errors = LoggingErrorCallback(device.id, self._error_hook(device.id))
            vd.setOnError(errors)
            self.error_callbacks[device.id] = errors

    def _error_hook(self, device_id: str) -> Callable[[ErrorEvent], None] | None:
        hook = self._on_error
        if hook is None:
            return None

        def forward(event: ErrorEvent) -> None:
            hook(device_id, event)

        return forward

    def _start_health(self) -> None:
        config = self.model.health
        if not (self.options.serve_health and config.enabled):
            return
        port = self.options.health_port if self.options.health_port is not None else config.port
        self._health_server = HealthServer(self.health, host=config.host, port=port).start()
        log.info("health endpoint on %s", self._health_server.url)

    # -- running ---------------------------------------------------------------------------

    def _on_tick(self) -> None:
        self._watchdog.tick()

    def _housekeep(self) -> None:
        self.housekeep()

    def housekeep(self) -> list[str]:
        """Run the cloud-loss guard and ping the watchdog; returns the actuators that changed."""
        changed = self.guard.check() if self.guard is not None else []
        for alerts in self.alerts.values():
            alerts.poll()
        self._watchdog.tick()
        return changed

    def tick(self) -> dict[str, dict[str, object]]:
        """Sample every group once now (tests with a fake clock); returns what each sent."""
        return {group.key: self.engine.tick(group.key).sent for group in self.engine.groups}

    def _sensor_fault(self, sensor: SupervisedSensor, exc: BaseException) -> None:
        """A sensor started failing (or fails differently): tell its device's ErrorCallback.

        The event names the attributes the sensor feeds, with their last values, so whoever
        watches the callback knows which values are going stale.
        """
        device_id = self._sensor_device.get(sensor.name)
        if device_id is None:
            return
        callback = self.error_callbacks.get(device_id)
        if callback is None:
            return
        vd = self.devices[device_id]
        attributes = {name: vd.get(name) for name in self._sensor_attributes[sensor.name]}
        snap = sensor.status.snapshot(self._clock.monotonic())
        retry = f"; retrying in {snap.next_attempt_in_s:.1f} s" if snap.next_attempt_in_s else ""
        message = f"sensor {sensor.name} ({snap.where}) failed: {snap.last_error}{retry}"
        callback.onError(ErrorEvent(vd, NamedValue.chain(attributes), message))

    def _sensor_recovered(self, sensor: SupervisedSensor) -> None:
        # Logged by the supervisor and shown by the health endpoint; the ErrorCallback is for
        # errors only.
        pass

    # -- stopping --------------------------------------------------------------------------

    def _teardown(self, reason: str) -> None:
        for callback in self.change_callbacks.values():
            callback.close()
        try:
            self.engine.stop()
        except Exception:
            log.exception("stopping sampling failed")
        self._apply_safe_states(reason)
        for device in reversed(self._devices_owned):
            try:
                device.close()
            except Exception:
                log.exception("closing %r failed", device)
        if self._health_server is not None:
            try:
                self._health_server.close()
            except Exception:
                log.exception("closing the health endpoint failed")
            self._health_server = None

    def __repr__(self) -> str:
        return (
            f"<Runtime {self.model.path} state={self.state} sensors={len(self.sensors)} "
            f"actuators={len(self.actuators)}>"
        )
