"""An environment for simulations: a greenhouse-sized room under a day/night sky.

:class:`Environment` is a :class:`drivers.sim.physics.PhysicalSource`: simulated sensors ask it
for ``temperature``, ``humidity``, ``pressure``, ``light``, ``soil_moisture``, ``current``,
``cpu_temperature``, ``distance``, ``voltage``.  Stateful quantities relax toward set points
with first-order dynamics (indoor temperature toward the outside weather plus solar gain,
humidity toward outside plus transpiration, soil moisture toward dry); light follows the sun.

Actuators change it through *couplings*::

    env = Environment(seed=1, clock=time.monotonic)
    env.couple("fan", *FAN, level=pin_level(factory, "GPIO17"))   # watches the mock pin
    env.couple("pump", *PUMP)                                      # level pushed:
    env.actuate("pump", True)                                      # runtime calls this

A coupling's *level* (0..1) is read each simulation step, either from a callable (a mock
pin's state, an actuator's ``state``) or from the last :meth:`Environment.actuate` call.  At
level ``L`` an :class:`Effect` adds ``L * rate`` per second, pulls the quantity toward its
outside value at ``L * exchange`` per second (air exchange), and shifts what sensors see by
``L * offset`` (a grow light's lux, a pump's amps).

Time: the model moves in fixed steps of ``step_s`` on a grid, so ``advance(10); advance(20)``
and ``advance(30)`` give identical states; with a seed the weather noise is identical too.
With ``clock=`` the model also follows that clock (real or fake); :meth:`advance` adds
simulated time on top of it (tests use it without any clock).  Thread-safe.
"""

from __future__ import annotations

import logging
import math
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from drivers.sim.physics import DEFAULTS

_log = logging.getLogger(__name__)

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class Effect:
    """What one actuator at full level does to one quantity (per second, or an offset)."""

    quantity: str
    rate: float = 0.0
    exchange: float = 0.0
    offset: float = 0.0


#: A ventilation fan: about 4 air changes an hour with outside, plus evaporative drying.
FAN = (
    Effect("temperature", exchange=4 / SECONDS_PER_HOUR, rate=-1.0 / SECONDS_PER_HOUR),
    Effect("humidity", exchange=4 / SECONDS_PER_HOUR, rate=-5.0 / SECONDS_PER_HOUR),
    Effect("current", offset=0.3),
)
#: A 1 kW-class heater: +8 degC/h before losses (about +4 degC steady state), 4 A.
HEATER = (
    Effect("temperature", rate=8.0 / SECONDS_PER_HOUR),
    Effect("humidity", rate=-2.0 / SECONDS_PER_HOUR),
    Effect("current", offset=4.0),
)
#: A watering pump: +0.5 %/s soil moisture while it runs; it empties the tank (distance to
#: the water surface grows 1 mm/s); 0.8 A.
PUMP = (
    Effect("soil_moisture", rate=0.5),
    Effect("distance", rate=0.001),
    Effect("current", offset=0.8),
)
#: An LED grow light: +5000 lux at the canopy, a little heat, 1.5 A.
GROW_LIGHT = (
    Effect("light", offset=5000.0),
    Effect("temperature", rate=0.5 / SECONDS_PER_HOUR),
    Effect("current", offset=1.5),
)
#: A roof vent opened by a servo: up to 10 air changes an hour when fully open.
VENT = (
    Effect("temperature", exchange=10 / SECONDS_PER_HOUR),
    Effect("humidity", exchange=10 / SECONDS_PER_HOUR),
)

#: The effects above by name, for model files (``simulate: {effect: fan}``).
PRESETS: Mapping[str, tuple[Effect, ...]] = {
    "fan": FAN,
    "heater": HEATER,
    "pump": PUMP,
    "grow_light": GROW_LIGHT,
    "vent": VENT,
}


@dataclass(frozen=True)
class Weather:
    """Outside conditions: a daily temperature cycle, humidity opposite to it, the sun."""

    mean_temperature: float = 15.0
    daily_swing: float = 6.0  # degC either side of the mean; warmest at 15:00
    mean_humidity: float = 65.0
    humidity_swing: float = 15.0  # %RH; most humid at dawn
    pressure: float = 1013.25
    sunrise_hour: float = 6.0
    sunset_hour: float = 20.0
    peak_lux: float = 50_000.0
    temperature_noise: float = 0.5  # degC, slow random wander (0 to switch off)
    pressure_noise: float = 2.0  # hPa


