"""A test API server (tests/kubeapi) holding the healthy cluster, whose exec
handler plays the nodes: real ``cat`` of a per-node ip_forward file, real
``busybox ping`` of 127.0.0.1 (or, for a broken pair, the same ping in a new
network namespace whose loopback is down), and recorded ``wg`` output.

Doctor's ping script (``sh -c SCRIPT kgctl-ping IP...``) runs in real busybox
sh; a ``ping`` shim first on its PATH sends each target to 127.0.0.1, or into
a new network namespace when that pair must fail.

``Nodes.timing`` (tests/kubeapi/exectiming.py) makes each exec last as long as
on a real cluster, or a scaled fraction of it; off by default, so that the
behaviour tests stay fast."""

from __future__ import annotations

import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubeapi import ExecResult, KubeAPIServer
from kubeapi.exectiming import ExecTiming

from . import CAPTURED_AT, healthy

EXEC_TIMEOUT = 30
UDP_HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"


@dataclass
class Nodes:
    """How each simulated node answers."""

    ip_forward: dict[str, str] = field(default_factory=dict)  # node -> file content (default "1\n")
    udp: dict[str, str] = field(default_factory=dict)  # node -> /proc/net/udp{,6} (default: nothing bound)
    # (source node, destination node) -> False when that ping must fail
    reachable: Callable[[str, str], bool] = lambda src, dst: True
    wg: dict[tuple[str, str], str] = field(default_factory=dict)  # (node, "dump"|"showconf") -> text
    latency: float = 0.0  # seconds every exec takes on top of the command
    fail_every: int = 0  # every Nth exec answers an error instead of running
    hang_every: int = 0  # every Nth exec (counted after fail_every's) hangs this long:
    hang: float = 0.0
    simulate_ping: bool = False  # for benchmarks: canned ping output instead of running ping
    timing: ExecTiming | None = None  # how long each exec takes (None: as long as it really runs here)
    wg_interface: str = "kilo0"
    # (node, command) -> what that exec answers instead, or None to answer as usual: a pod's odd output.
    answer: Callable[[str, list[str]], ExecResult | None] | None = None


