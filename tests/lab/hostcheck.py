"""What the host looks like from outside the lab, to prove a lab left nothing behind."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from . import netns
from .state import PREFIX, STATE_ROOT


@dataclass(frozen=True)
class HostSnapshot:
    """The host's own network: a lab must never change it, even while up.

    Other labs may run at the same time (other test sessions), so what labs
    do make -- namespaces, processes, state -- is checked per run with
    `leftovers`, not compared globally.
    """

    host_links: frozenset[str]
    host_addresses: frozenset[str]
    host_routes: frozenset[str]


def _lines(argv: list[str]) -> frozenset[str]:
    return frozenset(netns.run(argv).stdout.decode().splitlines())


def wireguard_go_pids() -> frozenset[int]:
    pids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and netns.pid_alive(int(entry), "wireguard-go"):
            with open(f"/proc/{entry}/comm") as f:
                if f.read().strip() == "wireguard-go":
                    pids.add(int(entry))
    return frozenset(pids)


def _listdir(path: str) -> frozenset[str]:
    try:
        return frozenset(os.listdir(path))
    except FileNotFoundError:
        return frozenset()


def snapshot() -> HostSnapshot:
    return HostSnapshot(
        # Link names and flags only: counters vary.
        host_links=frozenset(line.split("link/")[0] for line in _lines(["ip", "-o", "link", "show"])),
        host_addresses=frozenset(line.split("valid_lft")[0] for line in _lines(["ip", "-o", "addr", "show"])),
        host_routes=_lines(["ip", "route", "show", "table", "all"]),
    )


def leftovers(run_id: str, pids: Sequence[int] = (), paths: Sequence[str] = ()) -> list[str]:
    """Anything of lab run `run_id` still on the machine (empty when it is gone)."""
    left = [f"namespace {n}" for n in netns.list_ns() if n.startswith(f"{PREFIX}{run_id}-")]
    left += [f"wireguard-go pid {p}" for p in pids if p in wireguard_go_pids()]
    left += [f"path {p}" for p in [os.path.join(STATE_ROOT, run_id), *paths] if os.path.exists(p)]
    # Lab sockets live in private directories; none may reach the shared one.
    left += [f"/run/wireguard/{f}" for f in _listdir("/run/wireguard") if f in ("kilo0.sock", "wg0.sock")]
    return left
