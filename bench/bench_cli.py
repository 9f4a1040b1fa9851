"""End-to-end timing of `graph` and `showconf node` on the blog's 6-node cluster.

Starts the project's test API server (tests/kubeapi) on loopback, runs the
installed `kgctl-py` N times per command, and compares the medians with
bench/baselines.json (kgctl's own figures on these machines).  Prints a
table; exits 1 if a median is slower than its baseline.

    python3 bench/bench_cli.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from kubeapi import KubeAPIServer, load_fixture  # noqa: E402

FIXTURE = ROOT / "tests" / "compat" / "cases" / "a-blog-6node"
COMMANDS = {
    "graph": ["graph"],
    "showconf node ty1.k3s": ["showconf", "node", "ty1.k3s"],
}


def measure(argv: list[str], runs: int) -> tuple[float, float]:
    """Median wall seconds and the largest peak RSS (MB) of the child runs."""
    times = []
    for _ in range(2):  # warm the page cache
        subprocess.run(argv, capture_output=True, check=True)
    peak = 0.0
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
        peak = max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    return statistics.median(times), peak


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    baselines = json.loads((ROOT / "bench" / "baselines.json").read_text())
    exe = shutil.which("kgctl-py")
    if exe is None:
        print("kgctl-py is not installed (pip install .)", file=sys.stderr)
        return 2
    objects, meta = load_fixture(FIXTURE)
    slower = False
    with tempfile.TemporaryDirectory() as tmp, KubeAPIServer(objects, captured_at=meta["capturedAt"]) as srv:
        kubeconfig = str(srv.write_kubeconfig(pathlib.Path(tmp) / "kubeconfig"))
        print(f"{'command':28} {'median':>9} {'kgctl':>9} {'peak RSS':>9}")
        for name, cmd in COMMANDS.items():
            median, peak = measure([exe, "--kubeconfig", kubeconfig, *cmd], args.runs)
            base = baselines["kgctl_6node_ms"][name] / 1000
            slower |= median > base
            print(f"{name:28} {median * 1000:7.0f}ms {base * 1000:7.0f}ms {peak:7.0f}MB")
    return 1 if slower else 0


if __name__ == "__main__":
    sys.exit(main())
