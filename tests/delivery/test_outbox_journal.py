"""The offer journal beside the outbox: torn records, replay, duplicates, bounds and order."""

from __future__ import annotations

import os
import sqlite3
import stat
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iotcs_hw.errors import QueueFullError
from iotcs_hw.messaging import Priority, Reliability
from iotcs_hw.transport import journal as journal_module
from iotcs_hw.transport.journal import JournalRow, OfferJournal
from iotcs_hw.transport.outbox import Outbox, OutboxError, sort_rank

from .conftest import make_data, numbers

GD = Reliability.GUARANTEED_DELIVERY


def journal_size(box: Outbox) -> int:
    return box.journal_path.stat().st_size


def table_count(path: Path) -> int:
    """Rows committed to the SQLite file, read through a connection of its own."""
    db = sqlite3.connect(path)
    try:
        return int(db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
    finally:
        db.close()


def rows_for(first_seq: int, ns: list[int]) -> list[JournalRow]:
    """Journal rows for ``make_data(n)`` with consecutive sequence numbers."""
    rows: list[JournalRow] = []
    for i, n in enumerate(ns):
        message = make_data(n)
        body = message.encode().encode("utf-8")
        rows.append(
            (
                first_seq + i,
                sort_rank(message),
                message.event_time,
                message.reliability.value,
                message.client_id,
                len(body),
                body,
            )
        )
    return rows


def leave_journal(outbox_path: Path, batches: list[list[int]]) -> list[int]:
    """Write a journal as a process that died after these offers would; returns record ends."""
    outbox_path.parent.mkdir(parents=True, exist_ok=True)
    journal = OfferJournal(outbox_path.with_suffix(".journal"))
    ends = []
    seq = 1
    for ns in batches:
        journal.append(rows_for(seq, ns))
        seq += len(ns)
        ends.append(outbox_path.with_suffix(".journal").stat().st_size)
    journal.close()
    return ends


def test_offers_go_to_the_journal_and_are_folded_before_a_take(outbox: Outbox) -> None:
    outbox.add([make_data(1)])
    outbox.add([make_data(2), make_data(3)])
    assert journal_size(outbox) > 0
    assert table_count(outbox.path) == 0  # not in SQLite yet, but held and counted
    assert len(outbox) == 3
    assert outbox.next_due() == 0.0
    batch = outbox.take(0.0, 10, 10**9)
    assert numbers([e.message() for e in batch]) == [1, 2, 3]
    assert journal_size(outbox) == 0
    assert table_count(outbox.path) == 3


def test_journal_file_is_private(outbox: Outbox) -> None:
    outbox.add([make_data(1)])
    assert stat.S_IMODE(os.stat(outbox.journal_path).st_mode) == 0o600
    assert outbox.journal_path.name == "outbox.journal"


def test_full_synchronous_and_journal_false_commit_every_offer(outbox_path: Path) -> None:
    for options in ({"synchronous": "FULL"}, {"journal": False}):
        path = outbox_path.with_name(f"{uuid.uuid4()}.sqlite3")
        with Outbox(path, **options) as box:  # type: ignore[arg-type]
            box.add([make_data(1)])
            assert journal_size(box) == 0
            assert table_count(path) == 1


def test_a_second_outbox_on_the_same_file_is_refused(outbox: Outbox) -> None:
    with pytest.raises(OutboxError, match=r"outbox\.journal: the outbox is in use"):
        Outbox(outbox.path)


def test_close_folds_and_reopen_finds_everything(outbox_path: Path) -> None:
    with Outbox(outbox_path) as box:
        box.add([make_data(n) for n in range(3)])
    assert table_count(outbox_path) == 3
    assert outbox_path.with_suffix(".journal").stat().st_size == 0
    with Outbox(outbox_path) as box:
        assert numbers(box.pending()) == [0, 1, 2]


def test_a_leftover_journal_is_replayed_on_open(outbox_path: Path) -> None:
    leave_journal(outbox_path, [[1], [2, 3], [4]])
    with Outbox(outbox_path) as box:
        assert len(box) == 4
        assert outbox_path.with_suffix(".journal").stat().st_size == 0
        assert numbers(box.pending()) == [1, 2, 3, 4]
        # Sequence numbers continue above the replayed ones.
        assert box.add([make_data(5)]).seqs == [5]


def test_a_torn_last_record_is_ignored_at_every_cut(outbox_path: Path) -> None:
    ends = leave_journal(outbox_path, [[1], [2, 3], [4, 5, 6]])
    journal_path = outbox_path.with_suffix(".journal")
    whole = journal_path.read_bytes()
    for cut in range(ends[1] + 1, ends[2]):
        journal_path.write_bytes(whole[:cut])
        outbox_path.unlink(missing_ok=True)
        with Outbox(outbox_path) as box:
            # The torn batch is absent as a whole; the complete ones are all there.
            assert numbers(box.pending()) == [1, 2, 3], f"cut at byte {cut}"
        assert journal_path.stat().st_size == 0


def test_a_flipped_byte_in_the_last_record_drops_only_that_record(outbox_path: Path) -> None:
    ends = leave_journal(outbox_path, [[1], [2]])
    journal_path = outbox_path.with_suffix(".journal")
    data = bytearray(journal_path.read_bytes())
    data[ends[1] - 5] ^= 0xFF
    journal_path.write_bytes(bytes(data))
    with Outbox(outbox_path) as box:
        assert numbers(box.pending()) == [1]


def test_a_zero_filled_tail_is_a_torn_write(outbox_path: Path) -> None:
    leave_journal(outbox_path, [[1]])
    journal_path = outbox_path.with_suffix(".journal")
    with journal_path.open("ab") as f:
        f.write(b"\0" * 300)  # what a power cut can leave after a size update
    with Outbox(outbox_path) as box:
        assert numbers(box.pending()) == [1]


def test_a_bad_record_in_the_middle_is_corruption_named_and_left_alone(
    outbox_path: Path,
) -> None:
    ends = leave_journal(outbox_path, [[1], [2], [3]])
    journal_path = outbox_path.with_suffix(".journal")
    data = bytearray(journal_path.read_bytes())
    data[ends[0] + 20] ^= 0xFF  # inside the second record, a complete one follows
    journal_path.write_bytes(bytes(data))
    with pytest.raises(OutboxError) as info:
        Outbox(outbox_path)
    assert str(info.value).startswith(
        f"{journal_path}: corrupt outbox journal at byte {ends[0]}: checksum mismatch"
    )
    assert journal_path.read_bytes() == bytes(data)
    assert table_count(outbox_path) == 0
    journal_path.write_bytes(b"not a journal, and long enough to not look torn" * 3)
    with pytest.raises(OutboxError, match="corrupt outbox journal at byte 0: bad magic"):
        Outbox(outbox_path)


def test_a_failed_write_is_cut_back_and_queues_nothing(
    outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    outbox.add([make_data(1)])
    before = journal_size(outbox)
    real_write = os.write

    def short_write(fd: int, data: bytes) -> int:
        return real_write(fd, data[: len(data) // 2])

    monkeypatch.setattr(journal_module.os, "write", short_write)
    with pytest.raises(OutboxError, match=r"outbox\.journal: cannot write the outbox journal"):
        outbox.add([make_data(2), make_data(3)])
    monkeypatch.undo()
    assert journal_size(outbox) == before
    assert len(outbox) == 1
    outbox.add([make_data(4)])
    assert numbers(outbox.pending()) == [1, 4]


def test_overflow_counts_and_evicts_journal_rows(outbox_path: Path) -> None:
    with Outbox(outbox_path, max_messages=4) as box:
        box.add([make_data(1, reliability=GD)])
        box.add([make_data(2)])
        box.add([make_data(3)])
        box.add([make_data(4)])
        assert len(box) == 4
        assert table_count(outbox_path) == 0
        result = box.add([make_data(5), make_data(6)])
        assert numbers([e.message() for e in result.evicted]) == [2, 3]
        assert box.counters.snapshot().messages_dropped == 2
        assert sorted(numbers(box.pending())) == [1, 4, 5, 6]
        assert len(box) == 4


def test_guaranteed_journal_rows_are_never_dropped_and_a_refused_offer_queues_nothing(
    outbox_path: Path,
) -> None:
    with Outbox(outbox_path, max_messages=2) as box:
        box.add([make_data(1, reliability=GD)])
        box.add([make_data(2, reliability=GD)])
        with pytest.raises(QueueFullError, match="only GUARANTEED_DELIVERY"):
            box.add([make_data(3)])
        assert len(box) == 2
    with Outbox(outbox_path, max_messages=2) as box:
        assert sorted(numbers(box.pending())) == [1, 2]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    specs=st.lists(
        st.tuples(st.sampled_from(list(Priority)), st.integers(0, 5), st.booleans()),
        min_size=1,
        max_size=30,
    ),
    batch=st.integers(1, 7),
)
def test_mixed_journal_and_table_rows_come_out_in_send_order(
    tmp_path: Path, specs: list[tuple[Priority, int, bool]], batch: int
) -> None:
    """Rows folded by earlier takes and rows still journaled sort as one queue."""
    path = tmp_path / f"prop-{uuid.uuid4()}" / "outbox.sqlite3"
    with Outbox(path) as box:
        for n, (priority, event_time, fold_after) in enumerate(specs):
            box.add([make_data(n, priority=priority, event_time=event_time)])
            if fold_after:
                box.release(box.take(0.0, 1, 10**9))  # folds everything journaled so far
        taken: list[int] = []
        while chunk := numbers([e.message() for e in box.take(0.0, batch, 10**9)]):
            taken += chunk
    expected = sorted(range(len(specs)), key=lambda n: (-specs[n][0].rank, specs[n][1], n))
    assert taken == expected
