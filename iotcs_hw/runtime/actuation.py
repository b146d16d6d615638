"""Cloud writes become actuator commands, inside safety rules the cloud cannot override.

An :class:`ActuatorBinding` owns one actuator driven by one writable attribute.  A cloud write
is checked before the driver is touched: the value must fit the attribute (type, range) and the
actuator's limits, a boolean output must have stayed off ``min_off_s`` before it turns on (and
on ``min_on_s`` before it turns off), and an :class:`InterlockGroup` refuses to turn an output on
while another member is on.  A refused write raises :class:`ActuationRefused` (the cloud gets a
4xx and the output stays as it was); a driver failure raises :class:`ActuationFailed` (5xx).

The safe state is applied at start, at shutdown and when the cloud has been unreachable longer
than the declared time (:mod:`iotcs_hw.runtime.safety`); safe-state moves are never refused by
minimum times or interlocks, because going safe is always allowed.

Thread-safety: one lock per binding serialises writes; an interlock group holds its own lock
around "check the others, then apply" so two writes racing on two members cannot both win.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from drivers.base import Actuator, ReadingValue
from drivers.errors import DriverConfigError, HardwareError
from iotcs_hw.errors import IotcsHwError
from iotcs_hw.runtime.clock import SYSTEM_CLOCK, Clock
from iotcs_hw.runtime.status import ActuatorSnapshot
from iotcs_hw.runtime.values import ValueCheck

log = logging.getLogger(__name__)

#: Told about every state the runtime applied on its own (safe state): (attribute, value).
StateReporter = Callable[[str, ReadingValue], None]
#: Told about every value applied, cloud write or safe state: (binding, value, why).
AppliedHook = Callable[["ActuatorBinding", ReadingValue, str], None]


class ActuationRefused(IotcsHwError, ValueError):
    """A write the actuator must not take (bad value, minimum time, interlock). Not retryable
    as is; ``status`` is the HTTP status for the RESPONSE (400 bad value, 409 safety rule)."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class ActuationFailed(IotcsHwError):
    """The driver could not apply a valid value (hardware fault). Retryable; status 500."""

    status = 500


class ValueScale(Protocol):
    """Attribute values <-> driver values (``LinearMap`` of the model file)."""

    def forward(self, value: float) -> float:
        """Attribute value -> driver value."""
        ...

    def inverse(self, value: float) -> float:
        """Driver value -> attribute value."""
        ...


