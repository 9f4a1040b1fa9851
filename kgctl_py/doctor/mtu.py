"""net.mtu: MTU black holes between and within locations, and the MTU ladder.

busybox ``ping`` cannot set DF. Linux's ICMP sockets use the route's PMTU
setting (IP_PMTUDISC_WANT): an echo that fits the route MTU leaves with DF
set, a bigger one is fragmented by the sender into pieces that fit. So the
largest probe worth sending from a pod is its ``eth0`` MTU minus 28 (IPv4 +
ICMP headers): bigger payloads only add more MTU-sized fragments. That
inner packet becomes one WireGuard packet 60 bytes (IPv4; 80 for IPv6) plus
padding larger on the uplink; a path that silently drops big UDP packets
(no ICMP "fragmentation needed") loses exactly those pings while small ones
cross. Between the two sizes, a short bisection finds the largest payload
that crosses, and with it the MTU Kilo and the CNI should use.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import combinations
from typing import TYPE_CHECKING, Any

from kgctl_py.doctor import podnet
from kgctl_py.doctor.kube import ExecOutcome
from kgctl_py.doctor.model import Finding, Status
from kgctl_py.doctor.numbers import decimal
from kgctl_py.doctor.pool import run_bounded
from kgctl_py.record import record

if TYPE_CHECKING:
    from kgctl_py.doctor.live import LiveContext

SMALL = 56  # ping's default payload
ICMP_OVERHEAD = 28  # IPv4 header + ICMP header
WG_OVERHEAD = {4: 60, 6: 80}  # outer IP + UDP + WireGuard header and tag
BISECT_STEPS = 7
PING = ["ping", "-c", "2", "-W", "2"]
_RECEIVED = re.compile(r"([0-9]+) packets transmitted, ([0-9]+) (?:packets )?received")
GET_MARK = "#kgctl-py get"
LINKS_MARK = "#kgctl-py links"


def received(outcome: ExecOutcome) -> bool:
    """At least one echo came back (busybox or iputils statistics line)."""
    m = _RECEIVED.search(outcome.stdout)
    return bool(m and (decimal(m.group(2)) or 0) > 0)


def bisect(ok: int, bad: int, passes: Callable[[int], bool], steps: int = BISECT_STEPS) -> int:
    """The largest payload known to pass, searching (ok, bad) with at most ``steps`` probes."""
    for _ in range(steps):
        if bad - ok <= 1:
            break
        mid = (ok + bad) // 2
        if passes(mid):
            ok = mid
        else:
            bad = mid
    return ok


def judge_ladder(pod: int | None, kilo: int | None, underlay: int | None, underlay_dev: str, kilo_iface: str, version: int = 4) -> list[str]:
    """pod eth0 <= kilo0 <= underlay - WireGuard's overhead."""
    problems = []
    if pod is not None and kilo is not None and pod > kilo:
        problems.append(f"pod eth0 MTU {pod} > {kilo_iface} MTU {kilo}: full-size pod packets must be fragmented or dropped at {kilo_iface}")
    if kilo is not None and underlay is not None and kilo > underlay - WG_OVERHEAD[version]:
        problems.append(f"{kilo_iface} MTU {kilo} > {underlay_dev} MTU {underlay} - {WG_OVERHEAD[version]}: full-size WireGuard packets do not fit the uplink")
    return problems


@record
class NodeMtu:
    kilo: int | None
    underlay_dev: str
    underlay: int | None


def node_script(iface: str, target: str | None) -> str:
    parts = [f"cat /sys/class/net/{iface}/mtu"]
    if target:
        parts.append(f"echo '{GET_MARK}'; ip route get {target}")
    parts.append(f"echo '{LINKS_MARK}'; grep -H . /sys/class/net/*/mtu")
    return "; ".join(parts)


