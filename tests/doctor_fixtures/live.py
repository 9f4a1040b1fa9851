"""A test API server (tests/kubeapi) holding the healthy cluster, whose exec
handler plays the nodes: real ``cat`` of a per-node ip_forward file, real
``busybox ping`` of 127.0.0.1 (or, for a broken pair, the same ping in a new
network namespace whose loopback is down), and recorded ``wg`` output."""

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
    simulate_ping: bool = False  # for benchmarks: sleep instead of a real 2 s ping
    wg_interface: str = "kilo0"


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
        kwargs.setdefault("captured_at", CAPTURED_AT)
        self.srv = KubeAPIServer(self.objects, exec_handler=self.exec_handler, **kwargs)

    def __enter__(self) -> DoctorServer:
        self.srv.start()
        self.kubeconfig = self.srv.write_kubeconfig(self.tmp / "kubeconfig")
        return self

    def __exit__(self, *exc: object) -> None:
        self.srv.stop()

    def node_of_ip(self, ip: str) -> str | None:
        for pod in self.srv.store.list("Pod"):
            status = pod.get("status") or {}
            if status.get("podIP") == ip and not (pod.get("spec") or {}).get("hostNetwork"):
                return (pod.get("spec") or {}).get("nodeName")
        return None

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
        if command == ["cat", "/proc/sys/net/ipv4/ip_forward"]:
            path = self.tmp / f"ip_forward-{node}"
            path.write_text(self.nodes.ip_forward.get(node, "1\n"))
            return _run(["cat", str(path)])
        if command == ["cat", "/proc/net/udp", "/proc/net/udp6"]:
            path = self.tmp / f"udp-{node}"
            path.write_text(self.nodes.udp.get(node, UDP_HEADER))
            return _run(["cat", str(path)])
        if command[:1] == ["ping"]:
            dst = self.node_of_ip(command[-1])
            ok = dst is not None and self.nodes.reachable(node, dst)
            if self.nodes.simulate_ping:
                return ExecResult(_PING_OK if ok else _PING_LOST, b"", 0 if ok else 1)
            argv = ["busybox", *command[:-1], "127.0.0.1"]
            # A fresh network namespace has its loopback down: a real, immediate failure.
            return _run(argv if ok else ["unshare", "--net", *argv])
        if command[:1] == ["wg"] and len(command) >= 3:
            key = (node, "dump" if command[-1] == "dump" else "showconf")
            if command[2] != self.nodes.wg_interface:
                return ExecResult(b"", b"Unable to access interface: No such device\n", 1)
            text = self.nodes.wg.get(key)
            if text is None:
                return ExecResult(b"", b"Unable to access interface: No such device\n", 1)
            return ExecResult(text.encode(), b"", 0)
        return ExecResult(b"", f"sh: {command[0]}: not found\n".encode(), 127)


class _ExecBroke(Exception):
    pass


def _raise_500() -> ExecResult:
    # kubeapi turns a failing handler into an exec error status, as a broken kubelet would.
    raise _ExecBroke("simulated kubelet failure")


def _run(argv: list[str]) -> ExecResult:
    proc = subprocess.run(argv, capture_output=True, timeout=EXEC_TIMEOUT, check=False)
    return ExecResult(proc.stdout, proc.stderr, proc.returncode)


_PING_OK = (b"PING 10.42.0.2 (10.42.0.2): 56 data bytes\n64 bytes from 10.42.0.2: seq=0 ttl=64 time=0.051 ms\n"
            b"\n--- 10.42.0.2 ping statistics ---\n3 packets transmitted, 3 packets received, 0% packet loss\n"
            b"round-trip min/avg/max = 0.041/0.051/0.062 ms\n")
_PING_LOST = b"PING 10.42.0.2 (10.42.0.2): 56 data bytes\n\n--- 10.42.0.2 ping statistics ---\n3 packets transmitted, 0 packets received, 100% packet loss\n"


def wg_outputs(objects: list[dict[str, Any]], now: int = CAPTURED_AT, stale: dict[tuple[str, str], int] | None = None,
               drop: set[tuple[str, str]] | None = None, port: int = 51820, clock: int | None = None) -> dict[tuple[str, str], str]:
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
