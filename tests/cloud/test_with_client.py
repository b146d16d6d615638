"""The project's own device client against the local server, over real HTTPS on loopback.

A cross-check of both sides: a store provisioned by the server activates with
``iotcs_hw.client.DirectlyConnectedDevice``, DATA arrives, a cloud write reaches ``onChange`` and
the device's RESPONSE reaches the application API.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from iotcs_hw.client import DirectlyConnectedDevice
from iotcs_hw.cloud.app_client import AppClient

from .conftest import THERMOSTAT


def test_provision_activate_send_and_receive_a_write(app: AppClient, tmp_path: Path) -> None:
    app.register_device("E2E-1")
    store = tmp_path / "device.store"
    store.write_bytes(app.provisioning_file("E2E-1", "pw"))
    with DirectlyConnectedDevice(str(store), "pw", long_poll_s=1) as dcd:
        dcd.activate(THERMOSTAT)
        endpoint = dcd.getEndpointId()
        model = dcd.getDeviceModel(THERMOSTAT)
        vd = dcd.createVirtualDevice(endpoint, model)
        changed = threading.Event()
        seen: list[Any] = []

        def on_change(event: Any) -> None:
            seen.append(event)
            changed.set()

        vd.setOnChange(on_change)
        vd.set("temperature", 21.5)
        items, _ = app.messages(endpoint, wait_s=5)
        assert items[0]["message"]["payload"]["data"] == {"temperature": 21.5}
        view = app.write_and_wait(endpoint, {"setpoint": 22}, 10)
        assert view["statusCode"] == 200
        assert changed.wait(5)
        assert vd.get("setpoint") == 22
