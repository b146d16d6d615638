"""SIGKILL against the offer journal: mid-append, mid-fold, and between fold commit and truncate.

As in ``test_outbox_sigkill.py``: the child reports each batch's client ids after ``add()``
returned; the parent reopens the outbox (which replays the journal) and checks that every
reported message is held exactly once and that every batch is whole or absent.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from iotcs_hw.transport.outbox import Outbox

OFFERS = r"""
import os, signal, sys, threading
from iotcs_hw.messaging import data_message
from iotcs_hw.transport.outbox import Outbox

path, delay, fold = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "fold"
box = Outbox(path, max_messages=10**7, max_bytes=10**10)

def folder():
    # The sender's part: every take() folds the journal into SQLite and empties it.
    while True:
        box.release(box.take(0.0, 50, 10**9))

if fold:
    threading.Thread(target=folder, daemon=True).start()
threading.Timer(delay, lambda: os.kill(os.getpid(), signal.SIGKILL)).start()
batch = 0
while True:
    size = 1 + batch % 37
    msgs = [data_message("dev", "urn:t:attributes", {"batch": batch, "i": i, "of": size})
            for i in range(size)]
    box.add(msgs)
    os.write(1, (" ".join(m.client_id for m in msgs) + "\n").encode())
    batch += 1
"""

KILL_BEFORE_TRUNCATE = r"""
import os, signal, sys
from iotcs_hw.messaging import data_message
from iotcs_hw.transport import journal
from iotcs_hw.transport.outbox import Outbox

def die(self):
    os.kill(os.getpid(), signal.SIGKILL)

box = Outbox(sys.argv[1])
for batch in range(20):
    msgs = [data_message("dev", "urn:t:attributes", {"batch": batch, "i": i, "of": 3})
            for i in range(3)]
    box.add(msgs)
    os.write(1, (" ".join(m.client_id for m in msgs) + "\n").encode())
journal.OfferJournal.clear = die  # the fold's COMMIT happens, the truncate never does
box.take(0.0, 10, 10**9)
"""


def run_child(code: str, *args: str) -> list[str]:
    child = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, timeout=60, check=False
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    return child.stdout.decode().splitlines()


def check_held(path: Path, lines: list[str]) -> None:
    reported = [cid for line in lines for cid in line.split()]
    with Outbox(path, max_messages=10**7, max_bytes=10**10) as box:
        held = box.pending()
        assert len(box) == len(held)
    held_ids = [m.client_id for m in held]
    assert len(held_ids) == len(set(held_ids)), "a message is held twice"
    assert [cid for cid in reported if cid not in set(held_ids)] == []
    batches: dict[int, list[int]] = {}
    for message in held:
        data = message.payload["data"]
        batches.setdefault(data["batch"], []).append(data["i"])
    for message in held:
        data = message.payload["data"]
        assert sorted(batches[data["batch"]]) == list(range(data["of"])), "half a batch"
    assert len(batches) - len(lines) in (0, 1)


@pytest.mark.parametrize(
    ("delay_s", "mode"),
    [(0.3, "append"), (0.45, "append"), (0.3, "fold"), (0.4, "fold"), (0.55, "fold")],
)
def test_sigkill_during_appends_and_folds_loses_and_doubles_nothing(
    tmp_path: Path, delay_s: float, mode: str
) -> None:
    path = tmp_path / "outbox.sqlite3"
    lines = run_child(OFFERS, str(path), str(delay_s), mode)
    assert len(lines) > 5, "the child should have offered several batches before the kill"
    check_held(path, lines)
    assert path.with_suffix(".journal").stat().st_size == 0  # replayed and emptied


def test_a_crash_between_fold_commit_and_truncate_doubles_nothing(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    lines = run_child(KILL_BEFORE_TRUNCATE, str(path))
    assert len(lines) == 20
    # The state the crash left: every row committed to SQLite and still in the journal.
    db = sqlite3.connect(path)
    try:
        assert db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 60
    finally:
        db.close()
    assert path.with_suffix(".journal").stat().st_size > 0
    check_held(path, lines)
    with Outbox(path) as box:
        assert len(box) == 60
