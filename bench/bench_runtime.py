"""Runtime benchmark: sampling lateness, CPU per hour, memory, time to the first acknowledged DATA.

Run ``python bench/bench_runtime.py`` (add ``--quick`` for a short run).  Figures printed:

* sampling lateness p50/p99 at 10 Hz with 20 sensors, for the runtime's apscheduler engine and,
  as a baseline in the same process, a naive ``while: read all; sleep(interval)`` loop;
* for the simulated greenhouse (``device_models/greenhouse.yaml --simulate`` against the local
  server over HTTPS): seconds from start to the first DATA message acknowledged by the server,
  CPU seconds per hour of running at the default intervals (measured over a window and scaled),
  and the resident set size of the process.

Targets (issue 5): RSS <= 60 MB, first message <= 2 s, lateness p99 <= 5 ms.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

from drivers.base import Quantity, Reading, Sensor
from iotcs_hw.client import DeviceModel, VirtualDevice
from iotcs_hw.runtime.config import ModelFileError, check_file
from iotcs_hw.runtime.device_link import DeviceWriter
from iotcs_hw.runtime.healing import SupervisedSensor
from iotcs_hw.runtime.launcher import Launch, RunOptions, wait_until
from iotcs_hw.runtime.sampling import AttributeFeed, SamplingEngine, SamplingGroup, SensorChannel
from iotcs_hw.runtime.sdnotify import SystemdNotifier
from iotcs_hw.runtime.values import ValueCheck

REPO = Path(__file__).resolve().parents[1]


class ConstantSensor(Sensor):
    """A sensor answering at once (the cost measured is the runtime's, not the bus's)."""

    NAME = "constant"
    QUANTITIES: ClassVar[dict[str, Quantity]] = {"value": Quantity(float, "")}

    def __init__(self, value: float) -> None:
        self.value = value

    def read(self) -> Reading:
        return {"value": self.value}


def percentile(samples: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank."""
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _device(sensors: int) -> VirtualDevice:
    model = DeviceModel.fromJson(
        {
            "urn": "urn:bench:many",
            "name": "bench",
            "attributes": [{"name": f"s{i}", "type": "NUMBER"} for i in range(sensors)],
        }
    )
    return VirtualDevice("0-BENCH", model, sink=_DiscardSink())


class _DiscardSink:
    def __init__(self) -> None:
        self.count = 0

    def offer(self, messages: Any, on_error: Any = None) -> None:
        self.count += len(messages)


def lateness_engine(sensors: int, hz: float, seconds: float) -> list[float]:
    """Lateness samples (s) of the runtime's sampling engine."""
    channels = [
        SensorChannel(
            SupervisedSensor(f"s{i}", ConstantSensor(float(i))),
            [AttributeFeed("value", ValueCheck(f"s{i}"))],
            timeout_s=0.5 / hz,
        )
        for i in range(sensors)
    ]
    engine = SamplingEngine()
    engine.add_group(SamplingGroup("bench", DeviceWriter(_device(sensors)), 1 / hz, channels))
    engine.start()
    threading.Event().wait(seconds)
    engine.stop()
    samples = list(engine.lateness_s)
    return samples[5:]  # the first ticks include thread start-up


def lateness_naive(sensors: int, hz: float, seconds: float) -> list[float]:
    """Lateness samples (s) of a naive loop: read everything, then sleep one interval."""
    interval = 1 / hz
    drivers = [ConstantSensor(float(i)) for i in range(sensors)]
    device = _device(sensors)
    start = time.monotonic()
    samples: list[float] = []
    n = 0
    while time.monotonic() - start < seconds:
        due = start + n * interval
        samples.append(max(0.0, time.monotonic() - due))
        device.update()
        for i, driver in enumerate(drivers):
            device.set(f"s{i}", driver.read()["value"])
        device.finish()
        time.sleep(interval)
        n += 1
    return samples[5:]


def rss_mb() -> float:
    """Resident set size now (VmRSS), in MB."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s() -> float:
    """User + system CPU seconds of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def report_lateness(name: str, samples: list[float]) -> tuple[float, float]:
    p50, p99 = percentile(samples, 0.5) * 1000, percentile(samples, 0.99) * 1000
    print(f"  {name:<28} ticks={len(samples):5d}  p50={p50:7.3f} ms  p99={p99:7.3f} ms")
    return p50, p99