class DoctorServer:
    def __init__(self, objects: list[dict[str, Any]] | None = None, nodes: Nodes | None = None, **kwargs: Any) -> None:
        doc = healthy()
        self.objects = objects if objects is not None else doc["items"]
        self.nodes = nodes or Nodes()
        self.tmp = Path(tempfile.mkdtemp(prefix="doctor-test-"))
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.count = 0
        self.commands: list[tuple[str, list[str]]] = []
        self._ip_index: dict[str, str] = {}
        self._indexed_pods: set[str] = set()
        self._shim: Path | None = None
        kwargs.setdefault("captured_at", CAPTURED_AT)
        self.srv = KubeAPIServer(self.objects, exec_handler=self.exec_handler, **kwargs)

    def __enter__(self) -> DoctorServer:
        self.srv.start()
        self.kubeconfig = self.srv.write_kubeconfig(self.tmp / "kubeconfig")
        return self

    def __exit__(self, *exc: object) -> None:
        self.srv.stop()

    def node_of_ip(self, ip: str, asking: str = "") -> str | None:
        # Indexed (a 1000-node run asks 70 000 times), and rebuilt when a pod it has not seen asks or an address is new.
        if ip not in self._ip_index or (asking and asking not in self._indexed_pods):
            index, names = {}, set()
            for pod in self.srv.store.list("Pod"):
                status = pod.get("status") or {}
                names.add(pod["metadata"]["name"])
                if status.get("podIP") and not (pod.get("spec") or {}).get("hostNetwork"):
                    index[status["podIP"]] = (pod.get("spec") or {}).get("nodeName")
            with self.lock:
                self._ip_index, self._indexed_pods = index, names
        return self._ip_index.get(ip)

    def pings(self, pod: dict[str, Any]) -> Callable[[str], bool]:
        """Whether a ping from ``pod`` to an address is answered."""
        node, name = pod["spec"].get("nodeName", ""), pod["metadata"]["name"]

        def answered(ip: str) -> bool:
            dst = self.node_of_ip(ip, name)
            return dst is not None and self.nodes.reachable(node, dst)

        return answered

    def exec_handler(self, pod: dict[str, Any], container: str | None, command: list[str], stdin: bytes | None) -> ExecResult:
        with self.lock:
            self.active += 1
            self.count += 1
            n = self.count
            self.peak = max(self.peak, self.active)
            self.commands.append((pod["spec"].get("nodeName", ""), list(command)))
        try:
            if self.nodes.latency:
                time.sleep(self.nodes.latency)
            if self.nodes.timing is not None:
                self.nodes.timing.sleep(command, self.pings(pod))
            if self.nodes.fail_every and n % self.nodes.fail_every == 0:
                return _raise_500()
            if self.nodes.hang_every and n % self.nodes.hang_every == 1:
                time.sleep(self.nodes.hang)
            return self._answer(pod, command)
        finally:
            with self.lock:
                self.active -= 1

    def _answer(self, pod: dict[str, Any], command: list[str]) -> ExecResult:
        node = pod["spec"].get("nodeName", "")
        if self.nodes.answer is not None and (odd := self.nodes.answer(node, command)) is not None:
            return odd
        if command == ["cat", "/proc/sys/net/ipv4/ip_forward"]:
            path = self.tmp / f"ip_forward-{node}"
            path.write_text(self.nodes.ip_forward.get(node, "1\n"))
            return _run(["cat", str(path)])
        if command == ["cat", "/proc/net/udp", "/proc/net/udp6"]:
            path = self.tmp / f"udp-{node}"
            path.write_text(self.nodes.udp.get(node, UDP_HEADER))
            return _run(["cat", str(path)])
        if command[:1] == ["ping"]:
            dst = self.node_of_ip(command[-1], pod["metadata"]["name"])
            ok = dst is not None and self.nodes.reachable(node, dst)
            if self.nodes.simulate_ping:
                return ExecResult(_PING_OK if ok else _PING_LOST, b"", 0 if ok else 1)
            argv = ["busybox", *command[:-1], "127.0.0.1"]
            # A fresh network namespace has its loopback down: a real, immediate failure.
            return _run(argv if ok else ["unshare", "--net", *argv])
        if command[:2] == ["sh", "-c"] and len(command) >= 4 and command[3] == "kgctl-ping":
            return self._ping_script(pod, command)
        if command[:1] == ["wg"] and len(command) >= 3:
            key = (node, "dump" if command[-1] == "dump" else "showconf")
            if command[2] != self.nodes.wg_interface:
                return ExecResult(b"", b"Unable to access interface: No such device\n", 1)
            text = self.nodes.wg.get(key)
            if text is None:
                return ExecResult(b"", b"Unable to access interface: No such device\n", 1)
            return ExecResult(text.encode(), b"", 0)
        return ExecResult(b"", f"sh: {command[0]}: not found\n".encode(), 127)

    def _ping_script(self, pod: dict[str, Any], command: list[str]) -> ExecResult:
        answered = self.pings(pod)
        targets = command[4:]
        if self.nodes.simulate_ping:
            lines = []
            for t in targets:
                ok = answered(t)
                text = (_PING_OK if ok else _PING_LOST).decode().replace("10.42.0.2", t).replace("\n", "|")
                lines.append(f"kgctl-ping {t} {0 if ok else 1} {text}\n")
            return ExecResult("".join(lines).encode(), b"", 0)
        unreachable = self.tmp / f"unreachable-{threading.get_ident()}"
        unreachable.write_text("".join(f"{t}\n" for t in targets if not answered(t)))
        env = {"PATH": f"{self.shim()}:/usr/sbin:/usr/bin:/sbin:/bin", "KGCTL_TEST_UNREACHABLE": str(unreachable)}
        proc = subprocess.run(["busybox", *command], capture_output=True, timeout=EXEC_TIMEOUT, check=False, env=env)
        return ExecResult(proc.stdout, proc.stderr, proc.returncode)

    def shim(self) -> Path:
        """A directory whose ``ping`` pings loopback, or fails in a fresh network namespace."""
        with self.lock:
            if self._shim is None:
                shim = self.tmp / "shim"
                shim.mkdir()
                (shim / "ping").write_text(_PING_SHIM)
                (shim / "ping").chmod(0o755)
                self._shim = shim
            return self._shim


