"""Messaging benchmark: the client against the local server over real HTTPS on loopback.

Prints, on this machine:

* attribute updates per second end to end, ``VirtualDevice.set()`` (one DATA message per
  update, each committed to the durable outbox) until the server acknowledged the last one,
  with batching; the same through ``MessageDispatcher.offer()`` without the virtual device;
* the same for a naive loop that POSTs one message per update with ``requests`` (keep-alive
  session, bearer token, no outbox);
* their ratio, client CPU microseconds per update (all threads of this process) and the
  server's CPU per update (the server runs in its own process, ``iotcs-hw cloud serve``);
* cloud-write-to-callback latency p50/p99 over ``--writes`` writes with long polling: from the
  application's write request to ``onChange`` on the device;
* the outbox alone: ``add()`` of one message with the offer journal (one ``write()``) and
  without it (one SQLite commit), and 1000 messages per call.

With ``--journal both`` (the default) the batched runs alternate between an outbox with the
offer journal and one without (``--rounds`` times each, same process, same server), so the two
are compared under the same load; the naive loop and the write latency run once, with the
journal.

Run: ``.venv/bin/python bench/bench_messaging.py [--updates 20000] [--naive 2000]
[--writes 1000] [--synchronous NORMAL|FULL] [--journal on|off|both] [--rounds 2]``.
Everything binds 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from iotcs_hw.client import DirectlyConnectedDevice
from iotcs_hw.cloud.app_client import AppClient
from iotcs_hw.cloud.tls import CA_CERT
from iotcs_hw.messaging import data_message
from iotcs_hw.transport.dispatcher import MessageDispatcher
from iotcs_hw.transport.fake import FakeTransport
from iotcs_hw.transport.outbox import Outbox

print = functools.partial(print, flush=True)

PASSWORD = "bench-password"
URN = "urn:bench:thermostat"
MODEL = {
    "urn": URN,
    "name": "Bench thermostat",
    "attributes": [
        {"name": "temp", "type": "NUMBER"},
        {"name": "setpoint", "type": "NUMBER", "writable": True},
    ],
    "actions": [],
    "formats": [],
}


def cpu_of(pid: int) -> float:
    """User+system CPU seconds of process ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


