"""Reading ``wg show IFACE dump`` and ``wg showconf IFACE``, and comparing a
live interface with what kgctl-py computes.  Private keys are dropped as the
text is read: they never reach a finding."""

from __future__ import annotations

from kgctl_py.doctor.numbers import decimal
from kgctl_py.mesh.ipnet import parse_network
from kgctl_py.mesh.key import key_str
from kgctl_py.mesh.topology import WireGuardPeer
from kgctl_py.record import field, record

HANDSHAKE_MAX_AGE = 180  # seconds; WireGuard re-handshakes every 2 minutes while traffic flows


@record
class LivePeer:
    public_key: str
    endpoint: str = ""
    allowed_ips: list[str] = field(default_factory=list)
    latest_handshake: int = 0


@record
class LiveInterface:
    listen_port: int | None = None
    peers: dict[str, LivePeer] = field(default_factory=dict)


def parse_dump(text: str) -> LiveInterface:
    """``wg show IFACE dump``: an interface line, then one line per peer."""
    iface = LiveInterface()
    lines = [line for line in text.splitlines() if line.strip()]
    if lines:
        head = lines[0].split("\t")
        # private-key, public-key, listen-port, fwmark: keep only the port.
        if len(head) >= 3:
            iface.listen_port = decimal(head[2])
    for line in lines[1:]:
        cols = line.split("\t")
        if len(cols) < 8:
            continue
        key, _psk, endpoint, allowed, handshake = cols[:5]
        ips = [] if allowed in ("(none)", "") else allowed.split(",")
        iface.peers[key] = LivePeer(key, "" if endpoint == "(none)" else endpoint, ips, decimal(handshake) or 0)
    return iface


def parse_showconf(text: str) -> LiveInterface:
    """``wg showconf IFACE`` INI text."""
    iface = LiveInterface()
    section = ""
    current: LivePeer | None = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip().lower()
            current = None
            continue
        name, sep, value = line.partition("=")
        if not sep:
            continue
        name, value = name.strip().lower(), value.strip()
        if section == "interface":
            if name == "listenport" and (port := decimal(value)) is not None:
                iface.listen_port = port
            # PrivateKey is deliberately not kept.
        elif section == "peer":
            if name == "publickey":
                current = iface.peers.setdefault(value, LivePeer(value))
            elif current is not None and name == "allowedips":
                current.allowed_ips += [v.strip() for v in value.split(",") if v.strip()]
            elif current is not None and name == "endpoint":
                current.endpoint = value
    return iface


def _net_set(values: list[str]) -> set[str]:
    out = set()
    for v in values:
        net = parse_network(v.strip())
        out.add(str(net) if net is not None else v.strip())
    return out


def drift(live: LiveInterface, expected: list[WireGuardPeer], names: dict[str, str], port: int | None) -> tuple[list[str], list[str]]:
    """(failures, warnings) between a live interface and the computed peers."""
    fails: list[str] = []
    warns: list[str] = []
    if port is not None and live.listen_port is not None and live.listen_port != port:
        fails.append(f"listens on {live.listen_port}, computed {port}")
    want: dict[str, WireGuardPeer] = {}
    for peer in expected:
        if peer.public_key is not None:
            want[key_str(peer.public_key)] = peer
    for key, peer in want.items():
        name = names.get(key, key[:8] + "…")
        got = live.peers.get(key)
        if got is None:
            fails.append(f"peer {name} is missing")
            continue
        computed = _net_set([str(ip) for ip in peer.allowed_ips if getattr(ip, "ip", None) is not None])
        actual = _net_set(got.allowed_ips)
        if computed != actual:
            extra, lacking = sorted(actual - computed), sorted(computed - actual)
            parts = ([f"+{', '.join(extra)}"] if extra else []) + ([f"-{', '.join(lacking)}"] if lacking else [])
            fails.append(f"peer {name} allowed IPs differ ({' '.join(parts)})")
        if peer.endpoint is not None and peer.endpoint.ip is not None and got.endpoint and got.endpoint != str(peer.endpoint):
            # WireGuard roams to where packets come from; a NAT'd peer legitimately moves.
            warns.append(f"peer {name} endpoint is {got.endpoint}, computed {peer.endpoint}")
    for key in sorted(set(live.peers) - set(want)):
        fails.append(f"unexpected peer {names.get(key, key[:8] + '…')}")
    return fails, warns


def _peer_differs(live: LivePeer, peer: WireGuardPeer) -> bool:
    computed = _net_set([str(ip) for ip in peer.allowed_ips if getattr(ip, "ip", None) is not None])
    if computed != _net_set(live.allowed_ips):
        return True
    want = str(peer.endpoint) if peer.endpoint is not None and peer.endpoint.ip is not None else ""
    return bool(want and live.endpoint and want != live.endpoint)


def blind_spot(live: LiveInterface, expected: list[WireGuardPeer]) -> tuple[str, list[str]] | None:
    """Drift that Kilo's agent cannot see: (endpoint-less peer, drifted peers after it).

    Kilo's ``(*Conf).Equal`` (squat/kilo 944dff57, pkg/wireguard/conf.go) sorts
    the peers by public key and, at the first peer without an endpoint on
    either side (e.g. an offline Peer), returns "equal" without looking
    further. Peers sorting after it keep whatever they have until the Kilo pod
    restarts. None when there is no such peer, when the peer sets differ (Kilo
    counts them first), or when something before it drifted (Kilo sees that).
    """
    want = {key_str(p.public_key): p for p in expected if p.public_key is not None}
    if set(want) != set(live.peers):
        return None
    blocker = None
    drifted: list[str] = []
    for key in sorted(want):
        peer, got = want[key], live.peers[key]
        if blocker is None:
            if _peer_differs(got, peer):
                return None  # Kilo compares this one and reconciles
            no_endpoint = (peer.endpoint is None or peer.endpoint.ip is None and peer.endpoint.dns is None) and not got.endpoint
            if no_endpoint:
                blocker = key
        elif _peer_differs(got, peer):
            drifted.append(key)
    if blocker is None or not drifted:
        return None
    return blocker, drifted
