"""The durable outbox: order, batching, bounds, overflow policy, persistence and counters."""

from __future__ import annotations

import os
import sqlite3
import stat
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iotcs_hw.errors import DeviceClosed, MessageFormatError, QueueFullError
from iotcs_hw.messaging import Priority, Reliability, response_message
from iotcs_hw.messaging.message import Message, MessageType
from iotcs_hw.transport.message_state import IllegalTransition, MessageState
from iotcs_hw.transport.outbox import Outbox, OutboxError, OverflowPolicy

from .conftest import ENDPOINT, make_data, numbers

GD = Reliability.GUARANTEED_DELIVERY
NG = Reliability.NO_GUARANTEE


def taken_numbers(box: Outbox, count: int = 1000, max_bytes: int = 10**9) -> list[int]:
    batch = box.take(0.0, count, max_bytes)
    return numbers([e.message() for e in batch])


def test_send_order_is_priority_then_event_time_then_insertion(outbox: Outbox) -> None:
    outbox.add(
        [
            make_data(1, priority=Priority.LOW, event_time=10),
            make_data(2, priority=Priority.HIGHEST, event_time=30),
            make_data(3, priority=Priority.MEDIUM, event_time=20),
            make_data(4, priority=Priority.HIGHEST, event_time=20),
            make_data(5, priority=Priority.MEDIUM, event_time=20),
            make_data(6, priority=Priority.LOWEST, event_time=1),
        ]
    )
    assert taken_numbers(outbox) == [4, 2, 3, 5, 1, 6]


def test_responses_jump_ahead_of_highest(outbox: Outbox) -> None:
    outbox.add([make_data(1, priority=Priority.HIGHEST, event_time=1)])
    request = Message(
        type=MessageType.REQUEST, source="srv", destination=ENDPOINT, id="r1", payload={}
    )
    outbox.add([response_message(request, 200, b"OK")])
    batch = outbox.take(0.0, 10, 10**9)
    assert [e.message().type for e in batch] == [MessageType.RESPONSE, MessageType.DATA]


def test_batches_respect_count_and_byte_limits(outbox: Outbox) -> None:
    outbox.add([make_data(n) for n in range(10)])
    size = len(make_data(0).encode())
    assert taken_numbers(outbox, count=3) == [0, 1, 2]
    assert taken_numbers(outbox, count=100, max_bytes=2 * size + 1) == [3, 4]
    assert taken_numbers(outbox, count=100, max_bytes=1) == [5]  # one always goes
    assert outbox.inflight_count == 6
    assert taken_numbers(outbox) == [6, 7, 8, 9]
    assert outbox.take(0.0, 10, 10**9) == []


def test_ack_deletes_and_counts(outbox: Outbox) -> None:
    outbox.add([make_data(n) for n in range(3)])
    batch = outbox.take(0.0, 2, 10**9)
    outbox.ack(batch)
    assert len(outbox) == 1
    snap = outbox.counters.snapshot()
    assert snap.messages_sent == 2
    assert snap.bytes_sent == sum(e.size for e in batch)
    assert [e.state for e in batch] == [MessageState.ACKED] * 2
    assert numbers(outbox.pending()) == [2]


def test_retry_persists_attempts_and_waits_for_its_time(outbox_path: Path) -> None:
    with Outbox(outbox_path) as box:
        box.add([make_data(1), make_data(2)])
        first = box.take(0.0, 1, 10**9)
        assert first[0].attempts == 1
        box.retry(first, next_attempt=50.0)
        assert box.next_due() == 0.0
        assert taken_numbers(box) == [2]
        assert box.take(49.0, 10, 10**9) == []
        assert box.next_due() == 50.0
        again = box.take(50.0, 10, 10**9)
        assert (numbers([e.message() for e in again]), again[0].attempts) == ([1], 2)
        box.retry(again, next_attempt=80.0)
        assert box.counters.snapshot().messages_retried == 2
    with Outbox(outbox_path) as box:
        # After a restart everything is due at once, and attempts were kept.
        batch = box.take(0.0, 10, 10**9)
        assert [(e.message().payload["data"]["n"], e.attempts) for e in batch] == [(1, 3), (2, 1)]


