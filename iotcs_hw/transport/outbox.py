"""The durable outbox: every message from ``offer()`` until the server acknowledged it.

One SQLite file (``outbox.sqlite3`` under the device's state directory) in WAL mode, and beside
it the offer journal (``outbox.journal``, :mod:`iotcs_hw.transport.journal`).  A message is
durable before :meth:`Outbox.add` returns, so a process killed with SIGKILL, the OOM killer or a
segfault loses no message it accepted; on the next start the journal is replayed into the table,
the rows are read back and sent first in their order.

How an offer becomes durable: by default ``add()`` appends one checksummed record holding the
whole batch to the journal with a single ``write()`` (about a third of the CPU of a SQLite
commit, which was half of the client's cost per ``set()``).  Before the sender selects a batch
(:meth:`Outbox.take`), and in :meth:`pending` and :meth:`close`, the journaled rows are folded
into the table in one transaction and the journal is emptied.  A batch that needs the overflow
policy folds first and then commits to SQLite directly, so eviction sees every held row.

Durability choice: ``synchronous=NORMAL`` by default.  A journal ``write()`` that returned is in
the kernel's page cache, as is a NORMAL WAL commit: both survive the death of the process, and
only a power cut or kernel crash can lose the recent ones (a torn journal tail is detected by
its length and CRC and ignored; the database file is never corrupted).
``synchronous="FULL"`` bypasses the journal and commits every offer to SQLite with an fsync, so
it survives power loss too, at the price of one flash write per ``offer()`` (milliseconds on an
SD card, which caps a device at a few hundred offers per second).  Pick FULL for devices whose
power is pulled rather than shut down.  ``journal=False`` keeps NORMAL but commits every offer
to SQLite (the behaviour before the journal; benchmarks compare the two).

Sequence numbers are given in memory under the lock (above the table's ``sqlite_sequence`` on
open, so never reused) and written with the rows, journaled or not; the fold inserts with
``INSERT OR IGNORE`` on them, so a crash between a fold's commit and the journal's truncate
cannot double a row.

What lives where: rows hold the encoded message, its sort rank, reliability, attempts, state
(QUEUED or RETRY) and next-attempt time.  INFLIGHT exists only in memory: a row taken for a send
stays in the table until the server acknowledged it, so a restart simply finds it QUEUED again
(at-least-once delivery; the server sees the same ``clientId`` twice).  The next-attempt time is
on the injected monotonic clock, which does not survive a restart, so it is cleared on open:
after a restart everything is due at once ("the outbox drains first").

Bounds: ``max_messages`` and ``max_bytes``, counting journaled rows.  When a new batch does not
fit, the overflow policy decides: :attr:`OverflowPolicy.DROP_OLDEST` (default) evicts the
oldest NO_GUARANTEE and BEST_EFFORT rows that are not in flight; GUARANTEED_DELIVERY rows are
never evicted, and if not enough can be evicted the whole offer is refused with
:class:`QueueFullError` (nothing queued).  :attr:`OverflowPolicy.REJECT_NEW` refuses any offer
that does not fit.

Thread-safety: one connection and one journal guarded by one lock; callers on any thread.
One Outbox per file: the journal is ``flock``-ed, so a second one (another process, or another
object in this one) is refused with :class:`OutboxError` rather than interleaving records.
"""

from __future__ import annotations

import enum
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from iotcs_hw.errors import DeviceClosed, IotcsHwError, MessageFormatError, QueueFullError
from iotcs_hw.messaging.message import Message, MessageType, Reliability
from iotcs_hw.transport.counters import DeliveryCounters
from iotcs_hw.transport.journal import JournalError, JournalRow, OfferJournal
from iotcs_hw.transport.message_state import MessageEvent, MessageState, next_state

log = logging.getLogger(__name__)

OUTBOX_FILE_NAME = "outbox.sqlite3"
#: Suffix of the offer journal beside the database (``outbox.sqlite3`` -> ``outbox.journal``).
JOURNAL_SUFFIX = ".journal"
SCHEMA_VERSION = 1
#: RESPONSEs sort above HIGHEST: the server is waiting for them (they "jump the queue").
RESPONSE_RANK = 5

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    rank         INTEGER NOT NULL,
    event_time   INTEGER NOT NULL,
    reliability  TEXT    NOT NULL,
    state        TEXT    NOT NULL DEFAULT 'QUEUED',
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL    NOT NULL DEFAULT 0,
    client_id    TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    body         BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_send_order ON outbox (rank DESC, event_time, seq);
