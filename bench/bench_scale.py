"""graph and showconf at scale: wall time and peak RSS of the real CLI.

Generates clusters of ready nodes and valid peers, serves them from the
project's test API server (tests/kubeapi) on loopback, and runs the installed
``kgctl-py`` against it; each child's peak RSS comes from ``os.wait4``.

    python3 bench/bench_scale.py [--runs 3] [--only SUBSTR] [--json FILE]
    python3 bench/bench_scale.py --scaling   # in-process: does doubling the nodes double the time?

Scenarios and their targets (seconds; none for the memory-only ones):
  1000 nodes / 50 locations / 100 peers, graph                   < 0.6
  1000 nodes, --mesh-granularity full graph                      < 5
  5000 nodes / 100 locations / 500 peers, graph, showconf node and peer:
      bounded memory (peak RSS reported)
Exits 1 if a median misses its target.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from kubeapi import KubeAPIServer  # noqa: E402

NOW = 1_760_000_000


def _key(seed: str) -> str:
    return base64.b64encode(hashlib.sha256(seed.encode()).digest()).decode()


def cluster(nodes: int, locations: int, peers: int) -> list[dict[str, Any]]:
    """Ready nodes spread over ``locations``, every tenth a leader; peers with one /32 each."""
    objs: list[dict[str, Any]] = []
    for i in range(nodes):
        a, b = divmod(i, 250)
        notes = {
            "kilo.squat.ai/endpoint": f"203.0.{a}.{b + 1}:51820",
            "kilo.squat.ai/internal-ip": f"10.{100 + a}.{b}.1/24",
            "kilo.squat.ai/key": _key(f"node-{i}"),
            "kilo.squat.ai/last-seen": str(NOW - 5),
            "kilo.squat.ai/location": f"loc-{i % locations}",
            "kilo.squat.ai/granularity": "location",
            "kilo.squat.ai/wireguard-ip": "10.4.0.1/16",
            "kilo.squat.ai/persistent-keepalive": "25",
            "kilo.squat.ai/discovered-endpoints": "{}",
        }
        if i % 10 == 0:
            notes["kilo.squat.ai/leader"] = "true"
        objs.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": f"node-{i:05d}", "annotations": notes, "labels": {"kubernetes.io/hostname": f"node-{i:05d}"}},
                "spec": {"podCIDR": f"10.{a + 10}.{b}.0/24", "podCIDRs": [f"10.{a + 10}.{b}.0/24"]},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]},
            }
        )
    for j in range(peers):
        a, b = divmod(j, 250)
        objs.append(
            {
                "apiVersion": "kilo.squat.ai/v1alpha1",
                "kind": "Peer",
                "metadata": {"name": f"peer-{j:04d}"},
                "spec": {
                    "allowedIPs": [f"10.5.{a}.{b + 1}/32"],
                    "publicKey": _key(f"peer-{j}"),
                    "endpoint": {"dnsOrIP": {"ip": f"198.51.{a}.{b + 1}"}, "port": 51820},
                    "persistentKeepalive": 10,
                },
            }
        )
    return objs


def run_child(argv: list[str]) -> tuple[float, float, int, int]:
    """Wall seconds, peak RSS (MiB), exit status and stdout bytes of one run."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        size = out.tell()
    return elapsed, usage.ru_maxrss / 1024, proc.returncode, size


SCENARIOS = [
    # name, (nodes, locations, peers), command, target seconds
    ("1000n/50loc/100p graph", (1000, 50, 100), ["graph"], 0.6),
    ("1000n/50loc/100p showconf node", (1000, 50, 100), ["showconf", "node", "node-00000"], None),
    ("1000n full graph", (1000, 50, 100), ["--mesh-granularity", "full", "graph"], 5.0),
    ("5000n/100loc/500p graph", (5000, 100, 500), ["graph"], None),
    ("5000n/100loc/500p showconf node", (5000, 100, 500), ["showconf", "node", "node-00000"], None),
    ("5000n/100loc/500p showconf peer", (5000, 100, 500), ["showconf", "peer", "peer-0000"], None),
    ("5000n/100loc/500p showconf node --as-peer -o yaml", (5000, 100, 500), ["showconf", "node", "node-00000", "--as-peer", "-o", "yaml"], None),
    ("5000n full showconf node", (5000, 100, 500), ["--mesh-granularity", "full", "showconf", "node", "node-00000"], None),
]