def test_unacknowledged_rows_survive_close_and_come_back_in_order(outbox_path: Path) -> None:
    with Outbox(outbox_path) as box:
        box.add([make_data(n) for n in range(5)])
        box.ack(box.take(0.0, 2, 10**9))
        box.take(0.0, 2, 10**9)  # in flight when the process "stops"
    with Outbox(outbox_path) as box:
        assert len(box) == 3
        assert taken_numbers(box) == [2, 3, 4]


def test_release_puts_rows_back_without_an_attempt(outbox: Outbox) -> None:
    outbox.add([make_data(1)])
    batch = outbox.take(0.0, 1, 10**9)
    outbox.release(batch)
    assert batch[0].state is MessageState.QUEUED
    again = outbox.take(0.0, 1, 10**9)
    assert again[0].attempts == 1


def test_settling_twice_is_an_illegal_transition(outbox: Outbox) -> None:
    outbox.add([make_data(1)])
    batch = outbox.take(0.0, 1, 10**9)
    outbox.ack(batch)
    with pytest.raises(IllegalTransition, match="can't fail when state=ACKED"):
        outbox.fail(batch)


def test_fail_deletes_and_counts(outbox: Outbox) -> None:
    outbox.add([make_data(1), make_data(2)])
    outbox.fail(outbox.take(0.0, 1, 10**9))
    assert outbox.counters.snapshot().messages_failed == 1
    assert numbers(outbox.pending()) == [2]


def test_overflow_drops_the_oldest_droppable_rows(outbox_path: Path) -> None:
    with Outbox(outbox_path, max_messages=4) as box:
        box.add([make_data(1, reliability=GD), make_data(2), make_data(3, reliability=NG)])
        box.add([make_data(4)])
        result = box.add([make_data(5), make_data(6, reliability=GD)])
        assert [e.message().payload["data"]["n"] for e in result.evicted] == [2, 3]
        assert [e.state for e in result.evicted] == [MessageState.DEAD] * 2
        assert sorted(numbers(box.pending())) == [1, 4, 5, 6]
        assert box.counters.snapshot().messages_dropped == 2
        assert len(box) == 4


def test_guaranteed_delivery_is_never_dropped_and_the_offer_is_refused(outbox_path: Path) -> None:
    with Outbox(outbox_path, max_messages=2) as box:
        box.add([make_data(1, reliability=GD), make_data(2, reliability=GD)])
        with pytest.raises(QueueFullError) as info:
            box.add([make_data(3)])
        assert "is full (2/2 messages" in str(info.value)
        assert "only GUARANTEED_DELIVERY or in-flight messages are left" in str(info.value)
        assert sorted(numbers(box.pending())) == [1, 2]


def test_in_flight_rows_are_not_evicted(outbox_path: Path) -> None:
    with Outbox(outbox_path, max_messages=2) as box:
        box.add([make_data(1), make_data(2)])
        box.take(0.0, 1, 10**9)
        box.add([make_data(3)])
        assert sorted(numbers(box.pending())) == [1, 3]
        with pytest.raises(QueueFullError):
            box.add([make_data(4), make_data(5)])  # would need to evict the in-flight row
        assert sorted(numbers(box.pending())) == [1, 3]


def test_a_refused_batch_queues_nothing(outbox_path: Path) -> None:
    with Outbox(outbox_path, max_messages=3, overflow=OverflowPolicy.REJECT_NEW) as box:
        box.add([make_data(1), make_data(2)])
        with pytest.raises(QueueFullError, match="overflow policy reject_new refuses them"):
            box.add([make_data(3), make_data(4)])
        assert numbers(box.pending()) == [1, 2]
        box.add([make_data(3)])
        assert len(box) == 3


def test_byte_bound_evicts_too(outbox_path: Path) -> None:
    size = len(make_data(1).encode())
    with Outbox(outbox_path, max_bytes=3 * size) as box:
        box.add([make_data(1), make_data(2), make_data(3)])
        result = box.add([make_data(4)])
        assert len(result.evicted) == 1
        assert box.size_bytes == 3 * size


def test_a_batch_larger_than_the_whole_outbox_is_refused(outbox_path: Path) -> None:
    with Outbox(outbox_path, max_messages=2) as box, pytest.raises(QueueFullError):
        box.add([make_data(n) for n in range(3)])


