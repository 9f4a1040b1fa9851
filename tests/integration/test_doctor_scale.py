"""doctor on 100 nodes while 1 exec in 10 errors or hangs (issue 6): the run
completes within its bounds, and those ping pairs are reported as unknown,
never as failures; the cap on concurrent execs holds."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import doctor_fixtures as fx
from doctor_fixtures.live import DoctorServer, Nodes

KGCTL_PY = [sys.executable, "-m", "kgctl_py"]


def test_100_nodes_with_flaky_execs_report_unknown_pairs() -> None:
    # Every 20th exec errors and every 20th (offset) hangs past doctor's 3 s exec timeout.
    nodes = Nodes(simulate_ping=True, fail_every=20, hang_every=20, hang=6.0)
    with DoctorServer(objects=fx.scaled(100), nodes=nodes, exec_workers=128) as ds:
        started = time.monotonic()
        proc = subprocess.run(
            [*KGCTL_PY, "doctor", "--kubeconfig", ds.kubeconfig, "--check", "pod.ping", "-o", "json",
             "--timeout", "3", "--max-concurrent-execs", "48"],
            capture_output=True, text=True, timeout=600, check=False,
        )
        elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    [check] = [c for cat in doc["categories"] for c in cat["checks"] if c["id"] == "pod.ping"]
    pairs = [f for f in check["findings"] if f.get("kind") == "pair"]
    statuses = {f["status"] for f in pairs}
    unknown = [f for f in pairs if f["status"] == "unknown"]
    assert "fail" not in statuses
    # About one pair in ten could not be measured: errors and timeouts alike.
    assert 0.05 * 9900 < len(unknown) < 0.15 * 9900, len(unknown)
    assert any("timed out" in f["detail"] or "timeout" in f["detail"] for f in unknown)
    # The cap is doctor's: the server may still be sleeping in execs doctor gave up on.
    assert 1 < check["data"]["peakConcurrentExecs"] <= 48
    assert elapsed < 400