def scaling() -> int:
    """Time the core in-process at 1250, 2500 and 5000 nodes (100 locations, a
    tenth as many peers): a linear path doubles, a quadratic one quadruples."""
    from kgctl_py.mesh.cluster import Cluster, Options, graph, showconf_node, showconf_peer
    from kgctl_py.mesh.model import Granularity

    steps = {
        "from_objects": lambda c, objs: Cluster.from_objects([o for o in objs if o["kind"] == "Node"], [o for o in objs if o["kind"] == "Peer"]),
        "graph location": lambda c, objs: graph(c, Options(Granularity.LOCATION), NOW),
        "showconf node location": lambda c, objs: showconf_node(c, "node-00000", Options(Granularity.LOCATION), NOW),
        "showconf peer location": lambda c, objs: showconf_peer(c, "peer-0000", Options(Granularity.LOCATION), NOW),
        "showconf node full": lambda c, objs: showconf_node(c, "node-00000", Options(Granularity.FULL), NOW),
    }
    sizes = (1250, 2500, 5000)
    timings: dict[str, list[float]] = {k: [] for k in steps}
    for n in sizes:
        objs = cluster(n, 100, n // 10)
        c = steps["from_objects"](None, objs)
        for name, step in steps.items():
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                step(c, objs)
                best = min(best, time.perf_counter() - start)
            timings[name].append(best)
    worst = 0.0
    print(f"{'step':26}" + "".join(f"{n:>9}n" for n in sizes) + "   ratio per doubling")
    for name, ts in timings.items():
        ratios = [b / a for a, b in zip(ts, ts[1:])]
        worst = max(worst, *ratios)
        print(f"{name:26}" + "".join(f"{t * 1000:8.1f}ms" for t in ts) + "   " + " ".join(f"{r:.2f}" for r in ratios))
    # Doubling the input should about double the time; 4 is quadratic.  The
    # margin is for CPython's cyclic GC, which walks every live object now and
    # then: full granularity at 5000 nodes doubles at ~3 with it, ~2.3 without.
    return 0 if worst < 3.5 else 1


def main() -> int:
    if "--scaling" in sys.argv[1:]:
        return scaling()
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args()
    exe = shutil.which("kgctl-py")
    if exe is None:
        print("kgctl-py is not installed (pip install -e .)", file=sys.stderr)
        return 2
    rows = []
    missed = False
    servers: dict[tuple[int, int, int], KubeAPIServer] = {}
    print(f"{'scenario':52} {'median':>8} {'min':>8} {'target':>7} {'peak RSS':>9} {'stdout':>9}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, shape, cmd, target in SCENARIOS:
                if args.only not in name:
                    continue
                if shape not in servers:
                    servers[shape] = KubeAPIServer(cluster(*shape), captured_at=NOW).start()
                srv = servers[shape]
                kcfg = srv.write_kubeconfig(pathlib.Path(tmp) / f"kc-{'-'.join(map(str, shape))}")
                argv = [exe, "--kubeconfig", kcfg, *cmd]
                run_child(argv)  # warm-up: page cache and the server's first list
                results = [run_child(argv) for _ in range(args.runs)]
                codes = {r[2] for r in results}
                if codes != {0}:
                    print(f"{name}: exit status {codes}", file=sys.stderr)
                    return 1
                times = [r[0] for r in results]
                median, peak = statistics.median(times), max(r[1] for r in results)
                ok = target is None or median < target
                missed |= not ok
                rows.append(
                    {
                        "scenario": name,
                        "median_s": round(median, 3),
                        "min_s": round(min(times), 3),
                        "target_s": target,
                        "peak_rss_mib": round(peak, 1),
                        "stdout_bytes": results[0][3],
                        "ok": ok,
                    }
                )
                print(
                    f"{name:52} {median:7.3f}s {min(times):7.3f}s {'' if target is None else f'{target:6.1f}s':>7} {peak:7.1f}MB {results[0][3]:9d}"
                    + ("" if ok else "  MISSED")
                )
    finally:
        for srv in servers.values():
            srv.stop()
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
