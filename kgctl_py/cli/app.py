"""The command tree: every command is registered here, in one place.

A command's module is imported when that command runs, or when help, completion
or the docs list the tree: a ``graph`` run does not pay for doctor's imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from kgctl_py.cli import cli

# name -> "module:attribute", in the order help lists them (name order, as click does)
COMMANDS = {
    "completion": "kgctl_py.cli.completion_cmd:completion",
    "connect": "kgctl_py.cli.connect_cmd:connect",
    "doctor": "kgctl_py.cli.doctor_cmd:doctor",
    "graph": "kgctl_py.cli.commands:graph",
    "showconf": "kgctl_py.cli.commands:showconf",
    "snapshot": "kgctl_py.cli.snapshot_cmd:snapshot",
    "status": "kgctl_py.cli.status_cmd:status",
}


def load_all() -> Mapping[str, click.Command]:
    """Every command, imported: for the docs, completion scripts and tests that walk the tree."""
    ctx: Any = None
    for name in COMMANDS:
        cli.get_command(ctx, name)
    return cli.commands