class InterlockGroup:
    """Outputs that are never on together (e.g. heater and cooler, pump forward/reverse)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.members: list[ActuatorBinding] = []
        self.lock = threading.RLock()

    def add(self, binding: ActuatorBinding) -> None:
        """Make ``binding`` a member."""
        self.members.append(binding)

    def active_other(self, binding: ActuatorBinding) -> ActuatorBinding | None:
        """Another member that is on now, if any."""
        for other in self.members:
            if other is not binding and other.is_active(other.state):
                return other
        return None

    def __repr__(self) -> str:
        return f"<InterlockGroup {self.name!r} members={[m.name for m in self.members]}>"


class ActuatorBinding:
    """One actuator driven by one writable attribute, with its safety rules.

    Parameters:
        name: the actuator's name in the model file.
        actuator: the driver.
        check: what the attribute accepts (type and range from the device model).
        safe_state: the safe value in attribute units; ``None`` takes the driver's.
        scale: maps attribute values to driver values (a 0..100 % attribute on a 0..1 PWM
            duty cycle); limits, safe state and reported states stay in attribute units.
        limits: extra inclusive bounds ``(min, max)`` of the actuator (``None`` for none).
        min_on_s, min_off_s: minimum times a boolean-like output stays on / off.
        interlock: the group this output belongs to, if any.
        offline_safe_after_s: go safe after the cloud was unreachable this long (``None``: never).
        clock: monotonic time for the minimum times.
        on_state_reported: told when the runtime changed the output on its own (safe state),
            so the cloud can be told the true state.
        on_applied: told about every value applied and why (``"cloud"``, ``"safe: ..."``).
        on_refused: told about every cloud write refused, with ``"refused: <reason>"``.
    """

    def __init__(
        self,
        name: str,
        actuator: Actuator,
        check: ValueCheck,
        *,
        safe_state: ReadingValue | None = None,
        limits: tuple[float | None, float | None] = (None, None),
        min_on_s: float = 0.0,
        min_off_s: float = 0.0,
        interlock: InterlockGroup | None = None,
        offline_safe_after_s: float | None = None,
        clock: Clock = SYSTEM_CLOCK,
        on_state_reported: StateReporter | None = None,
        on_applied: AppliedHook | None = None,
        on_refused: AppliedHook | None = None,
        scale: ValueScale | None = None,
    ) -> None:
        self._on_refused = on_refused
        self.name = name
        self.scale = scale
        self._on_applied = on_applied
        self.actuator = actuator
        self.check = check
        self._safe_state = safe_state
        self.limits = limits
        self.min_on_s = min_on_s
        self.min_off_s = min_off_s
        self.interlock = interlock
        self.offline_safe_after_s = offline_safe_after_s
        self._clock = clock
        self._on_state_reported = on_state_reported
        self._lock = threading.RLock()
        self._changed_at: float | None = None
        self._state: ReadingValue | None = None
        self.in_safe_mode = False
        self.writes_applied = 0
        self.writes_rejected = 0
        self.last_error: str | None = None
        if interlock is not None:
            interlock.add(self)

    @property
    def attribute(self) -> str:
        """The writable attribute driving this actuator."""
        return self.check.attribute

    @property
    def safe_state(self) -> ReadingValue:
        """The declared safe state, else the driver's (in attribute units)."""
        if self._safe_state is not None:
            return self._safe_state
        return self._to_attribute(self.actuator.safe_state)

    def _to_driver(self, value: ReadingValue) -> ReadingValue:
        if self.scale is None or isinstance(value, bool):
            return value
        return self.scale.forward(float(value))

    def _to_attribute(self, value: ReadingValue) -> ReadingValue:
        if self.scale is None or isinstance(value, bool):
            return value
        converted = self.scale.inverse(float(value))
        # 0.5 -> 50.00000000000001 would read as a change; keep what the numbers mean
        return round(converted, 9)

    @property
    def state(self) -> ReadingValue | None:
        """What the output is doing (as last applied through this binding)."""
        with self._lock:
            return self._state

    def is_active(self, value: ReadingValue | None) -> bool:
        """True when ``value`` means "on": anything but the safe state (and not ``None``)."""
        return value is not None and value != self.safe_state

    # -- safe state ------------------------------------------------------------------------

    def apply_safe(self, reason: str, *, report: bool = True) -> bool:
        """Drive the output to its safe state; never refused. Returns False if the driver failed.

        Reports the new state through ``on_state_reported`` when it changed (unless ``report``
        is False: the caller reports several outputs in one message).
        """
        with self._lock:
            target = self.safe_state
            before = self._state
            try:
                applied = self._to_attribute(self.actuator.apply(self._to_driver(target)))
            except Exception as exc:
                self.last_error = f"safe state {target!r} failed: {exc}"
                log.error("actuator %s: safe state failed (%s): %s", self.name, reason, exc)
                return False
            self._record(applied)
            log.info("actuator %s: safe state %r applied (%s)", self.name, applied, reason)
        self._applied(applied, f"safe: {reason}")
        if report and before != applied:
            self._report(applied)
        return True

    def enter_safe_mode(self, reason: str) -> None:
        """Go safe and stay marked as such until :meth:`leave_safe_mode` or a cloud write."""
        with self._lock:
            self.in_safe_mode = True
        log.warning("actuator %s: entering safe mode: %s", self.name, reason)
        self.apply_safe(reason)

    def leave_safe_mode(self) -> None:
        """Back under cloud control: the next cloud write applies as usual."""
        with self._lock:
            was = self.in_safe_mode
            self.in_safe_mode = False
        if was:
            log.warning("actuator %s: back under cloud control", self.name)

    # -- cloud writes ----------------------------------------------------------------------

    def validate(self, value: object, *, check_interlock: bool = True) -> ReadingValue:
        """Check a cloud write without touching the output; returns the value to apply.

        Raises :class:`ActuationRefused` naming the rule that refused it.
        """
        problem = self.check.problem(value)
        if problem is not None:
            raise ActuationRefused(f"actuator {self.name}: {problem}")
        assert isinstance(value, bool | int | float)
        low, high = self.limits
        if not isinstance(value, bool) and (
            (low is not None and value < low) or (high is not None and value > high)
        ):
            raise ActuationRefused(
                f"actuator {self.name}: {value!r} is outside its limits {low}..{high}"
            )
        with self._lock:
            now = self._clock.monotonic()
            current = self._state
            since = None if self._changed_at is None else now - self._changed_at
            turning_on = self.is_active(value) and not self.is_active(current)
            turning_off = not self.is_active(value) and self.is_active(current)
            if turning_on and since is not None and since < self.min_off_s:
                raise ActuationRefused(
                    f"actuator {self.name}: must stay off at least {self.min_off_s:g} s "
                    f"(off for {since:.1f} s; retry in {self.min_off_s - since:.1f} s)",
                    status=409,
                )
            if turning_off and since is not None and since < self.min_on_s:
                raise ActuationRefused(
                    f"actuator {self.name}: must stay on at least {self.min_on_s:g} s "
                    f"(on for {since:.1f} s; retry in {self.min_on_s - since:.1f} s)",
                    status=409,
                )
        if check_interlock and self.interlock is not None and self.is_active(value):
            other = self.interlock.active_other(self)
            if other is not None:
                raise ActuationRefused(
                    f"actuator {self.name}: interlock {self.interlock.name!r}: "
                    f"{other.name} is on ({other.attribute}={other.state!r}); turn it off first",
                    status=409,
                )
        return value

    def apply_from_cloud(self, value: object, *, check_interlock: bool = True) -> ReadingValue:
        """Validate and apply a cloud write; returns the state applied.

        Raises :class:`ActuationRefused` (output untouched) or :class:`ActuationFailed`.
        """
        group_lock = self.interlock.lock if self.interlock is not None else None
        if group_lock is not None:
            group_lock.acquire()
        try:
            with self._lock:
                try:
                    target = self.validate(value, check_interlock=check_interlock)
                except ActuationRefused as exc:
                    self.note_refused(value, exc)
                    raise
                try:
                    applied = self._to_attribute(self.actuator.apply(self._to_driver(target)))
                except DriverConfigError as exc:
                    self.writes_rejected += 1
                    self.last_error = str(exc)
                    raise ActuationRefused(f"actuator {self.name}: {exc}") from exc
                except HardwareError as exc:
                    self.last_error = str(exc)
                    raise ActuationFailed(f"actuator {self.name}: hardware failed: {exc}") from exc
                self.in_safe_mode = False
                self._record(applied)
                self.writes_applied += 1
                log.info("actuator %s: %s=%r applied", self.name, self.attribute, applied)
            self._applied(applied, "cloud")
            return applied
        finally:
            if group_lock is not None:
                group_lock.release()

    def _record(self, applied: ReadingValue) -> None:
        if self.is_active(applied) != self.is_active(self._state) or self._changed_at is None:
            self._changed_at = self._clock.monotonic()
        self._state = applied

    def note_refused(self, value: object, exc: ActuationRefused) -> None:
        """Count and report a refused write (the output was not touched)."""
        with self._lock:
            self.writes_rejected += 1
            self.last_error = str(exc)
        log.warning("%s", exc)
        if self._on_refused is None:
            return
        reason = str(exc).removeprefix(f"actuator {self.name}: ")
        try:
            self._on_refused(self, value, f"refused: {reason}")  # type: ignore[arg-type]
        except Exception:
            log.exception("actuator %s: on_refused hook raised", self.name)

    def _applied(self, value: ReadingValue, why: str) -> None:
        if self._on_applied is None:
            return
        try:
            self._on_applied(self, value, why)
        except Exception:
            log.exception("actuator %s: on_applied hook raised", self.name)

    def _report(self, value: ReadingValue) -> None:
        if self._on_state_reported is None:
            return
        try:
            self._on_state_reported(self.attribute, value)
        except Exception:
            log.exception("actuator %s: reporting state %r failed", self.name, value)

    def snapshot(self) -> ActuatorSnapshot:
        """A consistent copy for the health endpoint."""
        with self._lock:
            return ActuatorSnapshot(
                name=self.name,
                attribute=self.attribute,
                state=self._state,
                safe_state=self.safe_state,
                in_safe_mode=self.in_safe_mode,
                writes_applied=self.writes_applied,
                writes_rejected=self.writes_rejected,
                last_error=self.last_error,
            )

    def __repr__(self) -> str:
        return (
            f"<ActuatorBinding {self.name!r} {self.attribute}={self.state!r} "
            f"safe={self.safe_state!r}{' SAFE-MODE' if self.in_safe_mode else ''}>"
        )


