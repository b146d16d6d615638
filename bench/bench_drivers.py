"""CPU cost of one simulated read per chip driver, against the time the real bus would take.

For every I2C driver the script measures, with ``time.process_time`` over many reads:

* ``sim us``: one ``read()`` (or ``apply()``) through the driver *and* the register-level chip
  model on a :class:`SimSMBus` (the cost a simulated run pays);
* ``driver us``: the same call replayed against a bus that only hands back recorded answers,
  i.e. the driver's own overhead (register engine, locking, error translation, conversions),
  the part a real Pi also pays on top of the wire time;
* the bytes the call puts on the wire and what they take at 100 kHz and 400 kHz (9 bits per
  byte incl. ACK, plus START/STOP), and the conversion wait the driver sleeps (virtual here).

Run: ``.venv/bin/python bench/bench_drivers.py [--reads N]``.
"""

from __future__ import annotations

import argparse
import ctypes
import platform
import time
from collections.abc import Callable
from typing import Any

from drivers.base import Actuator, Device, Sensor
from drivers.i2c.ads1115 import ADS1115
from drivers.i2c.bh1750 import BH1750
from drivers.i2c.bme280 import BME280
from drivers.i2c.bmp280 import BMP280
from drivers.i2c.htu21d import HTU21D, Si7021
from drivers.i2c.ina219 import INA219
from drivers.i2c.mcp9808 import MCP9808
from drivers.i2c.pca9685 import PCA9685Channel, PCA9685Servo
from drivers.i2c.pcf8574 import PCF8574Input, PCF8574Output
from drivers.i2c.sht3x import SHT3x
from drivers.sim.chips.clock import VirtualClock
from drivers.sim.smbus import SimSMBus, Transfer

DRIVERS: list[type[Device]] = [
    BME280, BMP280, SHT3x, HTU21D, Si7021, BH1750, MCP9808, ADS1115, INA219,
    PCA9685Channel, PCA9685Servo, PCF8574Output, PCF8574Input,
]  # fmt: skip


class ReplaySMBus:
    """Answers ``i2c_rdwr`` with recorded read data, in order: a bus with no chip logic at all."""

    def __init__(self, transfers: list[Transfer], clock: VirtualClock) -> None:
        self.clock = clock
        self.bus_number = 1
        self._reads = [p.data for t in transfers for p in t.pieces if p.kind == "r"]
        self._index = 0

    def i2c_rdwr(self, *msgs: Any) -> None:
        for msg in msgs:
            if msg.flags & 1:
                data = self._reads[self._index % len(self._reads)]
                self._index += 1
                ctypes.memmove(msg.buf, data, len(data))

    def write_quick(self, i2c_addr: int, force: bool | None = None) -> None:
        return None

    def read_byte(self, i2c_addr: int, force: bool | None = None) -> int:
        return 0

    def close(self) -> None:
        return None


def action(device: Device) -> Callable[[], object]:
    """What one sample means for this device: a read, or re-applying its state."""
    if isinstance(device, Sensor):
        return device.read
    assert isinstance(device, Actuator)
    value = device.safe_state
    return lambda: device.apply(value)


def wire_bits(transfers: list[Transfer]) -> int:
    """Bits on the wire: per message START + address byte + data bytes (9 bits each), + STOP."""
    bits = 0
    for t in transfers:
        for piece in t.pieces:
            bits += 1 + 9 * (1 + len(piece.data))
        bits += 1
    return bits


def per_call_us(call: Callable[[], object], reads: int) -> float:
    call()
    start = time.process_time()
    for _ in range(reads):
        call()
    return (time.process_time() - start) / reads * 1e6


def measure(cls: type[Device], reads: int) -> dict[str, float | int | str]:
    clock = VirtualClock()
    bus = SimSMBus(1, clock=clock)
    bus.history_limit = 1000
    device = cls.simulated(bus=bus)
    call = action(device)
    call()
    bus.clear_history()
    t0 = clock.monotonic()
    call()
    one = list(bus.history)
    waited = clock.monotonic() - t0
    sim_us = per_call_us(call, reads)

    replay_clock = VirtualClock()
    replay = ReplaySMBus(one, replay_clock)
    model = bus.chip_at(bus.addresses[0])
    assert model is not None
    # Build the driver over the simulated bus, then swap in the replay for the timed calls.
    device2 = cls.simulated(bus=SimSMBus(1, clock=replay_clock))
    device2._bus._smbus = replay  # type: ignore[attr-defined]  # bench-only: bypass the chip model
    driver_us = per_call_us(action(device2), reads)
    bits = wire_bits(one)
    return {
        "driver": cls.NAME,
        "sim_us": sim_us,
        "driver_us": driver_us,
        "transfers": len(one),
        "bytes": sum(len(p.data) + 1 for t in one for p in t.pieces),
        "bus100_us": bits / 100e3 * 1e6,
        "bus400_us": bits / 400e3 * 1e6,
        "wait_ms": waited * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reads", type=int, default=2000, help="reads per driver (default 2000)")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, {args.reads} reads each")
    print("sim us = driver + chip model per call; driver us = driver alone (replayed answers);")
    print("bus us = wire time of the same transfers; wait ms = conversion wait the driver sleeps\n")
    header = f"{'driver':<15}{'sim us':>9}{'driver us':>11}{'xfers':>7}{'bytes':>7}"
    header += f"{'bus@100k us':>13}{'bus@400k us':>13}{'drv/bus400':>12}{'wait ms':>9}"
    print(header)
    for cls in DRIVERS:
        r = measure(cls, args.reads)
        ratio = float(r["driver_us"]) / float(r["bus400_us"])
        print(
            f"{r['driver']:<15}{r['sim_us']:>9.1f}{r['driver_us']:>11.1f}{r['transfers']:>7}{r['bytes']:>7}"
            f"{r['bus100_us']:>13.0f}{r['bus400_us']:>13.0f}{ratio:>12.2f}{r['wait_ms']:>9.1f}"
        )


if __name__ == "__main__":
    main()