def test_oversized_message_is_refused_with_its_size(outbox_path: Path) -> None:
    with Outbox(outbox_path, max_message_bytes=100) as box:
        message = make_data(1)
        with pytest.raises(MessageFormatError) as info:
            box.add([message])
        size = len(message.encode())
        assert str(info.value) == (
            f"message {message.client_id} (DATA from {ENDPOINT!r}) is {size} bytes encoded, "
            "above max_message_bytes=100"
        )
        assert len(box) == 0


def test_many_messages_insert_in_one_transaction(outbox: Outbox) -> None:
    result = outbox.add([make_data(n) for n in range(5000)])
    assert len(result.seqs) == 5000
    assert result.seqs == list(range(result.seqs[0], result.seqs[0] + 5000))
    assert len(outbox) == 5000
    assert taken_numbers(outbox, count=5000) == list(range(5000))


def test_sequence_numbers_match_rows_after_deletes(outbox: Outbox) -> None:
    outbox.add([make_data(1), make_data(2)])
    outbox.ack(outbox.take(0.0, 2, 10**9))
    result = outbox.add([make_data(3)])
    batch = outbox.take(0.0, 1, 10**9)
    assert [e.seq for e in batch] == result.seqs


def test_file_is_private_and_in_wal_mode(outbox: Outbox, outbox_path: Path) -> None:
    outbox.add([make_data(1)])
    assert stat.S_IMODE(os.stat(outbox_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(outbox_path.parent).st_mode) == 0o700
    db = sqlite3.connect(outbox_path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()


def test_a_corrupt_file_is_named_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    before = path.read_bytes()
    with pytest.raises(OutboxError) as info:
        Outbox(path)
    assert str(info.value).startswith(f"{path}: not a usable outbox database")
    assert path.read_bytes() == before


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=9")
    db.close()
    with pytest.raises(OutboxError, match="schema version 9 is newer"):
        Outbox(path)


def test_closed_outbox_refuses_calls_and_close_is_idempotent(outbox_path: Path) -> None:
    box = Outbox(outbox_path)
    box.close()
    box.close()
    assert "closed" in repr(box)
    with pytest.raises(DeviceClosed, match="is closed"):
        box.add([make_data(1)])


def test_repr_shows_live_state(outbox: Outbox) -> None:
    outbox.add([make_data(1)])
    size = outbox.size_bytes
    assert repr(outbox) == f"<Outbox {str(outbox.path)!r} 1 messages, {size} bytes>"


def test_full_synchronous_mode_is_accepted_and_validated(outbox_path: Path) -> None:
    with Outbox(outbox_path, synchronous="FULL") as box:
        box.add([make_data(1)])
        assert len(box) == 1
    with pytest.raises(ValueError, match="synchronous must be 'NORMAL' or 'FULL'"):
        Outbox(outbox_path, synchronous="OFF")  # type: ignore[arg-type]


def test_sequence_numbers_are_never_reused(outbox: Outbox) -> None:
    first = outbox.add([make_data(1), make_data(2)])
    outbox.ack(outbox.take(0.0, 2, 10**9))
    second = outbox.add([make_data(3)])
    assert second.seqs[0] > max(first.seqs)


def test_checkpoint_runs_beside_writers_only_when_due(outbox: Outbox, outbox_path: Path) -> None:
    outbox.add([make_data(n) for n in range(200)])
    assert outbox.checkpoint() is False  # one commit is not worth a checkpoint
    wal = outbox_path.with_name(outbox_path.name + "-wal")
    assert wal.stat().st_size > 0
    before = outbox_path.stat().st_size
    assert outbox.checkpoint(force=True) is True
    assert outbox_path.stat().st_size > before  # the rows reached the database file
    outbox.add([make_data(500)])
    assert len(outbox) == 201


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    specs=st.lists(
        st.tuples(st.sampled_from(list(Priority)), st.integers(0, 5)), min_size=1, max_size=40
    ),
    batch=st.integers(1, 7),
)
def test_batches_always_come_out_in_send_order(
    tmp_path: Path, specs: list[tuple[Priority, int]], batch: int
) -> None:
    path = tmp_path / f"prop-{uuid.uuid4()}.sqlite3"  # tmp_path is shared by the examples
    with Outbox(path) as box:
        box.add([make_data(n, priority=p, event_time=t) for n, (p, t) in enumerate(specs)])
        taken: list[int] = []
        while chunk := taken_numbers(box, count=batch):
            taken += chunk
    expected = sorted(range(len(specs)), key=lambda n: (-specs[n][0].rank, specs[n][1], n))
    assert taken == expected
