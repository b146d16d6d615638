"""``iotcs-hw cloud ...``: run the local IoTCS-compatible server and drive it.

* ``serve`` runs the server in the foreground until SIGINT/SIGTERM.
* ``provision``, ``write`` and ``messages`` talk to the server running on the same data
  directory (found through ``<data>/server.json``), over HTTPS with its admin token.

The data directory is ``--data``, else ``$IOTCS_HW_CLOUD_DATA``, else ``.iotcs-hw/cloud``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from iotcs_hw.cloud.app_client import AppClient, describe_message
from iotcs_hw.cloud.provisioning import provision_device
from iotcs_hw.errors import ConfigError

DATA_ENV = "IOTCS_HW_CLOUD_DATA"
DEFAULT_DATA = Path(".iotcs-hw") / "cloud"


def _data_dir(args: argparse.Namespace) -> Path:
    if args.data is not None:
        return Path(args.data)
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else DEFAULT_DATA


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``cloud`` group's subcommands to ``sub``."""
    group = sub.add_parser(
        "cloud",
        help="the local IoTCS-compatible server",
        description="Run the local IoTCS-compatible server and drive it from the command line.",
    )
    cmds = group.add_subparsers(dest="cloud_command", metavar="COMMAND")
    group.set_defaults(handler=lambda _args: _help(group))

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data",
        metavar="DIR",
        help=f"server data directory (default: ${DATA_ENV} or {DEFAULT_DATA})",
    )

    serve = cmds.add_parser("serve", parents=[common], help="run the server in the foreground")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8443, help="port (default 8443; 0 = any)")
    serve.add_argument("--models", metavar="DIR", help="device-model directory (*.json)")
    serve.set_defaults(handler=_serve)

    prov = cmds.add_parser(
        "provision",
        parents=[common],
        help="register a device and write its provisioning file",
        description="Register DEVICE_ID (or reuse its registration) and write its unified "
        "trusted-assets store, with the server's CA as trust anchor.  The store password comes "
        "from --password-env VAR or a prompt, never from a flag.",
    )
    prov.add_argument("device_id", metavar="DEVICE_ID")
    prov.add_argument("--out", required=True, metavar="FILE", help="store file to write (0600)")
    prov.add_argument("--password-env", metavar="VAR", help="environment variable holding it")
    prov.add_argument("--force", action="store_true", help="replace an existing FILE")
    prov.add_argument(
        "--connected",
        action="append",
        default=[],
        metavar="ICD_ID",
        help="for a gateway: an indirectly connected device whose secret the store carries "
        "(repeatable)",
    )
    prov.set_defaults(handler=_provision)

    write = cmds.add_parser(
        "write",
        parents=[common],
        help="write attributes of a device and wait for its answer",
        description="Queue a write of ATTRIBUTE=VALUE pairs (one PUT, or one PATCH for several), "
        "checked against the device model first, and print the device's RESPONSE status.",
    )
    write.add_argument("endpoint_id", metavar="ENDPOINT_ID")
    write.add_argument("assignments", nargs="+", metavar="ATTRIBUTE=VALUE")
    write.add_argument("--urn", help="device model URN (when several models have the attribute)")
    write.add_argument(
        "--timeout", type=float, default=30.0, metavar="S", help="seconds to wait (default 30)"
    )
    write.set_defaults(handler=_write)

    call = cmds.add_parser(
        "call",
        parents=[common],
        help="invoke an action of a device and wait for its answer",
        description="Queue an action call (checked against the device model) and print the "
        "device's RESPONSE status.",
    )
    call.add_argument("endpoint_id", metavar="ENDPOINT_ID")
    call.add_argument("action", metavar="ACTION")
    call.add_argument("value", nargs="?", metavar="VALUE", help="the argument, if it takes one")
    call.add_argument("--urn", help="device model URN (when several models have the action)")
    call.add_argument(
        "--timeout", type=float, default=30.0, metavar="S", help="seconds to wait (default 30)"
    )
    call.set_defaults(handler=_call)

    devices = cmds.add_parser("devices", parents=[common], help="list registered devices")
    devices.add_argument("--json", action="store_true", help="one JSON object per line")
    devices.set_defaults(handler=_devices)

    msgs = cmds.add_parser("messages", parents=[common], help="list (or follow) what devices sent")
    msgs.add_argument("endpoint_id", nargs="?", metavar="ENDPOINT_ID")
    msgs.add_argument("--follow", "-f", action="store_true", help="keep printing new messages")
    msgs.add_argument("--json", action="store_true", help="one JSON object per line")
    msgs.add_argument("--after", type=int, default=0, metavar="SEQ", help="start after SEQ")
    msgs.set_defaults(handler=_messages)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _serve(args: argparse.Namespace) -> int:
    # Imported here: the server needs the [cloud] extra (aiohttp), the other commands do not.
    from iotcs_hw.cloud.context import ServerConfig  # noqa: PLC0415
    from iotcs_hw.cloud.runner import LocalCloud  # noqa: PLC0415

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port}: expected 0..65535")
    config = ServerConfig(
        data_dir=_data_dir(args),
        host=args.host,
        port=args.port,
        models_dir=Path(args.models) if args.models else None,
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    cloud = LocalCloud(config.data_dir, config=config)
    cloud.recorder.enabled = False  # a test aid; a long-running server keeps no history
    try:
        cloud.start()
        print(
            f"iotcs-hw cloud: serving {cloud.url} (data {config.data_dir}, "
            f"CA {cloud.ca_path}, models: {len(cloud.context.registry.urns())})\n"
            f"dashboard: {cloud.url}/local/dashboard (token in {config.data_dir}/admin.token)",
            flush=True,
        )
        while not stop.wait(3600):
            pass
    finally:
        cloud.stop()
        signal.signal(signal.SIGTERM, previous)
    return 0


def _password(args: argparse.Namespace) -> str:
    if args.password_env:
        value = os.environ.get(args.password_env)
        if not value:
            raise ConfigError(f"environment variable {args.password_env} is unset or empty")
        return value
    if not sys.stdin.isatty():
        raise ConfigError("no terminal to prompt for the store password; use --password-env VAR")
    first = getpass.getpass("store password: ")
    if first != getpass.getpass("repeat it: "):
        raise ConfigError("the two passwords differ")
    return first


def _provision(args: argparse.Namespace) -> int:
    out = Path(args.out)
    password = _password(args)
    with AppClient.from_data_dir(_data_dir(args)) as client:
        view = provision_device(
            client,
            args.device_id,
            out,
            password,
            force=args.force,
            connected_devices=args.connected,
        )
    print(f"{out}: provisioning file of {view['activationId']} ({view['state']}), mode 0600")
    return 0


def _assignments(pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ConfigError(f"{pair!r}: expected ATTRIBUTE=VALUE")
        if name in values:
            raise ConfigError(f"attribute {name!r} is given twice")
        values[name] = value
    return values


def _write(args: argparse.Namespace) -> int:
    values = _assignments(args.assignments)
    with AppClient.from_data_dir(_data_dir(args)) as client:
        view = client.write_and_wait(
            args.endpoint_id, values, args.timeout, urn=args.urn, text=True
        )
    return _print_answer(args.endpoint_id, view)


def _print_answer(endpoint_id: str, view: dict[str, Any]) -> int:
    status = view.get("statusCode")
    text = view.get("bodyText") or ""
    print(f"{endpoint_id} answered {status}{(': ' + text) if text else ''}")
    return 0 if isinstance(status, int) and 200 <= status < 300 else 1


def _call(args: argparse.Namespace) -> int:
    value: Any = AppClient.NO_ARGUMENT if args.value is None else args.value
    with AppClient.from_data_dir(_data_dir(args)) as client:
        view = client.call_and_wait(
            args.endpoint_id, args.action, value, timeout_s=args.timeout, urn=args.urn, text=True
        )
    return _print_answer(args.endpoint_id, view)


def _devices(args: argparse.Namespace) -> int:
    with AppClient.from_data_dir(_data_dir(args)) as client:
        for device in client.devices():
            if args.json:
                print(json.dumps(device, separators=(",", ":")))
            else:
                models = " ".join(device["deviceModels"])
                gateway = f" via {device['gateway']}" if device.get("gateway") else ""
                print(
                    f"{device['activationId']} {device['state']} "
                    f"{device['endpointId'] or '-'}{gateway} {models}".rstrip()
                )
    return 0


def _messages(args: argparse.Namespace) -> int:
    with AppClient.from_data_dir(_data_dir(args)) as client:
        last = args.after
        while True:
            items, last = client.messages(
                args.endpoint_id, after=last, wait_s=20.0 if args.follow else 0.0
            )
            for item in items:
                line = (
                    json.dumps(item, separators=(",", ":")) if args.json else describe_message(item)
                )
                print(line, flush=True)
            if not args.follow and len(items) < 1000:
                return 0
