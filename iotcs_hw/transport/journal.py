"""The offer journal: an append-only file that makes ``Outbox.add()`` durable in one write().

Why: committing one SQLite transaction per ``set()`` costs about 100 us of CPU, half of the
client's cost per update.  The journal keeps the same promise (a message whose ``offer()``
returned survives SIGKILL) for the price of one ``os.write()``: each offer appends one record
holding the whole batch to ``outbox.journal`` (opened ``O_APPEND``); the outbox folds pending
records into SQLite in one transaction before the sender selects a batch, then empties the file.

Why one ``write()`` is as durable as a WAL commit with ``synchronous=NORMAL``: once ``write()``
returned, the bytes are in the kernel's page cache and belong to the file, whatever then
happens to the process (SIGKILL, the OOM killer, a segfault).  A NORMAL WAL commit makes the same
promise and no more: neither fsyncs, both can lose their tail to a power cut or kernel crash.
Power-loss safety needs ``synchronous="FULL"``, and the outbox then bypasses the journal.

Record format (little endian): magic ``b"IOJ1"``, payload length (u32), CRC-32 of the payload
(u32), then the payload: per message ``seq`` (i64), ``rank`` (i8), ``event_time`` (i64),
reliability code (u8), client-id length (u16), body length (u32), client id, body.

Torn records: the record is written by a single ``write()`` and ``offer()`` returns only after
that call returned the full length.  A process killed inside the call (a fatal signal can stop
a large write between pages) leaves at most a prefix of the last record; its length or CRC does
not match, so :meth:`OfferJournal.replay` ignores it.  Its messages were never acknowledged to
the caller (``offer()`` had not returned), so ignoring them loses nothing that was promised;
the batch is all or nothing, like an uncommitted transaction.  A complete record whose
``write()`` finished in the kernel just before the kill is replayed even though ``offer()`` did
not return: at-least-once, exactly as a WAL commit that landed before the kill.  Only the tail
may be torn (a single writer appends, and the file is emptied after every fold), so a bad
record followed by anything but zero bytes is corruption: :class:`JournalCorrupt` names the
file and offset and nothing is modified.

Duplicates: records carry the outbox sequence numbers, and the fold inserts with
``INSERT OR IGNORE`` on that primary key, so a crash between the fold's commit and the
truncate replays rows that are already there without duplicating them.  No row folded by a
record still in the journal can have been acknowledged: the fold and the truncate happen under
the outbox lock before any batch is taken.

Single owner: the file is ``flock``-ed; a second outbox on the same path is refused.
"""

from __future__ import annotations

import fcntl
import os
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

from iotcs_hw.errors import IotcsHwError

MAGIC = b"IOJ1"
_HEADER = struct.Struct("<4sII")
_ROW = struct.Struct("<qbqBHI")
#: Reliability values by their one-byte code in a record.
RELIABILITY_CODES = ("NO_GUARANTEE", "BEST_EFFORT", "GUARANTEED_DELIVERY")
_CODE_OF = {name: code for code, name in enumerate(RELIABILITY_CODES)}

#: One journal row: (seq, rank, event_time, reliability value, client_id, size, body).
JournalRow = tuple[int, int, int, str, str, int, bytes]


class JournalError(IotcsHwError, OSError):
    """The journal cannot be opened, read or written; the message names the file."""


class JournalCorrupt(JournalError):
    """The journal holds a bad record that is not a torn tail (not ours, or damaged)."""


