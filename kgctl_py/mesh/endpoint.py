"""WireGuard endpoints: ``host:port`` where host is an IP or a DNS name."""

from __future__ import annotations

import re

from kgctl_py.mesh.ipnet import Address, ip_str, parse_ip
from kgctl_py.record import record

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = re.compile(rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*\Z")


def is_dns1123_subdomain(name: str) -> bool:
    """Kubernetes' ``IsDNS1123Subdomain`` (lower-case, at most 253 characters)."""
    return 0 < len(name) <= 253 and _DNS1123_SUBDOMAIN.match(name) is not None


@record(frozen=True)
class Endpoint:
    """An endpoint; ``dns`` wins over ``ip`` when printing, as in Kilo."""

    port: int
    ip: Address | None = None
    dns: str | None = None
    # A discovered endpoint is a Go UDPAddr, which prints ":port" without an IP.
    udp: bool = False

    def __str__(self) -> str:
        if self.dns is not None:
            return f"{self.dns}:{self.port}"
        if self.ip is None:
            return f":{self.port}" if self.udp else ""
        host = ip_str(self.ip)
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"


def split_host_port(text: str) -> tuple[str, str] | None:
    """Go's ``net.SplitHostPort``."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or end + 1 >= len(text) or text[end + 1] != ":":
            return None
        host, port = text[1:end], text[end + 2 :]
        if "[" in host or "]" in port or "[" in port:
            return None
        return host, port
    colon = text.rfind(":")
    if colon < 0:
        return None
    host, port = text[:colon], text[colon + 1 :]
    if ":" in host or "[" in text or "]" in text:
        return None
    return host, port


def parse_endpoint(text: str) -> Endpoint | None:
    """Kilo's ``wireguard.ParseEndpoint``: ``None`` when it does not parse."""
    if not text:
        return None
    parts = split_host_port(text)
    if parts is None:
        return None
    host, port_text = parts
    if not port_text.isascii() or not port_text.isdigit() or len(port_text.lstrip("0")) > 5:
        return None  # not a port, and int() of thousands of digits raises
    port = int(port_text)
    if not 1 <= port <= 65535:
        return None
    ip = parse_ip(host)
    if ip is None:
        if is_dns1123_subdomain(host):
            return Endpoint(port=port, dns=host)
        return None
    return Endpoint(port=port, ip=ip)