def parse_node(text: str) -> NodeMtu:
    lines = text.splitlines()
    kilo = decimal(lines[0]) if lines else None
    dev = ""
    links: dict[str, int] = {}
    section = ""
    for line in lines[1:]:
        if line.strip() in (GET_MARK, LINKS_MARK):
            section = line.strip()
            continue
        if section == GET_MARK and not dev:
            words = line.split()
            if "dev" in words[:-1]:
                dev = words[words.index("dev") + 1]
        elif section == LINKS_MARK:
            path, _, value = line.rpartition(":")
            parts = path.split("/")
            if len(parts) >= 2 and (mtu := decimal(value)) is not None:
                links[parts[-2]] = mtu
    return NodeMtu(kilo, dev, links.get(dev))


def culprit(failing: list[tuple[str, str]], pairs: list[tuple[str, str]]) -> str | None:
    """The one location in every failing cross-location pair, all of whose pairs fail."""
    if len(failing) < 2:
        return None
    common = set(failing[0])
    for pair in failing[1:]:
        common &= set(pair)
    if len(common) != 1:
        return None
    loc = next(iter(common))
    mine = [p for p in pairs if loc in p]
    return loc if set(mine) <= set(failing) else None


def _mtu_value(outcome: ExecOutcome) -> int | None:
    text = outcome.stdout.strip()
    return decimal(text) if outcome.ok else None


def _kilo_mtus(ctx: LiveContext) -> tuple[dict[str, NodeMtu], list[Finding]]:
    from kgctl_py.doctor.live import _kilo_exec_precheck
    from kgctl_py.doctor.routes import exec_each
    from kgctl_py.mesh.cluster import KgctlError, Options, node_topology
    from kgctl_py.mesh.routes import gateway_of

    pods, early = _kilo_exec_precheck(ctx)
    if early:
        return {}, []
    s = ctx.static
    commands = {}
    for node in s.nodes:
        if node.name not in pods:
            continue
        target = None
        try:
            t, _ = node_topology(s.cluster, node.name, Options(granularity=s.granularity, port=s.port), s.now)
            target = gateway_of(t)
            if target is None:  # a leader: where its WireGuard packets go
                others = [seg for seg in t.segments if seg.location != t.location and seg.endpoint is not None and seg.endpoint.ip is not None]
                target = str(others[0].endpoint.ip) if others and others[0].endpoint is not None else None
        except KgctlError:
            pass
        commands[node.name] = ["sh", "-c", node_script(ctx.opts.wg_interface, target)]
    outcomes = exec_each(ctx, {n: pods[n] for n in commands}, commands)
    return {n: parse_node(o.stdout) for n, o in outcomes.items() if o.ok}, []


