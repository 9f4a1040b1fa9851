"""kilo.metrics: every Kilo agent's own view, from its /metrics on :1107.

Read twice, a few seconds apart, by exec in the host-network Kilo pod
(busybox ``wget`` to 127.0.0.1:1107). ``kilo_nodes`` and ``kilo_peers`` (the
ready nodes and Peers the agent built its topology from) and ``kilo_leader``
must agree with kgctl-py's topology; ``kilo_errors_total`` must not grow.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from kgctl_py.doctor.model import Finding, Status, Waiting

if TYPE_CHECKING:
    from kgctl_py.doctor.live import LiveContext

PORT = 1107
INTERVAL = 3  # seconds between the two scrapes
NOT_FOUND = (126, 127)
# A label value is quoted and may hold "}" or an escaped quote (the exposition format).
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^}"]|"(?:[^"\\]|\\.)*")*\})?\s+(\S+)')


def parse(text: str) -> dict[str, float]:
    """Prometheus text exposition -> metric name -> sum over its series (kilo_* only)."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = _SAMPLE.match(line.strip())
        if not m or not m.group(1).startswith("kilo_"):
            continue
        try:
            v = float(m.group(3))
        except ValueError:
            continue
        values[m.group(1)] = values.get(m.group(1), 0.0) + v
    return values


def judge(first: dict[str, float], second: dict[str, float], nodes: int, peers: int, leader: bool, seconds: float = INTERVAL) -> list[str]:
    problems = []
    for name, want in (("kilo_nodes", nodes), ("kilo_peers", peers)):
        got = second.get(name)
        if got is None:
            problems.append(f"{name} is missing")
        elif got != want:
            problems.append(f"{name} = {got:g}, kgctl-py counts {want} ready")
    got_leader = second.get("kilo_leader")
    if got_leader is None:
        problems.append("kilo_leader is missing")
    elif (got_leader == 1) != leader:
        problems.append(f"kilo_leader = {got_leader:g}, but kgctl-py's topology makes it {'the' if leader else 'not the'} leader of its location")
    before, after = first.get("kilo_errors_total", 0.0), second.get("kilo_errors_total", 0.0)
    if after > before:
        problems.append(f"kilo_errors_total grew from {before:g} to {after:g} in {seconds:.0f} s: the agent keeps failing (see its log)")
    return problems


def check(ctx: LiveContext) -> Waiting:
    from kgctl_py.doctor.live import _exec_on, _kilo_exec_precheck, exec_hint

    pods, early = _kilo_exec_precheck(ctx)
    if early:
        return early
    s = ctx.static
    t = s.topology
    leaders = {seg.leader_name for seg in t.segments} if t is not None else set()
    ready_nodes = len(s.ready_nodes)
    ready_peers = len([p for p in s.cluster.peers if p.ready()])
    # No -T: Debian's busybox 1.35 wget crashes with it; the exec timeout bounds the read.
    command = ["wget", "-q", "-O", "-", f"http://127.0.0.1:{PORT}/metrics"]
    ctx.progress("reading the Kilo agents' metrics")
    first = _exec_on(ctx, pods, command)
    if all(not o.error and o.exit_code in NOT_FOUND for o in first.values()):
        return [Finding(Status.SKIP, "cluster", "the Kilo pods cannot run wget", "cluster")]
    ok = {n: p for n, p in pods.items() if first[n].ok}
    read_at = time.monotonic()
    if ok:
        yield INTERVAL  # the runner runs other checks meanwhile
    second = _exec_on(ctx, ok, command) if ok else {}
    seconds = time.monotonic() - read_at
    out = []
    ready = {n.name for n in s.ready_nodes}
    for node in sorted(pods):
        o = second.get(node, first[node])
        if not o.ok:
            why = o.error or (o.stderr.strip().splitlines() or [f"exit code {o.exit_code}"])[-1]
            out.append(
                Finding(
                    Status.FAIL,
                    node,
                    f"cannot read http://127.0.0.1:{PORT}/metrics: {why}",
                    hint=exec_hint(ctx, pods[node], command) if o.error else f"is kg running with --listen=:{PORT} (its default)? check the Kilo pod's log",
                )
            )
            continue
        if node not in ready:
            out.append(Finding(Status.SKIP, node, "not a ready node: kgctl-py has no topology for it"))
            continue
        problems = judge(parse(first[node].stdout), parse(o.stdout), ready_nodes, ready_peers, node in leaders, seconds)
        if problems:
            md = pods[node]["metadata"]
            out.append(
                Finding(
                    Status.FAIL,
                    node,
                    "; ".join(problems),
                    hint=f"the agent's view differs from the API's: {ctx.kubectl} -n {md.get('namespace', ctx.opts.kilo_namespace)} logs {md['name']}; "
                    f"restart it with: {ctx.kubectl} -n {md.get('namespace', ctx.opts.kilo_namespace)} delete pod {md['name']}",
                )
            )
        else:
            role = "leader" if node in leaders else "member"
            out.append(Finding(Status.PASS, node, f"agent sees {ready_nodes} node(s), {ready_peers} Peer(s), is {role}; no new errors"))
    return out
