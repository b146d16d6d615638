"""The I2C bus wrapper: error translation, real-bus opening, and the per-bus lock."""

from __future__ import annotations

import errno
import itertools
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.errors import BusError, DeviceNotFound, DriverConfigError
from drivers.i2c.bus import I2CBus, available_buses, bus_lock, open_bus, translate
from drivers.sim.chips.mcp9808 import MCP9808Model
from drivers.sim.smbus import SimSMBus


def test_nack_becomes_device_not_found_with_bus_address_and_cause(sim_bus: SimSMBus) -> None:
    bus = I2CBus(sim_bus, bus_id=1)
    with pytest.raises(DeviceNotFound) as info:
        bus.write_then_read(0x40, [0x00], 2)
    exc = info.value
    assert (exc.bus, exc.address) == (1, 0x40)
    assert isinstance(exc.cause, OSError)
    assert exc.cause.errno == errno.EREMOTEIO
    assert exc.__cause__ is exc.cause
    assert str(exc) == (
        "bus 1, address 0x40: no device acknowledged write 00 then read of 2 bytes "
        "(errno 121, Remote I/O error); check the wiring, the power and the address"
    )


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (errno.ENXIO, DeviceNotFound),
        (errno.EREMOTEIO, DeviceNotFound),
        (errno.EIO, BusError),
        (errno.ETIMEDOUT, BusError),
    ],
)
def test_translation_per_errno(code: int, kind: type[BusError]) -> None:
    exc = translate(OSError(code, "x"), bus=3, address=0x10, action="quick write")
    assert type(exc) is kind
    assert exc.bus == 3
    assert exc.address == 0x10


def test_other_errors_are_bus_errors_not_device_not_found(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x18, MCP9808Model())
    sim_bus.faults(0x18).fail_next(1, code=errno.ETIMEDOUT)
    bus = I2CBus(sim_bus, bus_id=1)
    with pytest.raises(BusError) as info:
        bus.read(0x18, 2)
    assert not isinstance(info.value, DeviceNotFound)
    assert "errno 110" in str(info.value)
    assert bus.read(0x18, 2) == b"\x00\x00"


def test_missing_bus_device_file_names_the_bus_and_the_buses_present(tmp_path: Path) -> None:
    (tmp_path / "i2c-20").touch()
    (tmp_path / "i2c-1x").touch()
    (tmp_path / "i2c-3").touch()
    assert available_buses(tmp_path) == [3, 20]
    with pytest.raises(DeviceNotFound) as info:
        open_bus(1, dev_dir=tmp_path)
    message = str(info.value)
    assert message.startswith(f"bus 1: {tmp_path}/i2c-1 does not exist; I2C buses present: 3, 20.")
    assert "raspi-config nonint do_i2c 0" in message


def test_no_buses_at_all(tmp_path: Path) -> None:
    with pytest.raises(DeviceNotFound, match="I2C buses present: none"):
        open_bus(1, dev_dir=tmp_path)


def test_bus_number_must_be_a_number() -> None:
    with pytest.raises(DriverConfigError, match="I2C bus -1 is not a bus number"):
        open_bus(-1)


def test_one_lock_per_bus_number_process_wide(sim_bus: SimSMBus) -> None:
    a = I2CBus(sim_bus, bus_id=7)
    b = I2CBus(SimSMBus(7), bus_id=7)
    assert bus_lock(7) is bus_lock(7)
    assert bus_lock(7) is not bus_lock(8)
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with a.transaction():
            held.set()
            release.wait(5)

    worker = threading.Thread(target=hold, name="holder")
    worker.start()
    assert held.wait(5)
    assert not bus_lock(7).acquire(blocking=False) or _release(bus_lock(7))
    acquired = b._lock.acquire(timeout=0.05)  # the other I2CBus on bus 7 must wait
    assert not acquired
    release.set()
    worker.join(5)
    assert not worker.is_alive()
    assert b._lock.acquire(timeout=1)
    b._lock.release()


def _release(lock: threading.RLock) -> bool:
    lock.release()
    return False


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Make the interpreter switch threads very often, so unlocked code interleaves."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def _pointer_then_read(
    bus: SimSMBus, address: int, rounds: int, lock: I2CBus | None, start: threading.Barrier
) -> None:
    start.wait(10)
    for _ in range(rounds):
        if lock is not None:
            with lock.transaction():
                bus.write_byte(address, 0x05)
                bus.read_byte(address)
        else:
            bus.write_byte(address, 0x05)
            bus.read_byte(address)


def _run_jobs(bus: SimSMBus, rounds: int, lock: I2CBus | None) -> None:
    start = threading.Barrier(2)
    threads = [
        threading.Thread(
            target=_pointer_then_read, args=(bus, addr, rounds, lock, start), name=f"job-{addr:x}"
        )
        for addr in (0x18, 0x19)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
        assert not t.is_alive()


def _interleaved(history: list) -> int:  # type: ignore[type-arg]
    """How many write-pointer/read pairs were split by another thread's transfer."""
    splits = 0
    for first, second in itertools.pairwise(history):
        if first.call == "write_byte" and (
            second.call != "read_byte" or second.thread != first.thread
        ):
            splits += 1
    return splits


@pytest.mark.usefixtures("fast_switching")
def test_lock_keeps_pointer_write_and_read_together_across_threads(sim_bus: SimSMBus) -> None:
    sim_bus.attach(0x18, MCP9808Model())
    sim_bus.attach(0x19, MCP9808Model())
    sim_bus.history_limit = None
    _run_jobs(sim_bus, 400, I2CBus(sim_bus, bus_id=1))
    assert len(sim_bus.history) == 1600
    assert {t.thread for t in sim_bus.history} == {"job-18", "job-19"}
    assert _interleaved(sim_bus.history) == 0


@pytest.mark.usefixtures("fast_switching")
def test_without_the_lock_the_same_jobs_do_interleave(sim_bus: SimSMBus) -> None:
    """The control experiment: proves the history check above can fail.

    Thread scheduling is up to the OS, so the experiment is repeated until a split shows up
    (in practice the first attempt already has hundreds).
    """
    sim_bus.attach(0x18, MCP9808Model())
    sim_bus.attach(0x19, MCP9808Model())
    sim_bus.history_limit = None
    for _ in range(5):
        sim_bus.clear_history()
        _run_jobs(sim_bus, 2000, None)
        if _interleaved(sim_bus.history) > 0:
            break
    assert _interleaved(sim_bus.history) > 0


@pytest.mark.usefixtures("fast_switching")
def test_drivers_sharing_a_bus_from_two_threads_never_split_a_transaction(
    sim_bus: SimSMBus,
) -> None:
    from drivers.i2c.mcp9808 import MCP9808
    from drivers.i2c.sht3x import SHT3x

    sht = SHT3x.simulated(bus=sim_bus)
    mcp = MCP9808.simulated(bus=sim_bus)
    sim_bus.history_limit = None
    sim_bus.clear_history()
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def job(action: object, rounds: int) -> None:
        try:
            start.wait(10)
            for _ in range(rounds):
                action()  # type: ignore[operator]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=job, args=(sht.read_status, 300), name="status"),
        threading.Thread(target=job, args=(mcp.read, 600), name="temperature"),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
        assert not t.is_alive()
    assert errors == []
    history = sim_bus.history
    status_writes = [i for i, t in enumerate(history) if t.pieces[0].data == b"\xf3\x2d"]
    assert len(status_writes) == 300
    for i in status_writes:  # the status command and its read are back to back, same thread
        assert history[i + 1].thread == "status"
        assert history[i + 1].pieces[0].kind == "r"
