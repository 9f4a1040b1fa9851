"""A failing API server, through the real ``kgctl-py`` process.

Every failure must end in one line on stderr that names what failed, the
resource and the verb, says what to check, and exits with the code of
kgctl_py.errors.ExitCode: 3 unreachable, 4 denied, 5 API error.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from kubeapi import Fault, KubeAPIServer, load_fixture
from kubeapi.kubeconfig import kubeconfig, write_kubeconfig

FIXTURE = Path(__file__).resolve().parents[1] / "compat" / "cases" / "a-blog-6node"  # the repo's copy: a fresh clone has it
NODES = "^/api/v1/nodes$"
PEERS = "^/apis/kilo.squat.ai/v1alpha1/peers$"
CRD = "customresourcedefinitions/peers.kilo.squat.ai$"


def run_cli(*args: str, timeout: float = 60) -> tuple[int, str, str, float]:
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "kgctl_py", *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    assert stderr.endswith("\n") and stderr.count("\n") == 1, stderr
    return stderr.rstrip("\n")


@pytest.fixture
def objects():
    return load_fixture(FIXTURE)


@pytest.fixture
def server(objects):
    objs, meta = objects
    with KubeAPIServer(objs, crd=True, captured_at=meta["capturedAt"]) as srv:
        yield srv


@pytest.fixture
def kcfg(server, tmp_path):
    return server.write_kubeconfig(tmp_path / "kubeconfig")


def graph(kcfg: str, *extra: str, timeout: float = 60) -> tuple[int, str, str, float]:
    return run_cli("--kubeconfig", kcfg, *extra, "graph", timeout=timeout)


def count(srv: KubeAPIServer, pattern: str) -> int:
    import re

    return sum(1 for r in srv.requests if re.search(pattern, r.path))


def test_healthy_server_baseline(kcfg):
    rc, out, err, _ = graph(kcfg)
    assert rc == 0, err
    assert out.startswith("digraph kilo {")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused(tmp_path):
    port = _free_port()  # bound and closed again: nothing listens there
    path = write_kubeconfig(tmp_path / "kc", kubeconfig(f"http://127.0.0.1:{port}", token="t"))
    rc, out, err, _ = graph(str(path))
    line = one_line(err)
    assert rc == 3 and out == ""
    assert line == f"cannot list nodes: cannot connect to http://127.0.0.1:{port}: Connection refused; is the API server running and the kubeconfig right?"


def test_dns_failure(tmp_path):
    path = write_kubeconfig(tmp_path / "kc", kubeconfig("https://no-such-host.invalid:6443", token="t"))
    rc, out, err, elapsed = graph(str(path), "--request-timeout", "5")
    line = one_line(err)
    assert rc == 3 and out == ""
    assert line == "cannot list nodes: cannot resolve the API server host 'no-such-host.invalid'; check the server URL in the kubeconfig"


def test_tls_verification_failure(objects, tmp_path):
    objs, meta = objects
    with KubeAPIServer(objs, tls=True, captured_at=meta["capturedAt"]) as srv, KubeAPIServer(tls=True) as other:
        # The CA of another server: the certificate cannot be verified.
        path = write_kubeconfig(tmp_path / "kc", kubeconfig(srv.url, ca_file=other.ca_file, token="t"))
        rc, out, err, _ = graph(str(path))
        line = one_line(err)
        assert rc == 3 and out == ""
        assert line.startswith(f"cannot list nodes: TLS verification of {srv.url} failed (")
        assert line.endswith("); check certificate-authority-data and the server name in the kubeconfig")
        assert count(srv, NODES) == 0  # refused before any HTTP
        # And with the right CA it works, so the failure above was the CA.
        good = srv.write_kubeconfig(tmp_path / "good")
        assert graph(good)[0] == 0


def test_401_unauthorized(objects, tmp_path):
    objs, meta = objects
    with KubeAPIServer(objs, token="right-token", captured_at=meta["capturedAt"]) as srv:
        path = srv.write_kubeconfig(tmp_path / "kc", token="wrong-token")
        rc, out, err, _ = graph(path)
        line = one_line(err)
        assert rc == 4 and out == ""
        assert (
            line
            == f"cannot list nodes: the API server at {srv.url} rejected our credentials (401 Unauthorized); check the token or client certificate in the kubeconfig"
        )


def test_403_on_nodes(server, kcfg):
    server.rbac = [("get", "apiextensions.k8s.io", "customresourcedefinitions"), ("list", "kilo.squat.ai", "peers")]
    rc, out, err, _ = graph(kcfg)
    line = one_line(err)
    assert rc == 4 and out == ""
    assert line.startswith("cannot list nodes: forbidden (403): ")
    assert 'cannot list resource "nodes"' in line
    assert line.endswith("; ask for RBAC permission to list it")


def test_403_on_peers(server, kcfg):
    server.rbac = [("list", "", "nodes"), ("get", "apiextensions.k8s.io", "customresourcedefinitions")]
    rc, out, err, _ = run_cli("--kubeconfig", kcfg, "showconf", "node", "ali1.k3s")
    line = one_line(err)
    assert rc == 4 and out == ""
    assert line.startswith("cannot list peers.kilo.squat.ai: forbidden (403): ")
    assert line.endswith("; ask for RBAC permission to list it")


def test_404_on_the_peer_crd(objects, tmp_path):
    objs, meta = objects
    with KubeAPIServer(objs, crd=False, captured_at=meta["capturedAt"]) as srv:
        rc, out, err, _ = graph(srv.write_kubeconfig(tmp_path / "kc"))
        line = one_line(err)
        assert rc == 5 and out == ""
        # kgctl's own words.
        assert line == 'failed to initialize peer backend: CRD is not present: customresourcedefinitions.apiextensions.k8s.io "peers.kilo.squat.ai" not found'


def test_500_after_retries(server, kcfg):
    server.inject(Fault(path=NODES, status=500))
    rc, out, err, _ = graph(kcfg)
    line = one_line(err)
    assert rc == 5 and out == ""
    assert line == "cannot list nodes: the API server answered 500: injected fault: HTTP 500"
    assert count(server, NODES) == 3  # the first try and two retries


def test_500_twice_then_success(server, kcfg):
    expected = graph(kcfg)[1]
    server.requests.clear()
    fault = server.inject(Fault(path=NODES, status=500, times=2))
    rc, out, err, _ = graph(kcfg)
    assert rc == 0, err
    assert out == expected
    assert fault.hits == 2
    assert count(server, NODES) == 3


def test_reset_twice_then_success(server, kcfg):
    expected = graph(kcfg)[1]
    server.requests.clear()
    fault = server.inject(Fault(path=PEERS, reset=True, times=2))
    rc, out, err, _ = graph(kcfg)
    assert rc == 0, err
    assert out == expected
    assert fault.hits == 2 and count(server, PEERS) == 3


def test_connection_reset(server, kcfg):
    server.inject(Fault(path=PEERS, reset=True))
    rc, out, err, _ = graph(kcfg)
    line = one_line(err)
    assert rc == 3 and out == ""
    assert line.startswith(f"cannot list peers.kilo.squat.ai: the connection to {server.url} was reset (")
    assert line.endswith("); is the API server healthy?")
    assert count(server, PEERS) == 3


def test_404_is_not_retried(server, kcfg):
    server.inject(Fault(path=CRD, status=403))
    rc, _, err, _ = graph(kcfg)
    assert rc == 4
    assert one_line(err).startswith("cannot get customresourcedefinition peers.kilo.squat.ai: forbidden (403)")
    assert count(server, CRD) == 1  # 4xx is an answer, not a hiccup


def test_stalled_response_times_out(server, kcfg):
    server.inject(Fault(path=NODES, delay=30))
    rc, out, err, elapsed = graph(kcfg, "--request-timeout", "1")
    line = one_line(err)
    assert rc == 3 and out == ""
    assert line == f"cannot list nodes: no answer from {server.url} within 1s; check the server or raise --request-timeout"
    assert elapsed < 6


def test_default_timeout_bounds_a_stalled_server(server, kcfg):
    """No --request-timeout: the default of 30 s still ends the wait."""
    server.inject(Fault(path=NODES, delay=120))
    rc, out, err, elapsed = graph(kcfg, timeout=90)
    line = one_line(err)
    assert rc == 3
    assert "within 30s" in line
    assert 29 < elapsed < 45


class _RawServer:
    """A TCP server that answers every connection with ``handler(conn)``: for
    misbehaviour the API server cannot produce (trickled bodies, non-HTTP)."""

    def __init__(self, handler) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(0.5)
                try:
                    conn.recv(65536)
                except OSError:
                    pass
                self.handler(conn, self.stop)
            except OSError:
                pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def _trickle(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
    for _ in range(200):  # at most 40 s, then give up by itself
        if stop.wait(0.2):
            return
        conn.sendall(b" ")


def test_trickling_server_cannot_hold_the_cli(tmp_path):
    """A server that keeps sending a byte now and then never trips the socket
    timeout; the whole answer must still arrive within --request-timeout."""
    raw = _RawServer(_trickle)
    try:
        path = write_kubeconfig(tmp_path / "kc", kubeconfig(f"http://127.0.0.1:{raw.port}", token="t"))
        rc, out, err, elapsed = graph(str(path), "--request-timeout", "1")
    finally:
        raw.close()
    line = one_line(err)
    assert rc == 3
    assert "no answer from" in line and "within 1s" in line
    assert elapsed < 8


def test_server_that_does_not_speak_http(tmp_path):
    raw = _RawServer(lambda conn, stop: conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n\x00\x01garbage\r\n\r\n"))
    try:
        path = write_kubeconfig(tmp_path / "kc", kubeconfig(f"http://127.0.0.1:{raw.port}", token="t"))
        rc, out, err, _ = graph(str(path))
    finally:
        raw.close()
    line = one_line(err)
    assert rc == 3
    assert line == f"cannot list nodes: http://127.0.0.1:{raw.port} did not answer in HTTP (BadStatusLine); is the server URL in the kubeconfig an API server?"


@pytest.mark.parametrize(
    "body, message",
    [
        ("this is not json", "cannot list nodes: the API server sent something that is not JSON"),
        ({"kind": "Status"}, "cannot list nodes: the API server did not send a list"),
        ([1, 2], "cannot list nodes: the API server did not send a list"),
        ({"kind": "NodeList", "items": {"a": 1}}, "cannot list nodes: the API server did not send a list"),
        ({"kind": "NodeList", "items": [], "metadata": {"continue": "again"}}, "cannot list nodes: the API server repeated a continue token"),
    ],
)
def test_hostile_list_answers(server, kcfg, body, message):
    server.inject(Fault(path=NODES, status=200, body=body))
    rc, out, err, _ = graph(kcfg)
    assert one_line(err) == message
    assert rc == 5 and out == ""


def test_odd_list_metadata_is_tolerated(server, kcfg):
    server.inject(Fault(path=NODES, status=200, body={"kind": "NodeList", "items": [None, 1, "x"], "metadata": ["odd"]}))
    rc, out, err, _ = graph(kcfg)
    # No nodes at all: kgctl's own error, not a crash.
    assert one_line(err) == "failed to determine granularity: could not get any nodes"
    assert rc == 1


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "1e300"])
def test_request_timeout_must_be_positive_and_finite(kcfg, value):
    rc, out, err, _ = graph(kcfg, f"--request-timeout={value}")
    line = one_line(err)
    assert rc == 2
    assert line.startswith("invalid --request-timeout ") and line.endswith(": give a number of seconds greater than 0")
