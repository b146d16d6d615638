"""The local server's state behind a small interface; SQLite is the embedded implementation.

Everything the server must not forget lives here: registered devices and their activation,
messages devices sent, requests applications queued for devices (and the RESPONSEs), storage
objects and models added at run time.  Handlers talk to :class:`CloudStore` only, so a fleet that
outgrows one machine can move it to PostgreSQL behind several stateless server processes.

Every multi-row change is one transaction: a message batch is stored whole or not at all.
Thread-safe (one connection guarded by a lock; WAL so readers in other processes are not blocked).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from iotcs_hw.errors import ConfigError

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


_SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    activation_id TEXT PRIMARY KEY,
    shared_secret TEXT,
    state TEXT NOT NULL,
    endpoint_id TEXT UNIQUE,
    public_key BLOB,
    models TEXT NOT NULL DEFAULT '[]',
    gateway TEXT,
    metadata TEXT,
    activated_ms INTEGER,
    seq INTEGER
);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    received_ms INTEGER NOT NULL,
    source TEXT NOT NULL,
    type TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_source ON messages(source, seq);
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY,
    destination TEXT NOT NULL,
    owner TEXT NOT NULL,
    message TEXT NOT NULL,
    state TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    offered_ms INTEGER,
    offer_count INTEGER NOT NULL DEFAULT 0,
    response TEXT,
    answered_ms INTEGER,
    seq INTEGER
);
CREATE INDEX IF NOT EXISTS requests_owner ON requests(owner, state, seq);
CREATE TABLE IF NOT EXISTS objects (
    path TEXT PRIMARY KEY,
    data BLOB NOT NULL,
    content_type TEXT NOT NULL,
    content_encoding TEXT,
    etag TEXT NOT NULL,
    last_modified_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS models (
    urn TEXT PRIMARY KEY,
    document TEXT NOT NULL
);
"""


def _dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


