"""WireGuard in the lab: keys, `wireguard-go` processes and their configs.

wireguard-go keeps its control socket in /run/wireguard, a directory every
namespace shares. Each lab node gets a private directory mounted over
/run/wireguard in a mount namespace of its own (`unshare -m`), so every node's
interface can be called `kilo0` as Kilo calls it, `wg show` inside a node sees
only that node's interface, and parallel runs never collide.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from .netns import CommandError, in_ns, run

IFACE = "kilo0"
PORT = 51820


def genkey() -> str:
    return run(["wg", "genkey"]).stdout.decode().strip()


def pubkey(private: str) -> str:
    return run(["wg", "pubkey"], input=private.encode() + b"\n").stdout.decode().strip()


def with_wg_dir(ns: str, wg_dir: str, argv: Sequence[str]) -> list[str]:
    """argv run in `ns` with `wg_dir` seen as /run/wireguard.

    `ip netns exec`, `unshare` and `sh -c exec` all exec in place, so the pid
    of the returned command line is the pid of argv itself.
    """
    script = 'mount --bind "$0" /run/wireguard && exec "$@"'
    return in_ns(ns, ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, wg_dir, *argv])


def start_wireguard_go(ns: str, wg_dir: str, log_path: str, iface: str = IFACE) -> subprocess.Popen[bytes]:
    """Start wireguard-go in the foreground (so we own its pid) and wait for its socket."""
    os.makedirs(wg_dir, exist_ok=True)
    # The mount point must exist; wireguard-go itself would create it anyway.
    os.makedirs("/run/wireguard", exist_ok=True)
    env = dict(os.environ, WG_PROCESS_FOREGROUND="1", LOG_LEVEL="error")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            with_wg_dir(ns, wg_dir, ["wireguard-go", iface]),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # Ctrl-C on `lab up` must not kill it mid-teardown
        )
    sock = os.path.join(wg_dir, f"{iface}.sock")
    deadline = time.monotonic() + 10
    while not os.path.exists(sock):
        if proc.poll() is not None:
            raise CommandError(f"wireguard-go in {ns} exited {proc.returncode}; see {log_path}")
        if time.monotonic() > deadline:
            proc.kill()
            raise CommandError(f"wireguard-go in {ns} made no socket in 10s; see {log_path}")
        time.sleep(0.02)
    return proc


def wg(ns: str, wg_dir: str, *args: str, input: bytes | None = None, check: bool = True) -> str:
    return run(with_wg_dir(ns, wg_dir, ["wg", *args]), input=input, check=check).stdout.decode()


def with_private_key(conf: str, private_key: str, listen_port: int | None = None) -> str:
    """Add PrivateKey (and ListenPort if asked) to a config's [Interface] section.

    kgctl's `showconf node` prints an [Interface] section without the key;
    `showconf peer` prints none at all.
    """
    lines = conf.splitlines()
    extra = [f"PrivateKey = {private_key}"]
    if "[Interface]" in lines:
        at = lines.index("[Interface]") + 1
        if listen_port is not None and not any(line.startswith("ListenPort") for line in lines):
            extra.append(f"ListenPort = {listen_port}")
        return "\n".join(lines[:at] + extra + lines[at:]) + "\n"
    if listen_port is not None:
        extra.append(f"ListenPort = {listen_port}")
    return "\n".join(["[Interface]", *extra, "", *lines]) + "\n"


@dataclass
class Section:
    name: str
    items: dict[str, list[str]] = field(default_factory=dict)


def parse_conf(text: str) -> list[Section]:
    """Parse a wg INI config into sections of key -> values (comma lists split)."""
    sections: list[Section] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            sections.append(Section(line[1:-1]))
            continue
        if not sections or "=" not in line:
            raise ValueError(f"not a WireGuard config line: {raw!r}")
        key, value = (part.strip() for part in line.split("=", 1))
        values = [v.strip() for v in value.split(",")] if key == "AllowedIPs" else [value]
        sections[-1].items.setdefault(key, []).extend(values)
    return sections


def canonical(text: str, *, drop: Sequence[str] = ("PrivateKey",)) -> str:
    """A config rendered in one canonical order, for comparing two renderings.

    Peers are sorted by public key and AllowedIPs sorted within a peer, because
    wg(8) prints both in the device's order rather than the order they were
    set in; keys are sorted within a section; keys in `drop` are removed.
    Everything else -- which peers, their endpoints, keepalives, the exact
    AllowedIPs -- must match.
    """
    out: list[str] = []
    sections = parse_conf(text)
    ifaces = [s for s in sections if s.name == "Interface"]
    peers = sorted((s for s in sections if s.name == "Peer"), key=lambda s: s.items.get("PublicKey", [""])[0])
    for s in ifaces + peers:
        out.append(f"[{s.name}]")
        for key in sorted(s.items):
            if key in drop:
                continue
            values = sorted(s.items[key]) if key == "AllowedIPs" else s.items[key]
            out.append(f"{key} = {', '.join(values)}")
        out.append("")
    return "\n".join(out)