class OfferJournal:
    """The append-only journal beside an outbox; callers serialize access (the outbox lock).

    ``pending`` holds the rows appended since the last :meth:`clear` (or replayed on open), so
    a fold never reads the file back.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.pending: list[JournalRow] = []
        self.torn_bytes = 0  # bytes of a torn tail found on open (for logs and tests)
        self._broken = ""  # why appends are refused, once a torn record could not be removed
        try:
            self._fd = os.open(
                self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600
            )
        except OSError as exc:
            raise JournalError(f"{self.path}: cannot open the outbox journal: {exc}") from exc
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self._fd)
            raise JournalError(
                f"{self.path}: the outbox is in use by another process or Outbox object"
            ) from exc
        self._size = os.fstat(self._fd).st_size  # a torn tail is cut back with the next clear()

    # -- replay ------------------------------------------------------------------------------

    def replay(self) -> list[JournalRow]:
        """Read every complete record into ``pending`` and return them (file untouched).

        Raises :class:`JournalCorrupt` for a bad record that is not the torn tail.
        """
        try:
            data = self._read_all()
        except OSError as exc:
            raise JournalError(f"{self.path}: cannot read the outbox journal: {exc}") from exc
        rows: list[JournalRow] = []
        offset = 0
        while offset < len(data):
            problem, end = _check_record(data, offset)
            if problem is not None:
                rest = data[offset:]
                if end > len(data) or end == len(data) or not rest.strip(b"\0"):
                    self.torn_bytes = len(rest)
                    break
                raise JournalCorrupt(
                    f"{self.path}: corrupt outbox journal at byte {offset}: {problem}, followed "
                    f"by {len(data) - end} more bytes; move the file away to start without it"
                )
            try:
                rows.extend(_decode_payload(data[offset + _HEADER.size : end]))
            except (struct.error, UnicodeDecodeError, IndexError) as exc:
                raise JournalCorrupt(
                    f"{self.path}: corrupt outbox journal at byte {offset}: bad payload ({exc})"
                ) from exc
            offset = end
        self.pending = rows
        return rows

    def _read_all(self) -> bytes:
        size = os.fstat(self._fd).st_size
        chunks = []
        position = 0
        while position < size:
            chunk = os.pread(self._fd, size - position, position)
            if not chunk:
                break
            chunks.append(chunk)
            position += len(chunk)
        return b"".join(chunks)

    # -- appending and clearing --------------------------------------------------------------

    def append(self, rows: Sequence[JournalRow]) -> None:
        """Write ``rows`` as one record with one ``write()``; durable against SIGKILL on return.

        On a short write or an error the file is cut back to its previous length and
        :class:`JournalError` is raised (nothing of the batch counts as written).
        """
        if self._broken:
            raise JournalError(f"{self.path}: the outbox journal is unusable: {self._broken}")
        parts: list[bytes] = []
        pack = _ROW.pack
        code_of = _CODE_OF
        for seq, rank, event_time, reliability, client_id, size, body in rows:
            cid = client_id.encode("utf-8")
            parts += (pack(seq, rank, event_time, code_of[reliability], len(cid), size), cid, body)
        payload = b"".join(parts)
        record = _HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload
        try:
            written = os.write(self._fd, record)
            if written != len(record):
                raise OSError(f"short write ({written} of {len(record)} bytes)")
        except OSError as exc:
            self._cut_back()
            raise JournalError(f"{self.path}: cannot write the outbox journal: {exc}") from exc
        self._size += len(record)
        self.pending.extend(rows)

    def _cut_back(self) -> None:
        """Remove a partly written record, or refuse further appends if that fails.

        A torn record must stay the last one: a record appended after it would make the
        file unreadable as corruption rather than a torn tail.
        """
        try:
            os.ftruncate(self._fd, self._size)
        except OSError as exc:
            self._broken = f"a failed write could not be cut back ({exc})"

    def clear(self) -> None:
        """Empty the file after its rows were committed to SQLite."""
        try:
            os.ftruncate(self._fd, 0)
        except OSError as exc:
            raise JournalError(f"{self.path}: cannot truncate the outbox journal: {exc}") from exc
        self._size = 0
        self._broken = ""
        self.pending = []

    def close(self) -> None:
        """Release the lock and the descriptor (idempotent)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _check_record(data: bytes, offset: int) -> tuple[str | None, int]:
    """(problem or None, end offset) of the record at ``offset``."""
    if len(data) - offset < _HEADER.size:
        return "incomplete header", len(data) + 1
    magic, length, crc = _HEADER.unpack_from(data, offset)
    end = offset + _HEADER.size + length
    if magic != MAGIC:
        return f"bad magic {magic!r}", offset + _HEADER.size
    if end > len(data):
        return f"record of {length} bytes cut short", end
    if zlib.crc32(data[offset + _HEADER.size : end]) != crc:
        return "checksum mismatch", end
    return None, end


def _decode_payload(payload: bytes) -> list[JournalRow]:
    rows: list[JournalRow] = []
    position = 0
    while position < len(payload):
        seq, rank, event_time, code, cid_len, size = _ROW.unpack_from(payload, position)
        position += _ROW.size
        client_id = payload[position : position + cid_len].decode("utf-8")
        position += cid_len
        body = payload[position : position + size]
        position += size
        if len(body) != size:
            raise IndexError(f"message body of {size} bytes cut short")
        rows.append((seq, rank, event_time, RELIABILITY_CODES[code], client_id, size, body))
    return rows
