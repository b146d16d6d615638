"""Actuators go safe when the cloud is lost, and return to cloud control when it is back.

The :class:`CloudLossGuard` remembers when the runtime last heard from the cloud (every
successful exchange calls :meth:`CloudLossGuard.note_contact`; the runtime wires it to the
transport) and, on each :meth:`check`, puts every actuator whose ``offline_safe_after_s`` has
passed into safe mode.  When contact returns, those actuators leave safe mode: they stay in their
safe state, the cloud was told so (a DATA message queued at the moment they went safe), and its
next write drives them again.  Restoring a stale command automatically would act on a decision
the cloud made before the outage, so the guard does not.

Thread-safety: ``note_contact`` is called from the transport's thread, ``check`` from the
scheduler; both only touch a float under a lock and the bindings' own locks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from iotcs_hw.runtime.actuation import ActuatorBinding
from iotcs_hw.runtime.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger(__name__)


class CloudLossGuard:
    """Watches cloud contact and applies safe states after each actuator's declared time."""

    def __init__(self, bindings: Sequence[ActuatorBinding], *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._bindings = [b for b in bindings if b.offline_safe_after_s is not None]
        self._clock = clock
        self._lock = threading.Lock()
        self._last_contact = clock.monotonic()
        self._connected = True

    @property
    def watched(self) -> list[ActuatorBinding]:
        """The actuators that have an offline time declared."""
        return list(self._bindings)

    @property
    def seconds_since_contact(self) -> float:
        """How long ago the cloud answered last."""
        with self._lock:
            return self._clock.monotonic() - self._last_contact

    @property
    def connected(self) -> bool:
        """False after a failed exchange, true again after a successful one."""
        with self._lock:
            return self._connected

    def note_contact(self) -> None:
        """The cloud answered (a messages POST succeeded)."""
        with self._lock:
            self._last_contact = self._clock.monotonic()
            self._connected = True

    def note_failure(self) -> None:
        """An exchange with the cloud failed (only informational; time decides)."""
        with self._lock:
            self._connected = False

    def check(self) -> list[str]:
        """Apply or lift safe mode as the time since contact says; returns what changed."""
        silent_for = self.seconds_since_contact
        changed: list[str] = []
        for binding in self._bindings:
            limit = binding.offline_safe_after_s
            assert limit is not None
            if silent_for >= limit and not binding.in_safe_mode:
                binding.enter_safe_mode(
                    f"no contact with the cloud for {silent_for:.0f} s (limit {limit:g} s)"
                )
                changed.append(binding.name)
            elif silent_for < limit and binding.in_safe_mode:
                binding.leave_safe_mode()
                changed.append(binding.name)
        return changed

    def __repr__(self) -> str:
        return (
            f"<CloudLossGuard watched={[b.name for b in self._bindings]} "
            f"since_contact={self.seconds_since_contact:.1f}s>"
        )