@dataclass(frozen=True)
class Room:
    """The space the sensors are in and how fast it follows outside."""

    thermal_tau_s: float = 1800.0
    solar_gain: float = 8.0  # degC above outside at full sun (greenhouse effect)
    humidity_tau_s: float = 1200.0
    transpiration: float = 10.0  # %RH above outside from plants
    light_transmission: float = 0.7
    soil_tau_s: float = 2 * 86_400.0
    soil_dry: float = 10.0  # % the soil dries toward
    base_current: float = 0.1  # A drawn by the electronics
    cpu_above_ambient: float = 25.0
    cpu_tau_s: float = 120.0


@dataclass
class _Coupling:
    effects: tuple[Effect, ...]
    source: Callable[[], float | bool] | None
    level: float = 0.0


@dataclass
class _Noise:
    """An Ornstein-Uhlenbeck wander: mean 0, standard deviation ``sigma``, time constant."""

    sigma: float
    tau_s: float
    value: float = 0.0

    def step(self, rng: random.Random, dt: float) -> None:
        if self.sigma <= 0:
            return
        decay = math.exp(-dt / self.tau_s)
        self.value = self.value * decay + self.sigma * math.sqrt(1 - decay * decay) * rng.gauss(
            0.0, 1.0
        )


_BOUNDS: Mapping[str, tuple[float, float]] = {
    "humidity": (0.0, 100.0),
    "soil_moisture": (0.0, 100.0),
    "light": (0.0, math.inf),
    "current": (0.0, math.inf),
    "distance": (0.0, math.inf),
}


_COMPUTED = frozenset({"light", "pressure", "current"})


def state_level(actuator: Any, *, low: float = 0.0, high: float = 1.0) -> Callable[[], float]:
    """A coupling level read from ``actuator.state``, mapped from ``low..high`` to 0..1.

    ``state_level(vent_servo, low=0, high=90)`` makes a vent open at 90 degrees count fully.
    """
    span = high - low
    if span == 0:
        raise ValueError("state_level needs low != high")

    def level() -> float:
        return (float(actuator.state) - low) / span

    return level


@dataclass
class _State:
    values: dict[str, float] = field(default_factory=dict)
    forced: dict[str, float] = field(default_factory=dict)


