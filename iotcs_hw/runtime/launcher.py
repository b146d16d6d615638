"""``iotcs-hw run``: from a model file to a running device, and back down in order.

:class:`Launch` does, in this order, and undoes in reverse:

1. load and validate the model file against its device models: every problem is listed and
   nothing is started (:class:`~iotcs_hw.runtime.config.ModelFileError`);
2. with ``--simulate``: start the local server in-process (or use the one given by
   ``--cloud DIR``) and provision the device on its first run;
3. open the directly connected device (or gateway) from the store, activate it on its first
   run, register indirect devices, and create one virtual device per device of the file;
4. build drivers (hardware, or simulators coupled to the environment model), start the
   :class:`~iotcs_hw.runtime.app.Runtime` (safe states first), and the cloud-side controller;
5. on stop (SIGTERM/SIGINT): runtime stopped with safe states applied, the client closed
   (outbox flushed for a moment; what is not acknowledged stays queued for the next start),
   controller and server stopped.

Tests use :class:`Launch` directly with ``schedule=False`` and a fake clock to drive ticks.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from iotcs_hw.client import ErrorEvent, VirtualDevice
from iotcs_hw.client.directly_connected import DirectlyConnectedDevice
from iotcs_hw.client.gateway import GatewayDevice
from iotcs_hw.errors import ConfigError
from iotcs_hw.runtime.app import Runtime, RuntimeOptions
from iotcs_hw.runtime.clock import SYSTEM_CLOCK, Clock, ScaledClock
from iotcs_hw.runtime.config import ModelFile, check_file
from iotcs_hw.runtime.contact import track_contact
from iotcs_hw.runtime.controller import RuleRunner
from iotcs_hw.runtime.drivers_factory import DriverFactory, HardwareDrivers, SimulatedDrivers
from iotcs_hw.runtime.live_view import LiveView, format_value
from iotcs_hw.runtime.sdnotify import SystemdNotifier
from iotcs_hw.runtime.signals import StopOnSignals
from iotcs_hw.runtime.simulation import (
    PASSWORD_FILE,
    SimulatedCloud,
    couple_environment,
    load_rules,
)

log = logging.getLogger(__name__)

#: Where ``iotcs-hw cloud`` keeps a server's data unless told (same rule as its commands).
CLOUD_DATA_ENV = "IOTCS_HW_CLOUD_DATA"
DEFAULT_CLOUD_DATA = ".iotcs-hw/cloud"
#: How long the client may flush its outbox at shutdown before leaving the rest queued.
FLUSH_AT_STOP_S = 3.0


@dataclass
class RunOptions:
    """What ``iotcs-hw run`` was asked to do."""

    file: Path
    simulate: bool = False
    #: ``--cloud``: a server's data directory or URL (see :func:`find_cloud_data`); a URL
    #: whose data directory is not here runs the device side only (no provisioning, no rule).
    cloud: str | None = None
    state_dir: Path | None = None
    #: Simulated seconds per real second (simulation only).
    time_scale: float = 1.0
    health_port: int | None = None
    live: TextIO | None = field(default_factory=lambda: sys.stdout)
    #: Tests: drive ticks by hand with this clock (``schedule=False``).
    clock: Clock | None = None
    schedule: bool = True
    notifier: SystemdNotifier | None = None
    environment_seed: int = 1
    #: Start hour of the simulated day (12: the greenhouse is warm at noon).
    start_hour: float = 13.0
    long_poll_s: float = 20.0
    #: Apply the model file's ``logging`` section (the process-wide loggers): ``run`` does,
    #: embedding applications and tests usually do not.
    configure_logging: bool = False
    #: Extra keyword arguments for the client (``dispatcher_options``, ``outbox_options``...).
    client_options: dict[str, Any] = field(default_factory=dict)


def default_state_dir(file: Path) -> Path:
    """Where a simulation keeps its server, store and outbox: ``$XDG_STATE_HOME/iotcs-hw``."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "iotcs-hw" / file.stem


