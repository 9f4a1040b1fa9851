"""The lab comes up and goes away completely: after `down`, after a failing
test, after a failed `up`, and after its owner process was killed.

Other lab runs may be up at the same time (another session's tests), so what
a lab makes is checked for this run only (`leftovers`); the host's own links,
addresses and routes must not change at all.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from lab import Lab, LabError, netns
from lab.fixtures import require_root
from lab.hostcheck import HostSnapshot, leftovers, snapshot, wireguard_go_pids
from lab.state import STATE_ROOT, State, all_states

pytestmark = pytest.mark.lab
TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture
def host_before() -> HostSnapshot:
    require_root()
    return snapshot()


def lab_pids(lab: Lab) -> list[int]:
    return [p.pid for p in lab.state.processes]


def test_up_down_leaves_nothing_behind(host_before: HostSnapshot, record_property: Callable[[str, object], None]) -> None:
    lab = Lab()
    try:
        lab.up()
        assert lab.up_seconds is not None
        record_property("up_seconds", round(lab.up_seconds, 2))
        print(f"\nlab up in {lab.up_seconds:.2f}s")
        ours = [n for n in netns.list_ns() if n.startswith(lab.prefix + "-")]
        # internet + 6 nodes + 6 pods + the laptop + CoreDNS's pod
        assert lab.dns is not None
        assert len(ours) == 1 + len(lab.nodes) + len(lab.pods) + 1 + 1
        # every node's kilo0 and the laptop's wg0, all running, and CoreDNS's dnsmasq
        assert len(lab_pids(lab)) == len(lab.nodes) + 1 + 1
        assert len(set(lab_pids(lab)) & wireguard_go_pids()) == len(lab.nodes) + 1
        assert lab.api is not None and os.path.isdir(lab.api.workdir)
        # Nothing of the lab shows on the host itself, even while it is up.
        assert snapshot() == host_before
    finally:
        lab.down()
    assert leftovers(lab.run_id, lab_pids(lab), lab.state.paths) == []
    assert snapshot() == host_before


def test_nothing_left_after_a_failing_test(host_before: HostSnapshot, tmp_path: Path) -> None:
    """A pytest run whose test fails while using `lab_cluster` cleans up anyway."""
    record = tmp_path / "lab.json"
    test_file = tmp_path / "test_fails_with_lab.py"
    test_file.write_text(
        textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(TESTS)!r})
        pytest_plugins = ["lab.fixtures"]

        def test_fails(lab_cluster):
            assert lab_cluster.ping_matrix()
            state = lab_cluster.state
            json.dump({{"run_id": state.run_id, "pids": [p.pid for p in state.processes], "paths": state.paths}},
                      open({str(record)!r}, "w"))
            raise AssertionError("deliberate failure")
    """)
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(test_file)],
        capture_output=True,
        timeout=240,
        cwd=tmp_path,
        check=False,
    )
    out = proc.stdout.decode()
    assert proc.returncode == 1, out
    assert "deliberate failure" in out and "1 failed" in out
    run = json.loads(record.read_text())
    assert len(run["pids"]) == 8 and run["paths"]  # 7 wireguard-go and CoreDNS's dnsmasq
    assert leftovers(run["run_id"], run["pids"], run["paths"]) == []
    assert snapshot() == host_before


def test_with_block_cleans_up_on_error(host_before: HostSnapshot) -> None:
    lab = Lab()
    with pytest.raises(RuntimeError, match="boom"), lab:
        assert lab.nodes["ty1.k3s"].leader
        raise RuntimeError("boom")
    assert len(lab_pids(lab)) == 8  # 7 wireguard-go and CoreDNS's dnsmasq
    assert leftovers(lab.run_id, lab_pids(lab), lab.state.paths) == []
    assert snapshot() == host_before


def test_failed_up_cleans_up(host_before: HostSnapshot) -> None:
    # `false` as kgctl: the network and the API server are up, then
    # configuring WireGuard fails.
    lab = Lab(kgctl=["false"])
    with pytest.raises(LabError, match="showconf node"):
        lab.up()
    assert lab.state.namespaces and lab.state.paths
    assert leftovers(lab.run_id, lab_pids(lab), lab.state.paths) == []
    assert snapshot() == host_before


def test_cli_up_status_and_down_after_owner_killed(host_before: HostSnapshot) -> None:
    """`python3 -m lab up` runs a daemon; if it dies hard, `down` still removes everything."""
    env = dict(os.environ, PYTHONPATH=str(TESTS))

    def lab_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, timeout=timeout, cwd=TESTS, env=env, check=False)

    before_runs = {s.run_id for s in all_states()}
    up = lab_cli("up", timeout=180)
    assert up.returncode == 0, up.stderr.decode()
    info = json.loads(up.stdout)
    # Other workers' labs may come up meanwhile (tests/conftest.py): ours is the daemon's.
    new = [s for s in all_states() if s.run_id not in before_runs and s.owner_pid == info["serve_pid"]]
    assert len(new) == 1
    state: State = new[0]
    try:
        assert info["prefix"] == state.prefix
        status = lab_cli("status", timeout=60)
        assert status.returncode == 0
        assert f"lab {state.run_id}:" in status.stdout.decode()
        assert "leader 10.4.0.3/16" in status.stdout.decode()  # ty1 (ctyun is the 3rd location)
        # Kill the daemon without letting it clean up, as a crash or timeout would.
        os.kill(state.owner_pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while netns.pid_alive(state.owner_pid, "lab-serve") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert leftovers(state.run_id, [p.pid for p in state.processes], state.paths) != []
    finally:
        down = lab_cli("down", state.run_id)
    assert down.returncode == 0, down.stderr.decode()
    assert leftovers(state.run_id, [p.pid for p in state.processes], state.paths) == []
    assert not os.path.exists(os.path.join(STATE_ROOT, f"serve-{state.owner_pid}.log"))
    assert snapshot() == host_before
