"""``kgctl-py connect``: kgctl's connect command (the work is in kgctl_py.connect)."""

from __future__ import annotations

from typing import Any

import click

from kgctl_py.cli import CompletingChoice, environment, global_options, settings, split_csv, validate_globals
from kgctl_py.connect import LOG_LEVELS
from kgctl_py.errors import CliError, ExitCode

IFNAMSIZ = 16  # Linux interface names: at most 15 bytes


class _Command(click.Command):
    """Reads pflag's ``--clean-up=false`` as click's ``--no-clean-up``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        out = []
        for i, arg in enumerate(args):
            if arg == "--":
                out += args[i:]
                break
            if arg.startswith("--clean-up="):
                value = arg.split("=", 1)[1]
                if value not in _PFLAG_BOOL:
                    raise CliError(f'invalid argument "{value}" for "--clean-up" flag: strconv.ParseBool: parsing "{value}": invalid syntax', ExitCode.USAGE)
                arg = "--clean-up" if _PFLAG_BOOL[value] else "--no-clean-up"
            out.append(arg)
        return super().parse_args(ctx, out)


_PFLAG_BOOL = {v: True for v in ("1", "t", "T", "TRUE", "true", "True")} | {v: False for v in ("0", "f", "F", "FALSE", "false", "False")}


@click.command(cls=_Command)
@click.argument("peer_name", required=False, metavar="[PEER_NAME]")
@click.option("-a", "--allowed-ip", default="10.10.10.10/32", show_default=True, metavar="CIDR", help="Allowed IP of the peer.")
@click.option(
    "--allowed-ips", multiple=True, metavar="CIDRS", help="Additional allowed IPs of the cluster, e.g. the service CIDR (repeatable, comma-separated)."
)
@click.option(
    "--private-key",
    metavar="PATH",
    default=None,
    help="Path to an existing WireGuard private key file; if it does not exist, a new key is written there (mode 0600).",
)
@click.option(
    "--clean-up/--no-clean-up",
    default=True,
    show_default=True,
    help="Should Kilo clean up the routes, the interface and the Peer it created when it shuts down? (--clean-up=false also works)",
)
@click.option("--mtu", type=click.IntRange(min=0), default=1420, show_default=True, help="The MTU for the WireGuard interface.")
@click.option("--resync-period", default="30s", show_default=True, metavar="DURATION", help="How often should Kilo reconcile?")
@click.option(
    "-i", "--interface", default="kilo0", show_default=True, metavar="NAME", help="Name of the Kilo interface to use; if it does not exist, it will be created."
)
@click.option(
    "--persistent-keepalive",
    type=int,
    default=10,
    show_default=True,
    help="How often should WireGuard send keepalives? Setting to 0 will disable sending keepalives.",
)
@click.option(
    "--log-level", type=CompletingChoice(LOG_LEVELS), default="info", show_default=True, help=f"Log level to use. Possible values: {', '.join(LOG_LEVELS)}"
)
@global_options
@click.pass_context
def connect(
    ctx: click.Context,
    peer_name: str | None,
    allowed_ip: str,
    allowed_ips: tuple[str, ...],
    private_key: str | None,
    clean_up: bool,
    mtu: int,
    resync_period: str,
    interface: str,
    persistent_keepalive: int,
    log_level: str,
) -> None:
    """Connect to a Kilo cluster as a peer over WireGuard.

    Registers the Peer PEER_NAME (default: this host's name) unless it
    exists, creates the WireGuard interface (kernel WireGuard, else
    wireguard-go), and keeps its peers and routes in line with the cluster
    until SIGINT or SIGTERM; then removes them. Needs CAP_NET_ADMIN.
    Logs JSON lines on stdout; exits 0 after a clean shutdown.
    """
    # Imported here: every other command starts faster without them.
    import signal
    import socket
    import threading

    from kgctl_py.connect import system
    from kgctl_py.connect.agent import Connector, Logger, Options
    from kgctl_py.mesh.cluster import go_quote
    from kgctl_py.mesh.duration import parse_duration
    from kgctl_py.mesh.endpoint import is_dns1123_subdomain
    from kgctl_py.mesh.ipnet import parse_network
    from kgctl_py.mesh.model import Granularity

    s = settings(ctx)
    validate_globals(s)
    if s.snapshot is not None or s.now is not None:
        raise CliError("connect works on the live cluster; --snapshot and --now do not apply", ExitCode.USAGE)
    log = Logger(log_level, environment(ctx).stdout)
    name = peer_name if peer_name is not None else socket.gethostname()
    if not is_dns1123_subdomain(name):
        raise CliError(
            f"peer name {go_quote(name)} is not a valid DNS-1123 subdomain (lower-case letters, digits, '-' and '.'); pass a PEER_NAME", ExitCode.USAGE
        )
    ip = parse_network(allowed_ip)
    if ip is None:
        raise CliError(f'invalid argument "{allowed_ip}" for "-a, --allowed-ip" flag: invalid CIDR address: {allowed_ip}', ExitCode.USAGE)
    extra = []
    for value in (v for arg in allowed_ips for v in split_csv(arg)):
        net = parse_network(value)
        if net is None:
            raise CliError(f"invalid CIDR address: {value}", ExitCode.USAGE)
        extra.append(net)
    period = parse_duration(resync_period)
    if period is None:
        raise CliError(f'invalid argument "{resync_period}" for "--resync-period" flag: time: invalid duration {go_quote(resync_period)}', ExitCode.USAGE)
    if period <= 0:
        raise CliError(f"--resync-period must be positive, got {resync_period}", ExitCode.USAGE)
    if not interface or len(interface.encode()) >= IFNAMSIZ or any(c in interface for c in "/ \t\n:") or interface in (".", ".."):
        raise CliError(f"invalid interface name {go_quote(interface)}: at most 15 bytes, without '/', ':' or spaces", ExitCode.USAGE)
    if persistent_keepalive < 0 or persistent_keepalive > 65535:
        raise CliError(f"--persistent-keepalive must be between 0 and 65535, got {persistent_keepalive}", ExitCode.USAGE)

    # Flags are checked first (that touches nothing); then, before reading a
    # kubeconfig, a key or the network, the one privilege connect needs.
    if not system.has_net_admin():
        raise CliError("kgctl-py connect needs CAP_NET_ADMIN to create the WireGuard interface and routes; run with sudo", ExitCode.USAGE)
    opts = Options(
        name=name,
        allowed_ip=ip,
        allowed_ips=extra,
        private_key_path=private_key,
        clean_up=clean_up,
        mtu=mtu,
        resync_period=period,
        interface=interface,
        persistent_keepalive=persistent_keepalive,
        granularity=Granularity(s.mesh_granularity),
        port=s.port,
        topology_label=s.topology_label,
    )
    from kgctl_py.kube.client import Client
    from kgctl_py.kube.kubeconfig import resolve

    client = Client(resolve(s.kubeconfig, s.context, s.request_timeout), timeout=s.request_timeout)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, _stopper(stop)) for sig in (signal.SIGINT, signal.SIGTERM)}
    connector = Connector(client, opts, log, stop)
    try:
        connector.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        client.close()
    if connector.cleanup_errors:
        raise CliError(f"connect stopped, but cleaning up failed: {connector.cleanup_errors[0]}")


def _stopper(stop: Any) -> Any:
    def handler(signum: int, frame: Any) -> None:
        stop.set()

    return handler
