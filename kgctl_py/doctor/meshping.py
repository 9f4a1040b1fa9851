"""pod.ping's probing: the plan, one exec per source pod, the verdicts, the
location x location summary and the culprits.  The API calls come in as
``exec_fn``, so this module is the whole of the logic and nothing of the I/O."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from kgctl_py.doctor import ping as P
from kgctl_py.doctor import probe
from kgctl_py.doctor.model import Finding, Status
from kgctl_py.doctor.plan import FULL, Plan, Probe, make_plan
from kgctl_py.doctor.pool import run_bounded
from kgctl_py.doctor.progress import Meter
from kgctl_py.record import record

ExecFn = Callable[[str, list[str]], tuple[int | None, str, str, str]]  # (node, command) -> exit, stdout, stderr, error


@record
class Settings:
    full: bool
    limit: int
    concurrency: int
    port: int


def location_summary(results: dict[tuple[str, str], P.PingResult], location: dict[str, str]) -> dict[str, Any]:
    """From x to location: probes, failures, unknown and the median RTT of the answered ones."""
    names = sorted({location.get(a, "") for a, _ in results} | {location.get(b, "") for _, b in results})
    index = {n: i for i, n in enumerate(names)}
    size = len(names)
    probes = [[0] * size for _ in names]
    failures = [[0] * size for _ in names]
    unknown = [[0] * size for _ in names]
    rtts: list[list[list[float]]] = [[[] for _ in names] for _ in names]
    for (a, b), r in results.items():
        i, j = index[location.get(a, "")], index[location.get(b, "")]
        probes[i][j] += 1
        if r.status == Status.FAIL:
            failures[i][j] += 1
        elif r.status == Status.UNKNOWN:
            unknown[i][j] += 1
        if r.rtt_ms is not None:
            rtts[i][j].append(r.rtt_ms)
    median = [[round(statistics.median(cell), 3) if cell else None for cell in row] for row in rtts]
    return {"names": names, "probes": probes, "failures": failures, "unknown": unknown, "medianRttMs": median}


def _run_probes(plan: Plan, exec_fn: ExecFn, concurrency: int, show: Callable[[str], None]) -> tuple[dict[Probe, P.PingResult], int]:
    jobs: list[tuple[str, list[Probe]]] = []
    for source, probes in plan.by_source().items():
        for i in range(0, len(probes), probe.MAX_TARGETS_PER_EXEC):
            jobs.append((source, probes[i : i + probe.MAX_TARGETS_PER_EXEC]))
    meter = Meter(show, "probing", len(jobs), "execs")

    def one(job: tuple[str, list[Probe]]) -> dict[Probe, P.PingResult]:
        source, probes = job
        ips = list(dict.fromkeys(p.ip for p in probes))
        code, out, err, error = exec_fn(source, probe.command(ips))
        verdicts = probe.parse(ips, code, out, err, error)
        return {p: verdicts[p.ip] for p in probes}

    done = run_bounded(jobs, one, concurrency, lambda job, result: meter.update())
    results: dict[Probe, P.PingResult] = {}
    for i in range(len(jobs)):
        results.update(done[i])
    return results, len(jobs)


def run(
    nodes: list[str],
    pod_ips: dict[str, str],
    places: dict[str, P.Place],
    peers: list[tuple[str, str]],
    exec_fn: ExecFn,
    settings: Settings,
    show: Callable[[str], None],
) -> tuple[list[Finding], dict[str, Any]]:
    location = {n: p.location for n, p in places.items()}
    leaders = {p.location: p.leader for p in places.values()}
    plan = make_plan(pod_ips, location, leaders, peers, settings.full, settings.limit)
    started = time.monotonic()
    results, execs = _run_probes(plan, exec_fn, settings.concurrency, show)
    seconds = time.monotonic() - started
    pairs: dict[tuple[str, str], P.PingResult] = {}
    findings = []
    for p in plan.probes:
        r = results[p]
        status, detail = r.status, r.detail
        if p.kind == "peer" and status == Status.FAIL:
            # A Kilo Peer (a laptop, a phone) may simply be offline.
            status, detail = Status.WARN, f"{detail} (a Peer may be offline)"
        if p.kind == "pod":
            pairs[(p.source, p.target)] = r
        rtt = f", avg {r.rtt_ms:.1f} ms" if r.rtt_ms is not None else ""
        findings.append(Finding(status, f"{p.source} → {p.target}", detail + rtt, "pair"))
    for text in P.culprits(nodes, pairs, places, settings.port):
        findings.append(Finding(Status.FAIL, "cluster", text, "cluster", hint=text.split(": ", 1)[-1]))
    if not plan.probes and nodes:
        findings.append(Finding(Status.PASS, nodes[0], "one node: no pairs to ping"))
    data: dict[str, Any] = {
        "plan": plan.name,
        "fullMatrixLimit": settings.limit,
        "nodes": nodes,
        "probes": len(plan.probes),
        "pairs": len(pairs),
        "execs": execs,
        "seconds": round(seconds, 3),
        "locations": location_summary(pairs, location),
        # Every probe: from, to, address, status, RTT (ms).
        "results": [[p.source, p.target, p.ip, results[p].status.value, results[p].rtt_ms] for p in plan.probes],
    }
    if plan.name == FULL:
        # The node x node matrix, only where it is the whole picture (and small enough).
        data["rttMs"] = [[None if a == b else pairs[(a, b)].rtt_ms for b in nodes] for a in nodes]
        data["status"] = [["" if a == b else pairs[(a, b)].status.value for b in nodes] for a in nodes]
    return findings, data
