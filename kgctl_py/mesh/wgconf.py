"""WireGuard INI text, byte for byte as kgctl prints it.

Kilo's order differs from ``wg showconf``: AllowedIPs, Endpoint,
PersistentKeepalive (always present, in seconds), PresharedKey, PublicKey.
The ``[Interface]`` section only carries the listen port: kgctl never knows
a private key.
"""

from __future__ import annotations

from kgctl_py.mesh.key import ZERO_KEY, key_str
from kgctl_py.mesh.model import duration_seconds
from kgctl_py.mesh.topology import WireGuardPeer


def _keepalive_text(ns: int | None) -> str:
    # Go prints uint64(d / time.Second), so a negative interval wraps around.
    return str(duration_seconds(ns or 0) % (1 << 64))


def render_conf(peers: list[WireGuardPeer], listen_port: int | None = None) -> str:
    out: list[str] = []
    if listen_port is not None:
        out.append(f"[Interface]\nListenPort = {listen_port}\n")
    for i, peer in enumerate(peers):
        if i > 0 or listen_port is not None:
            out.append("\n")
        out.append("[Peer]\n")
        if peer.allowed_ips:
            out.append("AllowedIPs = " + ", ".join(str(ip) for ip in peer.allowed_ips) + "\n")
        endpoint = "" if peer.endpoint is None else str(peer.endpoint)
        if endpoint:
            out.append(f"Endpoint = {endpoint}\n")
        out.append(f"PersistentKeepalive = {_keepalive_text(peer.keepalive_ns)}\n")
        for label, key in (("PresharedKey", peer.preshared_key), ("PublicKey", peer.public_key)):
            if key is not None and key != ZERO_KEY:
                out.append(f"{label} = {key_str(key)}\n")
    return "".join(out)