def bench_lateness(seconds: float) -> None:
    print(f"sampling lateness, 20 sensors at 10 Hz, {seconds:g} s each:")
    _, engine_p99 = report_lateness("runtime (apscheduler)", lateness_engine(20, 10, seconds))
    _, naive_p99 = report_lateness("naive sleep loop", lateness_naive(20, 10, seconds))
    verdict = "meets" if engine_p99 <= 5 else "MISSES"
    print(
        f"  runtime p99 {verdict} the 5 ms target; naive/runtime p99 ratio "
        f"{naive_p99 / engine_p99 if engine_p99 else float('inf'):.1f}x"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (CI smoke)")
    parser.add_argument(
        "--skip-greenhouse", action="store_true", help="only the sampling lateness part"
    )
    parser.add_argument(
        "--models",
        type=Path,
        default=REPO / "device_models",
        help="folder with greenhouse.yaml, .json and .rules.yaml",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {sys.platform}")
    if not args.skip_greenhouse:
        # first, while the process is still small: RSS is the runtime's, not the lateness runs'
        bench_greenhouse(args.models, quick=args.quick)
    bench_lateness(3 if args.quick else 20)
    return 0


def _serve(data_dir: Path, models_dir: Path) -> subprocess.Popen[bytes]:
    """The local server in its own process, so the figures below are the device's alone."""
    info = data_dir / "server.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "iotcs_hw.cli.main",
            "cloud",
            "serve",
            "--data",
            str(data_dir),
            "--port",
            "0",
            "--models",
            str(models_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if not wait_until(info.exists, 30):
        proc.kill()
        raise RuntimeError("the local server did not start within 30 s")
    return proc


def _first_data_s(launch_options: RunOptions) -> tuple[float, float, Launch]:
    """Start a Launch; seconds until the first DATA, and the first sensor DATA, are acked."""
    started = time.monotonic()
    launch = Launch(launch_options).start()
    dispatcher = launch.client.dispatcher  # type: ignore[union-attr]
    assert dispatcher is not None
    wait_until(lambda: dispatcher.counters_snapshot().messages_sent >= 1, 30, 0.002)
    first = time.monotonic() - started
    # the safe-state report goes first; the first tick's readings follow
    wait_until(lambda: dispatcher.counters_snapshot().messages_sent >= 3, 30, 0.002)
    sensors = time.monotonic() - started
    return first, sensors, launch


def bench_greenhouse(models_dir: Path, *, quick: bool) -> None:
    """First message, CPU per hour and RSS of the simulated greenhouse (server in another
    process, real time, default intervals)."""
    model_file = models_dir / "greenhouse.yaml"
    try:
        check_file(model_file)
    except ModelFileError as exc:
        print(f"greenhouse: {model_file} does not validate, not measured:\n{exc}")
        return
    window_s = 20.0 if quick else 120.0
    with tempfile.TemporaryDirectory(prefix="bench-runtime-") as tmp:
        root = Path(tmp)
        server = _serve(root / "cloud", models_dir)
        try:

            def options() -> RunOptions:
                return RunOptions(
                    file=model_file,
                    simulate=True,
                    cloud=str(root / "cloud"),
                    state_dir=root / "state",
                    notifier=SystemdNotifier(None),
                    health_port=0,
                    live=None,
                    time_scale=1.0,
                )

            first, sensors, launch = _first_data_s(options())
            launch.stop()
            print("greenhouse (simulated, server in another process, real time):")
            print(
                f"  first run (provision + activate, 2048-bit key): first DATA acked "
                f"{first:.2f} s, first sensor DATA acked {sensors:.2f} s"
            )
            first, sensors, launch = _first_data_s(options())
            verdict = "meets" if sensors <= 2 else "MISSES"
            print(
                f"  restart (already activated):                   first DATA acked "
                f"{first:.2f} s, first sensor DATA acked {sensors:.2f} s ({verdict} 2 s)"
            )
            try:
                settle = threading.Event()
                settle.wait(2.0)
                cpu_before, wall_before = cpu_s(), time.monotonic()
                settle.wait(window_s)
                cpu_used = cpu_s() - cpu_before
                wall = time.monotonic() - wall_before
                rss = rss_mb()
            finally:
                launch.stop()
            per_hour = cpu_used / wall * 3600
            print(
                f"  CPU at default intervals: {cpu_used:.2f} s over {wall:.0f} s "
                f"-> {per_hour:.0f} CPU s per hour ({per_hour / 36:.2f} % of one core)"
            )
            verdict = "meets" if rss <= 60 else "MISSES"
            print(f"  resident memory: {rss:.1f} MB ({verdict} the 60 MB target)")
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    sys.exit(main())
