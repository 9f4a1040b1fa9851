"""`kgctl-py connect` for real: root, network namespaces, wireguard-go, busybox ping.

Two settings:

* a bare namespace with the project's API server listening inside it (the
  blog cluster): the interface, its address, its peers and routes are
  exactly the plan; connect reconciles changes in the API and drift on the
  interface; SIGTERM/SIGINT remove what it made; --clean-up=false keeps it.
* the lab (tests/lab): a laptop namespace on the lab's internet connects,
  the leaders take the new Peer (lab.resync(), as Kilo's agents would), and
  the laptop pings a pod in every location through the real tunnels.

Interface names are unique per run: wireguard-go's /var/run/wireguard is
shared by every namespace.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubeapi import Fault, KubeAPIServer, load_fixture
from kubeapi.testing import wait_until
from lab import Lab, netns, wg

from kgctl_py.connect.plan import plan
from kgctl_py.mesh.cluster import Cluster

pytest_plugins = ["lab.fixtures"]  # lab_cluster, clean_lab

pytestmark = [pytest.mark.lab, pytest.mark.skipif(os.geteuid() != 0, reason="connect tests need root (namespaces, wireguard-go)")]

BLOG = Path(__file__).resolve().parents[1] / "compat" / "cases" / "a-blog-6node"  # the repo's copy: a fresh clone has it
REPO = Path(__file__).resolve().parents[2]
KGCTL = [sys.executable, "-m", "kgctl_py"]
WG_RUN_DIR = "/var/run/wireguard"
POLL = 0.1  # the predicates run commands: no need to poll faster


# ---------------------------------------------------------------- helpers


def in_ns(ns: str, *argv: str, check: bool = False, timeout: float = 15) -> subprocess.CompletedProcess[bytes]:
    return netns.run(netns.in_ns(ns, list(argv)), check=check, timeout=timeout)


def link_exists(ns: str, ifname: str) -> bool:
    return netns.ip(ns, "link", "show", "dev", ifname, check=False).returncode == 0


def routes_via(ns: str, ifname: str) -> set[str]:
    """Destinations routed over ``ifname`` (proto static, as connect installs them)."""
    proc = netns.ip(ns, "-o", "route", "show", "proto", "static", check=False)
    dests = {line.split()[0] for line in proc.stdout.decode().splitlines() if f" dev {ifname} " in f"{line} "}
    # ip(8) prints a one-address route without its /32.
    return {d if "/" in d else f"{d}/32" for d in dests}


def wg_peers(ns: str, ifname: str) -> dict[str, wg.Section]:
    text = in_ns(ns, "wg", "showconf", ifname, check=True).stdout.decode()
    return {s.items["PublicKey"][0]: s for s in wg.parse_conf(text) if s.name == "Peer"}


def wireguard_go_pids(ifname: str) -> list[int]:
    """wireguard-go processes serving ``ifname`` (names are unique per test run)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == b"wireguard-go" and ifname.encode() in argv[1:]:
            pids.append(int(entry))
    return pids


def remove_interface(ns: str, ifname: str) -> None:
    """Explicit clean-up: deleting the link ends wireguard-go; any survivor is ours to kill by pid."""
    if link_exists(ns, ifname):
        netns.ip(ns, "link", "delete", "dev", ifname, check=False)
    for pid in wireguard_go_pids(ifname):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    wait_until(lambda: not wireguard_go_pids(ifname), 5, interval=POLL, what=f"wireguard-go {ifname} to exit")
    try:
        os.unlink(os.path.join(WG_RUN_DIR, f"{ifname}.sock"))
    except FileNotFoundError:
        pass


class ConnectRun:
    """One `kgctl-py connect` process inside a namespace; output kept in files (no pipe can fill)."""

    def __init__(self, ns: str, workdir: Path, args: list[str], label: str = "connect") -> None:
        self.out = workdir / f"{label}.stdout"
        self.err = workdir / f"{label}.stderr"
        env = dict(os.environ, HOME=str(workdir))
        env.pop("KUBECONFIG", None)
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(netns.in_ns(ns, [*KGCTL, "connect", *args]), stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=REPO)

    def logs(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.read_text().splitlines() if line.startswith("{")]

    def messages(self) -> list[str]:
        return [r["msg"] for r in self.logs()]

    def stderr(self) -> str:
        return self.err.read_text()

    def wait_synced(self, syncs: int = 1, timeout: float = 30) -> None:
        def synced() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"connect exited {self.proc.returncode}: {self.stderr().strip()} {self.messages()}")
            return self.messages().count("synced") >= syncs

        wait_until(synced, timeout, interval=POLL, what=f"{syncs} resync(s) of connect")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError(f"connect did not stop within {timeout}s after signal {sig}") from None


