"""The command tree: every command is registered here, in one place."""

from __future__ import annotations

from kgctl_py.cli import cli
from kgctl_py.cli.commands import graph, showconf
from kgctl_py.cli.completion_cmd import completion
from kgctl_py.cli.connect_cmd import connect
from kgctl_py.cli.doctor_cmd import doctor
from kgctl_py.cli.snapshot_cmd import snapshot
from kgctl_py.cli.status_cmd import status

for _command in (graph, showconf, status, connect, doctor, snapshot, completion):
    cli.add_command(_command)
