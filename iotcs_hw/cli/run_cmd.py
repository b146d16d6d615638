"""``iotcs-hw run FILE [--simulate] [--cloud URL|DIR] [--state-dir DIR]``: run a model file.

A thin face over :mod:`iotcs_hw.runtime.launcher`: the file is validated first (every problem
listed, exit status 1, no hardware touched), then the runtime runs until SIGTERM or Ctrl-C,
applies the safe states and exits 0.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from iotcs_hw.runtime.config import ModelFileError
from iotcs_hw.runtime.launcher import RunOptions, run


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``run``."""
    parser = sub.add_parser(
        "run",
        help="run a model file: sample sensors, drive actuators, keep going",
        description=(
            "Run the sensors and actuators of a model file against an IoTCS-compatible cloud. "
            "With --simulate everything is simulated: the local server runs in-process, the "
            "device is provisioned on its first run, pins are gpiozero mock pins and I2C chips "
            "are simulated register by register in an environment that responds to actuators."
        ),
    )
    parser.add_argument("file", type=Path, help="the model file (YAML)")
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="simulated hardware, environment and (unless --cloud) an in-process local server",
    )
    parser.add_argument(
        "--cloud",
        metavar="URL|DIR",
        help="with --simulate: a running 'iotcs-hw cloud serve' instead of an in-process "
        "server, by its URL or its data directory (a URL whose data directory is not "
        "$IOTCS_HW_CLOUD_DATA or .iotcs-hw/cloud needs a store already in --state-dir)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="where the store, outbox and simulated server live "
        "(default with --simulate: $XDG_STATE_HOME/iotcs-hw/<file name>)",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=None,
        metavar="N",
        help="with --simulate: simulated seconds per real second (default 60)",
    )
    parser.add_argument(
        "--health-port", type=int, metavar="PORT", help="override the health endpoint's port"
    )
    parser.add_argument("--quiet", action="store_true", help="no live one-line-per-update view")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    if args.cloud and not args.simulate:
        print("iotcs-hw: error: --cloud goes with --simulate", file=sys.stderr)
        return 2
    if args.time_scale is not None and not args.simulate:
        print("iotcs-hw: error: --time-scale goes with --simulate", file=sys.stderr)
        return 2
    scale = args.time_scale if args.time_scale is not None else (60.0 if args.simulate else 1.0)
    if not scale > 0:
        print(f"iotcs-hw: error: --time-scale must be > 0, got {scale}", file=sys.stderr)
        return 2
    options = RunOptions(
        file=args.file,
        simulate=args.simulate,
        cloud=args.cloud,
        state_dir=args.state_dir,
        time_scale=scale,
        health_port=args.health_port,
        live=None if args.quiet else sys.stdout,
        configure_logging=True,
    )
    try:
        return run(options)
    except ModelFileError as exc:
        print(str(exc), file=sys.stderr)
        print(f"iotcs-hw: {args.file}: not started (fix the problems above)", file=sys.stderr)
        return 1
