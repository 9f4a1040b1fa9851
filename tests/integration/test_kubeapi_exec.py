"""Pod exec over WebSocket (v4/v5 channel protocols) with the official client's stream()."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading

import pytest
from kubeapi import ExecResult, KubeAPIServer
from kubeapi.testing import api_client
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.stream import stream

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "kilo-abcde", "namespace": "kube-system", "labels": {"app.kubernetes.io/name": "kilo"}},
    "spec": {"nodeName": "n1", "containers": [{"name": "kilo", "image": "squat/kilo"}, {"name": "boringtun", "image": "b"}]},
    "status": {"phase": "Running"},
}
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}, "spec": {"podCIDR": "10.42.0.0/24"}}


class Shell:
    def __init__(self):
        self.calls = []

    def __call__(self, pod, container, command, stdin):
        self.calls.append((pod["metadata"]["name"], container, command, stdin, threading.current_thread().name))
        if command[:2] == ["wg", "show"]:
            return ExecResult(stdout=b"interface: kilo0\n", stderr=b"warning: old kernel\n", exit_code=0)
        if command[0] == "cat":
            return ExecResult(stdout=stdin or b"")
        if command[0] == "big":
            return ExecResult(stdout=b"x" * 200_000)
        return ExecResult(stderr=b"sh: not found\n", exit_code=127)


@pytest.fixture
def shell():
    return Shell()


@pytest.fixture(params=[False, True], ids=["http", "https"])
def srv(request, shell):
    with KubeAPIServer([NODE, POD], exec_handler=shell, tls=request.param, token="t0k") as s:
        yield s


@pytest.fixture
def v1(srv, tmp_path):
    with api_client(srv.write_kubeconfig(tmp_path / "kc")) as api:
        yield client.CoreV1Api(api)


def run(v1, command, container="kilo", stdin=False):
    resp = stream(
        v1.connect_get_namespaced_pod_exec,
        "kilo-abcde",
        "kube-system",
        command=command,
        container=container,
        stderr=True,
        stdin=stdin,
        stdout=True,
        tty=False,
        _preload_content=False,
    )
    return resp


def test_exec_stdout_stderr_and_exit_code(v1, shell):
    resp = run(v1, ["wg", "show", "kilo0"])
    resp.run_forever(timeout=5)
    assert resp.read_stdout() == "interface: kilo0\n"
    assert resp.read_stderr() == "warning: old kernel\n"
    assert resp.returncode == 0
    pod, container, command, stdin, thread = shell.calls[0]
    assert (pod, container, command, stdin) == ("kilo-abcde", "kilo", ["wg", "show", "kilo0"], None)
    assert thread.startswith("kubeapi-worker")


def test_exec_non_zero_exit_code(v1):
    resp = run(v1, ["frob"])
    resp.run_forever(timeout=5)
    assert resp.read_stderr() == "sh: not found\n"
    assert resp.returncode == 127


def test_exec_preloaded_output(v1):
    out = stream(
        v1.connect_get_namespaced_pod_exec,
        "kilo-abcde",
        "kube-system",
        command=["wg", "show"],
        container="kilo",
        stderr=False,
        stdin=False,
        stdout=True,
        tty=False,
    )
    assert out == "interface: kilo0\n"


def test_exec_large_output_and_stdin(v1):
    resp = run(v1, ["big"])
    resp.run_forever(timeout=5)
    assert len(resp.read_stdout()) == 200_000
    resp = run(v1, ["cat"], stdin=True)
    resp.write_stdin("hello stdin\n")
    resp.close_channel(0)  # v5: end of stdin
    resp.run_forever(timeout=5)
    assert resp.read_stdout() == "hello stdin\n" and resp.returncode == 0


def test_exec_errors(srv, v1):
    with pytest.raises(ApiException):
        run(v1, ["true"], container="nope")  # 400 before the upgrade
    with pytest.raises(ApiException):
        stream(v1.connect_get_namespaced_pod_exec, "ghost", "kube-system", command=["true"], stderr=True, stdin=False, stdout=True)
    srv.exec_handler = None
    resp = run(v1, ["true"])
    resp.run_forever(timeout=5)
    err = json.loads(resp.read_channel(3))
    assert err["status"] == "Failure" and "exec_handler" in err["message"]


def test_exec_honours_rbac(srv, v1):
    srv.rbac = [("get", "", "pods", "")]
    with pytest.raises(ApiException):
        run(v1, ["wg", "show"])
    srv.rbac.append(("create", "", "pods", "exec"))
    resp = run(v1, ["wg", "show"])
    resp.run_forever(timeout=5)
    assert resp.returncode == 0


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_exec(tmp_path, shell):
    # kubectl sends bearer tokens only over TLS, hence https here.
    env = dict(os.environ, HOME=str(tmp_path))
    env.pop("KUBECONFIG", None)
    with KubeAPIServer([NODE, POD], exec_handler=shell, tls=True, token="t0k") as srv:
        kc = srv.write_kubeconfig(tmp_path / "kc")
        base = ["kubectl", "--kubeconfig", kc, "-n", "kube-system", "exec", "kilo-abcde", "-c", "kilo", "--"]
        r = subprocess.run([*base, "wg", "show"], capture_output=True, text=True, env=env, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "interface: kilo0\n" and "warning: old kernel" in r.stderr
        r = subprocess.run([*base, "frob"], capture_output=True, text=True, env=env, timeout=60)
        assert r.returncode == 127


def _ws_url(srv, *command, stdin=False):
    query = "&".join([f"command={c}" for c in command] + ["container=kilo", "stdout=true", "stderr=true", f"stdin={str(stdin).lower()}"])
    return srv.url.replace("http", "ws", 1) + f"/api/v1/namespaces/kube-system/pods/kilo-abcde/exec?{query}"


@pytest.mark.parametrize("protocol", ["v4.channel.k8s.io", "channel.k8s.io"])
def test_exec_raw_websocket_older_protocols(shell, protocol):
    from websockets.sync.client import connect

    with KubeAPIServer([NODE, POD], exec_handler=shell) as srv:
        with connect(_ws_url(srv, "cat", stdin=True), subprotocols=[protocol]) as ws:
            assert ws.subprotocol == protocol
            ws.send(b"\x00piped ")
            ws.send(b"\x00input")  # v4 cannot close stdin: it ends when the client goes quiet
            frames = []
            try:
                while True:
                    frames.append(ws.recv(timeout=5))
            except Exception:  # the server closes after the error channel
                pass
        assert frames[0] == b"\x01piped input"
        assert json.loads(frames[-1][1:]) == {"metadata": {}, "status": "Success"}
        assert shell.calls[-1][3] == b"piped input"


def test_exec_upgrade_by_post(shell):
    # Older clients (SPDY era) POST the exec request; a WebSocket upgrade by POST works too.
    import base64
    import socket

    with KubeAPIServer([NODE, POD], exec_handler=shell) as srv:
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        path = "/api/v1/namespaces/kube-system/pods/kilo-abcde/exec?command=wg&command=show&container=kilo&stdout=true"
        sock.sendall(
            (
                f"POST {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Protocol: v4.channel.k8s.io\r\nContent-Length: 0\r\n\r\n"
            ).encode()
        )
        data = b""
        while b"interface: kilo0" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        sock.close()
        assert data.startswith(b"HTTP/1.1 101") and b"interface: kilo0" in data