def peer_sections_of(conf: str) -> dict[str, tuple[list[str], str, str]]:
    """Peer key -> (sorted AllowedIPs, Endpoint, PersistentKeepalive) of a wg config text."""
    out = {}
    for s in wg.parse_conf(conf):
        if s.name != "Peer":
            continue
        keepalive = s.items.get("PersistentKeepalive", ["0"])[0]
        out[s.items["PublicKey"][0]] = (sorted(s.items.get("AllowedIPs", [])), s.items.get("Endpoint", [""])[0], "0" if keepalive == "off" else keepalive)
    return out


# ---------------------------------------------------------------- a bare namespace


@pytest.fixture
def api_ns(tmp_path: Path) -> Iterator[tuple[str, KubeAPIServer, str, str]]:
    """(namespace, API server listening inside it, kubeconfig, unique interface name)."""
    if not BLOG.is_dir():
        pytest.skip("compat fixtures not available")
    tag = secrets.token_hex(3)
    ns, ifname = f"kgc{tag}", f"kc{tag}"
    netns.add(ns)
    srv = None
    try:
        objects, meta = load_fixture(BLOG)
        # Its loop thread starts inside the namespace, so it listens on the namespace's loopback.
        srv = netns.in_netns_thread(ns, lambda: KubeAPIServer(objects, crd=True, captured_at=meta["capturedAt"]).start(), timeout=30)
        yield ns, srv, srv.write_kubeconfig(tmp_path / "kubeconfig"), ifname
    finally:
        remove_interface(ns, ifname)
        if srv is not None:
            srv.stop()
        netns.delete(ns)
    assert not wireguard_go_pids(ifname)


def expected_plan(srv: KubeAPIServer, name: str) -> Any:
    objects = srv.store.objects()
    cluster = Cluster.from_objects([o for o in objects if o["kind"] == "Node"], [o for o in objects if o["kind"] == "Peer"])
    # The store keeps the fixture's last-seen; the server shifts it to the present when serving.
    return plan(cluster, name, srv.captured_at if srv.captured_at is not None else int(time.time()))


