"""What the host looks like from outside the lab, to prove a lab left nothing behind."""

from __future__ import annotations

import os
from dataclasses import dataclass

from . import netns
from .state import PREFIX, STATE_ROOT


@dataclass(frozen=True)
class HostSnapshot:
    lab_namespaces: frozenset[str]  # kgl* namespaces (other tests' namespaces are not ours to judge)
    host_links: frozenset[str]
    host_addresses: frozenset[str]
    host_routes: frozenset[str]
    wireguard_go: frozenset[int]  # pids of every wireguard-go on the machine
    run_wireguard: frozenset[str]  # the shared UAPI socket directory
    lab_state: frozenset[str]  # run directories under the lab's state root


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
        lab_namespaces=frozenset(n for n in netns.list_ns() if n.startswith(PREFIX)),
        # Link names and flags only: counters and link-local chatter vary.
        host_links=frozenset(line.split("link/")[0] for line in _lines(["ip", "-o", "link", "show"])),
        host_addresses=frozenset(line.split("valid_lft")[0] for line in _lines(["ip", "-o", "addr", "show"])),
        host_routes=_lines(["ip", "route", "show", "table", "all"]),
        wireguard_go=wireguard_go_pids(),
        run_wireguard=_listdir("/run/wireguard"),
        lab_state=frozenset(d for d in _listdir(STATE_ROOT) if os.path.isdir(os.path.join(STATE_ROOT, d))),
    )