# The last argument is the target; the rest are ping's flags.
_PING_SHIM = """#!/bin/sh
for t; do :; done
n=$#; i=0
for a; do i=$((i+1)); [ "$i" -lt "$n" ] && set -- "$@" "$a"; done
shift "$n"
if grep -qxF "$t" "$KGCTL_TEST_UNREACHABLE"; then exec unshare --net busybox ping "$@" 127.0.0.1; fi
exec busybox ping "$@" 127.0.0.1
"""


class _ExecBroke(Exception):
    pass


def _raise_500() -> ExecResult:
    # kubeapi turns a failing handler into an exec error status, as a broken kubelet would.
    raise _ExecBroke("simulated kubelet failure")


def _run(argv: list[str]) -> ExecResult:
    proc = subprocess.run(argv, capture_output=True, timeout=EXEC_TIMEOUT, check=False)
    return ExecResult(proc.stdout, proc.stderr, proc.returncode)


_PING_OK = (
    b"PING 10.42.0.2 (10.42.0.2): 56 data bytes\n64 bytes from 10.42.0.2: seq=0 ttl=64 time=0.051 ms\n"
    b"\n--- 10.42.0.2 ping statistics ---\n3 packets transmitted, 3 packets received, 0% packet loss\n"
    b"round-trip min/avg/max = 0.041/0.051/0.062 ms\n"
)
_PING_LOST = b"PING 10.42.0.2 (10.42.0.2): 56 data bytes\n\n--- 10.42.0.2 ping statistics ---\n3 packets transmitted, 0 packets received, 100% packet loss\n"


def wg_outputs(
    objects: list[dict[str, Any]],
    now: int = CAPTURED_AT,
    stale: dict[tuple[str, str], int] | None = None,
    drop: set[tuple[str, str]] | None = None,
    port: int = 51820,
    clock: int | None = None,
) -> dict[tuple[str, str], str]:
    """``wg show kilo0 dump`` and ``wg showconf kilo0`` as each leader would print them
    for the configuration Kilo computes: (leader, peer name) in ``drop`` is left out,
    ``stale`` gives a peer's handshake age in seconds (default 10 s; 0 means never)."""
    from kgctl_py.mesh.cluster import Cluster, Options, node_topology, topology_for_graph
    from kgctl_py.mesh.key import key_str

    nodes = [o for o in objects if o.get("kind") == "Node"]
    peers = [o for o in objects if o.get("kind") == "Peer"]
    cluster = Cluster.from_objects(nodes, peers)
    t = topology_for_graph(cluster, Options(), now)
    names = {key_str(s.key): s.leader_name for s in t.segments}
    names.update({key_str(p.public_key): p.name for p in cluster.peers})
    out: dict[tuple[str, str], str] = {}
    for s in t.segments:
        leader = s.leader_name
        conf = node_topology(cluster, leader, Options(port=port), now)[0].conf()
        dump = [f"(hidden-private-key)\t{key_str(s.key)}\t{port}\toff"]
        ini = [f"[Interface]\nListenPort = {port}\nPrivateKey = SECRETSECRETSECRETSECRETSECRETSECRETSECRET=\n"]
        for peer in conf:
            key = key_str(peer.public_key)
            name = names.get(key, key)
            if (leader, name) in (drop or set()):
                continue
            age = (stale or {}).get((leader, name), 10)
            # Handshakes are judged by the wall clock, topology at the fixture's time.
            handshake = 0 if age == 0 else (clock or int(time.time())) - age
            ips = ",".join(str(ip) for ip in peer.allowed_ips)
            endpoint = str(peer.endpoint) if peer.endpoint is not None else "(none)"
            dump.append(f"{key}\t(none)\t{endpoint}\t{ips}\t{handshake}\t1000\t2000\toff")
            block = f"[Peer]\nPublicKey = {key}\nAllowedIPs = {', '.join(str(ip) for ip in peer.allowed_ips)}\n"
            if peer.endpoint is not None:
                block += f"Endpoint = {peer.endpoint}\n"
            ini.append(block)
        out[(leader, "dump")] = "\n".join(dump) + "\n"
        out[(leader, "showconf")] = "\n".join(ini)
    return out