def check(ctx: LiveContext) -> tuple[list[Finding], dict[str, Any] | None]:
    probes, out = podnet.probes(ctx)
    running, _ = podnet.pods(ctx)
    if not probes:
        return (out or [Finding(Status.SKIP, "cluster", "no doctor pod is running to probe from", "cluster")]), None
    iface = ctx.opts.wg_interface
    ctx.progress("reading MTUs in the pods and on the nodes")
    nodes = sorted(running)
    pod_mtu_out = podnet.exec_each(ctx, [(podnet.Probe(podnet.location_of(ctx, n), n, running[n]), ["cat", "/sys/class/net/eth0/mtu"]) for n in nodes])
    if all(not o.error and o.exit_code in podnet.NOT_FOUND for o in pod_mtu_out):
        return [Finding(Status.SKIP, "cluster", "the doctor image cannot run cat", "cluster")], None
    pod_mtu = dict(zip(nodes, (_mtu_value(o) for o in pod_mtu_out), strict=True))
    node_mtu, _ = _kilo_mtus(ctx)
    for n in nodes:
        nm = node_mtu.get(n)
        problems = judge_ladder(pod_mtu.get(n), nm.kilo if nm else None, nm.underlay if nm else None, nm.underlay_dev if nm else "", iface)
        known = f"pod eth0 {pod_mtu.get(n) or '?'}" + (f", {iface} {nm.kilo or '?'}, {nm.underlay_dev or 'uplink'} {nm.underlay or '?'}" if nm else "")
        hint = "make the CNI mtu <= Kilo's --mtu <= uplink MTU - 60" if problems else ""
        out.append(Finding(Status.FAIL if problems else Status.PASS, n, "; ".join(problems) or f"MTUs in order ({known})", hint=hint))

    # The probes: every pair of locations, and within each location with two pods.
    by_loc = {p.location: p for p in probes}
    jobs: list[tuple[str, podnet.Probe, str]] = []  # (subject, source, destination IP)
    for a, b in combinations(sorted(by_loc), 2):
        jobs.append((f"{a} ↔ {b}", by_loc[a], by_loc[b].ip))
    for loc, first in sorted(by_loc.items()):
        peers = [n for n in nodes if n != first.node and podnet.location_of(ctx, n) == loc]
        if peers:
            ip = str((running[peers[0]].get("status") or {}).get("podIP") or "")
            jobs.append((f"{loc} ({first.node} → {peers[0]})", first, ip))
    big = {j[0]: (pod_mtu.get(j[1].node) or 1420) - ICMP_OVERHEAD for j in jobs}
    ctx.progress(f"pinging {len(jobs)} path(s) with small and full-size payloads")
    plan = [(j[1], [*PING, "-s", str(size), j[2]]) for j in jobs for size in (SMALL, big[j[0]])]
    results = podnet.exec_each(ctx, plan)
    small_ok = {j[0]: received(results[2 * i]) for i, j in enumerate(jobs)}
    big_ok = {j[0]: received(results[2 * i + 1]) for i, j in enumerate(jobs)}
    holes = [j for j in jobs if small_ok[j[0]] and not big_ok[j[0]]]
    if holes:
        ctx.progress(f"bisecting the largest payload on {len(holes)} path(s)")

    def search(job: tuple[str, podnet.Probe, str]) -> int:
        subject, src, dst = job

        def passes(size: int) -> bool:
            return received(podnet.exec_each(ctx, [(src, [*PING, "-s", str(size), dst])])[0])

        return bisect(SMALL, big[subject], passes)

    found = run_bounded(holes, search, ctx.opts.max_concurrent_execs)
    largest = {holes[i][0]: v for i, v in found.items()}
    data_pairs: list[dict[str, Any]] = []
    for subject, _src, _dst in jobs:
        if not small_ok[subject]:
            out.append(Finding(Status.SKIP, subject, "small pings fail too: not an MTU problem (see pod.ping)", "pair"))
        elif big_ok[subject]:
            out.append(Finding(Status.PASS, subject, f"{big[subject]}-byte payload crosses", "pair"))
        else:
            best = largest[subject]
            out.append(
                Finding(
                    Status.FAIL,
                    subject,
                    f"{SMALL}-byte pings cross, {big[subject]}-byte ones are lost; largest that crosses: {best} (inner packet {best + ICMP_OVERHEAD})",
                    "pair",
                    hint=_fix(ctx, best),
                )
            )
        data_pairs.append(
            {
                "path": subject,
                "small": small_ok[subject],
                "large": big_ok[subject],
                "largestPayload": largest.get(subject, big[subject] if big_ok[subject] else None),
            }
        )
    cross = [(a, b) for a, b in combinations(sorted(by_loc), 2)]
    failing = [(a, b) for a, b in cross if f"{a} ↔ {b}" in largest]
    blamed = culprit(failing, cross)
    if blamed is not None:
        loc = blamed
        best = min(largest[f"{a} ↔ {b}"] for a, b in failing)
        src = by_loc[loc].node
        out.append(
            Finding(
                Status.FAIL,
                loc,
                f"every path to {loc} ({src}'s location) loses full-size packets while small ones cross: an MTU black hole "
                f"on {loc}'s uplink; largest payload that crosses: {best}",
                "location",
                hint=_fix(ctx, best),
            )
        )
    return out, {"paths": data_pairs}


def _fix(ctx: LiveContext, payload: int) -> str:
    mtu = payload + ICMP_OVERHEAD
    return (
        f"set Kilo's MTU to {mtu}: {ctx.kubectl} -n {ctx.opts.kilo_namespace} edit daemonset kilo (add --mtu={mtu} to kg's args), "
        f'set "mtu": {mtu} in the CNI config (Kilo\'s cni-conf), and restart the Kilo pods; or let ICMP "fragmentation needed" through on that uplink'
    )