"""
_COLUMNS = "(seq, rank, event_time, reliability, client_id, size, body)"
_INSERT = f"INSERT INTO outbox {_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?)"
#: A fold may meet rows already committed by a fold that crashed before its truncate.
_FOLD = f"INSERT OR IGNORE INTO outbox {_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?)"
#: Commits between two checkpoints of the WAL into the database file.
CHECKPOINT_EVERY_COMMITS = 500


class OutboxError(IotcsHwError, OSError):
    """The outbox file cannot be opened or used (corrupt, wrong schema, unwritable).

    Not retryable without operator action; the message names the file.
    """


class OverflowPolicy(enum.Enum):
    """What :meth:`Outbox.add` does when a batch does not fit the bounds."""

    DROP_OLDEST = "drop_oldest"
    REJECT_NEW = "reject_new"


@dataclass
class OutboxEntry:
    """One row taken for sending; ``state`` moves only through the transition table."""

    seq: int
    client_id: str
    reliability: Reliability
    attempts: int
    size: int
    body: bytes
    state: MessageState = MessageState.QUEUED

    def move(self, event: MessageEvent) -> None:
        """Apply ``event`` (raises ``IllegalTransition`` for a move the table forbids)."""
        self.state = next_state(self.state, event)

    def message(self) -> Message:
        """Decode the stored message (used for error reports, not on the hot path)."""
        return Message.decode(self.body)


@dataclass(frozen=True)
class AddResult:
    """What :meth:`Outbox.add` did: the new rows' sequence numbers and the rows it evicted."""

    seqs: list[int]
    evicted: list[OutboxEntry]


def sort_rank(message: Message) -> int:
    """The rank a message sorts by: its priority, or above HIGHEST for a RESPONSE."""
    return RESPONSE_RANK if message.type is MessageType.RESPONSE else message.priority.rank


