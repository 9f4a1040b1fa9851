"""IP addresses and CIDRs with Go's ``net`` semantics.

Kilo parses and prints addresses with Go's ``net`` package, and kgctl's bytes
depend on its quirks: ``ParseCIDR`` keeps the host bits of an interface
address, IPv4-mapped IPv6 addresses print as IPv4, and a prefix must be
decimal.  Python's ``ipaddress`` is stricter in some places and looser in
others, so every address Kilo touches goes through this module.
"""

from __future__ import annotations

import ipaddress

from kgctl_py.record import record

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_V4_MAPPED_PREFIX = 0xFFFF << 32


def parse_ip(text: str) -> Address | None:
    """Go's ``net.ParseIP``; IPv4-mapped IPv6 addresses become IPv4 (``To4``)."""
    if not text or "%" in text or not text.isascii():
        return None
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    return to4(addr)


def to4(addr: Address) -> Address:
    """Go's ``IP.To4`` where it succeeds, else the address unchanged."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def ip_str(addr: Address) -> str:
    return str(to4(addr))


@record(frozen=True)
class IPNet:
    """Go's ``net.IPNet``: an address (host bits kept) and a prefix.

    ``bits`` is the length of the mask Go stored (32 or 128); an IPv4 address
    with a 128-bit mask comes from IPv4-mapped IPv6 text.
    """

    ip: Address
    ones: int
    bits: int

    @property
    def is_v4(self) -> bool:
        return self.ip.version == 4

    def _v4_ones(self) -> int:
        # Go compares an IPv4 address against the last 4 bytes of a 16-byte mask.
        return max(0, self.ones - 96) if self.bits == 128 else self.ones

    @property
    def prefixlen(self) -> int:
        return self._v4_ones() if self.is_v4 else self.ones

    def __str__(self) -> str:
        return f"{self.ip}/{self.prefixlen}"

    def network_int(self) -> int:
        width = 32 if self.is_v4 else 128
        shift = width - self.prefixlen
        return (int(self.ip) >> shift) << shift if shift < width else 0

    def masked(self) -> IPNet:
        """The network address with the same mask (Go's ``IP.Mask``)."""
        cls = ipaddress.IPv4Address if self.is_v4 else ipaddress.IPv6Address
        return IPNet(cls(self.network_int()), self.ones, self.bits)

    def contains(self, addr: Address) -> bool:
        addr = to4(addr)
        if addr.version != self.ip.version:
            return False
        width = 32 if self.is_v4 else 128
        shift = width - self.prefixlen
        if shift >= width:
            return True
        return (int(addr) >> shift) == (int(self.ip) >> shift)

    def intersects(self, other: IPNet) -> bool:
        # Kilo's notion: either network contains the other's address.
        return self.contains(other.ip) or other.contains(self.ip)

    def single(self) -> IPNet:
        """The one-address CIDR of this net's IP (Kilo's ``oneAddressCIDR``)."""
        width = 32 if self.is_v4 else 128
        return IPNet(self.ip, width, width)


def one_address(addr: Address) -> IPNet:
    width = 32 if addr.version == 4 else 128
    return IPNet(addr, width, width)


def parse_cidr(text: str) -> tuple[Address, IPNet] | None:
    """Go's ``net.ParseCIDR``: returns (address, masked network) or None."""
    if not isinstance(text, str) or not text.isascii():
        return None
    addr_text, sep, prefix = text.partition("/")
    if not sep or not prefix or not prefix.isdigit() or len(prefix) > 9:
        return None
    if "%" in addr_text:
        return None
    try:
        raw = ipaddress.ip_address(addr_text)
    except ValueError:
        return None
    bits = 32 if raw.version == 4 else 128
    ones = int(prefix)
    if ones > bits:
        return None
    addr = to4(raw)
    host = IPNet(addr, ones, bits)
    return addr, host.masked()


def normalize_ip(text: str) -> IPNet | None:
    """Kilo's ``normalizeIP``: a CIDR whose IP keeps its host bits."""
    parsed = parse_cidr(text)
    if parsed is None:
        return None
    addr, net = parsed
    return IPNet(addr, net.ones, net.bits)


def parse_network(text: str) -> IPNet | None:
    """The masked network of a CIDR (``_, n, _ := net.ParseCIDR``)."""
    parsed = parse_cidr(text)
    return None if parsed is None else parsed[1]


def is_public(addr: Address | None) -> bool:
    """Kilo's ``isPublic``: not RFC 1918 and not ``fd00::/16``.

    DNS endpoints have no address and are never public.
    """
    if addr is None:
        return False
    addr = to4(addr)
    if addr.version == 4:
        a, b = addr.packed[0], addr.packed[1]
        if a == 10 or (a == 192 and b == 168):
            return False
        return not (a == 172 and b & 0xF0 == 0x10)
    packed = addr.packed
    return not (packed[0] == 0xFD and packed[1] == 0x00)