class Environment:
    """Physical quantities that evolve over simulated time and respond to actuators.

    ``seed``: weather noise (same seed, same clock -> same numbers).  ``clock``: seconds
    (``time.monotonic`` or a fake's); ``None`` means time moves only by :meth:`advance`.
    ``start_hour``: local time of day at t=0.  ``initial``: starting values (default: the
    weather's at ``start_hour`` and ``drivers.sim.physics.DEFAULTS``).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        clock: Callable[[], float] | None = None,
        start_hour: float = 12.0,
        step_s: float = 1.0,
        weather: Weather | None = None,
        room: Room | None = None,
        initial: Mapping[str, float] | None = None,
    ) -> None:
        if step_s <= 0:
            raise ValueError(f"step_s {step_s!r} must be > 0")
        self.weather = weather or Weather()
        self.room = room or Room()
        self.step_s = float(step_s)
        self.start_hour = float(start_hour)
        self._rng = random.Random(seed)
        self._clock = clock
        self._clock_origin = clock() if clock is not None else 0.0
        self._skipped = 0.0
        self._steps = 0
        self._lock = threading.RLock()
        self._couplings: dict[str, _Coupling] = {}
        self._temperature_noise = _Noise(self.weather.temperature_noise, 3 * SECONDS_PER_HOUR)
        self._pressure_noise = _Noise(self.weather.pressure_noise, 6 * SECONDS_PER_HOUR)
        outside_t = self.outside("temperature")
        self._state = _State(
            values={
                **DEFAULTS,
                "temperature": outside_t + self.room.solar_gain * self._sun(),
                "humidity": self._humidity_target(),
                "cpu_temperature": outside_t + self.room.cpu_above_ambient,
            }
        )
        for name, value in (initial or {}).items():
            self._state.values[name] = float(value)

    # -- time ---------------------------------------------------------------------------

    @property
    def time_s(self) -> float:
        """Simulated seconds since the start (a multiple of ``step_s``)."""
        with self._lock:
            self._catch_up()
            return self._steps * self.step_s

    @property
    def hour(self) -> float:
        """Local time of day (0..24) now."""
        return self._hour_at(self.time_s)

    def advance(self, seconds: float) -> None:
        """Move simulated time forward by ``seconds`` (on top of the clock, if any)."""
        if seconds < 0:
            raise ValueError(f"cannot advance by {seconds!r} s: time only moves forward")
        with self._lock:
            self._skipped += seconds
            self._catch_up()

    def _catch_up(self) -> None:
        now = self._skipped
        if self._clock is not None:
            now += self._clock() - self._clock_origin
        target_steps = math.floor(now / self.step_s + 1e-9)
        while self._steps < target_steps:
            self._step()

    def _hour_at(self, t: float) -> float:
        return (self.start_hour + t / SECONDS_PER_HOUR) % 24.0

    # -- the outside --------------------------------------------------------------------

    def _sun(self, t: float | None = None) -> float:
        """Sun strength 0..1 at time ``t`` (default: the current step)."""
        hour = self._hour_at(self._steps * self.step_s if t is None else t)
        rise, sets = self.weather.sunrise_hour, self.weather.sunset_hour
        if not rise < hour < sets:
            return 0.0
        return math.sin(math.pi * (hour - rise) / (sets - rise))

    def outside(self, quantity: str) -> float:
        """The outside value air exchange pulls ``quantity`` toward."""
        hour = self._hour_at(self._steps * self.step_s)
        w = self.weather
        cycle = math.cos(2 * math.pi * (hour - 15.0) / 24.0)
        if quantity == "temperature":
            return w.mean_temperature + w.daily_swing * cycle + self._temperature_noise.value
        if quantity == "humidity":
            return min(100.0, max(0.0, w.mean_humidity - w.humidity_swing * cycle))
        if quantity == "pressure":
            return w.pressure + self._pressure_noise.value
        if quantity == "light":
            return w.peak_lux * self._sun()
        return self._state.values.get(quantity, DEFAULTS.get(quantity, 0.0))

    def _humidity_target(self) -> float:
        return min(100.0, self.outside("humidity") + self.room.transpiration)

    # -- couplings ----------------------------------------------------------------------

    def couple(
        self, name: str, *effects: Effect, level: Callable[[], float | bool] | None = None
    ) -> None:
        """Let actuator ``name`` act through ``effects``.

        ``level``: called each step for the actuator's level 0..1 (``True`` counts as 1);
        without it, the level is what :meth:`actuate` last set (0 at first).
        """
        if not effects:
            raise ValueError(f"coupling {name!r} needs at least one Effect")
        with self._lock:
            self._couplings[name] = _Coupling(tuple(effects), level)

    def decouple(self, name: str) -> None:
        """Remove coupling ``name`` (unknown names are ignored)."""
        with self._lock:
            self._couplings.pop(name, None)

    def actuate(self, name: str, value: float | bool) -> None:
        """The runtime's hook: actuator ``name`` now applies ``value`` (level, clamped 0..1).

        Integrates up to now first, so the change acts from this moment on.
        """
        with self._lock:
            coupling = self._couplings.get(name)
            if coupling is None:
                known = ", ".join(sorted(self._couplings)) or "none"
                raise KeyError(f"no coupling named {name!r}; coupled actuators: {known}")
            self._catch_up()
            coupling.level = _clamp_level(value)

    def level(self, name: str) -> float:
        """The level coupling ``name`` acts with now."""
        with self._lock:
            coupling = self._couplings[name]
            if coupling.source is not None:
                self._read_source(name, coupling)
            return coupling.level

    def _read_source(self, name: str, coupling: _Coupling) -> None:
        assert coupling.source is not None
        try:
            coupling.level = _clamp_level(coupling.source())
        except Exception:
            _log.exception("level of coupling %r failed; keeping %s", name, coupling.level)

    # -- the model ----------------------------------------------------------------------

    def _step(self) -> None:
        dt = self.step_s
        self._temperature_noise.step(self._rng, dt)
        self._pressure_noise.step(self._rng, dt)
        for name, coupling in self._couplings.items():
            if coupling.source is not None:
                self._read_source(name, coupling)
        values = self._state.values
        room = self.room
        sun = self._sun()
        targets: dict[str, tuple[float, float]] = {
            "temperature": (
                self.outside("temperature") + room.solar_gain * sun,
                room.thermal_tau_s,
            ),
            "humidity": (self._humidity_target(), room.humidity_tau_s),
            "soil_moisture": (room.soil_dry, room.soil_tau_s),
            "cpu_temperature": (values["temperature"] + room.cpu_above_ambient, room.cpu_tau_s),
        }
        stateful = sorted(set(targets) | {"distance", "voltage"})  # fixed order, any hash seed
        for quantity in stateful:
            if quantity in self._state.forced:
                continue
            target, tau = targets.get(quantity, (values.get(quantity, 0.0), math.inf))
            values[quantity] = self._relax(quantity, values.get(quantity, target), target, tau, dt)
        self._steps += 1

    def _relax(self, quantity: str, x: float, target: float, tau: float, dt: float) -> float:
        """Exact step of dx/dt = (target-x)/tau + sum(L*rate) + sum(L*exchange)*(out-x)."""
        decay_rate = 0.0 if math.isinf(tau) else 1.0 / tau
        drive = target * decay_rate
        outside = None
        for coupling in self._couplings.values():
            for effect in coupling.effects:
                if effect.quantity != quantity or coupling.level == 0:
                    continue
                drive += coupling.level * effect.rate
                if effect.exchange:
                    outside = self.outside(quantity) if outside is None else outside
                    decay_rate += coupling.level * effect.exchange
                    drive += coupling.level * effect.exchange * outside
        if decay_rate > 0:
            equilibrium = drive / decay_rate
            x = equilibrium + (x - equilibrium) * math.exp(-decay_rate * dt)
        else:
            x += drive * dt
        low, high = _BOUNDS.get(quantity, (-math.inf, math.inf))
        return min(high, max(low, x))

    # -- PhysicalSource -----------------------------------------------------------------

    def get(self, quantity: str) -> float:
        """The value of ``quantity`` now, as a sensor would see it (offsets included)."""
        with self._lock:
            self._catch_up()
            if quantity in self._state.forced:
                return self._state.forced[quantity]
            if quantity == "light":
                base = self.outside("light") * self.room.light_transmission
            elif quantity == "pressure":
                base = self.outside("pressure")
            elif quantity == "current":
                base = self.room.base_current
            elif quantity in self._state.values:
                base = self._state.values[quantity]
            else:
                raise KeyError(f"no value for quantity {quantity!r}")
            for name, coupling in self._couplings.items():
                if coupling.source is not None:
                    self._read_source(name, coupling)
                for effect in coupling.effects:
                    if effect.quantity == quantity:
                        base += coupling.level * effect.offset
            low, high = _BOUNDS.get(quantity, (-math.inf, math.inf))
            return min(high, max(low, base))

    def set(self, quantity: str, value: float) -> None:
        """Set a stateful quantity's current value; it evolves on from there.

        ``light``, ``pressure`` and ``current`` are computed, not stored: use :meth:`force`.
        """
        if quantity in _COMPUTED:
            raise ValueError(f"{quantity} is computed from the weather and couplings; use force()")
        with self._lock:
            self._catch_up()
            self._state.values[quantity] = float(value)

    def force(self, quantity: str, value: float | None) -> None:
        """Pin ``quantity`` to ``value`` regardless of the model (``None`` releases it)."""
        with self._lock:
            if value is None:
                self._state.forced.pop(quantity, None)
            else:
                self._state.forced[quantity] = float(value)

    def snapshot(self) -> dict[str, float]:
        """Every quantity's value now (for logs and dashboards)."""
        names = set(self._state.values) | _COMPUTED
        return {name: self.get(name) for name in sorted(names)}


def _clamp_level(value: Any) -> float:
    level = float(value)
    if math.isnan(level):
        return 0.0
    return min(1.0, max(0.0, level))
