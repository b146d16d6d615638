"""The IoTCS message envelope (protocol §3.2) as frozen data, with its JSON codec.

No I/O here: the device side builds messages and hands them to a :class:`MessageSink`; the local
server parses the same JSON with :meth:`Message.from_json`.  Field names on the wire are
camelCase; in Python they are snake_case.
"""

from __future__ import annotations

import base64
import enum
import json
import math
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from iotcs_hw.errors import MessageFormatError

JsonObject = dict[str, Any]
E = TypeVar("E", bound=enum.Enum)


class MessageType(enum.Enum):
    """The ``type`` of an envelope."""

    DATA = "DATA"
    ALERT = "ALERT"
    REQUEST = "REQUEST"
    RESPONSE = "RESPONSE"
    RESOURCES_REPORT = "RESOURCES_REPORT"


class Priority(enum.Enum):
    """Message priority; ``rank`` orders the outgoing queue (HIGHEST first)."""

    LOWEST = "LOWEST"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    HIGHEST = "HIGHEST"

    @property
    def rank(self) -> int:
        """0 for LOWEST up to 4 for HIGHEST."""
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {p: i for i, p in enumerate(Priority)}


class Reliability(enum.Enum):
    """How hard the dispatcher tries (protocol §6.1)."""

    NO_GUARANTEE = "NO_GUARANTEE"
    BEST_EFFORT = "BEST_EFFORT"
    GUARANTEED_DELIVERY = "GUARANTEED_DELIVERY"


