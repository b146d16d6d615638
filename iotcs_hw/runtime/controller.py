"""A small cloud-side controller: the decision that closes the greenhouse loop, made in the cloud.

The runtime never switches the fan because it is hot; that would hide the path a real
deployment depends on.  Instead :class:`ThresholdRule` runs as a cloud application: it reads the
device's DATA messages from the server's application API and writes the actuator attribute back
through the same API, so the write reaches the device as a REQUEST over the IoTCS protocol,
exactly as an Oracle IoT application (or an integration) would do it.

The rule is a thermostat with hysteresis: ``on_above`` switches the output on, ``off_below``
switches it off, and between the two nothing changes.  It tracks the output's state from the
device's own DATA (the echo of every applied write and of every safe state), so it re-sends
its decision when the device went safe during an outage, and it does not repeat a write the
device has not answered yet (``retry_after_s``).

:class:`RuleRunner` follows the server's message feed on a named thread and feeds the rule.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)


class CloudApp(Protocol):
    """The application-side API the rule uses (the local server's ``AppClient`` provides it)."""

    def messages(
        self,
        endpoint_id: str | None = None,
        *,
        after: int = 0,
        limit: int = 1000,
        wait_s: float = 0.0,
    ) -> tuple[list[dict[str, Any]], int]:
        """Messages after sequence ``after``: ``(items, last seq)``; may hold ``wait_s``."""
        ...

    def write(
        self,
        endpoint_id: str,
        values: Mapping[str, object],
        *,
        urn: str | None = None,
        text: bool = False,
    ) -> dict[str, Any]:
        """Queue a write of attribute values to the device."""
        ...


@dataclass(frozen=True)
class ThresholdRule:
    """Switch ``output`` on above ``on_above`` of ``measure``, off below ``off_below``."""

    measure: str
    output: str
    on_above: float
    off_below: float
    retry_after_s: float = 30.0

    def __post_init__(self) -> None:
        if not self.off_below < self.on_above:
            raise ValueError(
                f"rule {self.output}: off_below ({self.off_below}) must be below "
                f"on_above ({self.on_above})"
            )


class RuleState:
    """What one rule knows about one device, and what it decides from a DATA message."""

    def __init__(self, rule: ThresholdRule, monotonic: Callable[[], float] = time.monotonic):
        self.rule = rule
        self._monotonic = monotonic
        self.measure: float | None = None
        self.output: bool | None = None
        self._pending: tuple[bool, float] | None = None
        self.decisions: list[bool] = []

    def observe(self, data: Mapping[str, Any]) -> bool | None:
        """Take one DATA payload's ``data``; return the value to write, or None."""
        rule = self.rule
        if rule.output in data and isinstance(data[rule.output], bool):
            self.output = data[rule.output]
            if self._pending is not None and self._pending[0] == self.output:
                self._pending = None
        value = data.get(rule.measure)
        if isinstance(value, int | float) and not isinstance(value, bool):
            self.measure = float(value)
        if self.measure is None:
            return None
        want: bool | None = None
        if self.measure > rule.on_above:
            want = True
        elif self.measure < rule.off_below:
            want = False
        if want is None or want == self.output:
            return None
        now = self._monotonic()
        if self._pending is not None:
            value_pending, since = self._pending
            if value_pending == want and now - since < rule.retry_after_s:
                return None
        self._pending = (want, now)
        self.decisions.append(want)
        return want


class RuleRunner:
    """Follows one endpoint's messages on the server and applies rules; a named thread.

    ``on_decision(output, value)`` is told about every write (the live view prints it).
    ``monotonic`` times the rules' retries (the simulation's clock, so a retry after 30 s means
    30 simulated seconds).
    """

    def __init__(
        self,
        app: CloudApp,
        endpoint_id: str,
        rules: list[ThresholdRule],
        *,
        poll_s: float = 2.0,
        on_decision: Callable[[str, bool], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.endpoint_id = endpoint_id
        self.states = [RuleState(rule, monotonic) for rule in rules]
        self.poll_s = poll_s
        self.on_decision = on_decision
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rule-{endpoint_id}", daemon=True)
        self.errors = 0
        #: Sequence number of the last server message handled (tests wait on it).
        self.last_seq = 0

    def start(self) -> RuleRunner:
        """Start following messages."""
        self._thread.start()
        return self

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop; waits at most ``timeout_s`` (default: one poll plus a margin)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s if timeout_s is not None else self.poll_s + 5)
            if self._thread.is_alive():
                log.warning("rule runner for %s did not stop in time", self.endpoint_id)

    def handle(self, envelope: Mapping[str, Any]) -> list[tuple[str, bool]]:
        """Apply the rules to one message envelope; returns the writes issued."""
        if envelope.get("type") != "DATA" or envelope.get("source") != self.endpoint_id:
            return []
        payload = envelope.get("payload") or {}
        data = payload.get("data")
        if not isinstance(data, dict):
            return []
        writes: list[tuple[str, bool]] = []
        for state in self.states:
            decision = state.observe(data)
            if decision is None:
                continue
            output = state.rule.output
            try:
                self.app.write(self.endpoint_id, {output: decision})
            except Exception as exc:
                self.errors += 1
                log.warning("rule %s: write %s=%s failed: %s", output, output, decision, exc)
                continue
            writes.append((output, decision))
            log.info("rule: %s=%s (%s is %s)", output, decision, state.rule.measure, state.measure)
            if self.on_decision is not None:
                self.on_decision(output, decision)
        return writes

    def _run(self) -> None:
        last = 0
        while not self._stop.is_set():
            try:
                items, last = self.app.messages(self.endpoint_id, after=last, wait_s=self.poll_s)
            except Exception as exc:
                self.errors += 1
                log.debug("rule runner: reading messages failed: %s", exc)
                self._stop.wait(self.poll_s)
                continue
            for item in items:
                envelope = item.get("message", item)
                if isinstance(envelope, dict):
                    self.handle(envelope)
                seq = item.get("seq")
                if isinstance(seq, int):
                    self.last_seq = max(self.last_seq, seq)
            self.last_seq = max(self.last_seq, last)
