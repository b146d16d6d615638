"""CPU cost of the GPIO / 1-Wire drivers over their simulators, against naive baselines.

Run: ``.venv/bin/python bench/bench_gpio_sim.py``.  Prints microseconds of CPU per operation
(``time.process_time``, so sleeping simulator threads do not count) and the ratio to a naive
baseline measured in the same process:

* DS18B20 read (read + full checks) vs a tutorial-style ``t=`` split of the same file (no
  CRC, no fault forms): what the checks cost, next to a real conversion's 750 ms.
* w1_slave parse+check alone vs the naive split.
* MCP3008 read through the driver vs gpiozero's MCP3008 ``raw_value`` on the same mock chip:
  our overhead on top of gpiozero's bit-banged SPI.
* Relay apply vs gpiozero ``DigitalOutputDevice.on/off`` on the same kind of mock pin.
* Environment: CPU per simulated second with three couplings.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import gpiozero

from drivers.gpio.adc import Mcp3008
from drivers.gpio.digital_outputs import Relay
from drivers.onewire import w1_slave
from drivers.onewire.ds18b20 import Ds18b20
from drivers.sim.environment import FAN, HEATER, PUMP, Environment
from drivers.sim.mcp3xxx import chip_on
from drivers.sim.physics import FixedValues
from drivers.sim.pins import mock_factory


def cpu_us(operation: Callable[[], object], repeat: int) -> float:
    """Mean CPU microseconds per call of ``operation`` over ``repeat`` calls."""
    operation()
    start = time.process_time()
    for _ in range(repeat):
        operation()
    return (time.process_time() - start) / repeat * 1e6


def row(label: str, ours: float, baseline: float | None = None) -> None:
    ratio = f"{ours / baseline:6.2f}x" if baseline else "      -"
    base = f"{baseline:10.1f}" if baseline else "         -"
    print(f"{label:<44} {ours:10.1f} {base} {ratio}")


def main() -> None:
    print(f"{'operation':<44} {'us/op':>10} {'baseline':>10} {'ratio':>7}")

    physics = FixedValues(temperature=23.125)
    with Ds18b20.simulated(physics=physics) as probe:
        assert probe.device_id is not None
        path = probe.base_path / probe.device_id / "w1_slave"
        text = path.read_text()

        def naive_read() -> float:
            return int(path.read_text().split("t=")[1]) / 1000

        def naive_parse() -> float:
            return int(text.split("t=")[1]) / 1000

        row("ds18b20 read incl. simulated conversion", cpu_us(probe.read, 2000))
        probe._before_read = None  # the file as the kernel left it: driver cost only
        row(
            "ds18b20 read (file + parse + checks)",
            cpu_us(probe.read, 5000),
            cpu_us(naive_read, 5000),
        )
        row(
            "w1_slave parse + CRC + fault checks",
            cpu_us(lambda: w1_slave.temperature_from(text, where="bench"), 20000),
            cpu_us(naive_parse, 20000),
        )

    factory = mock_factory()
    adc = Mcp3008.simulated(physics=FixedValues(voltage=1.65), pin_factory=factory, channel=0)
    raw = adc._parts.checked()  # the gpiozero MCP3008 under our driver, same chip
    row(
        "mcp3008 read (bit-banged mock SPI)",
        cpu_us(adc.read, 300),
        cpu_us(lambda: raw.raw_value, 300),
    )
    adc.close()
    assert chip_on(factory, "mcp3008").conversions > 0

    relay = Relay.simulated(pin_factory=factory, pin="GPIO17", active_high=True)
    plain = gpiozero.DigitalOutputDevice("GPIO27", pin_factory=factory)
    state = [False]

    def toggle_relay() -> None:
        state[0] = not state[0]
        relay.apply(state[0])

    def toggle_plain() -> None:
        state[0] = not state[0]
        if state[0]:
            plain.on()
        else:
            plain.off()

    row(
        "relay apply (validate + lock + read back)",
        cpu_us(toggle_relay, 5000),
        cpu_us(toggle_plain, 5000),
    )
    relay.close()
    plain.close()

    env = Environment(seed=1)
    for name, effects in (("fan", FAN), ("heater", HEATER), ("pump", PUMP)):
        env.couple(name, *effects)
        env.actuate(name, 1)
    row("environment, per simulated second (3 couplings)", cpu_us(lambda: env.advance(1), 5000))
    print("machine: this sandbox, 2 cores; CPU time via time.process_time")


if __name__ == "__main__":
    main()
