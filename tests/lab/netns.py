"""Thin, bounded wrappers around iproute2 and network namespaces.

Every command has a timeout, and nothing here touches the host's own links,
addresses or routes: links are created directly inside lab namespaces
(`ip -n NS link add ... peer ... netns OTHER`), so they never appear in the
host namespace, even for a moment.
"""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

NETNS_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
T = TypeVar("T")


class CommandError(RuntimeError):
    pass


def run(
    argv: Sequence[str],
    *,
    timeout: float = 15,
    check: bool = True,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run a command with a timeout; on failure raise with its stderr attached."""
    proc = subprocess.run(list(argv), input=input, capture_output=True, timeout=timeout, check=False, env=env)
    if check and proc.returncode != 0:
        raise CommandError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode(errors='replace').strip()}")
    return proc


def ip(ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    return run(["ip", "-n", ns, *args], check=check)


def in_ns(ns: str, argv: Sequence[str]) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv]


def exists(ns: str) -> bool:
    return os.path.exists(os.path.join(NETNS_DIR, ns))


def list_ns() -> list[str]:
    try:
        return sorted(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return []


def add(ns: str) -> None:
    run(["ip", "netns", "add", ns])
    ip(ns, "link", "set", "lo", "up")


def delete(ns: str) -> None:
    """Delete a namespace; its veth ends and bridges go with it."""
    if exists(ns):
        run(["ip", "netns", "delete", ns], check=False)


def sysctl(ns: str, key: str, value: str | int) -> None:
    path = "/proc/sys/" + key.replace(".", "/")
    run(in_ns(ns, ["sh", "-c", f"echo {value} > {path}"]))


def read_sysctl(ns: str, key: str) -> str:
    path = "/proc/sys/" + key.replace(".", "/")
    return run(in_ns(ns, ["cat", path])).stdout.decode().strip()


def veth(ns_a: str, name_a: str, ns_b: str, name_b: str) -> None:
    """A veth pair created straight into two lab namespaces, both ends up."""
    ip(ns_a, "link", "add", name_a, "type", "veth", "peer", "name", name_b, "netns", ns_b)
    ip(ns_a, "link", "set", name_a, "up")
    ip(ns_b, "link", "set", name_b, "up")


def bridge(ns: str, name: str) -> None:
    ip(ns, "link", "add", name, "type", "bridge")
    ip(ns, "link", "set", name, "up")


def in_netns_thread(ns: str, fn: Callable[[], T], timeout: float = 5) -> T:
    """Run `fn` on a short-lived thread that has joined namespace `ns`.

    A network namespace belongs to a thread, not the process, so the switch
    cannot leak into other threads; the thread ends right after. Sockets made
    there stay in `ns` for their whole life, which is how the lab listens on
    addresses inside a namespace from this process.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            fd = os.open(os.path.join(NETNS_DIR, ns), os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({ns}): {os.strerror(err)}")
            finally:
                os.close(fd)
            result.append(fn())
        except BaseException as exc:  # noqa: BLE001 -- handed to the caller below
            error.append(exc)

    t = threading.Thread(target=target, name=f"netns-{ns}", daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise TimeoutError(f"work inside {ns} did not finish in {timeout}s")
    if error:
        raise error[0]
    return result[0]


def listen_tcp(ns: str, addr: str, port: int) -> socket.socket:
    """A listening TCP socket bound inside namespace `ns`."""

    def make() -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port))
        s.listen(64)
        return s

    return in_netns_thread(ns, make)


def pid_alive(pid: int, needle: str) -> bool:
    """True if `pid` runs and its command line contains `needle` (guards pid reuse)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return needle.encode() in f.read()
    except OSError:
        return False
