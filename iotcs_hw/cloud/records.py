"""What the local server stores, and the interface of its storage (:class:`CloudStore`).

Plain frozen records, no I/O: :mod:`iotcs_hw.cloud.storage` implements :class:`CloudStore` on
SQLite; another backend (PostgreSQL for a fleet) implements the same protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

JsonObject = dict[str, Any]


class RequestState:
    """Life of a queued REQUEST: QUEUED -> OFFERED (handed to a device) -> ANSWERED."""

    QUEUED = "QUEUED"
    OFFERED = "OFFERED"
    ANSWERED = "ANSWERED"


@dataclass(frozen=True)
class DeviceRecord:
    """A registered device (directly or indirectly connected)."""

    activation_id: str
    shared_secret: str | None
    state: str  # REGISTERED | ACTIVATED
    endpoint_id: str | None = None
    public_key_der: bytes | None = None
    models: tuple[str, ...] = ()
    gateway: str | None = None  # parent gateway endpoint id, for indirectly connected devices
    metadata: JsonObject | None = None
    activated_ms: int | None = None

    @property
    def is_activated(self) -> bool:
        """True once an endpoint id was assigned."""
        return self.state == "ACTIVATED"

    def to_json(self) -> JsonObject:
        """The admin API's view (the secret is never listed)."""
        return {
            "activationId": self.activation_id,
            "state": self.state,
            "endpointId": self.endpoint_id,
            "deviceModels": list(self.models),
            "gateway": self.gateway,
            "metadata": self.metadata or {},
            "activationTime": self.activated_ms,
        }


@dataclass(frozen=True)
class StoredMessage:
    """A message as received: its sequence number, arrival time and the envelope JSON."""

    seq: int
    received_ms: int
    message: JsonObject

    def to_json(self) -> JsonObject:
        """The admin API's view."""
        return {"seq": self.seq, "receivedTime": self.received_ms, "message": self.message}


@dataclass(frozen=True)
class RequestRecord:
    """A REQUEST queued for a device, and its RESPONSE once it came."""

    id: str
    destination: str
    owner: str
    message: JsonObject
    state: str
    created_ms: int
    offered_ms: int | None = None
    offer_count: int = 0
    response: JsonObject | None = None
    answered_ms: int | None = None

    def to_json(self) -> JsonObject:
        """The admin API's view; the response body is decoded by the caller."""
        return {
            "requestId": self.id,
            "endpointId": self.destination,
            "state": self.state,
            "createdTime": self.created_ms,
            "offeredTime": self.offered_ms,
            "offerCount": self.offer_count,
            "answeredTime": self.answered_ms,
            "request": self.message,
            "response": self.response,
        }


@dataclass(frozen=True)
class IncomingMessage:
    """A validated message ready to store: its source, type and compact JSON text."""

    source: str
    type: str
    text: str


@dataclass(frozen=True)
class IncomingResponse:
    """A RESPONSE's effect on the request it answers (its payload as compact JSON text)."""

    request_id: str
    payload_text: str


@dataclass(frozen=True)
class StoredObject:
    """A blob of the Swift-like object store."""

    path: str
    data: bytes
    content_type: str
    content_encoding: str | None
    etag: str
    last_modified_ms: int


class CloudStore(Protocol):
    """What the server needs from its storage. Implementations must be thread-safe."""

    def add_device(self, record: DeviceRecord) -> None:
        """Register a device; raises ``ConfigError`` if the activation id exists."""
        ...

    def device(self, activation_id: str) -> DeviceRecord | None:
        """The device with this activation (hardware) id."""
        ...

    def device_by_endpoint(self, endpoint_id: str) -> DeviceRecord | None:
        """The activated device with this endpoint id."""
        ...

    def devices(self) -> list[DeviceRecord]:
        """Every device, in registration order."""
        ...

    def activate(self, record: DeviceRecord) -> None:
        """Store the activated state of an existing device (endpoint id, key, models)."""
        ...

    def ingest(
        self,
        received_ms: int,
        owner: str,
        messages: Sequence[IncomingMessage],
        responses: Sequence[IncomingResponse],
    ) -> int:
        """Store a batch and apply its RESPONSEs in one transaction; the last sequence number.

        A RESPONSE only answers a request that was queued for ``owner``'s polls.
        """
        ...

    def messages(
        self, *, endpoint_id: str | None = None, after: int = 0, limit: int = 1000
    ) -> list[StoredMessage]:
        """Messages with seq > ``after`` (optionally from one source), oldest first."""
        ...

    def add_request(self, record: RequestRecord) -> None:
        """Queue a REQUEST for a device."""
        ...

    def request(self, request_id: str) -> RequestRecord | None:
        """One queued request."""
        ...

    def deliverable(self, owner: str, offered_before_ms: int) -> list[RequestRecord]:
        """Requests for ``owner``'s poll: QUEUED, or OFFERED before ``offered_before_ms``."""
        ...

    def mark_offered(self, request_ids: Sequence[str], offered_ms: int) -> None:
        """Record that these requests were handed to a device."""
        ...

    def mark_queued(self, request_ids: Sequence[str]) -> None:
        """Put requests back (their delivery failed) unless answered meanwhile."""
        ...

    def put_object(self, obj: StoredObject) -> None:
        """Create or replace a storage object."""
        ...

    def get_object(self, path: str) -> StoredObject | None:
        """A storage object by its path under the account."""
        ...

    def add_model_document(self, urn: str, document: JsonObject) -> None:
        """Persist a model added at run time."""
        ...

    def model_documents(self) -> list[JsonObject]:
        """Models added at run time."""
        ...

    def close(self) -> None:
        """Release the database. Idempotent."""
        ...
