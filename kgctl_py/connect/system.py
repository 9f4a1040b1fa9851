"""The host side of ``connect``: capabilities, keys, the WireGuard interface, routes.

Everything goes through iproute2, wg(8) and wireguard-go with a timeout, so
no call can hang. Private keys travel only over pipes (wg's stdin), never
through argv, a temporary file or a log line.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Sequence

from kgctl_py.errors import CliError, ExitCode

CAP_NET_ADMIN = 12
COMMAND_TIMEOUT = 15.0
# wireguard-go keeps its UAPI sockets here; the directory is shared by all
# network namespaces, so interface names must be unique across them.
WG_RUN_DIR = "/var/run/wireguard"
KERNEL = "kernel"
USERSPACE = "wireguard-go"


class HostError(CliError):
    """A host command failed; the message names the command and its stderr."""


def has_net_admin(status_path: str = "/proc/self/status") -> bool:
    """Whether this process holds CAP_NET_ADMIN in its effective set."""
    try:
        with open(status_path) as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> CAP_NET_ADMIN & 1)
    except (OSError, ValueError, IndexError):
        pass
    # Without /proc, root is the best guess.
    return os.geteuid() == 0


def run(argv: Sequence[str], input: bytes | None = None, check: bool = True, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[bytes]:
    try:
        proc = subprocess.run(list(argv), input=input, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise HostError(f"{argv[0]} is not installed; connect needs iproute2 and wireguard-tools (wg)", ExitCode.USAGE) from None
    except subprocess.TimeoutExpired:
        raise HostError(f"`{' '.join(argv)}` did not finish within {timeout:g}s") from None
    if check and proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip().splitlines()
        raise HostError(f"`{' '.join(argv)}` failed: {detail[-1] if detail else f'exit status {proc.returncode}'}")
    return proc


# ---------------------------------------------------------------- keys


def generate_private_key() -> bytes:
    from kgctl_py.mesh.key import parse_key

    key = parse_key(run(["wg", "genkey"]).stdout.decode().strip())
    if key is None:
        raise HostError("`wg genkey` did not print a WireGuard key")
    return key


def public_key(private: bytes) -> bytes:
    from kgctl_py.mesh.key import key_str, parse_key

    key = parse_key(run(["wg", "pubkey"], input=key_str(private).encode() + b"\n").stdout.decode().strip())
    if key is None:
        raise HostError("`wg pubkey` did not print a WireGuard key")
    return key


def read_private_key(path: str) -> bytes | None:
    """The key in ``path``; None if the file does not exist."""
    from kgctl_py.mesh.key import parse_key
    from kgctl_py.outfile import refuse_special

    refuse_special(path, "private key")  # a FIFO would hang us; /dev/stdout would print the key
    try:
        with open(path, "rb") as f:
            raw = f.read(4096)
    except FileNotFoundError:
        return None
    except OSError as err:
        raise CliError(f"failed to read private key: {path}: {err.strerror}", ExitCode.USAGE) from None
    key = parse_key(raw.decode("ascii", "replace").strip())
    if key is None:
        raise CliError(f"failed to parse private key: {path} does not hold a base64-encoded 32-byte WireGuard key", ExitCode.USAGE)
    return key


def write_private_key(path: str, key: bytes) -> None:
    """Write a new key file, readable by its owner only; never overwrite one."""
    from kgctl_py.mesh.key import key_str
    from kgctl_py.outfile import write_output

    write_output(path, (key_str(key) + "\n").encode(), "private key", private=True)


# ---------------------------------------------------------------- the interface


def link_exists(name: str) -> bool:
    return run(["ip", "link", "show", "dev", name], check=False).returncode == 0


def is_wireguard(name: str) -> bool:
    return run(["wg", "show", name, "public-key"], check=False).returncode == 0


class Interface:
    """The WireGuard interface: its name, implementation, and our wireguard-go child if any."""

    def __init__(self, name: str, kind: str, created: bool, process: subprocess.Popen[bytes] | None = None) -> None:
        self.name = name
        self.kind = kind
        self.created = created
        self.process = process


def create_interface(name: str, mtu: int) -> Interface:
    """Create WireGuard interface ``name``.

    Kernel WireGuard when the module is there, else wireguard-go in
    userspace. An existing WireGuard interface is reused, as Kilo does.
    """
    if link_exists(name):
        if not is_wireguard(name):
            raise HostError(f"interface {name} exists and is not a WireGuard interface; choose another with --interface", ExitCode.USAGE)
        kind = USERSPACE if os.path.exists(os.path.join(WG_RUN_DIR, f"{name}.sock")) else KERNEL
        set_mtu(name, mtu)
        return Interface(name, kind, False)
    if run(["ip", "link", "add", "dev", name, "type", "wireguard"], check=False).returncode == 0:
        iface = Interface(name, KERNEL, True)
    else:
        iface = Interface(name, USERSPACE, True, _start_wireguard_go(name))
    try:
        set_mtu(name, mtu)
    except HostError:
        remove_interface(iface)
        raise
    return iface


def _start_wireguard_go(name: str) -> subprocess.Popen[bytes]:
    """wireguard-go in the foreground, as our child, in its own session.

    Its own session keeps a terminal's Ctrl-C from killing it before we
    clean up; with --clean-up=false it simply outlives us. Being our child
    lets us reap it once the interface is deleted.
    """
    env = dict(os.environ, WG_PROCESS_FOREGROUND="1")
    # Without LOG_LEVEL wireguard-go logs errors only.
    env.pop("LOG_LEVEL", None)
    log = tempfile.TemporaryFile()
    try:
        proc = subprocess.Popen(["wireguard-go", "-f", name], stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, start_new_session=True)
    except FileNotFoundError:
        log.close()
        raise HostError("kernel WireGuard is not available and wireguard-go is not installed; install one of them", ExitCode.USAGE) from None
    sock = os.path.join(WG_RUN_DIR, f"{name}.sock")
    deadline = time.monotonic() + COMMAND_TIMEOUT
    try:
        while not (os.path.exists(sock) and link_exists(name)):
            if proc.poll() is not None:
                log.seek(0)
                text = log.read(65536).decode(errors="replace")
                # Skip the box-drawn banner wireguard-go prints about kernel support.
                lines = [line.strip() for line in text.splitlines() if line.strip() and line.strip()[0] not in _BOX]
                raise HostError(f"wireguard-go {name} failed: {lines[-1] if lines else f'exit status {proc.returncode}'}")
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait(timeout=5)
                raise HostError(f"wireguard-go {name} made no interface within {COMMAND_TIMEOUT:g}s")
            time.sleep(0.02)
    finally:
        log.close()  # the child keeps its own descriptor
    return proc


_BOX = "\u2502\u250c\u2510\u2514\u2518\u2500"


def set_mtu(name: str, mtu: int) -> None:
    run(["ip", "link", "set", "dev", name, "mtu", str(mtu)])


def set_address(name: str, address: str) -> None:
    """The interface holds exactly ``address`` (Kilo's ``iproute.SetAddress``)."""
    run(["ip", "address", "flush", "dev", name])
    run(["ip", "address", "add", address, "dev", name])


def set_up(name: str) -> None:
    run(["ip", "link", "set", "dev", name, "up"])


def set_conf(name: str, conf: str, replace: bool) -> None:
    """Apply a full configuration: ``setconf`` replaces, ``syncconf`` changes only what differs."""
    try:
        run(["wg", "setconf" if replace else "syncconf", name, "/dev/stdin"], input=conf.encode())
    except HostError as err:
        # wg quotes a line it cannot parse: keep keys out of the message.
        for line in conf.splitlines():
            label, _, value = line.partition(" = ")
            if label in ("PrivateKey", "PresharedKey") and value:
                err.message = err.message.replace(value, "(hidden)")
        raise HostError(err.message, err.code) from None


def remove_interface(iface: Interface) -> None:
    """Delete the interface; wireguard-go exits and removes its socket by itself."""
    name = iface.name
    if link_exists(name):
        run(["ip", "link", "set", "dev", name, "down"], check=False)
        run(["ip", "link", "delete", "dev", name])
    if iface.process is not None:
        try:
            iface.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            iface.process.kill()  # our own child, by its handle
            iface.process.wait(timeout=5)
    sock = os.path.join(WG_RUN_DIR, f"{name}.sock")
    deadline = time.monotonic() + 5
    while os.path.exists(sock) and time.monotonic() < deadline:
        time.sleep(0.05)


# ---------------------------------------------------------------- routes


def replace_routes(lines: list[list[str]]) -> list[str]:
    """``ip route replace`` each route; returns the errors (one line each)."""
    return _route_batch("replace", lines)


def delete_routes(lines: list[list[str]]) -> list[str]:
    return _route_batch("del", lines)


def _route_batch(verb: str, lines: list[list[str]]) -> list[str]:
    if not lines:
        return []
    batch = "".join(f"route {verb} {' '.join(words)}\n" for words in lines)
    # -force: one bad route must not stop the rest.
    proc = run(["ip", "-force", "-batch", "-"], input=batch.encode(), check=False)
    if proc.returncode == 0:
        return []
    return [line for line in proc.stderr.decode(errors="replace").splitlines() if line.strip()]
