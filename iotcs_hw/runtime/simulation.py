"""What ``--simulate`` adds around the runtime: a cloud, a provisioned store and a physical world.

* :class:`SimulatedCloud`: the local IoTCS-compatible server started in-process (or one already
  running, found by its data directory), its application API, and first-run provisioning:
  register the device, write its trusted-assets store with a generated password kept beside it.
* :func:`couple_environment`: connects each actuator to the environment model by what it is
  (fan, heater, pump, grow light, vent), with the actuator's own state as the level, so a cloud
  write that moves a pin changes what the simulated sensors measure.
* :func:`load_rules`: the cloud-side rules of a model file (``<name>.rules.yaml`` beside it),
  which the controller runs against the server's application API.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from drivers.sim import environment as env_model
from iotcs_hw.errors import ConfigError
from iotcs_hw.runtime.actuation import ActuatorBinding
from iotcs_hw.runtime.controller import ThresholdRule

log = logging.getLogger(__name__)

PASSWORD_FILE = "store-password"
#: The port the in-process server listened on first; reused so the store's server URI holds.
PORT_FILE = "server-port"

#: Actuator kinds the environment knows, matched against actuator and attribute names.
EFFECTS: Mapping[str, tuple[env_model.Effect, ...]] = {
    "fan": env_model.FAN,
    "heater": env_model.HEATER,
    "pump": env_model.PUMP,
    "grow_light": env_model.GROW_LIGHT,
    "light": env_model.GROW_LIGHT,
    "vent": env_model.VENT,
}


class SimulatedCloud:
    """The local server for a simulation: in-process, or already running (``data_dir`` given).

    ``models_dir`` is where the server loads device models from (the model file's folder).
    """

    def __init__(self, data_dir: Path, models_dir: Path, *, external: bool = False) -> None:
        self.data_dir = data_dir
        self.models_dir = models_dir
        self.external = external
        self._cloud: Any = None
        self.app: Any = None
        self.url = ""

    def start(self) -> SimulatedCloud:
        """Start the server (unless external) and connect the application API."""
        if self.external:
            from iotcs_hw.cloud.app_client import AppClient  # noqa: PLC0415 - only --simulate

            self.app = AppClient.from_data_dir(self.data_dir)
            self.url = self.app.url
            return self
        # The server (aiohttp) is imported only when it runs in this process.
        from iotcs_hw.cloud.runner import LocalCloud  # noqa: PLC0415

        self.data_dir.mkdir(parents=True, exist_ok=True)
        port_file = self.data_dir / PORT_FILE
        port = 0
        if port_file.exists():
            try:
                port = int(port_file.read_text(encoding="ascii").strip())
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{port_file}: unreadable ({exc}); delete it") from exc
        self._cloud = LocalCloud(self.data_dir, models_dir=self.models_dir, port=port).start()
        port_file.write_text(f"{self._cloud.address[1]}\n", encoding="ascii")
        self.url = self._cloud.url
        self.app = self._cloud.app_client()
        log.info("local cloud on %s (data in %s)", self.url, self.data_dir)
        return self

    @property
    def ca_path(self) -> Path:
        """The server's CA certificate (what the device trusts)."""
        if self._cloud is not None:
            return Path(self._cloud.ca_path)
        return self.data_dir / "ca.pem"

    def faults(self) -> Any:
        """The in-process server's fault switch (tests: take the server down for a while)."""
        if self._cloud is None:
            raise ConfigError("fault injection needs the in-process server")
        return self._cloud.faults

    def provision(
        self,
        store_path: Path,
        activation_id: str,
        *,
        connected_devices: Sequence[str] = (),
    ) -> str:
        """Write the device's store on first run; returns its password.

        On later runs the store and the password file beside it are reused, so the device
        keeps its identity and its outbox across restarts.
        """
        password_path = store_path.parent / PASSWORD_FILE
        if store_path.exists():
            try:
                return password_path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(
                    f"{store_path} exists but its password file {password_path} cannot be "
                    f"read ({exc.strerror}); delete the state directory to provision again"
                ) from exc
        store_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        password = secrets.token_urlsafe(18)
        connected = dict.fromkeys(connected_devices)
        try:
            self.app.register_device(activation_id, connected_devices=connected or None)
        except Exception as exc:
            if "already" not in str(exc).lower() and "409" not in str(exc):
                raise
        store = self.app.provisioning_file(activation_id, password, server_uri=self.url)
        password_path.write_text(password + "\n", encoding="utf-8")
        password_path.chmod(0o600)
        store_path.write_bytes(store)
        store_path.chmod(0o600)
        log.info("provisioned %s as %s", store_path, activation_id)
        return password

    def stop(self) -> None:
        """Close the API client and stop the in-process server. Idempotent."""
        if self.app is not None:
            self.app.close()
            self.app = None
        if self._cloud is not None:
            self._cloud.stop()
            self._cloud = None


def couple_environment(
    environment: env_model.Environment, actuators: Mapping[str, ActuatorBinding]
) -> list[str]:
    """Couple every actuator the environment knows; returns the names coupled.

    The level is the actuator's state: booleans count 0/1, numbers are mapped from the
    attribute's range (a vent at 90 of 0..90 degrees is fully open).
    """
    coupled = []
    for name, binding in actuators.items():
        effects = _effects_for(name, binding.attribute)
        if effects is None:
            log.info("actuator %s has no effect in the environment model", name)
            continue
        environment.couple(name, *effects, level=_level_of(binding))
        coupled.append(name)
    return coupled


def _level_of(binding: ActuatorBinding) -> Callable[[], float]:
    """The binding's state (attribute units) as a level 0..1 over the attribute's range."""
    low, high = binding.check.low, binding.check.high

    def level() -> float:
        state = binding.state
        if state is None or isinstance(state, bool):
            return 1.0 if state else 0.0
        if low is None or high is None or low == high:
            return float(state)
        return (float(state) - low) / (high - low)

    return level


def _effects_for(name: str, attribute: str) -> tuple[env_model.Effect, ...] | None:
    for candidate in (name, attribute):
        if candidate in EFFECTS:
            return EFFECTS[candidate]
    for key, effects in EFFECTS.items():
        if key in name or key in attribute:
            return effects
    return None


def rules_path(model_file: Path) -> Path:
    """Where the cloud-side rules of ``model_file`` live: ``<stem>.rules.yaml`` beside it."""
    return model_file.with_name(model_file.stem + ".rules.yaml")


def load_rules(model_file: Path) -> dict[str, list[ThresholdRule]]:
    """The rules per device id, or ``{}`` when the model file has no rules file.

    Format (a list)::

        - device: greenhouse          # a device id of the model file
          when: temperature           # the attribute measured
          on_above: 27
          off_below: 25
          set: fan                    # the boolean attribute written

    Raises :class:`ConfigError` naming the file and the entry for anything else.
    """
    path = rules_path(model_file)
    if not path.exists():
        return {}
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the rules: {exc}") from exc
    if not isinstance(doc, list):
        raise ConfigError(f"{path}: expected a list of rules")
    rules: dict[str, list[ThresholdRule]] = {}
    for index, entry in enumerate(doc):
        where = f"{path}: rule {index + 1}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a mapping, got {entry!r}")
        unknown = set(entry) - {"device", "when", "on_above", "off_below", "set", "retry_after"}
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
        try:
            rule = ThresholdRule(
                measure=str(entry["when"]),
                output=str(entry["set"]),
                on_above=float(entry["on_above"]),
                off_below=float(entry["off_below"]),
                retry_after_s=float(entry.get("retry_after", 30.0)),
            )
        except KeyError as exc:
            raise ConfigError(f"{where}: missing key {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: {exc}") from None
        rules.setdefault(str(entry.get("device", "")), []).append(rule)
    return rules
