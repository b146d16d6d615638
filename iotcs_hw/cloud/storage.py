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
from pathlib import Path
from typing import Any

from iotcs_hw.cloud.records import (
    CloudStore,
    DeviceRecord,
    IncomingMessage,
    IncomingResponse,
    JsonObject,
    RequestRecord,
    RequestState,
    StoredMessage,
    StoredObject,
)
from iotcs_hw.errors import ConfigError

__all__ = [
    "CloudStore",
    "DeviceRecord",
    "IncomingMessage",
    "IncomingResponse",
    "JsonObject",
    "RequestRecord",
    "RequestState",
    "SqliteCloudStore",
    "StoredMessage",
    "StoredObject",
]

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
    """:class:`CloudStore` in one SQLite file (WAL journal).

    ``synchronous="NORMAL"`` (the default) keeps every committed batch through a crash of the
    server process and costs no fsync per commit; ``"FULL"`` also survives power loss at the
    price of one fsync per message POST (milliseconds on an SD card, during which the event
    loop waits).
    """

    def __init__(
        self, path: Path | str, *, max_messages: int = 1_000_000, synchronous: str = "NORMAL"
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise ConfigError(f"synchronous {synchronous!r}: expected NORMAL or FULL")
        self.path = Path(path)
        #: Oldest messages are dropped beyond this many (0 keeps everything).
        self.max_messages = max_messages
        try:
            self._db = sqlite3.connect(
                str(self.path), check_same_thread=False, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
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
