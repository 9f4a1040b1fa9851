"""The lab's record of what it made, so `down` can undo it from any process.

One JSON file per run under /run/kgctl-lab/<run id>/state.json, rewritten
after every namespace or process the lab creates. `teardown` works from that
file alone, so a crashed test run or a `lab up` in another shell can still be
cleaned up.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from . import netns

STATE_ROOT = os.environ.get("KGCTL_LAB_STATE", "/run/kgctl-lab")
PREFIX = "kgl"  # every lab namespace is named kgl<run id>-<what>


@dataclass
class ProcessRecord:
    pid: int
    needle: str  # must appear in /proc/PID/cmdline, so a reused pid is never killed


@dataclass
class State:
    run_id: str
    workdir: str
    owner_pid: int
    created: float = field(default_factory=time.time)
    namespaces: list[str] = field(default_factory=list)
    processes: list[ProcessRecord] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)  # outside workdir, e.g. the API server's temp dir
    info: dict[str, Any] = field(default_factory=dict)  # for `lab status`

    @property
    def path(self) -> str:
        return os.path.join(self.workdir, "state.json")

    @property
    def prefix(self) -> str:
        return f"{PREFIX}{self.run_id}"

    def save(self) -> None:
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(asdict(self), f, indent=1)
        os.replace(tmp, self.path)

    @classmethod
    def load(cls, path: str) -> State:
        with open(path) as f:
            raw = json.load(f)
        raw["processes"] = [ProcessRecord(**p) for p in raw.get("processes", [])]
        return cls(**raw)


def all_states(root: str = STATE_ROOT) -> list[State]:
    states = []
    try:
        entries = sorted(os.listdir(root))
    except FileNotFoundError:
        return []
    for entry in entries:
        path = os.path.join(root, entry, "state.json")
        if os.path.exists(path):
            try:
                states.append(State.load(path))
            except (OSError, ValueError, TypeError):
                continue
    return states


def kill_processes(records: list[ProcessRecord], grace: float = 3.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds, only pids that are still ours."""
    live = [r for r in records if netns.pid_alive(r.pid, r.needle)]
    for r in live:
        try:
            os.kill(r.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(netns.pid_alive(r.pid, r.needle) for r in live):
        time.sleep(0.05)
    for r in live:
        if netns.pid_alive(r.pid, r.needle):
            try:
                os.kill(r.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    # Reap our own children so no zombie keeps the pid (they are ours when
    # teardown runs in the process that started them).
    for r in live:
        try:
            os.waitpid(r.pid, os.WNOHANG)
        except ChildProcessError:
            pass


def teardown(state: State) -> list[str]:
    """Undo everything `state` records; return what was removed (for messages)."""
    removed: list[str] = []
    kill_processes(state.processes)
    # Namespaces recorded, plus any with this run's prefix that a crash left
    # unrecorded (created but not yet saved).
    names = set(state.namespaces) | {n for n in netns.list_ns() if n.startswith(state.prefix + "-")}
    for ns in sorted(names):
        if netns.exists(ns):
            netns.delete(ns)
            removed.append(ns)
    for path in [*state.paths, state.workdir]:
        shutil.rmtree(path, ignore_errors=True)
    return removed
