"""``iotcs-hw check FILE [--models DIR]``: validate a model file like a compiler would.

Prints every problem as ``FILE:LINE:COLUMN: message`` and exits 1, or a one-paragraph summary
and exits 0.  The work is :func:`iotcs_hw.runtime.config.check_file`; this module only prints.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from iotcs_hw.runtime.config import ModelFileError, check_file, summarize


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``check`` subcommand to ``sub``."""
    parser = sub.add_parser(
        "check",
        help="validate a model file against its schema and device models",
        description=(
            "Validate a model file: schema, drivers and their options, pins and I2C addresses "
            "used twice, and every binding against the IoTCS device models. All problems are "
            "listed at once as FILE:LINE:COLUMN: message."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="the model file (YAML)")
    parser.add_argument(
        "--models",
        metavar="DIR",
        help="directory of device-model JSON files (default: the model file's directory)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Check ``args.file``; 0 when it is valid, 1 when it has problems."""
    try:
        model_file = check_file(args.file, models_dir=args.models)
    except ModelFileError as exc:
        for diagnostic in exc.diagnostics:
            print(diagnostic)
        count = len(exc.diagnostics)
        print(f"{args.file}: {count} problem{'s' if count != 1 else ''}", file=sys.stderr)
        return 1
    print(summarize(model_file))
    return 0