class Launch:
    """Everything ``iotcs-hw run`` starts, started in order and stopped in reverse."""

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.model: ModelFile | None = None
        self.cloud: SimulatedCloud | None = None
        self.client: DirectlyConnectedDevice | None = None
        self.devices: dict[str, VirtualDevice] = {}
        self.endpoints: dict[str, str] = {}
        self.environment: Any = None
        self.drivers: DriverFactory | None = None
        self.runtime: Runtime | None = None
        self.controllers: list[RuleRunner] = []
        self.view = LiveView(options.live) if options.live is not None else None
        self._stoppers: list[tuple[str, Callable[[], None]]] = []
        self._stop_reason = "shutdown"
        self.started_at: float | None = None
        self.clock: Clock = options.clock or (
            ScaledClock(options.time_scale) if options.time_scale != 1 else SYSTEM_CLOCK
        )

    # -- start -----------------------------------------------------------------------------

    def start(self) -> Launch:
        """Start everything; on failure, stop what was started and re-raise."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        opts = self.options
        model = check_file(opts.file)  # raises ModelFileError: nothing started yet
        self.model = model
        if opts.configure_logging:
            apply_logging(model, quiet_info=self.view is not None)
        state_dir = opts.state_dir or (
            default_state_dir(opts.file) if opts.simulate else _store_state_dir(model)
        )
        state_dir = state_dir.resolve()
        if opts.simulate:
            store_path, password = self._start_simulated_cloud(model, state_dir)
        else:
            store_path = Path(model.store.path)
            if not store_path.is_absolute():
                store_path = (opts.file.parent / store_path).resolve()
            password = _store_password(model)
        self._open_client(model, store_path, password, state_dir / "outbox")
        self._build_drivers()
        self._start_runtime(model)
        self._start_controllers(model)
        self.started_at = time.monotonic()

    def _start_simulated_cloud(self, model: ModelFile, state_dir: Path) -> tuple[Path, str]:
        opts = self.options
        store_path = state_dir / Path(model.store.path).name
        data_dir = state_dir / "cloud"
        external = opts.cloud is not None
        if external:
            found = find_cloud_data(str(opts.cloud))
            if found is None:
                return store_path, self._device_only(model, store_path, str(opts.cloud))
            data_dir = found
        cloud = SimulatedCloud(data_dir, opts.file.resolve().parent, external=external)
        self.cloud = cloud.start()
        self._stoppers.append(("cloud", cloud.stop))
        activation_id = (
            f"{opts.file.stem}-{model.devices[0].id}"
            if model.is_gateway
            else (f"{opts.file.stem}-sim")
        )
        connected = [d.hardware_id or d.id for d in model.devices] if model.is_gateway else []
        password = cloud.provision(store_path, activation_id, connected_devices=connected)
        return store_path, password

    def _device_only(self, model: ModelFile, store_path: Path, url: str) -> str:
        """``--cloud URL`` of a server whose data directory is not here: the device side only."""
        if not store_path.exists():
            raise ConfigError(
                f"--cloud {url}: no store at {store_path} and no access to that server's "
                f"application API to provision one; run 'iotcs-hw cloud provision --out "
                f"{store_path} ...' on the server's machine first, or pass its data directory "
                f"(or set ${CLOUD_DATA_ENV})"
            )
        password_file = store_path.parent / PASSWORD_FILE
        if password_file.exists():
            return password_file.read_text(encoding="utf-8").strip()
        if self.view is not None:
            self.view.note("runtime", f"{url}: device side only (no cloud-side rule is run)")
        return _store_password(model)

    def _open_client(
        self, model: ModelFile, store_path: Path, password: str, outbox_dir: Path
    ) -> None:
        cls = GatewayDevice if model.is_gateway else DirectlyConnectedDevice
        client_options = dict(self.options.client_options)
        # Outages spend no retries (the dispatcher's rule), so Oracle's default retry budget
        # loses no telemetry however long the network is down; the outbox bound limits backlog.
        dispatcher_options = dict(client_options.pop("dispatcher_options", {}))
        client = cls(
            store_path,
            password,
            state_dir=outbox_dir,
            long_poll_s=self.options.long_poll_s,
            dispatcher_options=dispatcher_options,
            **client_options,
        )
        self.client = client
        self._stoppers.append(("client", client.close))
        if not client.isActivated():
            urns = [] if model.is_gateway else list(model.devices[0].models)
            client.activate(*urns)
            log.info("activated as %s", client.getEndpointId())
        if isinstance(client, GatewayDevice):
            for device in model.devices:
                endpoint = client.registerDevice(
                    device.hardware_id or device.id, dict(device.metadata), *device.models
                )
                self.endpoints[device.id] = endpoint
        else:
            self.endpoints[model.devices[0].id] = client.getEndpointId()
        for device in model.devices:
            if len(device.models) != 1:
                raise ConfigError(
                    f"{device.pos}: device {device.id} names {len(device.models)} device "
                    "models; the runtime binds exactly one model per device for now"
                )
            urn = device.models[0]
            device_model = client.getDeviceModel(urn)
            if device_model is None:
                raise ConfigError(f"{device.pos}: the server does not know device model {urn}")
            self.devices[device.id] = client.createVirtualDevice(
                self.endpoints[device.id], device_model
            )

    def _build_drivers(self) -> None:
        if self.options.simulate:
            from drivers.sim.environment import Environment  # noqa: PLC0415 - simulation only

            self.environment = Environment(
                seed=self.options.environment_seed,
                clock=self.clock.monotonic,
                start_hour=self.options.start_hour,
            )
            self.drivers = SimulatedDrivers(self.environment)
        else:
            self.drivers = HardwareDrivers()

    def _start_runtime(self, model: ModelFile) -> None:
        assert self.drivers is not None
        options = RuntimeOptions(
            clock=self.clock,
            notifier=self.options.notifier or SystemdNotifier.from_environment(),
            health_port=self.options.health_port,
            time_scale=self.options.time_scale,
            schedule=self.options.schedule,
            outbox_depth=self._outbox_depth,
        )
        runtime = Runtime(
            model,
            self.devices,
            self.drivers,
            options=options,
            on_sent=self._on_sent,
            on_actuated=self._on_actuated,
            on_error=self._on_error,
        )
        self.runtime = runtime
        runtime.start()
        self._stoppers.append(("runtime", lambda: runtime.stop(self._stop_reason)))
        if self.environment is not None:
            couple_environment(self.environment, runtime.actuators)
        if self.client is not None and self.client.dispatcher is not None:
            track_contact(
                self.client.dispatcher, runtime.note_cloud_contact, runtime.note_cloud_failure
            )
        if self.view is not None:
            where = runtime.health_url or "off"
            self.view.note("runtime", f"running {model.path}; health {where}")
            for device_id, endpoint in self.endpoints.items():
                self.view.note(device_id, f"endpoint {endpoint}")
            if self.cloud is not None:
                example = next(iter(self.endpoints.values()))
                self.view.note(
                    "runtime",
                    f"cloud {self.cloud.url}; try: iotcs-hw cloud write --data "
                    f"{self.cloud.data_dir} {example} ATTRIBUTE=VALUE",
                )

    def _start_controllers(self, model: ModelFile) -> None:
        if self.cloud is None:
            return
        rules = load_rules(self.options.file)
        default = rules.pop("", [])
        for device in model.devices:
            device_rules = rules.get(device.id, []) + (default if len(model.devices) == 1 else [])
            if not device_rules:
                continue
            runner = RuleRunner(
                self.cloud.app,
                self.endpoints[device.id],
                device_rules,
                on_decision=self._decision_hook(device.id),
                monotonic=self.clock.monotonic,
            ).start()
            self.controllers.append(runner)
            self._stoppers.append((f"controller {device.id}", runner.stop))

    # -- hooks -----------------------------------------------------------------------------

    def _on_sent(self, device_id: str, values: Mapping[str, object]) -> None:
        if self.view is not None:
            self.view.data(device_id, values)

    def _on_actuated(self, device_id: str, attribute: str, value: object, why: str) -> None:
        if self.view is None:
            return
        if why == "cloud":
            kind, note = "WRITE", "from the cloud"
        elif why.startswith("refused: "):
            kind, note = "REFUSE", why.removeprefix("refused: ")
        else:
            kind, note = "SAFE", why.removeprefix("safe: ")
        self.view.line(device_id, kind, f"{attribute}={format_value(value)}  ({note})")

    def _on_error(self, device_id: str, event: ErrorEvent) -> None:
        if self.view is not None:
            self.view.line(device_id, "ERROR", event.getMessage())

    def _decision_hook(self, device_id: str) -> Callable[[str, bool], None]:
        def decided(attribute: str, value: bool) -> None:
            if self.view is not None:
                self.view.decision(device_id, attribute, value)

        return decided

    def _outbox_depth(self) -> int | None:
        client = self.client
        dispatcher = client.dispatcher if client is not None else None
        if dispatcher is None:
            return None
        try:
            return len(dispatcher.outbox)
        except Exception:
            return None

    # -- stop ------------------------------------------------------------------------------

    def stop(self, reason: str = "shutdown") -> None:
        """Stop what was started, in reverse order; every step runs even if one fails."""
        self._stop_reason = reason
        while self._stoppers:
            name, stopper = self._stoppers.pop()
            if name == "client":
                self._flush()
            try:
                stopper()
            except Exception:
                log.exception("stopping %s failed", name)

    def _flush(self) -> None:
        client = self.client
        dispatcher = client.dispatcher if client is not None else None
        if dispatcher is None:
            return
        if not dispatcher.wait_for_empty(FLUSH_AT_STOP_S):
            log.warning(
                "%d message(s) not yet acknowledged stay queued in %s for the next start",
                len(dispatcher.outbox),
                dispatcher.outbox.path,
            )

    def __enter__(self) -> Launch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run(options: RunOptions, stop: threading.Event | None = None) -> int:
    """Start, wait for SIGTERM/SIGINT (or ``stop``), stop in order; the exit status."""
    with StopOnSignals(stop) as signals:
        launch = Launch(options)
        launch.start()
        try:
            while not signals.stop.wait(1.0):
                pass
        finally:
            launch.stop(", ".join(dict.fromkeys(signals.received)) or "shutdown")
        if launch.view is not None:
            received = ", ".join(dict.fromkeys(signals.received)) or "stop request"
            launch.view.note("runtime", f"stopped ({received}); safe states applied")
    return 0


def apply_logging(model: ModelFile, *, quiet_info: bool = False) -> None:
    """Apply the model file's ``logging`` section to the runtime's loggers.

    ``level`` sets the ``iotcs_hw`` and ``drivers`` loggers, ``loggers`` individual ones.  With
    the live view on (``quiet_info``), INFO is raised to WARNING: the view already shows those
    events, one line each.  A level set on the command line (``-v``) is left alone.
    """
    if logging.getLogger().level < logging.WARNING:
        return  # -v / -vv asked for more than the file does
    level = logging.getLevelName(model.logging.level)
    if quiet_info and isinstance(level, int):
        level = max(level, logging.WARNING)
    for name in ("iotcs_hw", "drivers"):
        logging.getLogger(name).setLevel(level)
    for name, named_level in model.logging.loggers.items():
        logging.getLogger(name).setLevel(named_level)


def find_cloud_data(cloud: str) -> Path | None:
    """The data directory of the local server ``cloud`` names: a directory itself, or the URL of
    the server whose data directory is ``$IOTCS_HW_CLOUD_DATA`` (or ``.iotcs-hw/cloud``, as for
    ``iotcs-hw cloud``).  None when ``cloud`` is a URL whose data directory is not here."""
    path = Path(cloud)
    if path.is_dir():
        return path
    if not cloud.startswith(("https://", "http://")):
        raise ConfigError(f"--cloud {cloud!r}: neither a server data directory nor an https:// URL")
    candidate = Path(os.environ.get(CLOUD_DATA_ENV) or DEFAULT_CLOUD_DATA)
    try:
        info = json.loads((candidate / "server.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(info, dict) and str(info.get("url", "")).rstrip("/") == cloud.rstrip("/"):
        return candidate
    return None


def _store_state_dir(model: ModelFile) -> Path:
    if model.store.state_dir:
        return Path(model.store.state_dir)
    return Path(model.store.path).parent


def _store_password(model: ModelFile) -> str:
    store = model.store
    if store.password_file:
        try:
            text = Path(store.password_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"{store.pos}: store password_file {store.password_file}: {exc.strerror}"
            ) from exc
        return text[:-1] if text.endswith("\n") else text
    value = os.environ.get(store.password_env)
    if value:
        return value
    from iotcs_hw.transport.store_password import resolve_store_password  # noqa: PLC0415

    try:
        return resolve_store_password(None).value
    except ConfigError as exc:
        raise ConfigError(
            f"{store.pos}: no password for the store {store.path}: set ${store.password_env} "
            f"or store.password_file ({exc})"
        ) from exc


def wait_until(predicate: Callable[[], bool], timeout_s: float, step_s: float = 0.02) -> bool:
    """Poll ``predicate`` until true or ``timeout_s`` passed (for tests and the benchmark)."""
    deadline = time.monotonic() + timeout_s
    event = threading.Event()
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        event.wait(step_s)
