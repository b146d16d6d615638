"""Entry point of the ``iotcs-hw`` console script.

Each command group lives in its own module exposing ``register(subparsers)``; a command's
handler takes the parsed arguments and returns the exit status.  Errors the user can fix are
printed as one line (``iotcs-hw: error: ...``) with exit status 2; nothing reaches the user as a
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence

from drivers.errors import DriverConfigError, HardwareError
from iotcs_hw import __version__
from iotcs_hw.errors import IotcsHwError

# Command modules, in the order their commands appear in --help.
COMMAND_MODULES = (
    "iotcs_hw.cli.run_cmd",
    "iotcs_hw.cli.check_cmd",
    "iotcs_hw.cli.hardware_cmd",
    "iotcs_hw.cli.cloud_cmd",
)

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every command module's subcommands."""
    parser = argparse.ArgumentParser(
        prog="iotcs-hw",
        description="GPIO and I2C hardware on an Oracle IoT Cloud Service compatible cloud.",
    )
    parser.add_argument("--version", action="version", version=f"iotcs-hw {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``iotcs-hw cloud messages | head``): not an error of ours.
        # Point stdout at /dev/null so the interpreter's final flush does not complain.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except (IotcsHwError, HardwareError, DriverConfigError, OSError) as exc:
        print(f"iotcs-hw: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
