"""Doctor's speed: the pod-to-pod ping matrix and the static checks.

1. Ping matrix: 50 nodes on the project's test API server (tests/kubeapi),
   whose exec handler takes 20 ms per exec (a simulated ping), so the full
   matrix is 50 x 49 = 2450 execs over real websockets.  Serially that is at
   least 49 s; doctor runs --max-concurrent-execs at once.  Reports the wall
   time of the matrix, the peak number of concurrent execs (seen by doctor and
   by the server) and the whole `kgctl-py doctor --check pod.ping` run.
2. Static checks on a 1000-node cluster (goal: under 2 s), in-process and as
   a `kgctl-py doctor --snapshot --static-only` run.

    python3 bench/bench_doctor.py [--nodes 50] [--latency 0.02] [--concurrency 16 32 64]
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


def bench_ping(n: int, latency: float, concurrency: int) -> dict:
    nodes = Nodes(latency=latency, simulate_ping=True)
    # Enough exec workers in the server that it is not the bound being measured.
    with DoctorServer(objects=fx.scaled(n), nodes=nodes, exec_workers=256) as ds:
        started = time.monotonic()
        proc = subprocess.run(["kgctl-py", "doctor", "--kubeconfig", ds.kubeconfig, "--check", "pod.ping", "-o", "json",
                               "--max-concurrent-execs", str(concurrency), "--timeout", "120"],
                              capture_output=True, text=True, timeout=900)
        total = time.monotonic() - started
        if proc.returncode not in (0, 1):
            raise SystemExit(f"doctor failed ({proc.returncode}): {proc.stderr}")
        doc = json.loads(proc.stdout)
        data = next(c for cat in doc["categories"] for c in cat["checks"] if c["id"] == "pod.ping")["data"]
        return {"pairs": data["pairs"], "matrix_s": data["seconds"], "peak_doctor": data["peakConcurrentExecs"],
                "peak_server": ds.peak, "total_s": total, "serial_s": data["pairs"] * latency}


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
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--static-nodes", type=int, default=1000)
    args = parser.parse_args()
    print(f"ping matrix: {args.nodes} nodes, {args.latency * 1000:.0f} ms per exec")
    print(f"{'max-concurrent-execs':>21} {'pairs':>6} {'matrix s':>9} {'serial s':>9} {'peak (doctor/server)':>21} {'whole run s':>12}")
    for c in args.concurrency:
        r = bench_ping(args.nodes, args.latency, c)
        print(f"{c:>21} {r['pairs']:>6} {r['matrix_s']:>9.2f} {r['serial_s']:>9.1f} {r['peak_doctor']:>10}/{r['peak_server']:<10} {r['total_s']:>12.2f}")
    s = bench_static(args.static_nodes)
    verdict = "ok" if s["checks_s"] < 2 else "SLOWER THAN 2 s"
    print(f"static checks, {s['nodes']} nodes: {s['checks_s']:.2f} s in-process ({verdict}); `doctor --snapshot --static-only`: {s['cli_s']:.2f} s")


if __name__ == "__main__":
    main()
