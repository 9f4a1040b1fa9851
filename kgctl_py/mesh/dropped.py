"""What kgctl takes in silence: values it drops, misreads or prints as garbage.

graph and showconf keep kgctl's stdout byte for byte, and say these on stderr
(one line each), so that nothing is ignored without a word.
"""

from __future__ import annotations

from typing import Any

from kgctl_py.mesh import annotations as ann
from kgctl_py.mesh.ipnet import normalize_ip
from kgctl_py.mesh.key import ZERO_KEY, parse_key

# WireGuard's persistent keepalive is a 16-bit number of seconds.
MAX_KEEPALIVE = 65535


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _keepalive(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    number = ann.parse_go_int64(value) if isinstance(value, str) else value if isinstance(value, int) else None
    if number is None or 0 <= number <= MAX_KEEPALIVE:
        return None
    return f"{value} is outside WireGuard's 0..{MAX_KEEPALIVE} seconds"


def notices(node_objs: list[Any], peer_objs: list[Any]) -> list[str]:
    """One line per value kgctl drops or misreads, naming the object."""
    out: list[str] = []
    for obj in node_objs:
        meta = _dict(_dict(obj).get("metadata"))
        name = meta.get("name")
        notes = _dict(meta.get("annotations"))
        who = f"node {name}"

        def text(key: str, notes: dict[str, Any] = notes) -> str | None:
            value = notes.get(key)
            return value if isinstance(value, str) else None

        key = text(ann.KEY)
        if key is not None and parse_key(key) == ZERO_KEY:
            out.append(f"{who}: {ann.KEY} is all zeros, so kgctl leaves the node out")
        keepalive = text(ann.PERSISTENT_KEEPALIVE)
        if keepalive is not None and (problem := _keepalive(keepalive)):
            out.append(f"{who}: {ann.PERSISTENT_KEEPALIVE} {problem}; kgctl prints it as a wrapped number")
        location = text(ann.LOCATION)
        if location is not None and '"' in location:
            out.append(f"{who}: {ann.LOCATION} {location!r} contains '\"', which makes kgctl's DOT graph invalid")
        allowed = text(ann.ALLOWED_LOCATION_IPS)
        if allowed is not None:
            bad = [part for part in allowed.split(",") if normalize_ip(part) is None]
            if bad:
                out.append(f"{who}: {ann.ALLOWED_LOCATION_IPS}: {', '.join(repr(b) for b in bad)} is not an IP or CIDR; kgctl drops it")
        wireguard_ip = text(ann.WIREGUARD_IP)
        if wireguard_ip is not None and wireguard_ip != "" and normalize_ip(wireguard_ip) is None:
            out.append(f"{who}: {ann.WIREGUARD_IP} {wireguard_ip!r} is not an IP or CIDR; kgctl ignores it")
    for obj in peer_objs:
        meta = _dict(_dict(obj).get("metadata"))
        spec = _dict(_dict(obj).get("spec"))
        who = f"peer {meta.get('name')}"
        if parse_key(spec.get("publicKey")) == ZERO_KEY:
            out.append(f"{who}: publicKey is all zeros: the Peer validates, yet kgctl treats it as not ready (showconf peer says it does not exist)")
        if (problem := _keepalive(spec.get("persistentKeepalive"))) is not None:
            out.append(f"{who}: persistentKeepalive {problem}")
    return out