class Severity(enum.Enum):
    """Alert severity; ``value`` is the wire name, ``level`` Java's number (1 is most severe)."""

    CRITICAL = "CRITICAL"
    SIGNIFICANT = "SIGNIFICANT"
    NORMAL = "NORMAL"
    LOW = "LOW"

    @property
    def level(self) -> int:
        """Java's numeric severity: CRITICAL 1, SIGNIFICANT 2, NORMAL 3, LOW 4."""
        return {"CRITICAL": 1, "SIGNIFICANT": 2, "NORMAL": 3, "LOW": 4}[self.value]


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds, the unit of ``eventTime``."""
    return time.time_ns() // 1_000_000


def _new_client_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Message:
    """One IoTCS message envelope.

    ``payload`` must already be JSON-ready (numbers, strings, booleans, lists, dicts).
    """

    type: MessageType
    source: str
    payload: JsonObject
    destination: str = ""
    priority: Priority = Priority.MEDIUM
    reliability: Reliability = Reliability.BEST_EFFORT
    event_time: int = field(default_factory=now_ms)
    client_id: str = field(default_factory=_new_client_id)
    id: str | None = None
    sender: str = ""
    properties: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def to_json(self) -> JsonObject:
        """The wire form (an object of one JSON array element)."""
        out: JsonObject = {}
        if self.id is not None:
            out["id"] = self.id
        out["clientId"] = self.client_id
        out["source"] = self.source
        out["destination"] = self.destination
        out["sender"] = self.sender
        out["priority"] = self.priority.value
        out["reliability"] = self.reliability.value
        out["eventTime"] = self.event_time
        out["type"] = self.type.value
        if self.properties:
            out["properties"] = {k: list(v) for k, v in self.properties.items()}
        out["payload"] = self.payload
        return out

    def encode(self) -> str:
        """Compact JSON text of :meth:`to_json`."""
        return json.dumps(self.to_json(), separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, obj: object, *, require_address: bool = True) -> Message:
        """Parse one envelope, raising :class:`MessageFormatError` naming the bad field.

        Accepts what Oracle's clients send: unknown fields are ignored, ``properties`` may be
        missing, ``priority``/``reliability`` default as in the JS library, a ``null`` source
        reads as empty.  ``require_address=False`` admits a message not yet addressed (the JS
        library builds alerts with ``source: null`` and fills it in when sending).
        """
        if not isinstance(obj, dict):
            raise MessageFormatError(f"message must be a JSON object, got {type(obj).__name__}")
        try:
            mtype = MessageType(obj.get("type"))
        except ValueError:
            allowed = ", ".join(t.value for t in MessageType)
            raise MessageFormatError(
                f"message field 'type': {obj.get('type')!r} is not one of {allowed}"
            ) from None
        source = obj.get("source") or ""
        destination = obj.get("destination", "") or ""
        if not isinstance(source, str) or not isinstance(destination, str):
            raise MessageFormatError("message fields 'source' and 'destination' must be strings")
        if require_address and not source and not destination:
            raise MessageFormatError("message needs a non-empty 'source' or 'destination'")
        priority = _enum_field(obj, "priority", Priority, Priority.MEDIUM)
        reliability = _enum_field(obj, "reliability", Reliability, Reliability.BEST_EFFORT)
        event_time = obj.get("eventTime", None)
        if event_time is None:
            event_time = now_ms()
        if (
            isinstance(event_time, bool)
            or not isinstance(event_time, int | float)
            or not math.isfinite(event_time)
        ):
            raise MessageFormatError(
                f"message field 'eventTime': {event_time!r} is not epoch milliseconds"
            )
        payload = obj.get("payload", {})
        if not isinstance(payload, dict):
            raise MessageFormatError("message field 'payload' must be a JSON object")
        client_id = obj.get("clientId") or _new_client_id()
        if not isinstance(client_id, str):
            raise MessageFormatError("message field 'clientId' must be a string")
        msg_id = obj.get("id")
        if msg_id is not None and not isinstance(msg_id, str):
            raise MessageFormatError("message field 'id' must be a string")
        sender = obj.get("sender") or ""
        if not isinstance(sender, str):
            raise MessageFormatError("message field 'sender' must be a string")
        raw_props = obj.get("properties") or {}
        if not isinstance(raw_props, dict):
            raise MessageFormatError("message field 'properties' must be an object")
        properties: dict[str, tuple[str, ...]] = {}
        for key, values in raw_props.items():
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise MessageFormatError(
                    f"message property {key!r} must be an array of strings, got {values!r}"
                )
            properties[key] = tuple(values)
        return cls(
            type=mtype,
            source=source,
            payload=payload,
            destination=destination,
            priority=priority,
            reliability=reliability,
            event_time=int(event_time),
            client_id=client_id,
            id=msg_id,
            sender=sender,
            properties=properties,
        )

    @classmethod
    def decode(cls, text: str | bytes) -> Message:
        """Parse compact or pretty JSON text of one envelope."""
        try:
            obj = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MessageFormatError(f"message is not valid JSON: {exc}") from exc
        return cls.from_json(obj)


def _enum_field(obj: JsonObject, name: str, kind: type[E], default: E) -> E:
    raw = obj.get(name)
    if raw is None:
        return default
    try:
        return kind(raw)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in kind)
        raise MessageFormatError(
            f"message field {name!r}: {raw!r} is not one of {allowed}"
        ) from None


def data_message(
    source: str,
    format_urn: str,
    data: JsonObject,
    *,
    priority: Priority = Priority.MEDIUM,
    reliability: Reliability = Reliability.BEST_EFFORT,
    event_time: int | None = None,
) -> Message:
    """A DATA message: attribute values (format ``<model urn>:attributes``) or a data format."""
    return Message(
        type=MessageType.DATA,
        source=source,
        payload={"format": format_urn, "data": data},
        priority=priority,
        reliability=reliability,
        event_time=now_ms() if event_time is None else event_time,
    )


def alert_message(
    source: str,
    format_urn: str,
    data: JsonObject,
    *,
    description: str = "",
    severity: Severity = Severity.SIGNIFICANT,
    event_time: int | None = None,
) -> Message:
    """An ALERT message: priority HIGHEST, GUARANTEED_DELIVERY, as Oracle's Java and Python do."""
    return Message(
        type=MessageType.ALERT,
        source=source,
        payload={
            "format": format_urn,
            "severity": severity.value,
            "description": description,
            "data": data,
        },
        priority=Priority.HIGHEST,
        reliability=Reliability.GUARANTEED_DELIVERY,
        event_time=now_ms() if event_time is None else event_time,
    )


def response_message(
    request: Message,
    status_code: int,
    body: bytes = b"",
    headers: Mapping[str, list[str]] | None = None,
) -> Message:
    """The RESPONSE to a REQUEST: source and destination swapped, ``body`` base64-encoded."""
    return Message(
        type=MessageType.RESPONSE,
        source=request.destination,
        destination=request.source,
        payload={
            "statusCode": status_code,
            "url": "",
            "requestId": request.id or "",
            "headers": dict(headers or {}),
            "body": base64.b64encode(body).decode("ascii"),
        },
        priority=Priority.HIGH,
        reliability=Reliability.BEST_EFFORT,
    )