@contextmanager
def local_server(workdir: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """``iotcs-hw cloud serve`` on 127.0.0.1, an ephemeral port, in its own process."""
    data, models = workdir / "cloud", workdir / "models"
    models.mkdir()
    (models / "bench.json").write_text(json.dumps(MODEL))
    code = "import sys; from iotcs_hw.cli.main import main; sys.exit(main(sys.argv[1:]))"
    argv = ["cloud", "serve", "--data", str(data), "--port", "0", "--models", str(models)]
    server = subprocess.Popen([sys.executable, "-c", code, *argv], stdout=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not (data / "server.json").exists():
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the local server did not start")
            time.sleep(0.05)
        yield server, data
    finally:
        server.terminate()
        server.wait(10)


def rate_line(label: str, count: int, seconds: float, cpu_s: float, server_cpu_s: float) -> str:
    return (
        f"{label:<48} {count / seconds:>10,.0f} updates/s  ({count} in {seconds:.2f} s; "
        f"client CPU {cpu_s / count * 1e6:,.0f} us/update, "
        f"server CPU {server_cpu_s / count * 1e6:,.0f} us/update)"
    )


def outbox_rates(workdir: Path, synchronous: str, count: int = 10_000) -> None:
    """Outbox alone: one message per add() with and without the journal, and 1000 per add."""
    messages = [data_message("bench", URN + ":attributes", {"temp": i * 0.1}) for i in range(count)]
    for label, size, journal in (
        ("outbox.add(), 1 message, journal", 1, True),
        ("outbox.add(), 1 message per commit (no journal)", 1, False),
        ("outbox.add(), 1000 per call, journal", 1000, True),
        ("outbox.add(), 1000 per commit (no journal)", 1000, False),
    ):
        path = workdir / f"outbox-{size}-{journal}" / "outbox.sqlite3"
        with Outbox(
            path,
            synchronous=synchronous,  # type: ignore[arg-type]
            max_messages=2 * count,
            journal=journal,
        ) as box:
            c0, t0 = time.process_time(), time.perf_counter()
            for start in range(0, count, size):
                box.add(messages[start : start + size])
            t1, c1 = time.perf_counter(), time.process_time()
            box.take(0.0, count, 10**10)  # folds the journal: its cost belongs to the rows
            c2 = time.process_time()
        print(
            f"{label:<48} {count / (t1 - t0):>10,.0f} messages/s "
            f"(CPU {(c1 - c0) / count * 1e6:,.1f} us/message; "
            f"+{(c2 - c1) / count * 1e6:,.1f} us/message to fold and select)"
        )
    # offer() alone: the dispatcher's part of VirtualDevice.set() (no sender running).
    for label, journal in (
        ("dispatcher.offer(), 1 message, journal", True),
        ("dispatcher.offer(), 1 message, no journal", False),
    ):
        path = workdir / f"offer-{journal}" / "outbox.sqlite3"
        box = Outbox(path, synchronous=synchronous, max_messages=2 * count, journal=journal)  # type: ignore[arg-type]
        with MessageDispatcher(FakeTransport(), box) as dispatcher:
            c0, t0 = time.process_time(), time.perf_counter()
            for message in messages:
                dispatcher.offer([message])
            t1, c1 = time.perf_counter(), time.process_time()
        print(
            f"{label:<48} {count / (t1 - t0):>10,.0f} messages/s "
            f"(CPU {(c1 - c0) / count * 1e6:,.1f} us/message)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--naive", type=int, default=2_000)
    parser.add_argument("--writes", type=int, default=1_000)
    parser.add_argument("--synchronous", choices=["NORMAL", "FULL"], default="NORMAL")
    parser.add_argument("--journal", choices=["on", "off", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    modes = {"on": [True], "off": [False], "both": [False, True]}[args.journal]
    schedule = modes * max(1, args.rounds)

    with tempfile.TemporaryDirectory(prefix="bench-messaging-") as tmp:
        work = Path(tmp)
        print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, loopback HTTPS")
        print(f"load average at start: {os.getloadavg()[0]:.1f} (other processes share the cores)")
        print(f"outbox: SQLite WAL, synchronous={args.synchronous}")
        outbox_rates(work, args.synchronous)
        with local_server(work) as (server, data):
            app = AppClient.from_data_dir(data)
            app.register_device("BENCH-1")
            store = work / "device.bin"
            store.write_bytes(app.provisioning_file("BENCH-1", PASSWORD))
            store.chmod(0o600)
            rates: dict[bool, list[float]] = {True: [], False: []}
            for index, journal in enumerate(schedule):
                with DirectlyConnectedDevice(
                    store,
                    PASSWORD,
                    state_dir=work / f"state-{index}",
                    long_poll_s=20.0,
                    outbox_options={
                        "synchronous": args.synchronous,
                        "max_messages": max(10_000, 2 * args.updates),
                        "journal": journal,
                    },
                ) as dcd:
                    if not dcd.isActivated():
                        dcd.activate(URN)
                    last = index == len(schedule) - 1
                    rates[journal].append(
                        run(args, dcd, app, server.pid, data / CA_CERT, journal, last)
                    )
            if rates[True] and rates[False]:
                on, off = max(rates[True]), max(rates[False])
                print(
                    f"{'journal on / off, best VirtualDevice.set() run':<48} {on / off:>10.2f} x "
                    f"({on:,.0f} vs {off:,.0f} updates/s)"
                )
            print(f"load average at end: {os.getloadavg()[0]:.1f}")
            app.close()


def run(
    args: argparse.Namespace,
    dcd: DirectlyConnectedDevice,
    app: AppClient,
    pid: int,
    ca: Path,
    journal: bool,
    last: bool,
) -> float:
    """The batched runs; with ``last`` also the naive loop and the write latency."""
    endpoint = dcd.getEndpointId()
    model = dcd.getDeviceModel(URN)
    assert model is not None
    vd = dcd.createVirtualDevice(endpoint, model)
    dispatcher = dcd.dispatcher
    assert dispatcher is not None

    mode = "journal" if journal else "no journal"
    print(f"-- outbox {mode}, load average {os.getloadavg()[0]:.1f}")

    # Warm up connections, token, JIT-free caches.
    for i in range(500):
        vd.set("temp", i * 0.5)
    if not dispatcher.wait_for_empty(60):
        raise SystemExit("warm-up did not drain")

    # 1. VirtualDevice.set() -> outbox -> batched POSTs -> acknowledged.
    n = args.updates
    c0, s0, t0 = time.process_time(), cpu_of(pid), time.perf_counter()
    for i in range(n):
        vd.set("temp", (i % 1000) * 0.1 + 0.01)
    if not dispatcher.wait_for_empty(300):
        raise SystemExit("batched run did not drain")
    t1, c1, s1 = time.perf_counter(), time.process_time(), cpu_of(pid)
    batched_rate = n / (t1 - t0)
    batched_cpu = (c1 - c0) / n
    batched_server_cpu = (s1 - s0) / n
    print(rate_line(f"batched, VirtualDevice.set() to ack ({mode})", n, t1 - t0, c1 - c0, s1 - s0))

    # 1b. The same through the dispatcher alone (messages built up front).
    fmt = URN + ":attributes"
    c0, s0, t0 = time.process_time(), cpu_of(pid), time.perf_counter()
    for i in range(n):
        dispatcher.offer([data_message(endpoint, fmt, {"temp": i * 0.1})])
    if not dispatcher.wait_for_empty(300):
        raise SystemExit("offer run did not drain")
    t1, c1, s1 = time.perf_counter(), time.process_time(), cpu_of(pid)
    print(rate_line(f"batched, dispatcher.offer() to ack ({mode})", n, t1 - t0, c1 - c0, s1 - s0))

    if not last:
        return float(batched_rate)

    # 2. Naive: one POST per update with requests, keep-alive, no outbox.
    session = dcd.session
    token = session._current_token().header  # bench only: borrow the device's bearer token
    url = session.url("/iot/api/v2/messages?acceptBytes=0")
    headers = {
        "Authorization": token,
        "X-EndpointId": endpoint,
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    m = args.naive
    with requests.Session() as naive:
        naive.verify = str(ca)
        naive.trust_env = False  # else REQUESTS_CA_BUNDLE overrides verify (requests #3829)
        c0, s0, t0 = time.process_time(), cpu_of(pid), time.perf_counter()
        for i in range(m):
            body = "[" + data_message(endpoint, fmt, {"temp": i * 0.1}).encode() + "]"
            answer = naive.post(url, data=body, headers=headers, timeout=15)
            if answer.status_code not in (200, 202):
                raise SystemExit(f"naive POST answered {answer.status_code}: {answer.text}")
        t1, c1, s1 = time.perf_counter(), time.process_time(), cpu_of(pid)
    naive_rate = m / (t1 - t0)
    print(rate_line("naive, one requests.post() per update", m, t1 - t0, c1 - c0, s1 - s0))
    print(f"{'ratio batched / naive':<48} {batched_rate / naive_rate:>10.1f} x")
    print(f"{'client CPU per batched update':<48} {batched_cpu * 1e6:>10.1f} us")
    # One core each: the client's threads share one GIL, the server is another process.
    ceiling = 1 / max(batched_cpu, batched_server_cpu)
    print(
        f"{'CPU-bound ceiling, idle 2-core machine':<48} {ceiling:>10,.0f} updates/s "
        f"(1 / max(client {batched_cpu * 1e6:.0f} us, server {batched_server_cpu * 1e6:.0f} us))"
    )

    # 3. Cloud write -> onChange latency with long polling.
    changed = threading.Event()
    stamp: list[float] = []

    def on_change(event: Any) -> None:
        stamp.append(time.perf_counter())
        changed.set()

    vd.setOnChange(on_change, "setpoint")
    latencies: list[float] = []
    for i in range(args.writes):
        changed.clear()
        stamp.clear()
        t0 = time.perf_counter()
        app.write(endpoint, {"setpoint": 15.0 + (i % 100) * 0.1}, urn=URN)
        if not changed.wait(10):
            raise SystemExit(f"write {i} did not reach onChange within 10 s")
        latencies.append(stamp[0] - t0)
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(0.99 * (len(latencies) - 1))] * 1000
    print(
        f"{'cloud write -> onChange, long polling':<48} p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
        f"max {latencies[-1] * 1000:.1f} ms over {len(latencies)} writes"
    )
    snap = dispatcher.counters_snapshot()
    print(
        f"counters: sent {snap.messages_sent}, retried {snap.messages_retried}, "
        f"failed {snap.messages_failed}, dropped {snap.messages_dropped}, "
        f"received {snap.messages_received}, protocol errors {snap.protocol_errors}"
    )
    return float(batched_rate)


if __name__ == "__main__":
    main()