class Outbox:
    """A bounded, durable, priority-ordered queue of encoded messages.

    Args:
        path: the SQLite file; its directory is created (0700) if missing, the file is 0600.
        max_messages: most rows held (default 10 000, Java's ``dispatcher_max_queue_size``).
        max_bytes: most encoded bytes held (default 64 MiB).
        max_message_bytes: largest single encoded message accepted (default 256 KiB).
        overflow: the overflow policy (default :attr:`OverflowPolicy.DROP_OLDEST`).
        synchronous: ``"NORMAL"`` (default, SIGKILL-safe) or ``"FULL"`` (power-loss-safe).
        counters: where sent/retried/dropped/failed/bytes are counted (a new set by default).
        journal: append offers to the offer journal (default True; always off with
            ``synchronous="FULL"``).  False commits every offer to SQLite, as before the
            journal existed (for comparison in benchmarks).

    Raises:
        OutboxError: the file is not an outbox, is corrupt or cannot be created.

    >>> import tempfile, pathlib
    >>> from iotcs_hw.messaging import data_message
    >>> box = Outbox(pathlib.Path(tempfile.mkdtemp()) / "outbox.sqlite3")
    >>> _ = box.add([data_message("dev-1", "urn:x:attributes", {"t": 1})])
    >>> len(box)
    1
    >>> box.close()
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_messages: int = 10_000,
        max_bytes: int = 64 * 1024 * 1024,
        max_message_bytes: int = 256 * 1024,
        overflow: OverflowPolicy = OverflowPolicy.DROP_OLDEST,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
        counters: DeliveryCounters | None = None,
        journal: bool = True,
    ) -> None:
        if max_messages < 1 or max_bytes < 1 or max_message_bytes < 1:
            raise ValueError("max_messages, max_bytes and max_message_bytes must be >= 1")
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be 'NORMAL' or 'FULL', got {synchronous!r}")
        self.path = Path(path)
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.max_message_bytes = max_message_bytes
        self.overflow = overflow
        self.synchronous = synchronous
        self.counters = counters if counters is not None else DeliveryCounters()
        self._lock = threading.Lock()
        self._inflight: dict[int, OutboxEntry] = {}
        self._closed = False
        self._commits = 0  # since the last checkpoint
        self._checkpoint_lock = threading.Lock()
        self._checkpoint_db: sqlite3.Connection | None = None
        self.journal_path = self.path.with_suffix(JOURNAL_SUFFIX)
        self._use_journal = journal and synchronous == "NORMAL"
        self._db = self._open()
        try:
            self._journal = OfferJournal(self.journal_path)
        except JournalError as exc:
            self._db.close()
            raise OutboxError(str(exc)) from exc
        try:
            # A journal left by a process that died: fold it in before anything else (a torn
            # tail is dropped by the truncate that follows the fold).
            replayed = self._journal.replay()
            if replayed or self._journal.torn_bytes:
                log.info(
                    "%s: replaying %d journaled messages (%d bytes of a torn record ignored)",
                    self.journal_path,
                    len(replayed),
                    self._journal.torn_bytes,
                )
            self._fold()
            row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM outbox").fetchone()
            self._count, self._bytes = int(row[0]), int(row[1])
            # Never reuse a sequence number, even of a deleted row (on_error handlers key on it).
            row = self._db.execute(
                "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0),"
                " COALESCE((SELECT MAX(seq) FROM outbox), 0))"
            ).fetchone()
            self._next_seq = int(row[0]) + 1
            # Monotonic times of a previous process mean nothing now: everything is due.
            self._db.execute("UPDATE outbox SET next_attempt = 0 WHERE next_attempt != 0")
        except (sqlite3.DatabaseError, JournalError, OutboxError) as exc:
            self._journal.close()
            self._db.close()
            if isinstance(exc, OutboxError):
                raise
            if isinstance(exc, JournalError):
                raise OutboxError(str(exc)) from exc
            raise OutboxError(f"{self.path}: cannot read the outbox: {exc}") from exc

    @classmethod
    def in_state_dir(cls, state_dir: str | os.PathLike[str], **options: object) -> Outbox:
        """Open ``<state_dir>/outbox.sqlite3`` with ``options`` as for the constructor."""
        return cls(Path(state_dir) / OUTBOX_FILE_NAME, **options)  # type: ignore[arg-type]

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as exc:
            raise OutboxError(f"{self.path}: cannot create the outbox: {exc}") from exc
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise OutboxError(f"{self.path}: cannot open the outbox: {exc}") from exc
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise OutboxError(
                    f"{self.path}: outbox schema version {version} is newer than this "
                    f"iotcs-hw understands ({SCHEMA_VERSION}); upgrade iotcs-hw"
                )
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise OutboxError(f"{self.path}: cannot switch the outbox to WAL (got {mode})")
            db.execute(f"PRAGMA synchronous={self.synchronous}")
            db.execute("PRAGMA journal_size_limit=8388608")
            # Checkpoints (and their fsyncs) run on the sender's connection, never inside an
            # offer's commit: see checkpoint().
            db.execute("PRAGMA wal_autocheckpoint=0")
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            db.close()
            raise OutboxError(f"{self.path}: not a usable outbox database: {exc}") from exc
        except OutboxError:
            db.close()
            raise
        return db

    # -- sizes -------------------------------------------------------------------------------

    def __len__(self) -> int:
        with self._lock:
            return self._count

    @property
    def size_bytes(self) -> int:
        """Encoded bytes held (queued and in flight)."""
        with self._lock:
            return self._bytes

    @property
    def inflight_count(self) -> int:
        """Rows taken by :meth:`take` and not yet settled."""
        with self._lock:
            return len(self._inflight)

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{self._count} messages, {self._bytes} bytes"
        return f"<Outbox {str(self.path)!r} {state}>"

    # -- adding ------------------------------------------------------------------------------

    def add(self, messages: Sequence[Message]) -> AddResult:
        """Queue ``messages`` durably; all or nothing.

        Durable on return: appended to the offer journal with one ``write()`` (the common
        case), or committed to SQLite in one transaction (``synchronous="FULL"``, no journal,
        or a batch that needs the overflow policy).  Returns the new sequence numbers and any
        rows evicted to make room (the caller reports them).  Raises :class:`QueueFullError`
        when the policy refuses the batch, :class:`MessageFormatError` when a message is larger
        than ``max_message_bytes``, and :class:`DeviceClosed` after :meth:`close`.
        """
        rows: list[JournalRow] = []
        new_bytes = 0
        for message in messages:
            body = message.encode().encode("utf-8")
            if len(body) > self.max_message_bytes:
                raise MessageFormatError(
                    f"message {message.client_id} ({message.type.value} from "
                    f"{message.source!r}) is {len(body)} bytes encoded, above "
                    f"max_message_bytes={self.max_message_bytes}"
                )
            new_bytes += len(body)
            rows.append(
                (
                    0,  # the sequence number, given under the lock
                    sort_rank(message),
                    message.event_time,
                    message.reliability.value,
                    message.client_id,
                    len(body),
                    body,
                )
            )
        if not rows:
            return AddResult([], [])
        with self._lock:
            self._check_open()
            first = self._next_seq
            rows = [(first + i, *row[1:]) for i, row in enumerate(rows)]
            seqs = list(range(first, first + len(rows)))
            fits = (
                self._count + len(rows) <= self.max_messages
                and self._bytes + new_bytes <= self.max_bytes
            )
            if fits and self._use_journal:
                # The common case: one write() to the journal, folded into SQLite by take().
                try:
                    self._journal.append(rows)
                except JournalError as exc:
                    raise OutboxError(str(exc)) from exc
                self._next_seq += len(rows)
                self._count += len(rows)
                self._bytes += new_bytes
                return AddResult(seqs, [])
            if fits and len(rows) == 1:
                # Without the journal: one autocommit INSERT is its own transaction, as durable
                # as BEGIN/INSERT/COMMIT with a third of the calls.  The lock makes the bound
                # check and the insert atomic.
                try:
                    self._db.execute(_INSERT, rows[0])
                except sqlite3.Error as exc:
                    raise OutboxError(f"{self.path}: cannot write the outbox: {exc}") from exc
                self._next_seq += 1
                self._commits += 1
                self._count += 1
                self._bytes += new_bytes
                return AddResult(seqs, [])
            # Eviction needs every held row in the table, journaled ones included.
            self._fold()
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    evicted = self._make_room(len(rows), new_bytes)
                    self._db.executemany(_INSERT, rows)
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise OutboxError(f"{self.path}: cannot write the outbox: {exc}") from exc
            self._next_seq += len(rows)
            self._commits += 1
            self._count += len(rows) - len(evicted)
            self._bytes += new_bytes - sum(e.size for e in evicted)
        if evicted:
            self.counters.add(messages_dropped=len(evicted))
            log.warning(
                "outbox full (%d messages, %d bytes): dropped the %d oldest droppable messages",
                self.max_messages,
                self.max_bytes,
                len(evicted),
            )
        # Sequence numbers are given in memory under the lock, consecutive per offer, and never
        # reused (they start above sqlite_sequence on open), so one names a message forever.
        return AddResult(seqs, evicted)

    def _fold(self) -> None:
        """Move journaled rows into SQLite in one transaction, then empty the journal.

        Lock held (or called from the constructor).  A crash after the COMMIT and before the
        truncate leaves rows that are both in the table and in the journal; the replay on the
        next open inserts them with INSERT OR IGNORE on their sequence number, so none is
        doubled.  No such row can have been acknowledged meanwhile: take() folds before it
        selects, under the same lock.
        """
        pending = self._journal.pending
        if pending:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany(_FOLD, pending)
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise OutboxError(f"{self.path}: cannot write the outbox: {exc}") from exc
            self._commits += 1
        if pending or self._journal.torn_bytes:
            try:
                self._journal.clear()
            except JournalError as exc:
                raise OutboxError(str(exc)) from exc
            self._journal.torn_bytes = 0

    def _make_room(self, new_count: int, new_bytes: int) -> list[OutboxEntry]:
        """Evict rows per the policy so the batch fits, or raise QueueFullError (lock held)."""
        count_over = self._count + new_count - self.max_messages
        bytes_over = self._bytes + new_bytes - self.max_bytes
        if count_over <= 0 and bytes_over <= 0:
            return []
        what = (
            f"outbox {self.path} is full ({self._count}/{self.max_messages} messages, "
            f"{self._bytes}/{self.max_bytes} bytes) and cannot take {new_count} more"
        )
        if (
            self.overflow is OverflowPolicy.REJECT_NEW
            or new_count > self.max_messages
            or new_bytes > self.max_bytes
        ):
            raise QueueFullError(f"{what}; overflow policy {self.overflow.value} refuses them")
        evicted: list[OutboxEntry] = []
        cursor = self._db.execute(
            "SELECT seq, client_id, reliability, attempts, size, body, state FROM outbox"
            " WHERE reliability != ? ORDER BY seq",
            (Reliability.GUARANTEED_DELIVERY.value,),
        )
        for seq, client_id, reliability, attempts, size, body, state in cursor:
            if count_over <= 0 and bytes_over <= 0:
                break
            if seq in self._inflight:
                continue
            entry = OutboxEntry(
                seq, client_id, Reliability(reliability), attempts, size, body, MessageState(state)
            )
            entry.move(MessageEvent.DROP)
            evicted.append(entry)
            count_over -= 1
            bytes_over -= size
        cursor.close()
        if count_over > 0 or bytes_over > 0:
            raise QueueFullError(
                f"{what}; only GUARANTEED_DELIVERY or in-flight messages are left, which are "
                "never dropped"
            )
        self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(e.seq,) for e in evicted])
        return evicted

    # -- sending -----------------------------------------------------------------------------

    def take(self, now: float, max_count: int, max_bytes: int) -> list[OutboxEntry]:
        """Take the next batch to send: due rows, HIGHEST first, then eventTime, then age.

        Journaled offers are folded into the table first, so they sort with the rest.  At least
        one row (if any is due) even when it alone exceeds ``max_bytes``.  The rows become
        INFLIGHT until :meth:`ack`, :meth:`retry`, :meth:`fail` or :meth:`release`.
        """
        with self._lock:
            self._check_open()
            self._fold()
            skip = len(self._inflight)
            cursor = self._db.execute(
                "SELECT seq, client_id, reliability, attempts, size, body, state FROM outbox"
                " WHERE next_attempt <= ? ORDER BY rank DESC, event_time, seq LIMIT ?",
                (now, max_count + skip),
            )
            batch: list[OutboxEntry] = []
            total = 0
            for seq, client_id, reliability, attempts, size, body, state in cursor:
                if seq in self._inflight:
                    continue
                if batch and (total + size > max_bytes or len(batch) >= max_count):
                    break
                entry = OutboxEntry(
                    seq,
                    client_id,
                    Reliability(reliability),
                    attempts + 1,
                    size,
                    body,
                    MessageState(state),
                )
                entry.move(MessageEvent.TAKE)
                batch.append(entry)
                total += size
            cursor.close()
            for entry in batch:
                self._inflight[entry.seq] = entry
            return batch

    def next_due(self) -> float | None:
        """The earliest next-attempt time of a row not in flight, or None when none waits."""
        with self._lock:
            self._check_open()
            if self._count <= len(self._inflight):
                return None
            if self._journal.pending:
                return 0.0  # journaled rows are new: due at once
            if not self._inflight:
                row = self._db.execute("SELECT MIN(next_attempt) FROM outbox").fetchone()
                return None if row[0] is None else float(row[0])
            marks = ",".join("?" * len(self._inflight))
            row = self._db.execute(
                f"SELECT MIN(next_attempt) FROM outbox WHERE seq NOT IN ({marks})",
                list(self._inflight),
            ).fetchone()
            return None if row[0] is None else float(row[0])

    def ack(self, entries: Iterable[OutboxEntry]) -> None:
        """The server took these: delete them and count them as sent."""
        entries = list(entries)
        for entry in entries:
            entry.move(MessageEvent.ACK)
        self._delete(entries)
        self.counters.add(messages_sent=len(entries), bytes_sent=sum(e.size for e in entries))

    def fail(self, entries: Iterable[OutboxEntry]) -> None:
        """Give up on these (out of retries, refused, security error): delete and count."""
        entries = list(entries)
        for entry in entries:
            entry.move(MessageEvent.FAIL)
        self._delete(entries)
        self.counters.add(messages_failed=len(entries))

    def retry(
        self, entries: Iterable[OutboxEntry], next_attempt: float, *, count_attempt: bool = True
    ) -> None:
        """Keep these for another send at ``next_attempt`` (monotonic).

        The attempt counted when they were taken is kept, unless ``count_attempt`` is False
        (an outage: the server never judged them).
        """
        entries = list(entries)
        for entry in entries:
            entry.move(MessageEvent.RETRY)
            if not count_attempt:
                entry.attempts = max(0, entry.attempts - 1)
        with self._lock:
            self._check_open()
            self._write(
                "UPDATE outbox SET state = ?, attempts = ?, next_attempt = ? WHERE seq = ?",
                [(MessageState.RETRY.value, e.attempts, next_attempt, e.seq) for e in entries],
            )
            for entry in entries:
                self._inflight.pop(entry.seq, None)
        self.counters.add(messages_retried=len(entries))

    def release(self, entries: Iterable[OutboxEntry]) -> None:
        """Put these back untouched (no attempt counted), e.g. to resend in smaller batches."""
        with self._lock:
            for entry in entries:
                entry.move(MessageEvent.RELEASE)
                self._inflight.pop(entry.seq, None)

    def _delete(self, entries: list[OutboxEntry]) -> None:
        with self._lock:
            self._check_open()
            self._write("DELETE FROM outbox WHERE seq = ?", [(e.seq,) for e in entries])
            for entry in entries:
                self._inflight.pop(entry.seq, None)
            self._count -= len(entries)
            self._bytes -= sum(e.size for e in entries)

    def _write(self, sql: str, params: list[tuple[object, ...]]) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(sql, params)
                self._db.execute("COMMIT")
                self._commits += 1
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise OutboxError(f"{self.path}: cannot write the outbox: {exc}") from exc

    # -- checkpoints -------------------------------------------------------------------------

    def checkpoint(self, *, force: bool = False) -> bool:
        """Copy the WAL into the database file when enough commits piled up (or ``force``).

        Called by the sender thread after it settled a batch.  It runs a PASSIVE checkpoint on
        a second connection without holding the outbox lock, so ``add()`` keeps committing
        meanwhile and the checkpoint's fsyncs never lengthen an ``offer()``.  Returns True
        when it ran.  Automatic checkpoints are off on the main connection for this reason.
        """
        with self._lock:
            if self._closed or (not force and self._commits < CHECKPOINT_EVERY_COMMITS):
                return False
            self._commits = 0
        with self._checkpoint_lock:
            try:
                if self._checkpoint_db is None:
                    self._checkpoint_db = sqlite3.connect(
                        self.path, isolation_level=None, check_same_thread=False
                    )
                    self._checkpoint_db.execute(f"PRAGMA synchronous={self.synchronous}")
                self._checkpoint_db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as exc:
                log.warning("%s: checkpoint failed (will retry): %s", self.path, exc)
                return False
        return True

    # -- inspection and lifecycle ------------------------------------------------------------

    def pending(self) -> list[Message]:
        """Every held message in send order (for tests, diagnostics and the CLI)."""
        with self._lock:
            self._check_open()
            self._fold()
            rows = self._db.execute(
                "SELECT body FROM outbox ORDER BY rank DESC, event_time, seq"
            ).fetchall()
        return [Message.decode(body) for (body,) in rows]

    def _check_open(self) -> None:
        if self._closed:
            raise DeviceClosed(f"{self!r} is closed")

    def close(self) -> None:
        """Checkpoint and close the file; rows not acknowledged stay for the next start.

        Idempotent.  In-flight rows are simply left in the table.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._inflight.clear()
            try:
                self._fold()
            except OutboxError as exc:
                log.warning("%s: the journal stays for the next start: %s", self.path, exc)
            self._journal.close()
            with self._checkpoint_lock:
                if self._checkpoint_db is not None:
                    self._checkpoint_db.close()
                    self._checkpoint_db = None
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                log.warning("%s: checkpoint on close failed: %s", self.path, exc)
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