def apply_writes(
    bindings: Mapping[str, ActuatorBinding], values: Iterable[tuple[str, Any]]
) -> None:
    """Apply a cloud write of one or several attributes, all or nothing where it can be.

    Every value is validated first, and interlocks are judged on the states the whole write
    leads to (``{heater: false, cooler: true}`` is fine while the heater is on; ``{heater:
    true, cooler: true}`` is refused); if anything is refused, nothing is applied.  Outputs that
    turn off are applied before outputs that turn on.  Raises :class:`ActuationRefused` /
    :class:`ActuationFailed`.
    """
    pairs = list(values)
    targets: dict[str, tuple[ActuatorBinding, Any]] = {}
    for attribute, value in pairs:
        binding = bindings.get(attribute)
        if binding is None:
            raise ActuationRefused(f"attribute {attribute!r} drives no actuator", status=404)
        targets[attribute] = (binding, value)
    groups = sorted(
        {
            id(b.interlock): b.interlock for b, _ in targets.values() if b.interlock is not None
        }.values(),
        key=lambda g: g.name,
    )
    for group in groups:
        group.lock.acquire()
    try:
        for binding, value in targets.values():
            try:
                binding.validate(value, check_interlock=False)
            except ActuationRefused as exc:
                binding.note_refused(value, exc)
                raise
        for group in groups:
            _check_interlock_after(group, targets)
        ordered = sorted(targets.values(), key=lambda bv: bv[0].is_active(bv[1]))
        for binding, value in ordered:
            binding.apply_from_cloud(value, check_interlock=False)
    finally:
        for group in reversed(groups):
            group.lock.release()


def _check_interlock_after(
    group: InterlockGroup, targets: Mapping[str, tuple[ActuatorBinding, Any]]
) -> None:
    writes = {id(b): v for b, v in targets.values()}
    active_after = [
        member for member in group.members if member.is_active(writes.get(id(member), member.state))
    ]
    if len(active_after) > 1:
        written = [m for m in active_after if id(m) in writes]
        refused = written[-1] if written else active_after[-1]
        others = ", ".join(
            f"{m.name} is on ({m.attribute}={m.state!r})"
            if id(m) not in writes or m.is_active(m.state)
            else f"{m.name} is turned on by the same write"
            for m in active_after
            if m is not refused
        )
        message = f"actuator {refused.name}: interlock {group.name!r}: {others}; turn it off first"
        error = ActuationRefused(message, status=409)
        refused.note_refused(writes.get(id(refused), refused.state), error)
        raise error
