"""The lab comes up and goes away completely: after `down`, after a failing
test, after a failed `up`, and after its owner process was killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from lab import Lab, LabError
from lab.fixtures import require_root
from lab.hostcheck import HostSnapshot, snapshot, wireguard_go_pids
from lab.state import STATE_ROOT, all_states

pytestmark = pytest.mark.lab
TESTS = Path(__file__).resolve().parent


@pytest.fixture
def host_before() -> HostSnapshot:
    require_root()
    return snapshot()


def assert_left_nothing(before: HostSnapshot, lab_prefix: str) -> None:
    after = snapshot()
    assert not [n for n in after.lab_namespaces if n.startswith(lab_prefix + "-")]
    assert after == before


def test_up_down_leaves_nothing_behind(host_before: HostSnapshot, record_property: Callable[[str, object], None]) -> None:
    lab = Lab()
    try:
        lab.up()
        assert lab.up_seconds is not None
        record_property("up_seconds", round(lab.up_seconds, 2))
        print(f"\nlab up in {lab.up_seconds:.2f}s")
        during = snapshot()
        ours = {n for n in during.lab_namespaces if n.startswith(lab.prefix + "-")}
        # hub + 6 nodes + 6 pods + the laptop
        assert len(ours) == 1 + len(lab.nodes) + len(lab.pods) + 1
        started = during.wireguard_go - host_before.wireguard_go
        assert len(started) == len(lab.nodes) + 1  # every node's kilo0 and the laptop's wg0
        # Nothing of the lab is visible on the host itself.
        assert during.host_links == host_before.host_links
        assert during.host_routes == host_before.host_routes
        assert during.run_wireguard == host_before.run_wireguard
    finally:
        lab.down()
    assert_left_nothing(host_before, lab.prefix)
    assert not any(pid in wireguard_go_pids() for pid in started)


def test_nothing_left_after_a_failing_test(host_before: HostSnapshot, tmp_path: Path) -> None:
    """A pytest run whose test fails while using `lab_cluster` cleans up anyway."""
    test_file = tmp_path / "test_fails_with_lab.py"
    test_file.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        from lab.fixtures import lab_cluster  # noqa: F401

        def test_fails(lab_cluster):
            assert lab_cluster.ping_matrix()
            open({str(tmp_path / "prefix")!r}, "w").write(lab_cluster.prefix)
            raise AssertionError("deliberate failure")
    """))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(test_file)],
        capture_output=True, timeout=240, cwd=tmp_path, check=False,
    )
    out = proc.stdout.decode()
    assert proc.returncode == 1, out
    assert "deliberate failure" in out and "1 failed" in out
    assert_left_nothing(host_before, (tmp_path / "prefix").read_text())


def test_with_block_cleans_up_on_error(host_before: HostSnapshot) -> None:
    with pytest.raises(RuntimeError, match="boom"), Lab() as lab:
        assert lab.nodes["ty1.k3s"].leader
        raise RuntimeError("boom")
    assert_left_nothing(host_before, lab.prefix)


def test_failed_up_cleans_up(host_before: HostSnapshot) -> None:
    # `false` as kgctl: the network is built, then configuring WireGuard fails.
    lab = Lab(kgctl=["false"])
    with pytest.raises(LabError, match="showconf node"):
        lab.up()
    assert_left_nothing(host_before, lab.prefix)


def test_cli_up_status_and_down_after_owner_killed(host_before: HostSnapshot) -> None:
    """`python3 -m lab up` runs a daemon; if it dies hard, `down` still removes everything."""
    env = dict(os.environ, PYTHONPATH=str(TESTS))
    before_runs = {s.run_id for s in all_states()}
    up = subprocess.run([sys.executable, "-m", "lab", "up"], capture_output=True, timeout=180, cwd=TESTS, env=env,
                        check=False)
    assert up.returncode == 0, up.stderr.decode()
    new = [s for s in all_states() if s.run_id not in before_runs]
    assert len(new) == 1
    state = new[0]
    try:
        status = subprocess.run([sys.executable, "-m", "lab", "status"], capture_output=True, timeout=60,
                                cwd=TESTS, env=env, check=False)
        assert status.returncode == 0
        assert f"lab {state.run_id}:" in status.stdout.decode()
        assert "leader 10.4.0.3/16" in status.stdout.decode()  # ty1 (ctyun is the 3rd location)
        # Kill the daemon without letting it clean up, as a crash or timeout would.
        os.kill(state.owner_pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while os.path.exists(f"/proc/{state.owner_pid}/cmdline") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(n.startswith(state.prefix + "-") for n in snapshot().lab_namespaces)
    finally:
        down = subprocess.run([sys.executable, "-m", "lab", "down", state.run_id], capture_output=True,
                              timeout=120, cwd=TESTS, env=env, check=False)
    assert down.returncode == 0, down.stderr.decode()
    assert not os.path.exists(os.path.join(STATE_ROOT, state.run_id))
    assert state.paths and not any(os.path.exists(p) for p in state.paths)  # the API server's files
    assert_left_nothing(host_before, state.prefix)
