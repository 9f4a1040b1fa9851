"""The ``connect`` loop: register the Peer, build the interface, resync, clean up.

Follows Kilo's ``kgctl connect``: the Peer is created only if it does not
exist (and then deleted on exit), the interface is created if missing, and
every resync period the WireGuard configuration and routes are recomputed
from the cluster and applied. Errors during a resync are logged and retried
at the next one; errors while setting up end the command.
"""

from __future__ import annotations

import datetime
import json
import sys
import threading
from typing import IO, Any

from kgctl_py.connect import LOG_LEVELS, system
from kgctl_py.connect.plan import Plan, plan, render_setconf
from kgctl_py.errors import CliError, ExitCode
from kgctl_py.kube import resources as R
from kgctl_py.mesh.cluster import Cluster, KgctlError
from kgctl_py.mesh.ipnet import IPNet
from kgctl_py.mesh.key import key_str
from kgctl_py.mesh.model import DEFAULT_TOPOLOGY_LABEL, Granularity
from kgctl_py.record import field, record

_RANK = {"debug": 0, "info": 1, "warn": 2, "error": 3}
_THRESHOLD = {"all": 0, "debug": 0, "info": 1, "warn": 2, "error": 3, "none": 99}
CLEANUP_TIMEOUT = 10.0  # Kilo gives the Peer deletion this long


class Logger:
    """JSON lines like Kilo's go-kit logger: ``ts``, ``level``, ``msg`` and fields."""

    def __init__(self, level: str = "info", stream: IO[str] | None = None) -> None:
        if level not in _THRESHOLD:
            raise CliError(f"log level {level} unknown; possible values are: {', '.join(LOG_LEVELS)}", ExitCode.USAGE)
        self.threshold = _THRESHOLD[level]
        self.stream = stream
        self.lock = threading.Lock()

    def log(self, level: str, msg: str, **fields: Any) -> None:
        if _RANK[level] < self.threshold:
            return
        ts = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
        record = {"ts": ts, "level": level, "msg": msg, **{k: str(v) for k, v in fields.items()}}
        stream = self.stream or sys.stdout
        with self.lock:
            try:
                stream.write(json.dumps(record) + "\n")
                stream.flush()
            except (BrokenPipeError, ValueError):
                pass  # nobody is listening; the work goes on

    def debug(self, msg: str, **fields: Any) -> None:
        self.log("debug", msg, **fields)

    def info(self, msg: str, **fields: Any) -> None:
        self.log("info", msg, **fields)

    def warn(self, msg: str, **fields: Any) -> None:
        self.log("warn", msg, **fields)

    def error(self, msg: str, **fields: Any) -> None:
        self.log("error", msg, **fields)


@record
class Options:
    name: str
    allowed_ip: IPNet
    allowed_ips: list[IPNet] = field(default_factory=list)
    private_key_path: str | None = None
    clean_up: bool = True
    mtu: int = 1420
    resync_period: float = 30.0
    interface: str = "kilo0"
    persistent_keepalive: int = 10
    granularity: Granularity = Granularity.AUTO
    port: int = 51820
    topology_label: str = DEFAULT_TOPOLOGY_LABEL


def peer_object(name: str, public_key: bytes, allowed_ip: IPNet, keepalive: int) -> dict[str, Any]:
    """The Peer connect registers: its key, its one allowed IP, its keepalive."""
    return {
        "apiVersion": "kilo.squat.ai/v1alpha1",
        "kind": "Peer",
        "metadata": {"name": name},
        "spec": {"allowedIPs": [str(allowed_ip)], "persistentKeepalive": keepalive, "publicKey": key_str(public_key)},
    }


