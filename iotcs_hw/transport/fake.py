"""A first-class in-memory :class:`MessageTransport` with scripted replies and a history.

It behaves like the server's messages endpoint as the dispatcher sees it: a send with messages
is answered by the next scripted outcome (a :class:`TransportReply`, a status code, an exception
to raise, or a callable), or ``200 []`` when the script is empty.  Messages the "server" has for
the device are queued with :meth:`FakeTransport.push` and handed out once, within
``acceptBytes``, on whichever request comes next; a long poll (``long_poll_s`` set) blocks until
one is pushed, the fake is closed, or ``long_poll_s`` real seconds pass.

Every call is recorded in :attr:`FakeTransport.history` and every acknowledged message in
:attr:`FakeTransport.delivered`, so tests compare complete histories.

>>> fake = FakeTransport()
>>> fake.script(503, 200)
>>> fake.send_messages(b'[]', accept_bytes=0).status
200
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

from iotcs_hw.errors import TransportException
from iotcs_hw.messaging.message import Message
from iotcs_hw.transport.base import TransportReply


@dataclass(frozen=True)
class SentRequest:
    """One call to :meth:`FakeTransport.send_messages` as the server would have seen it."""

    body: bytes
    accept_bytes: int
    long_poll_s: float | None

    @property
    def messages(self) -> list[Message]:
        """The messages in the body (an empty body reads as none)."""
        if not self.body.strip():
            return []
        return [Message.from_json(obj) for obj in json.loads(self.body)]

    @property
    def is_poll(self) -> bool:
        """True when the call carried no messages (a poll for requests)."""
        return not self.messages


Outcome: TypeAlias = TransportReply | int | Exception | Callable[[SentRequest], TransportReply]


class FakeTransport:
    """Scripted, recording transport; thread-safe (sender and receiver threads call it)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._send_script: deque[Outcome] = deque()
        self._poll_script: deque[Outcome] = deque()
        self._pending: deque[Message] = deque()
        self.history: list[SentRequest] = []
        self.delivered: list[Message] = []
        self.closed = False

    # -- scripting ---------------------------------------------------------------------------

    def script(self, *outcomes: Outcome) -> None:
        """Queue outcomes for the next sends that carry messages.

        An ``int`` is a status: 2xx answers with it, anything else raises
        :class:`TransportException` with that ``statusCode``.  An exception is raised.  A
        callable gets the :class:`SentRequest` and returns the reply (it may block).
        """
        with self._cond:
            self._send_script.extend(outcomes)

    def script_polls(self, *outcomes: Outcome) -> None:
        """Queue outcomes for the next polls (calls without messages), as for :meth:`script`."""
        with self._cond:
            self._poll_script.extend(outcomes)
            self._cond.notify_all()

    def push(self, *messages: Message) -> None:
        """Queue server-to-device messages (REQUESTs) for the next request that accepts them."""
        with self._cond:
            self._pending.extend(messages)
            self._cond.notify_all()

    @property
    def pending(self) -> list[Message]:
        """Server-to-device messages not yet handed out."""
        with self._cond:
            return list(self._pending)

    # -- MessageTransport ----------------------------------------------------------------------

    def send_messages(
        self, body: bytes, *, accept_bytes: int, long_poll_s: float | None = None
    ) -> TransportReply:
        """Record the call and answer it as scripted (see the module docstring)."""
        request = SentRequest(bytes(body), accept_bytes, long_poll_s)
        carried = request.messages
        with self._cond:
            if self.closed:
                raise TransportException("fake transport is closed")
            self.history.append(request)
            self._cond.notify_all()
            script = self._send_script if carried else self._poll_script
            outcome: Outcome | None = script.popleft() if script else None
            if outcome is None and not carried and long_poll_s:
                # Hold the poll until the server has something, like iot.sync does.
                self._cond.wait_for(
                    lambda: bool(self._pending or self._poll_script or self.closed),
                    timeout=long_poll_s,
                )
                if self.closed:
                    raise TransportException("fake transport closed during a long poll")
                if self._poll_script:
                    outcome = self._poll_script.popleft()
        reply = self._resolve(outcome, request)
        with self._cond:
            if carried and 200 <= reply.status < 300:
                self.delivered.extend(carried)
                self._cond.notify_all()
            if reply.messages or reply.min_accept_bytes is not None:
                return reply
            handed, needed = self._hand_out(accept_bytes)
        return TransportReply(reply.status, handed, needed, reply.protocol_errors)

    def _resolve(self, outcome: Outcome | None, request: SentRequest) -> TransportReply:
        if outcome is None:
            return TransportReply(200)
        if isinstance(outcome, Exception):
            raise outcome
        if isinstance(outcome, int):
            if 200 <= outcome < 300:
                return TransportReply(outcome)
            raise TransportException(f"fake server answered {outcome}", statusCode=outcome)
        if isinstance(outcome, TransportReply):
            return outcome
        return outcome(request)

    def _hand_out(self, accept_bytes: int) -> tuple[list[Message], int | None]:
        """Pending messages fitting ``accept_bytes`` (the JSON array's size); lock held."""
        handed: list[Message] = []
        used = 2  # the brackets of the array
        while self._pending:
            size = len(self._pending[0].encode().encode("utf-8")) + (1 if handed else 0)
            if used + size > accept_bytes:
                if not handed:
                    return [], size + 2
                break
            handed.append(self._pending.popleft())
            used += size
        return handed, None

    def close(self) -> None:
        """Wake held polls (they raise) and refuse further calls. Idempotent."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    # -- test helpers --------------------------------------------------------------------------

    def wait_for_delivered(self, count: int, timeout: float) -> bool:
        """Wait until at least ``count`` messages were acknowledged; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.delivered) >= count, timeout=timeout)

    def wait_for_calls(self, count: int, timeout: float) -> bool:
        """Wait until at least ``count`` calls were recorded; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.history) >= count, timeout=timeout)

    @property
    def sends(self) -> list[SentRequest]:
        """The recorded calls that carried messages."""
        with self._cond:
            return [r for r in self.history if not r.is_poll]

    @property
    def polls(self) -> list[SentRequest]:
        """The recorded calls that carried none."""
        with self._cond:
            return [r for r in self.history if r.is_poll]
