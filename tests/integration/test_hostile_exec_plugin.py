"""Exec credential plugins, as kubectl runs them: the plugin's stderr reaches the
user, --request-timeout bounds it (its children too), and a plugin that fails,
hangs or prints no credential exits 4 with one line of ours. Real plugin
scripts, the real console script, the project's API server."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kubeapi import KubeAPIServer, load_fixture
from kubeapi.kubeconfig import kubeconfig, write_kubeconfig

from kgctl_py.errors import ExitCode

TOKEN = "exec-plugin-token-4f1c2e"
FIXTURE = Path(__file__).resolve().parents[1] / "compat/cases/a-blog-6node"


@pytest.fixture
def fixture_objects():
    return load_fixture(FIXTURE)


def plugin(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "plugin.sh"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def run(path: Path, *args: str) -> tuple[int, str, str, float]:
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "kgctl_py", "--kubeconfig", str(path), *args, "graph"], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start


def test_a_hanging_plugin_is_stopped_at_the_request_timeout(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = plugin(tmp_path, f'echo "please run: corp-login --sso" >&2\necho $$ > {pids}\nsleep 300 &\necho $! >> {pids}\nwait\n')
    kc = write_kubeconfig(tmp_path / "kc", kubeconfig("https://127.0.0.1:1", exec_command=[str(script)]))
    rc, out, err, took = run(kc, "--request-timeout", "1.5")
    assert rc == ExitCode.API_DENIED and out == ""
    lines = err.splitlines()
    assert lines[0] == "please run: corp-login --sso"  # the plugin's own advice, passed through
    assert lines[1:] == [
        f"failed to create Kubernetes config: exec plugin {script} did not finish within 1.5s; raise --request-timeout if it waits for a login"
    ]
    assert took < 20
    # The plugin and its child are gone, not left behind.
    for pid in map(int, pids.read_text().split()):
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()


def test_a_failing_plugin_shows_its_stderr_and_exits_4(tmp_path: Path) -> None:
    script = plugin(tmp_path, f'echo "{TOKEN}"\necho "token expired; run the login command" >&2\nexit 7\n')
    kc = write_kubeconfig(tmp_path / "kc", kubeconfig("https://127.0.0.1:1", exec_command=[str(script)]))
    rc, out, err, _ = run(kc)
    assert rc == ExitCode.API_DENIED
    assert err.splitlines() == ["token expired; run the login command", f"failed to create Kubernetes config: exec plugin {script} exited with status 7"]
    assert TOKEN not in out + err  # its stdout is the credential: never echoed


def test_a_plugin_without_a_credential_exits_4(tmp_path: Path) -> None:
    script = plugin(tmp_path, 'echo "{\\"kind\\": \\"ExecCredential\\"}"\n')
    kc = write_kubeconfig(tmp_path / "kc", kubeconfig("https://127.0.0.1:1", exec_command=[str(script)]))
    rc, _, err, _ = run(kc)
    assert rc == ExitCode.API_DENIED
    assert err == f"failed to create Kubernetes config: exec plugin {script} did not print an ExecCredential\n"


def test_a_working_plugin_talks_on_stderr_and_the_command_runs(tmp_path: Path, fixture_objects) -> None:
    objs, meta = fixture_objects
    with KubeAPIServer(objs, token=TOKEN, captured_at=meta["capturedAt"]) as srv:
        cred = json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": {"token": TOKEN}})
        script = plugin(tmp_path, f"echo 'using cached login' >&2\necho '{cred}'\n")
        kc = srv.write_kubeconfig(tmp_path / "kc", exec_command=[str(script)])
        rc, out, err, _ = run(Path(kc), "--request-timeout", "20")
    assert rc == 0 and out.startswith("digraph kilo {")
    assert err == "using cached login\n" and TOKEN not in err


def test_the_default_plugin_timeout_is_the_request_timeouts(tmp_path: Path) -> None:
    from kgctl_py.cli import DEFAULT_TIMEOUT
    from kgctl_py.kube.kubeconfig import EXEC_TIMEOUT

    assert EXEC_TIMEOUT == DEFAULT_TIMEOUT
    assert os.environ.get("KUBERNETES_EXEC_INFO") is None  # set for the plugin only