class SqliteCloudStore:
    """:class:`CloudStore` in one SQLite file (WAL, synchronous=NORMAL is not used: FULL)."""

    def __init__(self, path: Path | str, *, max_messages: int = 1_000_000) -> None:
        self.path = Path(path)
        #: Oldest messages are dropped beyond this many (0 keeps everything).
        self.max_messages = max_messages
        try:
            self._db = sqlite3.connect(
                str(self.path), check_same_thread=False, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"{self.path}: not a usable server database ({exc})") from exc
        self._lock = threading.RLock()
        self._counter = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM requests").fetchone()[0]
        self._closed = False

    def __repr__(self) -> str:
        return f"<SqliteCloudStore {self.path} {'closed' if self._closed else 'open'}>"

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchall()

    # -- devices ---------------------------------------------------------------------------

    def add_device(self, record: DeviceRecord) -> None:
        with self._tx() as db:
            if db.execute(
                "SELECT 1 FROM devices WHERE activation_id=?", (record.activation_id,)
            ).fetchone():
                raise ConfigError(f"device {record.activation_id!r} is already registered")
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM devices").fetchone()[0]
            db.execute(
                "INSERT INTO devices VALUES (?,?,?,?,?,?,?,?,?,?)",
                (*self._device_row(record), seq),
            )

    @staticmethod
    def _device_row(r: DeviceRecord) -> tuple[object, ...]:
        return (
            r.activation_id,
            r.shared_secret,
            r.state,
            r.endpoint_id,
            r.public_key_der,
            _dumps(list(r.models)),
            r.gateway,
            _dumps(r.metadata) if r.metadata is not None else None,
            r.activated_ms,
        )

    @staticmethod
    def _device(row: tuple[Any, ...]) -> DeviceRecord:
        return DeviceRecord(
            activation_id=row[0],
            shared_secret=row[1],
            state=row[2],
            endpoint_id=row[3],
            public_key_der=row[4],
            models=tuple(json.loads(row[5])),
            gateway=row[6],
            metadata=json.loads(row[7]) if row[7] else None,
            activated_ms=row[8],
        )

    _DEVICE_COLS = (
        "activation_id, shared_secret, state, endpoint_id, public_key, models, gateway, "
        "metadata, activated_ms"
    )

    def device(self, activation_id: str) -> DeviceRecord | None:
        rows = self._query(
            f"SELECT {self._DEVICE_COLS} FROM devices WHERE activation_id=?", (activation_id,)
        )
        return self._device(rows[0]) if rows else None

    def device_by_endpoint(self, endpoint_id: str) -> DeviceRecord | None:
        rows = self._query(
            f"SELECT {self._DEVICE_COLS} FROM devices WHERE endpoint_id=?", (endpoint_id,)
        )
        return self._device(rows[0]) if rows else None

    def devices(self) -> list[DeviceRecord]:
        rows = self._query(f"SELECT {self._DEVICE_COLS} FROM devices ORDER BY seq")
        return [self._device(r) for r in rows]

    def activate(self, record: DeviceRecord) -> None:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE devices SET shared_secret=?, state=?, endpoint_id=?, public_key=?, "
                "models=?, gateway=?, metadata=?, activated_ms=? WHERE activation_id=?",
                (*self._device_row(record)[1:], record.activation_id),
            )
            if cur.rowcount != 1:
                raise ConfigError(f"device {record.activation_id!r} is not registered")

    # -- messages --------------------------------------------------------------------------

    def ingest(
        self,
        received_ms: int,
        owner: str,
        messages: Sequence[IncomingMessage],
        responses: Sequence[IncomingResponse],
    ) -> int:
        with self._tx() as db:
            db.executemany(
                "INSERT INTO messages (received_ms, source, type, body) VALUES (?,?,?,?)",
                [(received_ms, m.source, m.type, m.text) for m in messages],
            )
            last = int(db.execute("SELECT COALESCE(MAX(seq), 0) FROM messages").fetchone()[0])
            db.executemany(
                "UPDATE requests SET state=?, response=?, answered_ms=? "
                "WHERE id=? AND owner=? AND state != ?",
                [
                    (
                        RequestState.ANSWERED,
                        r.payload_text,
                        received_ms,
                        r.request_id,
                        owner,
                        RequestState.ANSWERED,
                    )
                    for r in responses
                ],
            )
            if self.max_messages and last > self.max_messages:
                db.execute("DELETE FROM messages WHERE seq <= ?", (last - self.max_messages,))
        return last

    def messages(
        self, *, endpoint_id: str | None = None, after: int = 0, limit: int = 1000
    ) -> list[StoredMessage]:
        if endpoint_id is None:
            rows = self._query(
                "SELECT seq, received_ms, body FROM messages WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit),
            )
        else:
            rows = self._query(
                "SELECT seq, received_ms, body FROM messages WHERE source = ? AND seq > ? "
                "ORDER BY seq LIMIT ?",
                (endpoint_id, after, limit),
            )
        return [StoredMessage(r[0], r[1], json.loads(r[2])) for r in rows]

    # -- requests --------------------------------------------------------------------------

    _REQUEST_COLS = (
        "id, destination, owner, message, state, created_ms, offered_ms, offer_count, "
        "response, answered_ms"
    )

    @staticmethod
    def _request(row: tuple[Any, ...]) -> RequestRecord:
        return RequestRecord(
            id=row[0],
            destination=row[1],
            owner=row[2],
            message=json.loads(row[3]),
            state=row[4],
            created_ms=row[5],
            offered_ms=row[6],
            offer_count=row[7],
            response=json.loads(row[8]) if row[8] else None,
            answered_ms=row[9],
        )

    def add_request(self, record: RequestRecord) -> None:
        with self._tx() as db:
            self._counter += 1
            db.execute(
                "INSERT INTO requests VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    record.id,
                    record.destination,
                    record.owner,
                    _dumps(record.message),
                    record.state,
                    record.created_ms,
                    record.offered_ms,
                    record.offer_count,
                    _dumps(record.response) if record.response is not None else None,
                    record.answered_ms,
                    self._counter,
                ),
            )

    def request(self, request_id: str) -> RequestRecord | None:
        rows = self._query(f"SELECT {self._REQUEST_COLS} FROM requests WHERE id=?", (request_id,))
        return self._request(rows[0]) if rows else None

    def deliverable(self, owner: str, offered_before_ms: int) -> list[RequestRecord]:
        rows = self._query(
            f"SELECT {self._REQUEST_COLS} FROM requests WHERE owner=? AND "
            "(state=? OR (state=? AND offered_ms < ?)) ORDER BY seq",
            (owner, RequestState.QUEUED, RequestState.OFFERED, offered_before_ms),
        )
        return [self._request(r) for r in rows]

    def mark_offered(self, request_ids: Sequence[str], offered_ms: int) -> None:
        with self._tx() as db:
            db.executemany(
                "UPDATE requests SET state=?, offered_ms=?, offer_count=offer_count+1 "
                "WHERE id=? AND state != ?",
                [
                    (RequestState.OFFERED, offered_ms, rid, RequestState.ANSWERED)
                    for rid in request_ids
                ],
            )

    def mark_queued(self, request_ids: Sequence[str]) -> None:
        with self._tx() as db:
            db.executemany(
                "UPDATE requests SET state=? WHERE id=? AND state=?",
                [(RequestState.QUEUED, rid, RequestState.OFFERED) for rid in request_ids],
            )

    # -- objects and models ------------------------------------------------------------------

    def put_object(self, obj: StoredObject) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO objects VALUES (?,?,?,?,?,?)",
                (
                    obj.path,
                    obj.data,
                    obj.content_type,
                    obj.content_encoding,
                    obj.etag,
                    obj.last_modified_ms,
                ),
            )

    def get_object(self, path: str) -> StoredObject | None:
        rows = self._query(
            "SELECT path, data, content_type, content_encoding, etag, last_modified_ms "
            "FROM objects WHERE path=?",
            (path,),
        )
        if not rows:
            return None
        r = rows[0]
        return StoredObject(r[0], bytes(r[1]), r[2], r[3], r[4], r[5])

    def add_model_document(self, urn: str, document: JsonObject) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO models VALUES (?,?)", (urn, _dumps(document)))

    def model_documents(self) -> list[JsonObject]:
        return [json.loads(r[0]) for r in self._query("SELECT document FROM models ORDER BY urn")]

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()