def test_lab_connect_in_a_namespace_builds_the_plan_reconciles_and_cleans_up(api_ns, tmp_path) -> None:
    ns, srv, kubeconfig, ifname = api_ns
    run = ConnectRun(
        ns,
        tmp_path,
        ["laptop2", "--kubeconfig", kubeconfig, "-i", ifname, "-a", "10.5.0.9/32", "--resync-period", "0.5s", "--log-level", "debug", "--mtu", "1380"],
    )
    try:
        run.wait_synced()
        peer = srv.store.get("Peer", "laptop2")
        assert peer is not None and peer["spec"]["allowedIPs"] == ["10.5.0.9/32"]

        # The interface: userspace here (no kernel module), said so, and seen as such by the kernel.
        created = next(r for r in run.logs() if r["msg"].startswith("created WireGuard interface"))
        kind = netns.ip(ns, "-d", "link", "show", "dev", ifname).stdout.decode()
        if created["implementation"] == "wireguard-go":
            assert "userspace wireguard-go" in created["msg"] and " tun " in kind
            assert os.path.exists(os.path.join(WG_RUN_DIR, f"{ifname}.sock"))
        else:
            assert created["implementation"] == "kernel" and "wireguard" in kind
        assert "mtu 1380" in kind and ",UP," in kind
        addrs = netns.ip(ns, "-o", "-4", "addr", "show", "dev", ifname).stdout.decode().split()
        assert addrs[addrs.index("inet") + 1] == "10.5.0.9/32"

        # Peers: the same as `showconf peer laptop2` prints, plus our key and port.
        showconf = netns.run(netns.in_ns(ns, [*KGCTL, "--kubeconfig", kubeconfig, "showconf", "peer", "laptop2"]), timeout=60).stdout.decode()
        live = in_ns(ns, "wg", "showconf", ifname, check=True).stdout.decode()
        assert peer_sections_of(live) == peer_sections_of(showconf)
        assert len(peer_sections_of(live)) == 7  # five locations, the laptop and the phone
        public = in_ns(ns, "wg", "show", ifname, "public-key", check=True).stdout.decode().strip()
        assert public == peer["spec"]["publicKey"]
        private = in_ns(ns, "wg", "show", ifname, "private-key", check=True).stdout.decode().strip()
        assert private not in run.out.read_text() + run.stderr()  # never printed

        # Routes: exactly Kilo's PeerRoutes, over the interface.
        want = {r.key for r in expected_plan(srv, "laptop2").routes}
        assert routes_via(ns, ifname) == want
        assert "10.42.0.0/24 via 10.4.0.3 dev " + ifname in netns.ip(ns, "route", "show", "10.42.0.0/24").stdout.decode()

        # A new Peer in the API: a peer and a route appear at the next resync; deleted, they go.
        probe_key = wg.pubkey(wg.genkey())
        srv.store.create(
            {
                "apiVersion": "kilo.squat.ai/v1alpha1",
                "kind": "Peer",
                "metadata": {"name": "probe"},
                "spec": {"allowedIPs": ["10.5.0.77/32"], "publicKey": probe_key},
            }
        )
        wait_until(
            lambda: "10.5.0.77/32" in routes_via(ns, ifname) and probe_key in wg_peers(ns, ifname), 10, interval=POLL, what="the new Peer on the interface"
        )
        srv.store.delete("Peer", "probe")
        wait_until(
            lambda: "10.5.0.77/32" not in routes_via(ns, ifname) and probe_key not in wg_peers(ns, ifname), 10, interval=POLL, what="the deleted Peer to go"
        )

        # The API failing for a while: the resync logs the error and the next one recovers.
        synced_before = run.messages().count("synced")
        srv.inject(Fault(path="^/api/v1/nodes$", method="GET", status=403, times=1))
        wait_until(lambda: "failed to sync" in run.messages(), 10, interval=POLL, what="the failed resync to be logged")
        failed = next(r for r in run.logs() if r["msg"] == "failed to sync")
        assert failed["level"] == "error" and "forbidden (403)" in failed["err"]
        wait_until(lambda: run.messages().count("synced") > synced_before + 1, 10, interval=POLL, what="resyncs after the failure")
        assert run.proc.poll() is None

        # Drift: a leader removed by hand comes back.
        ty1 = "MdD2Pf0t+3sILnFo6CHxId8qQwoAAFbEQ22tvBSFGc0="
        in_ns(ns, "wg", "set", ifname, "peer", ty1, "remove", check=True)
        wait_until(lambda: ty1 in wg_peers(ns, ifname), 10, interval=POLL, what="the removed peer to come back")

        # The interface deleted by hand: the next resync builds it again, peers, address and routes.
        netns.ip(ns, "link", "delete", "dev", ifname)
        wait_until(lambda: "the WireGuard interface is gone; creating it again" in run.messages(), 10, interval=POLL, what="the lost interface to be noticed")
        wait_until(
            lambda: link_exists(ns, ifname) and routes_via(ns, ifname) == want and len(wg_peers(ns, ifname)) == 7,
            10,
            interval=POLL,
            what="the interface to be rebuilt",
        )
        assert "10.5.0.9/32" in netns.ip(ns, "-o", "-4", "addr", "show", "dev", ifname).stdout.decode()
    finally:
        code = run.stop(signal.SIGTERM)
    assert code == 0, run.stderr()
    assert run.stderr() == ""
    assert not link_exists(ns, ifname)
    assert routes_via(ns, ifname) == set()
    assert netns.ip(ns, "route", "show").stdout.decode().strip() == ""
    assert srv.store.get("Peer", "laptop2") is None
    assert not os.path.exists(os.path.join(WG_RUN_DIR, f"{ifname}.sock"))
    assert not wireguard_go_pids(ifname)
    assert run.messages()[-2:] == ["removed WireGuard interface", "deleted peer"]


