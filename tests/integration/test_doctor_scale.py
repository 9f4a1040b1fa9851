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
            [*KGCTL_PY, "doctor", "--kubeconfig", ds.kubeconfig, "--check", "pod.ping", "-o", "json", "--timeout", "3", "--max-concurrent-execs", "48"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
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


def test_200_nodes_in_10_locations_use_the_location_plan_and_a_readable_table() -> None:
    """Above --full-matrix-limit: one exec per pod, the location plan, a location
    cut off is named from the sample, and the table stays short."""
    from kubeapi.exectiming import ExecTiming

    objects = fx.scaled(200, locations=10)
    location = {o["metadata"]["name"]: o["metadata"]["annotations"]["kilo.squat.ai/location"] for o in objects if o["kind"] == "Node"}
    nodes = Nodes(
        simulate_ping=True, timing=ExecTiming(overhead=0.05, scale=0.1), reachable=lambda src, dst: (location[src] == "loc03") == (location[dst] == "loc03")
    )
    with DoctorServer(objects=objects, nodes=nodes, exec_workers=64) as ds:
        base = [*KGCTL_PY, "doctor", "--kubeconfig", ds.kubeconfig, "--check", "pod.ping", "--full-matrix-limit", "50", "--max-concurrent-execs", "32"]
        proc = subprocess.run([*base, "-o", "json"], capture_output=True, text=True, timeout=600, check=False)
        assert proc.returncode == 1, proc.stderr[-2000:]
        assert proc.stderr == ""  # not a terminal: no progress line
        doc = json.loads(proc.stdout)
        [check] = [c for cat in doc["categories"] for c in cat["checks"] if c["id"] == "pod.ping"]
        data = check["data"]
        assert data["plan"] == "location" and data["execs"] == 200 == len(ds.commands)
        assert data["probes"] == len(data["results"]) == len([f for f in check["findings"] if f["kind"] == "pair"]) < 200 * 199 / 4
        assert "status" not in data  # no 200 x 200 matrix
        culprits = [f["detail"] for f in check["findings"] if f["kind"] == "cluster"]
        assert len(culprits) == 1 and culprits[0].startswith("every pair crossing location loc03 fails"), culprits
        loc = data["locations"]
        i = loc["names"].index("loc03")
        assert loc["failures"][i][i] == 0 and all(loc["failures"][i][j] == loc["probes"][i][j] > 0 for j in range(10) if j != i)
        table = subprocess.run(base, capture_output=True, text=True, timeout=600, check=False).stdout
        assert "from \\ to location" in table and "×" in table
        assert "more (all in -o json)" in table
        assert len(table.splitlines()) < 80


def test_progress_line_on_a_terminal_only_and_not_with_q() -> None:
    import os
    import pty
    import tempfile

    from kubeapi.exectiming import ExecTiming

    nodes = Nodes(simulate_ping=True, timing=ExecTiming(overhead=0.05, scale=1.0))
    with DoctorServer(objects=fx.scaled(20), nodes=nodes, exec_workers=32) as ds:
        base = [*KGCTL_PY, "doctor", "--kubeconfig", ds.kubeconfig, "--check", "pod.ping", "-o", "json", "--max-concurrent-execs", "2"]
        for extra, want in (([], True), (["-q"], False)):
            main, child = pty.openpty()
            # stdout to a file: a full pipe would block doctor while this reads the terminal.
            out_file = tempfile.TemporaryFile("w+")
            proc = subprocess.Popen([*base, *extra], stdout=out_file, stderr=child, text=True)
            os.close(child)
            err = b""
            while True:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                err += chunk
            proc.wait(timeout=300)
            os.close(main)
            out_file.seek(0)
            out = out_file.read()
            assert proc.returncode == 0
            assert json.loads(out)["status"] == "pass"
            text = err.decode()
            if want:
                assert "starting ping pods: " in text and "probing: " in text and "/20 execs" in text, text
                assert "/s, ETA " in text  # 20 execs of 0.45 s, 2 at a time: several seconds of probing
            else:
                assert text == "", text
