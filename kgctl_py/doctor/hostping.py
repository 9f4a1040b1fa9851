"""host.ping: from the machine running doctor, ping every node's WireGuard IP and endpoint."""

from __future__ import annotations

import os
from typing import Any

from kgctl_py.doctor.model import Finding, Status
from kgctl_py.doctor.static import StaticInput

GROUP_RANGE = "/proc/sys/net/ipv4/ping_group_range"


def targets(inp: StaticInput) -> list[tuple[str, str, str]]:
    """(node, what, address) for every leader's WireGuard IP and every IP endpoint."""
    out: list[tuple[str, str, str]] = []
    t = inp.topology
    if t is not None:
        for s in t.segments:
            ip = s.wireguard_ip
            # An address, or None / Kilo's <nil> when the subnet ran out.
            if ip is not None and hasattr(ip, "version"):
                out.append((s.leader_name, "WireGuard IP", str(ip)))
    for node in inp.nodes:
        if node.endpoint is not None and node.endpoint.ip is not None:
            out.append((node.name, "endpoint", str(node.endpoint.ip)))
    return out


def explain_permission() -> str:
    try:
        with open(GROUP_RANGE) as f:
            value = " ".join(f.read().split())
    except OSError:
        value = "unknown"
    return (
        f"this kernel does not let your group (gid {os.getgid()}) open unprivileged ICMP sockets "
        f"(net.ipv4.ping_group_range = {value}); run doctor as root, or allow it with: "
        "sudo sysctl -w net.ipv4.ping_group_range='0 2147483647'"
    )


def check(inp: StaticInput, timeout: float, workers: int) -> list[Finding]:
    import icmplib  # type: ignore[import-untyped]

    todo = targets(inp)
    if not todo:
        return [Finding(Status.SKIP, "cluster", "no WireGuard IP or endpoint IP to ping", "cluster")]
    addresses = sorted({a for _, _, a in todo})
    hosts: dict[str, Any] = {}
    try:
        found = icmplib.multiping(addresses, count=3, interval=0.2, timeout=min(timeout, 2.0), concurrent_tasks=max(1, workers), privileged=False)
    except icmplib.SocketPermissionError:
        if os.geteuid() != 0:
            return [Finding(Status.SKIP, "cluster", explain_permission(), "cluster", hint="sudo sysctl -w net.ipv4.ping_group_range='0 2147483647'")]
        found = icmplib.multiping(addresses, count=3, interval=0.2, timeout=min(timeout, 2.0), concurrent_tasks=max(1, workers), privileged=True)
    except icmplib.ICMPLibError as err:
        return [Finding(Status.FAIL, "cluster", f"cannot ping: {err}", "cluster")]
    for host in found:
        hosts[host.address] = host
    out = []
    for node, what, address in todo:
        host = hosts.get(address)
        if host is None:
            out.append(Finding(Status.FAIL, node, f"{what} {address}: no result"))
        elif host.packets_received == 0:
            out.append(
                Finding(
                    Status.FAIL,
                    node,
                    f"{what} {address}: 0/{host.packets_sent} replies",
                    hint="from here, the route to that address goes through the mesh (WireGuard IP) or the internet (endpoint): check `ip route get "
                    + address
                    + "`",
                )
            )
        elif host.packets_received < host.packets_sent:
            out.append(Finding(Status.WARN, node, f"{what} {address}: {host.packets_received}/{host.packets_sent} replies, avg {host.avg_rtt:.1f} ms"))
        else:
            out.append(Finding(Status.PASS, node, f"{what} {address}: avg {host.avg_rtt:.1f} ms"))
    return out
