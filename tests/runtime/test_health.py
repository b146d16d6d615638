"""The health endpoint over real HTTP on loopback, Prometheus text, and systemd notify over a
real AF_UNIX datagram socket."""

from __future__ import annotations

import json
import os
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from iotcs_hw.runtime.actuation import ActuatorBinding
from iotcs_hw.runtime.healing import SupervisedSensor
from iotcs_hw.runtime.health import HealthServer
from iotcs_hw.runtime.metrics import escape_label, render
from iotcs_hw.runtime.sdnotify import SystemdNotifier, WatchdogPinger
from iotcs_hw.runtime.status import GroupCounters, HealthRegistry
from iotcs_hw.runtime.values import ValueCheck


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


@pytest.fixture
def registry(fakes, clock):
    good = SupervisedSensor("climate", fakes.ScriptedSensor(22.5), clock=clock)
    bad_sensor = fakes.ScriptedSensor(1.0)
    bad_sensor.present = False
    bad = SupervisedSensor('soil "north"', bad_sensor, clock=clock)
    good.sample()
    bad.sample()
    fan = ActuatorBinding("fan", fakes.FakeRelay(False), ValueCheck("fan", "BOOLEAN"), clock=clock)
    fan.apply_from_cloud(True)
    group = GroupCounters("greenhouse/10s", 10, ticks=7, missed_ticks=2)
    return HealthRegistry(
        sensors=[good.status, bad.status],
        actuators=[fan.snapshot],
        groups=[lambda: group],
        outbox_depth=lambda: 3,
        cloud_connected=lambda: True,
        monotonic=clock.monotonic,
    )


def test_endpoints_report_readiness_status_and_metrics(registry) -> None:
    with HealthServer(registry, port=0) as server:
        assert server.address[0] == "127.0.0.1"
        assert get(server.url + "/healthz")[:2] == (200, "text/plain; charset=utf-8")
        assert get(server.url + "/readyz") == (503, "text/plain; charset=utf-8", "starting\n")
        registry.set_ready()
        assert get(server.url + "/readyz")[0] == 200
        status, ctype, body = get(server.url + "/status")
        assert (status, ctype) == (200, "application/json")
        doc = json.loads(body)
        assert doc["ready"] is True
        assert doc["outbox_depth"] == 3
        climate, soil = doc["sensors"]
        assert climate["last_value"] == {"temperature": 22.5}
        assert climate["reads_ok"] == 1
        assert climate["state"] == "ok"
        assert soil["state"] == "failing"
        assert soil["last_error"] == "DeviceNotFound: bus 1, address 0x76: no answer (errno 121)"
        assert soil["next_attempt_in_s"] == 1.0
        assert doc["actuators"][0]["state"] is True
        assert doc["sampling_groups"][0]["missed_ticks"] == 2
        status, ctype, text = get(server.url + "/metrics")
        assert ctype == "text/plain; version=0.0.4; charset=utf-8"
        assert 'iotcs_hw_sensor_reads_total{sensor="climate",result="ok"} 1' in text
        assert 'iotcs_hw_sensor_up{sensor="soil \\"north\\""} 0' in text
        assert "iotcs_hw_outbox_depth 3" in text
        assert get(server.url + "/nope")[0] == 404
        registry.set_not_ready("stopping")
        assert get(server.url + "/readyz")[2] == "stopping\n"
    # closed: the port is released
    with socket.socket() as probe:
        assert probe.connect_ex(server.address) != 0


def test_metrics_text_is_well_formed(registry) -> None:
    text = render(registry)
    assert text.endswith("\n")
    names_with_type = set()
    for line in text.splitlines():
        if line.startswith("# TYPE"):
            _, _, name, kind = line.split(" ")
            assert kind in {"gauge", "counter"}
            names_with_type.add(name)
        elif not line.startswith("#"):
            name = line.split("{")[0].split(" ")[0]
            assert name in names_with_type, line
            float(line.rsplit(" ", 1)[1])
    assert 'iotcs_hw_sensor_value{sensor="climate",reading="temperature"} 22.5' in text
    assert 'iotcs_hw_actuator_state{actuator="fan"} 1' in text
    assert 'iotcs_hw_sampling_missed_ticks_total{group="greenhouse/10s"} 2' in text


def test_label_escaping() -> None:
    assert escape_label('a\\b"c\nd') == 'a\\\\b\\"c\\nd'


@pytest.fixture
def notify_socket(tmp_path: Path):
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    yield str(path), sock
    sock.close()


def test_sd_notify_sends_datagrams(notify_socket) -> None:
    path, sock = notify_socket
    notifier = SystemdNotifier.from_environment({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "3000000"})
    assert notifier.enabled
    assert notifier.watchdog_interval_s == 1.5
    assert notifier.ready("sampling 5 sensors")
    assert sock.recv(4096) == b"READY=1\nSTATUS=sampling 5 sensors"
    assert notifier.watchdog()
    assert sock.recv(4096) == b"WATCHDOG=1"
    assert notifier.stopping()
    assert sock.recv(4096) == b"STOPPING=1"
    notifier.close()


def test_sd_notify_abstract_socket_address() -> None:
    name = f"iotcs-hw-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    try:
        notifier = SystemdNotifier.from_environment({"NOTIFY_SOCKET": "@" + name})
        assert notifier.notify("READY=1")
        assert sock.recv(64) == b"READY=1"
        notifier.close()
    finally:
        sock.close()


def test_sd_notify_outside_systemd_and_foreign_watchdog() -> None:
    assert not SystemdNotifier.from_environment({}).notify("READY=1")
    other_pid = {"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"}
    assert SystemdNotifier.from_environment(other_pid).watchdog_interval_s is None
    ours = {"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": str(os.getpid())}
    assert SystemdNotifier.from_environment(ours).watchdog_interval_s == 0.0005
    assert SystemdNotifier.from_environment({"WATCHDOG_USEC": "junk"}).watchdog_usec is None
    # a socket that is gone is a warning, never an exception
    gone = SystemdNotifier("/nonexistent/socket")
    assert not gone.notify("READY=1")
    gone.close()


def test_watchdog_pings_at_most_every_half_deadline(notify_socket, clock) -> None:
    path, sock = notify_socket
    notifier = SystemdNotifier(path, watchdog_usec=10_000_000)
    pinger = WatchdogPinger(notifier, clock.monotonic)
    pinger.tick()
    clock.advance(4.9)
    pinger.tick()
    clock.advance(0.1)
    pinger.tick()
    assert notifier.sent == ["WATCHDOG=1", "WATCHDOG=1"]
    assert sock.recv(64) == b"WATCHDOG=1"
    assert sock.recv(64) == b"WATCHDOG=1"
    notifier.close()
