"""Commands of this group are added by the issue that builds them (see docs/architecture.md)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this group's subcommands to ``sub``."""
