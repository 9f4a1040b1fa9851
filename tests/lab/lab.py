"""The network-namespace lab: a multi-cloud K3s + Kilo cluster on one machine.

Layout (names are per run: `kgl<id>-...`):

* `kgl<id>-net`: the "internet" -- bridge `inet` holding the lab's public
  TEST-NET gateways (it routes between the two /24s), plus one address-less
  bridge `loc<i>` per location standing in for that cloud's private network.
* `kgl<id>-<node>`: one namespace per node. `eth0` on its location's private
  network, `eth1` on the internet (nodes with a public IP), `cni0` with the
  first address of the pod CIDR, `kilo0` (wireguard-go; addressed and peered
  on leaders only, as Kilo does).
* `kgl<id>-<node>-<n>`: pods, `eth0` on the node's `cni0`.
* `kgl<id>-<peer>`: running Kilo peers (the operator's laptop) on the internet.

WireGuard is configured from kgctl-py's own `showconf` output, so a working
mesh is evidence that kgctl-py's configs are right.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import kube, netns, wg
from .relay import Relay
from .spec import LabSpec, NodeSpec, PeerSpec, blog_spec
from .state import STATE_ROOT, ProcessRecord, State, teardown

REPO = Path(__file__).resolve().parents[2]
KILO_PERIOD = 30.0  # kg rewrites last-seen and discovered-endpoints this often
POD_MTU = 1420  # Kilo's CNI config gives the bridge and pods kilo0's MTU (wireguard-go's default)


class LabError(RuntimeError):
    pass


@dataclass
class LabPod:
    key: str  # "namespace/name" of the Kubernetes pod it backs
    node: str
    ns: str
    ip: str
    host_if: str  # its veth end in the node namespace


@dataclass
class LabNode:
    spec: NodeSpec
    index: int
    ns: str
    private_key: str
    public_key: str
    wg_dir: str
    leader: bool = False
    wg_ip: str | None = None  # "10.4.0.3/16", leaders only
    conf: str = ""  # `kgctl-py showconf node` output, leaders only
    pods: list[LabPod] = field(default_factory=list)
    next_pod: int = 2  # .1 is cni0
    # kg gives a member's kilo0 no peers and lets the kernel pick its port.
    member_port: int = field(default_factory=lambda: 32768 + secrets.randbelow(28000))

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def wg_addr(self) -> str | None:
        return str(ipaddress.ip_interface(self.wg_ip).ip) if self.wg_ip else None


@dataclass
class LabPeer:
    spec: PeerSpec
    ns: str | None  # None: the peer exists only in the API
    private_key: str
    public_key: str
    wg_dir: str
    conf: str = ""


@dataclass(frozen=True)
class PingResult:
    src: str
    dst: str
    ok: bool


class Lab:
    """Build with `up()`, remove with `down()`; also a context manager."""

    def __init__(
        self,
        spec: LabSpec | None = None,
        *,
        kgctl: Sequence[str] | None = None,
        state_root: str = STATE_ROOT,
        run_id: str | None = None,
    ) -> None:
        self.spec = spec or blog_spec()
        self.spec.validate()
        self.run_id = run_id or secrets.token_hex(3)[:5]
        self.prefix = f"kgl{self.run_id}"
        self.workdir = os.path.join(state_root, self.run_id)
        self.kgctl_argv = list(kgctl) if kgctl else default_kgctl()
        self.state = State(run_id=self.run_id, workdir=self.workdir, owner_pid=os.getpid())
        self.hub = f"{self.prefix}-net"
        self.nodes: dict[str, LabNode] = {}
        self.peers: dict[str, LabPeer] = {}
        self.pods: dict[str, LabPod] = {}
        self.api: Any = None  # kubeapi.KubeAPIServer once up
        self.kubeconfig = os.path.join(self.workdir, "kubeconfig")
        # Inside operator_ns: via a tunnel-like 127.0.0.1:6443, or via the
        # server's public IP as in the blog (fails under the certificate fault).
        self.operator_kubeconfig = os.path.join(self.workdir, "kubeconfig-operator")
        self.operator_kubeconfig_public = os.path.join(self.workdir, "kubeconfig-operator-public")
        self.api_relay: Relay | None = None
        self.operator_ns = ""
        self.wg_subnet: ipaddress.IPv4Network | None = None
        self.up_seconds: float | None = None
        self._procs: list[subprocess.Popen[bytes]] = []
        self._relays: list[Relay] = []
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self._stale: set[str] = set()  # nodes whose last-seen the heartbeat leaves alone
        self._undo: list[tuple[str, Any]] = []  # (description, callable) to clear faults
        self._up = False
        self.skipped: list[str] = []  # nodes kgctl-py had no config for at the last resync
        self.dns: LabPod | None = None  # CoreDNS's pod (dnsmasq), not in `pods`
        self._metrics: list[Any] = []  # MetricsServer per node
        self.reconciles: dict[str, int] = {}  # node -> configurations applied (kilo_reconciles_total)
        self.metrics_faults: dict[str, Any] = {}  # node -> callable: the values a faulty agent reports

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Lab:  # noqa: PYI034 -- typing.Self needs Python 3.11
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.down()

    def up(self, wait: float = 20.0) -> Lab:
        """Build everything; on any failure undo what was made and re-raise."""
        start = time.monotonic()
        check_tools()
        os.makedirs(self.workdir, exist_ok=False)
        self.state.save()
        try:
            self._build_network()
            self._make_keys()
            self._start_api()
            self._configure_wireguard()
            self._wait_handshakes(wait)
            self._start_metrics()
            self.agent_tick()
            self._start_heartbeat()
        except BaseException:
            self.down()
            raise
        self._up = True
        self.up_seconds = time.monotonic() - start
        self.state.info = self.describe()
        self.state.save()
        return self

    def down(self) -> list[str]:
        """Stop threads, servers and processes; delete every namespace. Idempotent."""
        self._stop.set()
        if self._heartbeat:
            self._heartbeat.join(timeout=5)
        for relay in self._relays:
            relay.stop()
        self._relays.clear()
        for server in self._metrics:
            server.stop()
        self._metrics.clear()
        if self.api is not None:
            try:
                self.api.stop()
            except Exception:  # noqa: BLE001, S110 -- teardown must go on whatever the server does
                pass
            self.api = None
        removed = teardown(self.state)
        for proc in self._procs:
            try:
                proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        self._procs.clear()
        self._up = False
        return removed

    # ------------------------------------------------------------------ network

    def _add_ns(self, name: str) -> str:
        ns = f"{self.prefix}-{name}"
        # Record first: a crash between the two steps must not leak it.
        self.state.namespaces.append(ns)
        self.state.save()
        netns.add(ns)
        return ns

    def _build_network(self) -> None:
        spec = self.spec
        self._add_ns("net")
        hub = self.hub
        # The internet routes between the TEST-NETs and nowhere else: it has no
        # default route, so nothing the lab sends can leave it.
        _sysctls(hub, forward=1)
        netns.bridge(hub, "inet")
        for gw in spec.internet_gateways:
            netns.ip(hub, "addr", "add", gw, "dev", "inet")
        for i, _loc in enumerate(spec.locations):
            netns.bridge(hub, f"loc{i}")

        for i, node in enumerate(spec.nodes):
            ns = self._add_ns(node.short)
            _sysctls(ns, forward=1)
            loc = spec.locations.index(node.location)
            netns.veth(hub, f"n{i}p", ns, "eth0")
            netns.ip(hub, "link", "set", f"n{i}p", "master", f"loc{loc}")
            netns.ip(ns, "addr", "add", node.private_ip, "dev", "eth0")
            if node.public_ip:
                self._attach_internet(ns, f"n{i}x", node.public_ip)
            pod_gw = ipaddress.ip_network(node.pod_cidr)
            netns.bridge(ns, "cni0")
            # A fixed MAC, as the CNI bridge plugin sets: otherwise the bridge takes
            # its lowest port's MAC, which changes as pods come and go.
            netns.ip(ns, "link", "set", "cni0", "address", _mac_for(str(pod_gw[1])))
            netns.ip(ns, "link", "set", "cni0", "mtu", str(POD_MTU))
            netns.ip(ns, "addr", "add", f"{pod_gw[1]}/{pod_gw.prefixlen}", "dev", "cni0")
            wg_dir = os.path.join(self.workdir, "wg", node.short)
            self.nodes[node.name] = LabNode(node, i, ns, "", "", wg_dir)

        for i, peer in enumerate(spec.peers):
            peer_ns: str | None = None
            if peer.public_ip:
                peer_ns = self._add_ns(peer.name)
                _sysctls(peer_ns, forward=0)
                self._attach_internet(peer_ns, f"p{i}x", peer.public_ip)
            wg_dir = os.path.join(self.workdir, "wg", f"peer-{peer.name}")
            self.peers[peer.name] = LabPeer(peer, peer_ns, "", "", wg_dir)
        running = [p.ns for p in self.peers.values() if p.ns]
        if running:
            self.operator_ns = running[0]
        else:
            # No running peer: the operator still needs a machine on the internet.
            self.operator_ns = self._add_ns("op")
            self._attach_internet(self.operator_ns, "opx", _host_in(spec.internet_gateways[0], 250))

        for node in spec.nodes:
            for _ in range(spec.pods_per_node):
                self.add_pod(node.name)
        self._start_services()

    def _start_services(self) -> None:
        """CoreDNS (dnsmasq in a pod on the K3s server) and kube-proxy's DNAT of
        the `kube-dns` and `kubernetes` ClusterIPs on every node."""
        server = self.node(self.spec.server.name)
        net = ipaddress.ip_network(server.spec.pod_cidr)
        pod = self.add_pod(server.name, kube.DNS_POD, str(net[-2]))
        # Not a workload: out of the ping matrix, but its namespace is the lab's.
        del self.pods[pod.key]
        server.pods.remove(pod)
        self.dns = pod
        argv = netns.in_ns(
            pod.ns,
            [
                "dnsmasq",
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--user=root",
                "--bind-interfaces",
                f"--listen-address={pod.ip}",
                "--pid-file=",
                "--local=/cluster.local/",
                f"--host-record=kubernetes.default.svc.cluster.local,{kube.KUBERNETES_CLUSTER_IP}",
            ],
        )
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._procs.append(proc)
        self.state.processes.append(ProcessRecord(proc.pid, "dnsmasq"))
        self.state.save()
        for node in self.nodes.values():
            rules = kube.kube_proxy_rules(node.spec.pod_cidr, pod.ip, server.spec.private_addr)
            netns.run(netns.in_ns(node.ns, ["nft", "-f", "-"]), input=rules.encode())

    def _attach_internet(self, ns: str, hub_if: str, public_ip: str) -> None:
        gw = next(ipaddress.ip_interface(g) for g in self.spec.internet_gateways if ipaddress.ip_address(public_ip) in ipaddress.ip_interface(g).network)
        netns.veth(self.hub, hub_if, ns, "eth1")
        netns.ip(self.hub, "link", "set", hub_if, "master", "inet")
        netns.ip(ns, "addr", "add", f"{public_ip}/{gw.network.prefixlen}", "dev", "eth1")
        netns.ip(ns, "route", "add", "default", "via", str(gw.ip))

    def add_pod(self, node_name: str, key: str | None = None, ip: str | None = None) -> LabPod:
        """A pod namespace behind `node_name`'s cni0.

        `ip` is the address the API server gave the pod (it allocates from the
        pod CIDR as host-local IPAM does); without one the lab takes the next
        free address itself.
        """
        with self._lock:
            node = self.node(node_name)
            net = ipaddress.ip_network(node.spec.pod_cidr)
            used = {p.ip for p in node.pods}
            if ip is None or ip in used or ipaddress.ip_address(ip) not in net:
                ip = next((str(h) for h in list(net.hosts())[1:] if str(h) not in used), None)
                if ip is None:
                    raise LabError(f"{node.name}: pod CIDR {net} is full")
            k = node.next_pod
            node.next_pod += 1
            key = key or f"default/lab-{node.spec.short}-{k}"
            if key in self.pods:
                raise LabError(f"pod {key} exists")
            ns = self._add_ns(f"{node.spec.short}-{k}")
            host_if = f"veth{k}"
            netns.veth(node.ns, host_if, ns, "eth0")
            netns.ip(node.ns, "link", "set", host_if, "mtu", str(POD_MTU), "master", "cni0")
            netns.ip(ns, "link", "set", "eth0", "mtu", str(POD_MTU))
            # A MAC derived from the IP (like the CNI plugins' 0a:58:...), so that a
            # new pod reusing an old pod's IP is not shadowed by a stale ARP entry.
            netns.ip(ns, "link", "set", "eth0", "address", _mac_for(ip))
            netns.ip(ns, "addr", "add", f"{ip}/{net.prefixlen}", "dev", "eth0")
            netns.ip(ns, "route", "add", "default", "via", str(net[1]))
            pod = LabPod(key, node.name, ns, ip, host_if)
            node.pods.append(pod)
            self.pods[key] = pod
            return pod

    def remove_pod(self, key: str) -> None:
        with self._lock:
            pod = self.pods.pop(key, None)
            if pod is None:
                return
            self.nodes[pod.node].pods.remove(pod)
            netns.delete(pod.ns)
            if pod.ns in self.state.namespaces:
                self.state.namespaces.remove(pod.ns)
                self.state.save()

    # ------------------------------------------------------------------ keys and API

    def _make_keys(self) -> None:
        items: list[LabNode | LabPeer] = [*self.nodes.values(), *self.peers.values()]
        for item in items:
            item.private_key = wg.genkey()
            item.public_key = wg.pubkey(item.private_key)

    def objects(self) -> list[dict[str, Any]]:
        """What the API server starts with: Nodes, Peers, Kilo and the lab's own pods."""
        objs: list[dict[str, Any]] = []
        for node in self.nodes.values():
            objs.append(kube.node_object(self.spec, node.spec, node.public_key))
        for peer in self.peers.values():
            objs.append(kube.peer_object(peer.spec, peer.public_key))
        objs.append(kube.kilo_daemonset())
        for node in self.nodes.values():
            objs.append(kube.kilo_pod(node.spec))
        for pod in self.pods.values():
            objs.append(kube.workload_pod(pod.key, self.nodes[pod.node].spec, pod.ip))
        objs += kube.services()
        if self.dns is not None:
            objs.append(kube.dns_pod(self.nodes[self.dns.node].spec, self.dns.ip))
        return objs

    def _start_api(self) -> None:
        from .api import start_api  # kubeapi is imported only here

        start_api(self)

    # ------------------------------------------------------------------ WireGuard

    def showconf(self, kind: str, name: str) -> subprocess.CompletedProcess[bytes]:
        return self.kgctl("showconf", kind, name, check=False)

    def _configure_wireguard(self) -> None:
        self._read_configs(strict=True)
        for peer in self.peers.values():
            proc = self.showconf("peer", peer.spec.name)
            if proc.returncode != 0:
                raise LabError(f"showconf peer {peer.spec.name}: {proc.stderr.decode().strip()}")
            peer.conf = proc.stdout.decode()
        # Every node runs kilo0 as Kilo does; only leaders get peers and an IP.
        for node in self.nodes.values():
            self._start_wg(node.ns, node.wg_dir)
        for node in self.nodes.values():
            self._apply(node)
        for peer in self.peers.values():
            if peer.ns:
                self._start_peer(peer)

    def resync(self) -> None:
        """Do what Kilo's agents do after a change in the API: recompute and apply.

        Configs come from kgctl-py again; a node kgctl-py no longer knows
        (e.g. stale) keeps what it had, as a dead agent would.
        """
        with self._lock:
            self._read_configs(strict=False)
            for node in self.nodes.values():
                if node.name not in self.skipped:  # a dead agent changes nothing
                    self._apply(node)

    def _read_configs(self, strict: bool) -> None:
        """Ask kgctl-py for every node's config; leaders are whoever gets one.

        The lab does not second-guess kgctl-py's leader election.
        """
        self.skipped = []
        for node in self.nodes.values():
            proc = self.showconf("node", node.name)
            if proc.returncode != 0:
                if strict:
                    raise LabError(f"showconf node {node.name}: {proc.stderr.decode().strip()}")
                self.skipped.append(node.name)
                continue
            node.conf = proc.stdout.decode()
            node.leader = bool(node.conf.strip())
        if strict:
            for loc in self.spec.locations:
                leaders = [n.name for n in self.nodes.values() if n.spec.location == loc and n.leader]
                if len(leaders) != 1:
                    raise LabError(f"location {loc}: kgctl-py made {leaders or 'no node'} leader")
        self._read_wireguard_ips()

    def _read_wireguard_ips(self) -> None:
        """Learn each leader's WireGuard IP from the other leaders' configs.

        Kilo allocates these (the annotation does not set them), and the graph
        label names the subnet. A leader's IP is the /32 inside the subnet
        that the other leaders allow for its key.
        """
        graph = self.kgctl("graph").stdout.decode()
        label = next((line for line in graph.splitlines() if line.strip().startswith("label=")), "")
        subnet = ipaddress.ip_network(label.split('"')[1])
        if not isinstance(subnet, ipaddress.IPv4Network):
            raise LabError(f"the lab is IPv4 only; kgctl-py's graph says the subnet is {subnet}")
        self.wg_subnet = subnet
        by_key = {n.public_key: n for n in self.nodes.values()}
        found: dict[str, str] = {}
        for node in self.nodes.values():
            if not node.leader or node.name in self.skipped:
                continue
            for section in wg.parse_conf(node.conf):
                owner = by_key.get(section.items.get("PublicKey", [""])[0])
                if owner is None:
                    continue
                for cidr in section.items.get("AllowedIPs", []):
                    net = ipaddress.ip_network(cidr)
                    if isinstance(net, ipaddress.IPv4Network) and net.prefixlen == 32 and net.subnet_of(subnet):
                        found[owner.name] = f"{net.network_address}/{subnet.prefixlen}"
        leaders = [n for n in self.nodes.values() if n.leader and n.name not in self.skipped]
        if len(leaders) == 1 and leaders[0].name not in found:
            # A lone leader appears in no other config; Kilo gives it the first IP.
            found[leaders[0].name] = f"{subnet[1]}/{subnet.prefixlen}"
        for node in self.nodes.values():
            if node.name in self.skipped:
                continue
            if node.leader and node.name not in found:
                raise LabError(f"no WireGuard IP for leader {node.name} in kgctl-py's configs")
            wg_ip = found.get(node.name) if node.leader else None
            if wg_ip != node.wg_ip or not self._up:
                node.wg_ip = wg_ip
                # Kilo publishes the IP it was allocated (empty when not leading).
                self.annotate(node.name, {"kilo.squat.ai/wireguard-ip": wg_ip or ""})

    def _apply(self, node: LabNode) -> None:
        """Make a node's kilo0, address and routes match its current config."""
        port = wg.PORT if node.leader else node.member_port
        conf = wg.with_private_key(node.conf if node.leader else "", node.private_key, port)
        path = os.path.join(node.wg_dir, f"{wg.IFACE}.conf")
        with open(path, "w") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(conf)
        # syncconf changes only what differs, so live sessions survive a resync.
        wg.wg(node.ns, node.wg_dir, "syncconf", wg.IFACE, path)
        netns.ip(node.ns, "addr", "flush", "dev", wg.IFACE)
        if node.leader and node.wg_ip:
            netns.ip(node.ns, "addr", "add", node.wg_ip, "dev", wg.IFACE)
        netns.ip(node.ns, "link", "set", wg.IFACE, "up")
        self._install_routes(node)
        self.reconciles[node.name] = self.reconciles.get(node.name, 0) + 1

    def agent_metrics(self, node_name: str) -> dict[str, float]:
        """What `node_name`'s agent exports: the ready nodes and Peers it used,
        whether it leads, its reconciles; a fault may override them."""
        node = self.node(node_name)
        values = {
            "kilo_nodes": float(len(self.nodes) - len(self._stale)),
            "kilo_peers": float(len(self.peers)),
            "kilo_leader": 1.0 if node.leader else 0.0,
            "kilo_reconciles_total": float(self.reconciles.get(node.name, 0)),
            "kilo_errors_total": 0.0,
        }
        if node.name in self.metrics_faults:
            values.update(self.metrics_faults[node.name]())
        return values

    def _start_metrics(self) -> None:
        from .metrics import PORT, MetricsServer

        for node in self.nodes.values():
            sock = netns.listen_tcp(node.ns, "127.0.0.1", PORT)
            self._metrics.append(MetricsServer(sock, lambda name=node.name: self.agent_metrics(name)).start())

    def _start_wg(self, ns: str, wg_dir: str, iface: str = wg.IFACE) -> None:
        log = os.path.join(self.workdir, f"wireguard-go-{os.path.basename(wg_dir)}.log")
        proc = wg.start_wireguard_go(ns, wg_dir, log, iface)
        self._procs.append(proc)
        self.state.processes.append(ProcessRecord(proc.pid, "wireguard-go"))
        self.state.save()

    def _install_routes(self, node: LabNode) -> None:
        """The routes Kilo installs (granularity location, no encapsulation)."""
        routes: list[str] = []
        local = [n for n in self.nodes.values() if n.spec.location == node.spec.location and n is not node]
        # Pods of other nodes in the same location: straight over the private network.
        for other in local:
            routes.append(f"{other.spec.pod_cidr} via {other.spec.private_addr} dev eth0 onlink")
        if node.leader:
            by_key = {n.public_key: n for n in self.nodes.values()}
            for section in wg.parse_conf(node.conf):
                if section.name != "Peer":
                    continue
                owner = by_key.get(section.items["PublicKey"][0])
                for cidr in section.items.get("AllowedIPs", []):
                    net = ipaddress.ip_network(cidr)
                    if self.wg_subnet and isinstance(net, ipaddress.IPv4Network) and net.subnet_of(self.wg_subnet):
                        continue  # the kilo0 address's own subnet route covers it
                    if owner is not None:
                        routes.append(f"{cidr} via {owner.wg_addr} dev {wg.IFACE} onlink")
                    else:  # a Kilo Peer
                        routes.append(f"{cidr} dev {wg.IFACE}")
        else:
            # Everything remote goes to the location's leader over the private
            # network: what the leader tunnels, plus the leader's own WG IP.
            leader = next((n for n in local if n.leader), None)
            if leader is None:
                return  # a location without a leader has no way out
            remote = [f"{leader.wg_addr}/32"] if leader.wg_ip else []
            for section in wg.parse_conf(leader.conf):
                remote += section.items.get("AllowedIPs", [])
            for cidr in remote:
                routes.append(f"{cidr} via {leader.spec.private_addr} dev eth0 onlink")
        # Kilo's routes are proto static; flushing those first drops routes a
        # resync no longer wants and leaves the kernel's own alone.
        batch = "route flush proto static\n" + "".join(f"route replace {r} proto static\n" for r in routes)
        netns.run(["ip", "-n", node.ns, "-batch", "-"], input=batch.encode())

    def _start_peer(self, peer: LabPeer) -> None:
        """A running Kilo Peer, set up as wg-quick would from `showconf peer`."""
        assert peer.ns
        iface = "wg0"
        self._start_wg(peer.ns, peer.wg_dir, iface)
        path = os.path.join(peer.wg_dir, f"{iface}.conf")
        with open(path, "w") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(wg.with_private_key(peer.conf, peer.private_key, wg.PORT))
        wg.wg(peer.ns, peer.wg_dir, "setconf", iface, path)
        netns.ip(peer.ns, "addr", "add", peer.spec.allowed_ips[0], "dev", iface)
        netns.ip(peer.ns, "link", "set", iface, "up")
        routes = []
        for section in wg.parse_conf(peer.conf):
            for cidr in section.items.get("AllowedIPs", []):
                routes.append(f"route replace {cidr} dev {iface}\n")
        netns.run(["ip", "-n", peer.ns, "-batch", "-"], input="".join(routes).encode())

    def _wait_handshakes(self, timeout: float) -> None:
        """Wait until every leader has shaken hands with every other leader."""
        leaders = [n for n in self.nodes.values() if n.leader]
        want = {n.public_key for n in leaders}
        deadline = time.monotonic() + timeout
        while True:
            missing = []
            for node in leaders:
                seen = self.handshakes(node.name)
                missing += [f"{node.name}->{k[:8]}" for k in want - {node.public_key} if not seen.get(k)]
            if not missing:
                return
            if time.monotonic() > deadline:
                raise LabError(f"no WireGuard handshake after {timeout}s: {', '.join(missing)}")
            time.sleep(0.2)

    def handshakes(self, node_name: str) -> dict[str, int]:
        """Peer public key -> unix time of the latest handshake (0: none) on a node."""
        node = self.node(node_name)
        out = wg.wg(node.ns, node.wg_dir, "show", wg.IFACE, "latest-handshakes")
        result = {}
        for line in out.splitlines():
            key, _, stamp = line.partition("\t")
            result[key] = int(stamp or 0)
        return result

    # ------------------------------------------------------------------ faults
    #
    # Each fault returns a description and records how to undo it;
    # clear_faults() undoes them all, newest first. Faults in the API (3, 4,
    # 6) change only what the API serves; call resync() to make the mesh
    # follow, as Kilo's agents would.

    def _record(self, what: str, undo: Any) -> str:
        self._undo.append((what, undo))
        return what

    def _nft_fault(self, node: LabNode, table: str, rules: dict[str, str], what: str) -> str:
        """A fault as an nftables table in the node's namespace: one filter chain per hook,
        ahead of the node's own rules, holding that hook's rule; undone by deleting the table."""
        chains = "".join(f"  chain {hook} {{ type filter hook {hook} priority -10; policy accept;\n    {rule}\n  }}\n" for hook, rule in rules.items())
        netns.run(netns.in_ns(node.ns, ["nft", "-f", "-"]), input=f"table inet {table} {{\n{chains}}}\n".encode())
        return self._record(what, lambda: netns.run(netns.in_ns(node.ns, ["nft", "delete", "table", "inet", table]), check=False))

    def clear_faults(self) -> list[str]:
        """Undo every injected fault and bring the mesh back in line with the API."""
        cleared = []
        while self._undo:
            what, undo = self._undo.pop()
            undo()
            cleared.append(what)
        if cleared:
            self.resync()
        return cleared

    @property
    def faults(self) -> list[str]:
        return [what for what, _ in self._undo]

    def fault_ip_forward(self, node_name: str) -> str:
        """1. net.ipv4.ip_forward=0 on a node: it stops routing for its pods and location."""
        node = self.node(node_name)
        netns.sysctl(node.ns, "net.ipv4.ip_forward", 0)
        return self._record(f"ip_forward=0 on {node.name}", lambda: netns.sysctl(node.ns, "net.ipv4.ip_forward", 1))

    def fault_drop_wireguard(self, node_name: str) -> str:
        """2. nftables in the node's namespace drops incoming UDP to the WireGuard port."""
        node = self.node(node_name)
        return self._nft_fault(node, "kglab_fault", {"input": f"udp dport {wg.PORT} drop"}, f"UDP {wg.PORT} dropped on {node.name}")

    def fault_force_endpoint(self, node_name: str, endpoint: str = "198.51.100.99:51820") -> str:
        """3. A wrong kilo.squat.ai/force-endpoint (default: an address nobody has)."""
        node = self.node(node_name)
        old = self.annotation(node.name, "kilo.squat.ai/force-endpoint")
        self.annotate(node.name, {"kilo.squat.ai/force-endpoint": endpoint})
        return self._record(f"force-endpoint of {node.name} = {endpoint}", lambda: self.annotate(node.name, {"kilo.squat.ai/force-endpoint": old}))

    def fault_stale_last_seen(self, node_name: str, age: int = 3600) -> str:
        """4. kilo.squat.ai/last-seen `age` seconds old (and no longer refreshed)."""
        node = self.node(node_name)
        with self._lock:
            self._stale.add(node.name)
            self.annotate(node.name, {"kilo.squat.ai/last-seen": str(int(time.time()) - age)})

        def undo() -> None:
            with self._lock:
                self._stale.discard(node.name)
                self.annotate(node.name, {"kilo.squat.ai/last-seen": str(int(time.time()))})

        return self._record(f"last-seen of {node.name} {age}s old", undo)

    def fault_cert_without_public_ip(self) -> str:
        """5. The API server's :6443 on the K3s server presents a certificate
        whose SANs lack the server's public IP (K3s started without --tls-san).

        Signed by the cluster CA, so only the missing SAN is wrong. The
        operator's tunnel (operator_kubeconfig, 127.0.0.1) is unaffected, so
        doctor can still reach the API; operator_kubeconfig_public fails.
        """
        from .api import cert_without_public_ip

        if self.api_relay is None:
            raise LabError("the lab has no API server")
        relay = self.api_relay
        relay.terminate_tls, relay.upstream_tls = cert_without_public_ip(self)

        def undo() -> None:
            relay.terminate_tls = None

        return self._record(f"API certificate without {self.spec.server.public_ip}", undo)

    def fault_node_args_without_metrics(self, node_name: str) -> str:
        """6. k3s.io/node-args without `--kube-proxy-arg metrics-bind-address=0.0.0.0`."""
        node = self.node(node_name)
        old = self.annotation(node.name, "k3s.io/node-args")
        self.annotate(node.name, {"k3s.io/node-args": json.dumps(kube.node_args(self.spec, node.spec, metrics_bind=False))})
        return self._record(f"node-args of {node.name} without metrics-bind-address", lambda: self.annotate(node.name, {"k3s.io/node-args": old}))

    def fault_remove_peer(self, leader_name: str, peer_name: str) -> str:
        """7. `wg set kilo0 peer KEY remove` by hand on a leader (config drift).

        `peer_name` is another leader (its location's peer) or a Kilo Peer.
        """
        leader = self.node(leader_name)
        if not leader.leader:
            raise LabError(f"{leader.name} is not a leader")
        key = self.peers[peer_name].public_key if peer_name in self.peers else self.node(peer_name).public_key
        self.wg(leader.name, "set", wg.IFACE, "peer", key, "remove")
        # Undo is the resync clear_faults() ends with: it restores kgctl-py's config.
        return self._record(f"peer {peer_name} removed from {leader.name}'s {wg.IFACE}", lambda: None)

    def fault_api_route_into_kilo(self, node_name: str, address: str | None = None) -> str:
        """8. A hand-made route sending the API server's address (default: the
        K3s server's public IP) into kilo0, as in squat/kilo#308."""
        node = self.node(node_name)
        address = address or str(self.spec.server.public_ip)
        netns.ip(node.ns, "route", "replace", f"{address}/32", "dev", wg.IFACE)
        return self._record(
            f"{address} routed into {wg.IFACE} on {node.name}", lambda: netns.ip(node.ns, "route", "del", f"{address}/32", "dev", wg.IFACE, check=False)
        )

    def fault_strict_rp_filter(self, node_name: str) -> str:
        """9. Strict reverse-path filtering (rp_filter=1) on all interfaces of a node."""
        node = self.node(node_name)
        keys = ["net.ipv4.conf.all.rp_filter", "net.ipv4.conf.eth0.rp_filter", f"net.ipv4.conf.{wg.IFACE}.rp_filter"]
        old = {k: netns.read_sysctl(node.ns, k) for k in keys}
        for k in keys:
            netns.sysctl(node.ns, k, 1)

        def undo() -> None:
            for k, v in old.items():
                netns.sysctl(node.ns, k, v)

        return self._record(f"rp_filter=1 on {node.name}", undo)

    def fault_block_dns(self) -> str:
        """10. The DNS server's node drops UDP 53 arriving from the mesh: every
        other location loses DNS, its own location keeps it."""
        assert self.dns is not None
        node = self.node(self.dns.node)
        return self._nft_fault(
            node,
            "kglab_fault_dns",
            {"forward": f'iifname != "cni0" ip daddr {self.dns.ip} udp dport 53 drop'},
            f"UDP 53 to {self.dns.ip} dropped on {node.name} unless from its own pods",
        )

    def fault_block_service(self) -> str:
        """11. The K3s server drops TCP 6443 arriving through kilo0: the
        `kubernetes` ClusterIP answers only in the server's own location."""
        node = self.node(self.spec.server.name)
        return self._nft_fault(
            node, "kglab_fault_svc", {"input": f'iifname "{wg.IFACE}" tcp dport 6443 drop'}, f"TCP 6443 from {wg.IFACE} dropped on {node.name}"
        )

    def fault_nat_churn(self, peer_name: str = "laptop", leader_name: str = "ty1", period: float = 1.0) -> str:
        """12. A Kilo Peer behind a NAT that keeps remapping it: every `period`
        the peer's WireGuard moves to a new UDP port and sends a packet to
        `leader_name`'s pods, so that leader sees its endpoint change."""
        peer = self.peers[peer_name]
        assert peer.ns, f"peer {peer_name} does not run in the lab"
        target = self.node(leader_name).pods[0].ip
        stop = threading.Event()
        # Held around each port change, so once undo() holds it and sets stop no
        # late change (a slow `wg set` under load) can land after the port is restored.
        moving = threading.Lock()

        def churn() -> None:
            n = 0
            while not stop.wait(period):
                n += 1
                port = 40000 + n % 2000
                try:
                    with moving:
                        if stop.is_set():
                            return
                        wg.wg(peer.ns, peer.wg_dir, "set", "wg0", "listen-port", str(port), check=False)
                    netns.run(netns.in_ns(peer.ns, ["busybox", "ping", "-c", "1", "-W", "1", target]), check=False, timeout=5)
                except Exception:  # noqa: BLE001, S110 -- best effort; the next round tries again
                    pass

        thread = threading.Thread(target=churn, name="lab-nat-churn", daemon=True)
        thread.start()

        def undo() -> None:
            with moving:
                stop.set()
            thread.join()
            deadline = time.monotonic() + 30
            while wg.wg(peer.ns, peer.wg_dir, "show", "wg0", "listen-port", check=False).strip() != str(wg.PORT):
                if time.monotonic() > deadline:
                    raise LabError(f"peer {peer_name}: wg0 would not listen on {wg.PORT} again")
                wg.wg(peer.ns, peer.wg_dir, "set", "wg0", "listen-port", str(wg.PORT), check=False)
            # Every leader must learn the restored endpoint now, not at the next keepalive,
            # or the next test's doctor sees it move back and reports churn that is over.
            leaders = [n for n in self.nodes.values() if n.leader and n.pods]
            while True:
                for leader in leaders:
                    netns.run(netns.in_ns(peer.ns, ["busybox", "ping", "-c", "1", "-W", "1", leader.pods[0].ip]), check=False, timeout=5)
                seen = [wg.wg(n.ns, n.wg_dir, "show", "kilo0", "endpoints", check=False) for n in leaders]
                stale = [
                    line
                    for text in seen
                    for line in text.splitlines()
                    if line.startswith(peer.public_key) and len(line.split()) > 1 and not line.split()[1].endswith(f":{wg.PORT}")
                ]
                if not stale:
                    break
                if time.monotonic() > deadline:
                    raise LabError(f"peer {peer_name}: leaders still see an old endpoint: {stale}")
                time.sleep(0.5)
            # The agents' discovered-endpoints still hold a churned port until their next
            # period, and kgctl-py (as Kilo) prefers them for a NAT'd peer: the resync after
            # this undo would put it back. Run that period now.
            self.agent_tick()

        return self._record(f"peer {peer_name}'s endpoint changes every {period:g}s (seen by {leader_name})", undo)

    def fault_mtu_black_hole(self, node_name: str = "hw1", limit: int = 1400) -> str:
        """13. The node's uplink silently drops WireGuard packets longer than
        `limit` bytes (no ICMP): small pings cross, full-size ones vanish."""
        node = self.node(node_name)
        rule = f"udp dport {wg.PORT} meta length > {limit} drop"
        return self._nft_fault(node, "kglab_fault_mtu", {"input": rule, "output": rule}, f"UDP {wg.PORT} packets over {limit} bytes dropped on {node.name}")

    def fault_metrics_disagree(self, node_name: str = "bd2", errors_per_read: float = 1.0) -> str:
        """14. A confused agent: it reports leading, one node fewer than there
        are, and an error counter that grows with every scrape."""
        node = self.node(node_name)
        count = [0.0]

        def values() -> dict[str, float]:
            count[0] += errors_per_read
            return {"kilo_leader": 0.0 if node.leader else 1.0, "kilo_nodes": float(len(self.nodes) - 1), "kilo_errors_total": count[0]}

        self.metrics_faults[node.name] = values

        def undo() -> None:
            self.metrics_faults.pop(node.name, None)

        return self._record(f"{node.name}'s agent metrics disagree (leader, nodes, growing errors)", undo)

    def annotation(self, node_name: str, key: str) -> str | None:
        from .api import get_object

        return (get_object(self.api, "Node", node_name)["metadata"].get("annotations") or {}).get(key)

    # ------------------------------------------------------------------ API helpers

    def annotate(self, node_name: str, annotations: dict[str, str | None]) -> None:
        """Merge annotations into a Node in the API server (None removes one)."""
        self.patch_node(node_name, {"metadata": {"annotations": annotations}})

    def patch_node(self, node_name: str, patch: dict[str, Any]) -> None:
        """A JSON merge patch on a Node, as `kubectl patch --type merge` would send."""
        if self.api is None:
            return
        from .api import patch_object

        patch_object(self.api, "Node", self.node(node_name).name, patch)

    def agent_tick(self) -> None:
        """What each live kg writes every period: last-seen, its endpoint (the
        forced one when set) and the endpoints its kilo0 discovered."""
        natted = {p.public_key for p in self.peers.values() if p.spec.persistent_keepalive}
        if self.spec.persistent_keepalive:
            natted |= {n.public_key for n in self.nodes.values()}
        for name in list(self.nodes):
            node = self.nodes[name]
            with self._lock:
                if name in self._stale:
                    continue
                dump = wg.wg(node.ns, node.wg_dir, "show", wg.IFACE, "dump", check=False)
                force = self.annotation(name, "kilo.squat.ai/force-endpoint")
                self.annotate(
                    name,
                    {
                        "kilo.squat.ai/last-seen": str(int(time.time())),
                        "kilo.squat.ai/endpoint": kube.node_endpoint(node.spec, force),
                        "kilo.squat.ai/discovered-endpoints": kube.discovered_endpoints(dump, natted),
                    },
                )

    def _start_heartbeat(self) -> None:
        def beat() -> None:
            while not self._stop.wait(KILO_PERIOD):
                try:
                    self.agent_tick()
                except Exception:  # noqa: BLE001, S110 -- the server may be stopping; next period
                    pass

        self._heartbeat = threading.Thread(target=beat, name="lab-last-seen", daemon=True)
        self._heartbeat.start()

    # ------------------------------------------------------------------ running things

    def node(self, name: str) -> LabNode:
        try:
            return self.nodes[self.spec.node(name).name]
        except KeyError:
            raise LabError(f"no node {name!r} in the lab") from None

    def leader_of(self, location: str) -> LabNode:
        return next(n for n in self.nodes.values() if n.spec.location == location and n.leader)

    def node_argv(self, node_name: str, argv: Sequence[str]) -> list[str]:
        """argv as run on a node (host network), with its /run/wireguard."""
        node = self.node(node_name)
        return wg.with_wg_dir(node.ns, node.wg_dir, busybox_argv(argv))

    def pod_argv(self, key: str, argv: Sequence[str]) -> list[str]:
        return netns.in_ns(self.pods[key].ns, busybox_argv(argv))

    def run_on_node(self, node_name: str, argv: Sequence[str], timeout: float = 15) -> subprocess.CompletedProcess[bytes]:
        return netns.run(self.node_argv(node_name, argv), timeout=timeout, check=False)

    def run_in_pod(self, key: str, argv: Sequence[str], timeout: float = 15) -> subprocess.CompletedProcess[bytes]:
        return netns.run(self.pod_argv(key, argv), timeout=timeout, check=False)

    def wg(self, node_name: str, *args: str) -> str:
        node = self.node(node_name)
        return wg.wg(node.ns, node.wg_dir, *args)

    def ping(self, src_pod: str, dst_ip: str, wait: int = 2) -> bool:
        proc = self.run_in_pod(src_pod, ["ping", "-c", "1", "-W", str(wait), dst_ip], timeout=wait + 5)
        return proc.returncode == 0

    def ping_matrix(self, pods: Sequence[str] | None = None, wait: int = 2, retries: int = 1) -> list[PingResult]:
        """Every pod pings every other pod once, in parallel (each bounded by `wait`).

        Failed pairs are tried again `retries` times, so that a ping lost on a
        busy machine is not taken for a broken path; a broken path fails
        every time.
        """
        keys = list(pods) if pods is not None else sorted(self.pods)
        pairs = [(a, b) for a in keys for b in keys if a != b]
        ok = self._ping_pairs(pairs, wait)
        for _ in range(retries):
            failed = [p for p in pairs if not ok[p]]
            if not failed:
                break
            ok.update(self._ping_pairs(failed, wait))
        return [PingResult(a, b, ok[(a, b)]) for a, b in pairs]

    def _ping_pairs(self, pairs: list[tuple[str, str]], wait: int) -> dict[tuple[str, str], bool]:
        procs = [
            (
                pair,
                subprocess.Popen(
                    self.pod_argv(pair[0], ["ping", "-c", "1", "-W", str(wait), self.pods[pair[1]].ip]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                ),
            )
            for pair in pairs
        ]
        result = {}
        for pair, proc in procs:
            try:
                result[pair] = proc.wait(timeout=wait + 10) == 0
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
                result[pair] = False
        return result

    def kgctl(
        self, *args: str, operator: bool = False, kubeconfig: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[bytes]:
        """Run kgctl-py against the lab, from the host or from the operator's laptop.

        From the host the kubeconfig is `kubeconfig` (the server's loopback
        URL); from the operator namespace it is `operator_kubeconfig`
        (127.0.0.1:6443 tunnelled to the server) unless one is given, e.g.
        `operator_kubeconfig_public` (the server's public IP, as in the blog).
        """
        if operator:
            config = kubeconfig or self.operator_kubeconfig
            argv = netns.in_ns(self.operator_ns, [*self.kgctl_argv, "--kubeconfig", config, *args])
        else:
            argv = [*self.kgctl_argv, "--kubeconfig", kubeconfig or self.kubeconfig, *args]
        env = dict(os.environ, HOME=self.workdir)
        env.pop("KUBECONFIG", None)
        proc = subprocess.run(argv, capture_output=True, timeout=timeout, check=False, env=env, cwd=REPO)
        if check and proc.returncode != 0:
            raise LabError(f"kgctl {' '.join(args)} exited {proc.returncode}: {proc.stderr.decode().strip()}")
        return proc

    def describe(self) -> dict[str, Any]:
        return {
            "prefix": self.prefix,
            "kubeconfig": self.kubeconfig,
            "operator_kubeconfig": self.operator_kubeconfig,
            "operator_ns": self.operator_ns,
            "api": getattr(self.api, "url", None),
            "up_seconds": self.up_seconds,
            "nodes": {
                n.name: {
                    "ns": n.ns,
                    "leader": n.leader,
                    "wireguard_ip": n.wg_ip,
                    "private_ip": n.spec.private_ip,
                    "public_ip": n.spec.public_ip,
                    "pods": {p.key: p.ip for p in n.pods},
                }
                for n in self.nodes.values()
            },
            "peers": {p.spec.name: {"ns": p.ns} for p in self.peers.values()},
        }


# ---------------------------------------------------------------------- helpers

TOOLS = ("ip", "wireguard-go", "wg", "busybox", "unshare", "nft", "dnsmasq")


def check_tools() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, wireguard-go)")
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        raise LabError(f"the lab needs {', '.join(missing)} (see tests/lab/README.md)")
    if not os.path.exists("/dev/net/tun"):
        raise LabError("the lab needs /dev/net/tun for wireguard-go")


def default_kgctl() -> list[str]:
    """`$KGCTL_LAB_KGCTL` (split on spaces) or kgctl-py, installed or from the tree."""
    if env := os.environ.get("KGCTL_LAB_KGCTL"):
        return env.split()
    if path := shutil.which("kgctl-py"):
        return [path]
    return [sys.executable, "-m", "kgctl_py"]


_BUSYBOX_ONLY = {"ping", "ping6", "nslookup", "wget", "traceroute", "nc"}


def busybox_argv(argv: Sequence[str]) -> list[str]:
    """Pods in the lab run busybox's applets, as busybox and Alpine images do.

    Commands the host has (cat, wg, ip, sh, nft) run as they are; ping and
    the network applets go to busybox so their output is what a busybox pod
    would print.
    """
    argv = list(argv)
    if argv[:1] == ["sh"]:
        # A pod's shell is busybox sh, whose scripts find ping and friends as applets.
        return ["env", f"PATH={_applets()}:{os.environ.get('PATH', '/usr/bin:/bin')}", "busybox", *argv]
    if argv and (argv[0] in _BUSYBOX_ONLY or shutil.which(argv[0]) is None):
        return ["busybox", *argv]
    return argv


_APPLETS: list[str] = []


def _applets() -> str:
    """A directory of busybox applets for the network tools the host lacks (made once per process)."""
    if not _APPLETS:
        import atexit
        import tempfile

        d = tempfile.mkdtemp(prefix="lab-applets-")
        busybox = shutil.which("busybox") or "busybox"
        for name in sorted(_BUSYBOX_ONLY):
            os.symlink(busybox, os.path.join(d, name))
        atexit.register(shutil.rmtree, d, True)
        _APPLETS.append(d)
    return _APPLETS[0]


def _sysctls(ns: str, forward: int) -> None:
    # One shell per namespace: IPv4 forwarding as Kilo needs it, no IPv6
    # (the lab is IPv4; it keeps link-local chatter and DAD out of the way).
    script = (
        f"echo {forward} > /proc/sys/net/ipv4/ip_forward && "
        "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 && "
        "echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6"
    )
    netns.run(netns.in_ns(ns, ["sh", "-c", script]))


def _host_in(cidr: str, n: int) -> str:
    return str(ipaddress.ip_interface(cidr).network[n])


__all__ = ["Lab", "LabError", "LabNode", "LabPeer", "LabPod", "PingResult"]


def _mac_for(ip: str) -> str:
    """``0a:58:`` and the IPv4 address's four bytes, as the CNI plugins do."""
    return "0a:58:" + ":".join(f"{b:02x}" for b in ipaddress.ip_address(ip).packed)