class Connector:
    """One ``connect`` run. ``stop`` ends it (the CLI sets it on SIGINT/SIGTERM)."""

    def __init__(self, client: Any, opts: Options, log: Logger, stop: threading.Event | None = None) -> None:
        self.client = client
        self.opts = opts
        self.log = log
        self.stop = stop or threading.Event()
        self.private_key: bytes | None = None
        self.public_key: bytes | None = None
        self.peer_created = False
        self.interface: system.Interface | None = None
        self.routes: dict[str, list[str]] = {}  # destination -> `ip route` words we installed
        self.applied_conf: str | None = None
        self.last_plan: Plan | None = None
        self.syncs = 0
        self.cleanup_errors: list[str] = []

    # ------------------------------------------------------------ lifecycle

    def run(self) -> None:
        """Set up, resync until stopped, then clean up (unless --clean-up=false)."""
        try:
            self.load_key()
            if self.stop.is_set():
                return
            self.register_peer()
            if self.stop.is_set():
                return
            self.create_interface()
            while not self.stop.is_set():
                self.sync_logged()
                self.stop.wait(self.opts.resync_period)
            self.log.debug("received signal; stopping")
        finally:
            if self.opts.clean_up:
                self.clean_up()
            else:
                self.log.info("leaving the interface, its routes and the Peer in place (--clean-up=false)", interface=self.opts.interface, peer=self.opts.name)

    def load_key(self) -> None:
        path = self.opts.private_key_path
        key = system.read_private_key(path) if path else None
        if key is None:
            key = system.generate_private_key()
            if path:
                system.write_private_key(path, key)
                self.log.info("generated a private key", path=path)
        self.private_key = key
        self.public_key = system.public_key(key)
        self.log.info("generated public key", key=key_str(self.public_key))

    def register_peer(self) -> None:
        """Create the Peer if it does not exist (Kilo leaves an existing one alone)."""
        from kgctl_py.kube.errors import ApiError

        name = self.opts.name
        what = f'peer "{name}"'
        try:
            existing = R.PEERS.get(self.client, name, what=what)
        except ApiError as err:
            if err.status != 404:
                raise
            existing = None
        if existing is not None:
            key = (existing.get("spec") or {}).get("publicKey") if isinstance(existing, dict) else None
            assert self.public_key is not None
            if key != key_str(self.public_key):
                self.log.warn(
                    "the Peer exists with another public key; the cluster will drop this host's traffic "
                    "(pass --private-key with the key it was registered with)",
                    peer=name,
                )
            self.log.info("using the existing Peer", peer=name)
            return
        self._check_crd()
        assert self.public_key is not None
        body = peer_object(name, self.public_key, self.opts.allowed_ip, self.opts.persistent_keepalive)
        try:
            R.PEERS.create(self.client, body, what=what)
        except CliError as err:
            raise CliError(f"failed to create peer: {err.message}", err.code) from None
        self.peer_created = True
        self.log.info("created peer", peer=name)

    def _check_crd(self) -> None:
        from kgctl_py.kube.errors import ApiError

        try:
            R.CRDS.get(self.client, R.PEER_CRD_NAME, what=R.PEER_CRD_WHAT)
        except ApiError as err:
            if err.status == 404:
                raise CliError(
                    "failed to create peer: the peers.kilo.squat.ai CRD is not installed; is Kilo installed in this cluster?", ExitCode.API_ERROR
                ) from None
            if err.status not in (401, 403):
                raise
            # Reading CRDs may be forbidden where creating Peers is not: let the create decide.

    def create_interface(self) -> None:
        o = self.opts
        self.interface = iface = system.create_interface(o.interface, o.mtu)
        # From here on the interface is ours to remove on exit.
        how = "kernel WireGuard" if iface.kind == system.KERNEL else "userspace wireguard-go"
        self.log.info(f"{'created' if iface.created else 'using existing'} WireGuard interface ({how})", name=o.interface, implementation=iface.kind)
        system.set_address(o.interface, str(o.allowed_ip))
        self.log.info("set IP address of WireGuard interface", IP=str(o.allowed_ip))
        system.set_up(o.interface)

    # ------------------------------------------------------------ resync

    def sync_logged(self) -> bool:
        try:
            self.sync()
            return True
        except (CliError, KgctlError) as err:
            self.log.error("failed to sync", err=getattr(err, "message", None) or str(err))
        except Exception as err:  # the loop must outlive one bad resync, as Kilo's does
            self.log.error("failed to sync", err=f"{type(err).__name__}: {err}")
        return False

    def sync(self) -> Plan:
        """Recompute the configuration and routes from the cluster and apply them."""
        o = self.opts
        if self.interface is not None and not system.link_exists(o.interface):
            # Deleted under us (by hand, or wireguard-go died): build it again.
            self.log.warn("the WireGuard interface is gone; creating it again", name=o.interface)
            if self.interface.process is not None:
                self.interface.process.poll()  # reap the old wireguard-go
            self.interface = None
            self.routes = {}
            self.applied_conf = None
            self.create_interface()
        from kgctl_py import sources

        objects = sources.fetch(self.client, sources.Want(crd=False))
        cluster = Cluster.from_objects(objects.nodes, objects.peers, o.topology_label)
        p = plan(cluster, o.name, sources.live_now(), o.granularity, o.port, o.allowed_ips)
        assert self.private_key is not None
        conf = render_setconf(p.peers, self.private_key, o.port)
        if conf != self.applied_conf:
            if self.applied_conf is not None:
                self.log.info("WireGuard configurations are different; updating", peers=len(p.peers))
            # The first time replaces whatever the interface had; later, syncconf keeps live sessions.
            system.set_conf(o.interface, conf, replace=self.applied_conf is None)
            self.applied_conf = conf
        else:
            # Undo drift (a peer removed by hand) without touching live sessions.
            system.set_conf(o.interface, conf, replace=False)
        self._set_routes({r.key: r.ip_args(o.interface) for r in p.routes})
        self.last_plan = p
        self.syncs += 1
        self.log.debug("synced", peers=len(p.peers), routes=len(p.routes))
        return p

    def _set_routes(self, want: dict[str, list[str]]) -> None:
        stale = [words for dst, words in self.routes.items() if want.get(dst) != words]
        for line in system.delete_routes(stale):
            self.log.debug("stale route already gone", detail=line)
        errors = system.replace_routes(list(want.values()))
        self.routes = want
        if errors:
            raise CliError(f"failed to update route table: {errors[0]}")

    # ------------------------------------------------------------ clean up

    def clean_up(self) -> None:
        """Remove what this run made: routes, the interface, and the Peer if we created it."""
        o = self.opts
        if self.interface is not None:
            for line in system.delete_routes(list(self.routes.values())):
                self.log.debug("route already gone", detail=line)
            self.routes = {}
            try:
                system.remove_interface(self.interface)
                self.log.info("removed WireGuard interface", name=o.interface)
            except CliError as err:
                self.cleanup_errors.append(err.message)
                self.log.error("failed to remove WireGuard interface", err=err.message)
        if self.peer_created:
            saved = getattr(self.client, "timeout", None)
            try:
                if saved is not None:
                    self.client.timeout = min(saved, CLEANUP_TIMEOUT)
                    self.client.close()  # the next connection takes the shorter timeout
                R.PEERS.delete(self.client, o.name, what=f'peer "{o.name}"')
                self.peer_created = False
                self.log.info("deleted peer", peer=o.name)
            except CliError as err:
                self.cleanup_errors.append(err.message)
                self.log.error("failed to delete peer", err=err.message)
            finally:
                if saved is not None:
                    self.client.timeout = saved