def test_lab_connect_clean_up_false_keeps_everything_and_a_rerun_reuses_it(api_ns, tmp_path) -> None:
    ns, srv, kubeconfig, ifname = api_ns
    key = tmp_path / "laptop2.key"
    args = [
        "laptop2",
        "--kubeconfig",
        kubeconfig,
        "-i",
        ifname,
        "-a",
        "10.5.0.9/32",
        "--resync-period",
        "1s",
        "--log-level",
        "debug",
        "--private-key",
        str(key),
    ]
    first = ConnectRun(ns, tmp_path, [*args, "--clean-up=false"], "first")
    try:
        first.wait_synced()
    finally:
        assert first.stop(signal.SIGTERM) == 0, first.stderr()
    assert "leaving the interface, its routes and the Peer in place (--clean-up=false)" in first.messages()
    # Everything stays: the Peer, the interface (wireguard-go outlives connect), its routes and peers.
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    peer = srv.store.get("Peer", "laptop2")
    assert peer is not None
    assert link_exists(ns, ifname)
    kept_routes = routes_via(ns, ifname)
    assert kept_routes == {r.key for r in expected_plan(srv, "laptop2").routes}
    assert len(wg_peers(ns, ifname)) == 7
    pub = subprocess.run(["wg", "pubkey"], input=key.read_bytes(), capture_output=True, timeout=10, check=True).stdout.decode().strip()
    assert pub == peer["spec"]["publicKey"]

    # Again with the same key and the default clean-up: the Peer exists, so it is
    # used and left alone; the interface is reused, then removed on SIGINT.
    second = ConnectRun(ns, tmp_path, args, "second")
    try:
        second.wait_synced()
        assert "using the existing Peer" in second.messages()
        assert "created peer" not in second.messages()
        assert not [r for r in second.logs() if r["level"] in ("warn", "error")]
        assert any(m.startswith("using existing WireGuard interface") for m in second.messages())
    finally:
        assert second.stop(signal.SIGINT) == 0, second.stderr()
    assert not link_exists(ns, ifname)
    assert routes_via(ns, ifname) == set()
    assert srv.store.get("Peer", "laptop2") is not None  # not ours to delete
    srv.store.delete("Peer", "laptop2")  # explicit clean-up
    assert srv.store.get("Peer", "laptop2") is None


def test_lab_connect_fails_cleanly_when_the_peer_cannot_be_created(api_ns, tmp_path) -> None:
    ns, srv, kubeconfig, ifname = api_ns
    srv.rbac = [("get", "*", "*"), ("list", "*", "*")]
    run = ConnectRun(ns, tmp_path, ["laptop2", "--kubeconfig", kubeconfig, "-i", ifname])
    assert run.proc.wait(timeout=60) == 4
    err = run.stderr().splitlines()
    assert len(err) == 1 and err[0].startswith('failed to create peer: cannot create peer "laptop2": forbidden (403)')
    assert not link_exists(ns, ifname)  # nothing was built


def test_lab_connect_names_the_peer_after_the_host_by_default(tmp_path) -> None:
    """Without PEER_NAME the hostname is used (here a bad one, in a UTS namespace of its own)."""
    script = 'hostname "$0" && exec "$@"'
    proc = subprocess.run(
        ["unshare", "--uts", "sh", "-c", script, "My-Laptop", *KGCTL, "connect", "--kubeconfig", str(tmp_path / "none")],
        capture_output=True,
        timeout=60,
        cwd=REPO,
    )
    assert proc.returncode == 2
    assert proc.stderr.decode().splitlines() == [
        "peer name \"My-Laptop\" is not a valid DNS-1123 subdomain (lower-case letters, digits, '-' and '.'); pass a PEER_NAME"
    ]


# ---------------------------------------------------------------- the lab

LAPTOP = "laptop-connect"  # the lab already runs a Peer called "laptop"
LAPTOP_IP = "10.5.0.9/32"


@pytest.fixture
def laptop(clean_lab: Lab) -> Iterator[tuple[Lab, str, str]]:
    """(lab, a laptop namespace on the lab's internet, a unique interface name).

    The namespace is recorded in the lab's state first, so the lab's
    teardown removes it even if this test dies.
    """
    lab = clean_lab
    short = f"cl{secrets.token_hex(2)}"
    ns, ifname = f"{lab.prefix}-{short}", f"kc{lab.run_id}"
    public_ip = "198.51.100.201"
    gateway = next(ipaddress.ip_interface(g) for g in lab.spec.internet_gateways if ipaddress.ip_address(public_ip) in ipaddress.ip_interface(g).network)
    lab.state.namespaces.append(ns)
    lab.state.save()
    try:
        netns.add(ns)
        netns.sysctl(ns, "net.ipv6.conf.all.disable_ipv6", 1)
        netns.veth(lab.hub, f"{short}x", ns, "eth1")
        netns.ip(lab.hub, "link", "set", f"{short}x", "master", "inet")
        netns.ip(ns, "addr", "add", f"{public_ip}/{gateway.network.prefixlen}", "dev", "eth1")
        netns.ip(ns, "route", "add", "default", "via", str(gateway.ip))
        yield lab, ns, ifname
    finally:
        remove_interface(ns, ifname)
        if lab.api is not None and lab.api.store.get("Peer", LAPTOP) is not None:
            lab.api.store.delete("Peer", LAPTOP)
            lab.resync()
        netns.delete(ns)
        if ns in lab.state.namespaces:
            lab.state.namespaces.remove(ns)
            lab.state.save()


