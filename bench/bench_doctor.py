"""Doctor's speed: the pod-to-pod ping test and the static checks.

1. pod.ping on the project's test API server (tests/kubeapi), whose exec
   takes as long as on a real cluster (tests/kubeapi/exectiming.py): doctor's
   ping script lasts as long as its slowest ``ping -c 3 -i 0.2 -W 2`` (0.4 s
   when answered), plus --exec-overhead-ms per exec.  Runs the whole
   `kgctl-py doctor --check pod.ping` (namespace, DaemonSet, pod start-up,
   probing, cleanup) and reports its wall time, the execs and probes made, the
   plan, and doctor's peak RSS.
2. Static checks on a 1000-node cluster (goal: under 2 s), in-process and as
   a `kgctl-py doctor --snapshot --static-only` run (--static).

    python3 bench/bench_doctor.py --nodes 1000 --locations 50 --max-concurrent-execs 64 --json
    python3 bench/bench_doctor.py --nodes 100 --full-matrix --max-concurrent-execs 64
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import doctor_fixtures as fx  # noqa: E402
from doctor_fixtures.live import DoctorServer, Nodes  # noqa: E402
from kubeapi.exectiming import ExecTiming  # noqa: E402


def bench_ping(n: int, locations: int | None, overhead_ms: float, concurrency: int, full: bool) -> dict:
    nodes = Nodes(simulate_ping=True, timing=ExecTiming(overhead=overhead_ms / 1000))
    # Enough exec workers in the server that it is not the bound being measured.
    with DoctorServer(objects=fx.scaled(n, locations), nodes=nodes, exec_workers=max(64, 2 * concurrency)) as ds:
        argv = [
            "kgctl-py",
            "doctor",
            "--kubeconfig",
            ds.kubeconfig,
            "--check",
            "pod.ping",
            "-o",
            "json",
            "-q",
            "--max-concurrent-execs",
            str(concurrency),
            "--timeout",
            "300",
        ] + (["--full-matrix"] if full else [])
        with tempfile.NamedTemporaryFile("r") as rss_file:
            started = time.monotonic()
            # GNU time reports doctor's own peak RSS; this process's rusage would count
            # pages a forked child shares with it before exec.
            proc = subprocess.run(["/usr/bin/time", "-o", rss_file.name, "-f", "%M", *argv], capture_output=True, text=True, timeout=1800)
            total = time.monotonic() - started
            rss = int(rss_file.read().strip().splitlines()[-1]) / 1024  # KiB
        if proc.returncode not in (0, 1):
            raise SystemExit(f"doctor failed ({proc.returncode}): {proc.stderr}")
        doc = json.loads(proc.stdout)
        check = next(c for cat in doc["categories"] for c in cat["checks"] if c["id"] == "pod.ping")
        data = check["data"]
        return {
            "nodes": n,
            "locations": len(data["locations"]["names"]),
            "seconds": round(total, 2),
            "probe_seconds": data["seconds"],
            "execs": data["execs"],
            "probes": data["probes"],
            "plan": data["plan"],
            "status": check["status"],
            "peak_concurrent_execs": data["peakConcurrentExecs"],
            "peak_rss_mb": round(rss, 1),
            "exec_overhead_ms": overhead_ms,
            "max_concurrent_execs": concurrency,
        }


def bench_static(n: int) -> dict:
    from kgctl_py.doctor.registry import CHECKS
    from kgctl_py.doctor.static import build_input

    objects = fx.scaled(n)
    nodes = [o for o in objects if o["kind"] == "Node"]
    peers = [o for o in objects if o["kind"] == "Peer"]
    best = float("inf")
    for _ in range(3):
        started = time.monotonic()
        inp = build_input(nodes, peers, pods=None, now=fx.CAPTURED_AT)
        for check in CHECKS:
            if check.static:
                check.run(inp)
        best = min(best, time.monotonic() - started)
    with tempfile.TemporaryDirectory() as tmp:
        doc = {"apiVersion": "v1", "kind": "List", "metadata": {"annotations": {"kgctl-py.squat.ai/captured-at": str(fx.CAPTURED_AT)}}, "items": objects}
        path = pathlib.Path(tmp) / "cluster.json"
        path.write_text(json.dumps(doc))
        cli = float("inf")
        for _ in range(3):
            started = time.monotonic()
            subprocess.run(["kgctl-py", "doctor", "--snapshot", str(path), "--static-only", "-o", "json"], capture_output=True, timeout=120)
            cli = min(cli, time.monotonic() - started)
    return {"nodes": n, "checks_s": best, "cli_s": cli}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--locations", type=int, default=None, help="spread the nodes over this many locations (default: the fixture's 3)")
    parser.add_argument("--exec-overhead-ms", type=float, default=50.0)
    parser.add_argument("--max-concurrent-execs", type=int, default=64)
    parser.add_argument("--full-matrix", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--static", action="store_true", help="also time the static checks")
    parser.add_argument("--static-nodes", type=int, default=1000)
    args = parser.parse_args()
    r = bench_ping(args.nodes, args.locations, args.exec_overhead_ms, args.max_concurrent_execs, args.full_matrix)
    if args.json:
        print(json.dumps(r))
    else:
        print(
            f"pod.ping, {r['nodes']} nodes in {r['locations']} locations, {args.exec_overhead_ms:g} ms per exec, "
            f"{args.max_concurrent_execs} concurrent execs: {r['plan']} plan, {r['probes']} probes in {r['execs']} execs, "
            f"{r['seconds']:.1f} s in all ({r['probe_seconds']:.1f} s probing), peak RSS {r['peak_rss_mb']:.0f} MB, {r['status']}"
        )
    if args.static:
        s = bench_static(args.static_nodes)
        verdict = "ok" if s["checks_s"] < 2 else "SLOWER THAN 2 s"
        print(f"static checks, {s['nodes']} nodes: {s['checks_s']:.2f} s in-process ({verdict}); `doctor --snapshot --static-only`: {s['cli_s']:.2f} s")


if __name__ == "__main__":
    main()
