"""Kilo's domain types: Node, Peer and Granularity, as Kilo's mesh sees them."""

from __future__ import annotations

from enum import Enum

from kgctl_py.mesh.endpoint import Endpoint
from kgctl_py.mesh.ipnet import IPNet
from kgctl_py.mesh.key import ZERO_KEY
from kgctl_py.record import field, record

# A node whose last-seen is this many seconds old or older is out of the mesh
# (Kilo's check-in period of 30 s, twice).
READY_WINDOW_SECONDS = 60
DEFAULT_PORT = 51820
DEFAULT_SUBNET = "10.4.0.0/16"
DEFAULT_TOPOLOGY_LABEL = "topology.kubernetes.io/region"


NS_PER_SECOND = 1_000_000_000


def wrap_int64(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def duration_from_seconds(seconds: int) -> int:
    """``time.Duration(s) * time.Second`` with Go's int64 wrap-around."""
    return wrap_int64(seconds * NS_PER_SECOND)


def duration_seconds(ns: int) -> int:
    """Whole seconds of a Duration, truncated toward zero like Go's division."""
    whole = abs(ns) // NS_PER_SECOND
    return whole if ns >= 0 else -whole


class Granularity(str, Enum):
    LOCATION = "location"
    FULL = "full"
    AUTO = "auto"


@record
class Node:
    name: str
    endpoint: Endpoint | None = None
    internal_ip: IPNet | None = None
    no_internal_ip: bool = False
    key: bytes | None = None
    last_seen: int = 0
    leader: bool = False
    location: str = ""
    # A Go time.Duration in nanoseconds, wrapped to int64 exactly as Kilo
    # computes it, so that absurd annotation values print as kgctl prints them.
    keepalive_ns: int = 0
    subnet: IPNet | None = None
    wireguard_ip: IPNet | None = None
    discovered_endpoints: dict[str, Endpoint | None] | None = None
    allowed_location_ips: list[IPNet] = field(default_factory=list)
    granularity: str = ""

    def ready(self, now: int) -> bool:
        """Kilo's ``Node.Ready``: complete, and seen within the last minute."""
        return (
            self.endpoint is not None
            and (self.endpoint.ip is not None or self.endpoint.dns is not None)
            and self.endpoint.port != 0
            and self.key is not None
            and self.key != ZERO_KEY
            and self.subnet is not None
            and now - self.last_seen < READY_WINDOW_SECONDS
        )


@record
class Peer:
    name: str
    allowed_ips: list[IPNet] = field(default_factory=list)
    endpoint: Endpoint | None = None
    public_key: bytes | None = None
    preshared_key: bytes | None = None
    keepalive_ns: int = 0

    def ready(self) -> bool:
        """Kilo's ``Peer.Ready``: has allowed IPs and a key."""
        return bool(self.allowed_ips) and self.public_key is not None and self.public_key != ZERO_KEY