def track(lab: Lab, run: ConnectRun, ifname: str) -> None:
    """Record connect and its wireguard-go in the lab's state, so that the lab's
    teardown kills them (by pid, cmdline checked) even if this test dies."""
    from lab.state import ProcessRecord

    lab.state.processes.append(ProcessRecord(run.proc.pid, "connect"))
    lab.state.processes += [ProcessRecord(pid, ifname) for pid in wireguard_go_pids(ifname)]
    lab.state.save()


def leaders_with_key(lab: Lab, key: str) -> list[str]:
    return [n.name for n in lab.nodes.values() if n.leader and key in lab.wg(n.name, "show", wg.IFACE, "peers").split()]


def ping_every_location(lab: Lab, ns: str, timeout: float = 30) -> dict[str, bool]:
    """location -> the laptop reached a pod there (busybox ping, retried while handshakes happen)."""
    targets = {}
    for node in lab.nodes.values():
        if node.pods:
            targets.setdefault(node.spec.location, node.pods[0].ip)
    assert set(targets) == set(lab.spec.locations)
    reached = {loc: False for loc in targets}
    deadline = time.monotonic() + timeout
    while not all(reached.values()) and time.monotonic() < deadline:
        for loc, ip in targets.items():
            if not reached[loc]:
                reached[loc] = in_ns(ns, "busybox", "ping", "-c", "1", "-W", "1", ip, timeout=10).returncode == 0
    return reached


def test_lab_connect_laptop_pings_a_pod_in_every_location(laptop, tmp_path) -> None:
    lab, ns, ifname = laptop
    run = ConnectRun(
        ns, tmp_path, [LAPTOP, "--kubeconfig", lab.operator_kubeconfig_public, "-i", ifname, "-a", LAPTOP_IP, "--resync-period", "1s", "--log-level", "debug"]
    )
    try:
        run.wait_synced()
        track(lab, run, ifname)
        peer = lab.api.store.get("Peer", LAPTOP)
        assert peer is not None
        key = peer["spec"]["publicKey"]
        # Before the leaders know the Peer, the tunnels drop the laptop's packets.
        assert leaders_with_key(lab, key) == []
        lab.resync()  # what Kilo's agents do when a Peer appears
        assert sorted(leaders_with_key(lab, key)) == sorted(n.name for n in lab.nodes.values() if n.leader)
        reached = ping_every_location(lab, ns)
        assert reached == {loc: True for loc in lab.spec.locations}
    finally:
        code = run.stop(signal.SIGTERM)
    assert code == 0, run.stderr()
    assert lab.api.store.get("Peer", LAPTOP) is None
    assert not link_exists(ns, ifname)
    assert routes_via(ns, ifname) == set()
    # Only the default route and the internet's subnet are left.
    assert all(" dev eth1 " in f"{line} " for line in netns.ip(ns, "route", "show").stdout.decode().splitlines())
    lab.resync()
    assert leaders_with_key(lab, key) == []


def test_lab_connect_clean_up_false_leaves_a_working_tunnel(laptop, tmp_path) -> None:
    lab, ns, ifname = laptop
    run = ConnectRun(
        ns,
        tmp_path,
        [
            LAPTOP,
            "--kubeconfig",
            lab.operator_kubeconfig_public,
            "-i",
            ifname,
            "-a",
            LAPTOP_IP,
            "--resync-period",
            "1s",
            "--log-level",
            "debug",
            "--clean-up=false",
        ],
    )
    try:
        run.wait_synced()
        track(lab, run, ifname)
    finally:
        assert run.stop(signal.SIGTERM) == 0, run.stderr()
    # Peer, interface and routes stay; with the leaders resynced, the tunnel works without connect.
    assert lab.api.store.get("Peer", LAPTOP) is not None
    assert link_exists(ns, ifname)
    assert {"10.42.0.0/24", "10.42.4.0/24", "10.42.5.0/24"} <= routes_via(ns, ifname)
    lab.resync()
    assert ping_every_location(lab, ns) == {loc: True for loc in lab.spec.locations}
    # Explicit clean-up, checked.
    remove_interface(ns, ifname)
    lab.api.store.delete("Peer", LAPTOP)
    lab.resync()
    assert not link_exists(ns, ifname) and routes_via(ns, ifname) == set()
    assert lab.api.store.get("Peer", LAPTOP) is None
