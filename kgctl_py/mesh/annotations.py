"""Kilo's annotation keys, and the translation of Kubernetes objects into
Kilo's domain (Kilo's ``translateNode``/``translatePeer`` and Peer validation).

Objects are plain dicts as the API server returns them.  Nothing here raises on
bad input: a value Kilo cannot parse is dropped, defaulted or ignored exactly
as Kilo does, and ``validate_peer`` gives Kilo's reason for rejecting a Peer.
"""

from __future__ import annotations

import json
from typing import Any

from kgctl_py.mesh.endpoint import Endpoint, is_dns1123_subdomain, parse_endpoint
from kgctl_py.mesh.ipnet import normalize_ip, parse_ip, parse_network
from kgctl_py.mesh.key import parse_key
from kgctl_py.mesh.model import Node, Peer, duration_from_seconds

PREFIX = "kilo.squat.ai/"
ENDPOINT = PREFIX + "endpoint"
FORCE_ENDPOINT = PREFIX + "force-endpoint"
INTERNAL_IP = PREFIX + "internal-ip"
FORCE_INTERNAL_IP = PREFIX + "force-internal-ip"
KEY = PREFIX + "key"
LAST_SEEN = PREFIX + "last-seen"
LEADER = PREFIX + "leader"
LOCATION = PREFIX + "location"
PERSISTENT_KEEPALIVE = PREFIX + "persistent-keepalive"
WIREGUARD_IP = PREFIX + "wireguard-ip"
DISCOVERED_ENDPOINTS = PREFIX + "discovered-endpoints"
ALLOWED_LOCATION_IPS = PREFIX + "allowed-location-ips"
GRANULARITY = PREFIX + "granularity"
CNI_COMPATIBILITY_IP = PREFIX + "cni-compatibility-ip"

# K3s records its own view of the node here.
K3S_NODE_ARGS = "k3s.io/node-args"
K3S_EXTERNAL_IP = "k3s.io/external-ip"
K3S_INTERNAL_IP = "k3s.io/internal-ip"

INT64_MAX = (1 << 63) - 1


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _name(metadata: dict[str, Any]) -> str:
    name = metadata.get("name")
    return name if isinstance(name, str) else ""


def _str_map(value: Any) -> dict[str, str]:
    """Annotations or labels, keeping only string values (as Go's decoder would)."""
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def parse_go_int64(text: str) -> int | None:
    """Go's ``strconv.ParseInt(s, 10, 64)``."""
    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isascii() or not body.isdigit():
        return None
    if len(body.lstrip("0")) > 19:
        return None  # beyond int64, and int() of thousands of digits raises
    value = int(text)
    if not -(1 << 63) <= value <= INT64_MAX:
        return None
    return value


def parse_discovered_endpoints(text: str) -> dict[str, Endpoint | None] | None:
    """Decode Kilo's JSON ``map[string]*net.UDPAddr``; None where Go's decoder fails."""
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):  # a nesting bomb is garbage too
        return None
    if raw is None:
        return None
    if not isinstance(raw, dict):
        return None
    result: dict[str, Endpoint | None] = {}
    for key, value in raw.items():
        if value is None:
            result[key] = None
            continue
        if not isinstance(value, dict):
            return None
        # Go matches struct fields case-insensitively; the last match wins.
        ip_text: Any = None
        port: Any = 0
        for field_name, field_value in value.items():
            lowered = field_name.lower()
            if lowered == "ip":
                ip_text = field_value
            elif lowered == "port":
                port = field_value
            elif lowered == "zone" and field_value is not None and not isinstance(field_value, str):
                return None
        if isinstance(port, bool) or not isinstance(port, int):
            if port is None:
                port = 0
            else:
                return None
        if not -(1 << 63) <= port <= INT64_MAX:
            return None
        ip = None
        if ip_text is not None:
            if not isinstance(ip_text, str):
                return None
            if ip_text:
                ip = parse_ip(ip_text)
                if ip is None:
                    return None
        result[key] = Endpoint(port=port, ip=ip, udp=True)
    return result


def node_granularity(annotations: dict[str, str]) -> str:
    value = annotations.get(GRANULARITY)
    return value if value in ("location", "full") else ""


def translate_node(obj: dict[str, Any], topology_label: str) -> Node:
    """Kilo's ``translateNode``."""
    metadata = _dict(obj.get("metadata"))
    annotations = _str_map(metadata.get("annotations"))
    labels = _str_map(metadata.get("labels"))
    spec = _dict(obj.get("spec"))
    name = _name(metadata)

    pod_cidr = spec.get("podCIDR")
    subnet = parse_network(pod_cidr) if isinstance(pod_cidr, str) else None

    location = annotations[LOCATION] if LOCATION in annotations else labels.get(topology_label, "")

    endpoint = parse_endpoint(annotations.get(FORCE_ENDPOINT, ""))
    if endpoint is None:
        endpoint = parse_endpoint(annotations.get(ENDPOINT, ""))

    internal_ip = normalize_ip(annotations.get(FORCE_INTERNAL_IP, ""))
    if internal_ip is None:
        internal_ip = normalize_ip(annotations.get(INTERNAL_IP, ""))
    no_internal_ip = annotations.get(FORCE_INTERNAL_IP) in ("", "-")
    if no_internal_ip:
        internal_ip = None

    keepalive_ns = 0
    if PERSISTENT_KEEPALIVE in annotations:
        keepalive_ns = duration_from_seconds(parse_go_int64(annotations[PERSISTENT_KEEPALIVE]) or 0)

    last_seen = parse_go_int64(annotations.get(LAST_SEEN, "")) or 0

    discovered = None
    if DISCOVERED_ENDPOINTS in annotations:
        discovered = parse_discovered_endpoints(annotations[DISCOVERED_ENDPOINTS])

    allowed_location_ips = []
    if ALLOWED_LOCATION_IPS in annotations:
        for part in annotations[ALLOWED_LOCATION_IPS].split(","):
            net = normalize_ip(part)
            if net is not None:
                allowed_location_ips.append(net)

    return Node(
        name=name,
        endpoint=endpoint,
        internal_ip=internal_ip,
        no_internal_ip=no_internal_ip,
        key=parse_key(annotations.get(KEY, "")),
        last_seen=last_seen,
        leader=LEADER in annotations,
        location=location,
        keepalive_ns=keepalive_ns,
        subnet=subnet,
        wireguard_ip=normalize_ip(annotations.get(WIREGUARD_IP, "")),
        discovered_endpoints=discovered,
        allowed_location_ips=allowed_location_ips,
        granularity=node_granularity(annotations),
    )


def _peer_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return _dict(obj.get("spec"))


def validate_peer(obj: dict[str, Any]) -> str | None:
    """Kilo's ``Peer.Validate``: the reason a Peer is rejected, or None.

    Fields of the wrong JSON type are rejected too: Go could not decode them.
    """
    spec = _peer_spec(obj)
    allowed = spec.get("allowedIPs", [])
    if allowed is None:
        allowed = []
    if not isinstance(allowed, list):
        return "spec.allowedIPs must be a list of CIDRs"
    for ip in allowed:
        if not isinstance(ip, str) or parse_network(ip) is None:
            return f"failed to parse {json.dumps(ip)} as a valid IP address"
    endpoint = spec.get("endpoint")
    if endpoint is not None:
        if not isinstance(endpoint, dict):
            return "spec.endpoint must be an object"
        dns_or_ip = endpoint.get("dnsOrIP") or {}
        if not isinstance(dns_or_ip, dict):
            return "spec.endpoint.dnsOrIP must be an object"
        ip = dns_or_ip.get("ip") or ""
        dns = dns_or_ip.get("dns") or ""
        if not isinstance(ip, str) or not isinstance(dns, str):
            return "spec.endpoint.dnsOrIP fields must be strings"
        if not ip and not dns:
            return "either an endpoint DNS name IP address must be given"
        if dns and not is_dns1123_subdomain(dns):
            return f"{dns!r} is not a valid DNS-1123 subdomain"
        if ip and parse_ip(ip) is None:
            return f"failed to parse {json.dumps(ip)} as a valid IP address"
        port = endpoint.get("port", 0)
        if isinstance(port, bool) or not isinstance(port, int):
            return "spec.endpoint.port must be an integer"
        if not 1 <= port <= 65535:
            return f"port must be a valid UDP port number, got {port}"
    keepalive = spec.get("persistentKeepalive", 0)
    if keepalive is None:
        keepalive = 0
    if isinstance(keepalive, bool) or not isinstance(keepalive, int):
        return "spec.persistentKeepalive must be an integer"
    if keepalive < 0:
        return f"persistent keepalive must be greater than or equal to zero; got {keepalive}"
    public_key = spec.get("publicKey", "")
    if public_key is None:
        public_key = ""
    if not isinstance(public_key, str):
        return "spec.publicKey must be a string"
    psk = spec.get("presharedKey", "")
    if psk is not None and not isinstance(psk, str):
        return "spec.presharedKey must be a string"
    if parse_key(public_key) is None:
        return "WireGuard public key is not a base64-encoded 32-byte key"
    return None


def translate_peer(obj: dict[str, Any]) -> Peer:
    """Kilo's ``translatePeer``; call only on Peers that ``validate_peer`` accepts."""
    metadata = _dict(obj.get("metadata"))
    spec = _peer_spec(obj)
    allowed_ips = []
    for text in spec.get("allowedIPs") or []:
        net = normalize_ip(text)
        if net is not None:
            allowed_ips.append(net)
    endpoint = None
    raw_endpoint = spec.get("endpoint")
    if isinstance(raw_endpoint, dict):
        dns_or_ip = raw_endpoint.get("dnsOrIP") or {}
        port = raw_endpoint.get("port") or 0
        if port > 0:
            ip = parse_ip(dns_or_ip.get("ip") or "")
            if ip is not None:
                endpoint = Endpoint(port=port, ip=ip)
            dns = dns_or_ip.get("dns") or ""
            if dns:
                endpoint = parse_endpoint(f"{dns}:{port}")
    keepalive = spec.get("persistentKeepalive") or 0
    return Peer(
        name=_name(metadata),
        allowed_ips=allowed_ips,
        endpoint=endpoint,
        public_key=parse_key(spec.get("publicKey") or ""),
        preshared_key=parse_key(spec.get("presharedKey") or ""),
        keepalive_ns=duration_from_seconds(keepalive) if keepalive > 0 else 0,
    )
