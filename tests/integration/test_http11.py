"""kgctl_py.kube.http11 over real sockets: the framings a server may choose
(Content-Length, chunked, to the end of the connection), keep-alive reuse,
informational answers, and servers that break the protocol."""

from __future__ import annotations

import socket
import threading

import pytest
from kubeapi import KubeAPIServer

from kgctl_py.kube import http11
from kgctl_py.kube.client import Client
from kgctl_py.kube.kubeconfig import resolve


class Scripted:
    """A TCP server that answers the n-th request on a connection with ``answers[n]``
    and records the raw requests; ``None`` closes the connection."""

    def __init__(self, answers: list[bytes | None]) -> None:
        self.answers = answers
        self.requests: list[bytes] = []
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.answers:
            conn, _ = self.sock.accept()
            self.connections += 1
            with conn:
                buf = b""
                while self.answers:
                    while b"\r\n\r\n" not in buf:
                        data = conn.recv(65536)
                        if not data:
                            break
                        buf += data
                    if b"\r\n\r\n" not in buf:
                        break
                    head, buf = buf.split(b"\r\n\r\n", 1)
                    self.requests.append(head)
                    answer = self.answers.pop(0)
                    if answer is None:
                        break
                    conn.sendall(answer)

    def close(self) -> None:
        self.answers.clear()
        self.sock.close()


def _get(conn: http11.HTTPConnection, path: str = "/x") -> tuple[int, dict[str, str], bytes]:
    conn.request("GET", path, headers={"Accept": "application/json"})
    resp = conn.getresponse()
    body = b""
    while chunk := resp.read1(7):  # small reads cross chunk boundaries
        body += chunk
    resp.close()
    return resp.status, resp.headers, body


def test_framings_and_keep_alive():
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0c\r\n, chunked!!!\r\n0\r\nX-Trailer: 1\r\n\r\n"
    srv = Scripted(
        [
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nx-a: 2\r\n\r\nfirst",
            chunked,
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.0 200 OK\r\n\r\nuntil the end",
        ]
    )
    conn = http11.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        status, headers, body = _get(conn, "/a")
        assert (status, body, headers["x-a"]) == (200, b"first", "1, 2")
        assert _get(conn, "/b")[2] == b"hello, chunked!!!"
        assert _get(conn, "/c")[:1] == (204,)
        assert _get(conn, "/d")[2] == b"until the end"
    finally:
        conn.close()
        srv.close()
    # One connection carried all four; every request named the host.
    assert srv.connections == 1
    assert [r.split(b" ")[1] for r in srv.requests] == [b"/a", b"/b", b"/c", b"/d"]
    assert all(f"Host: 127.0.0.1:{srv.port}".encode() in r for r in srv.requests)


def test_an_http_1_0_answer_closes_the_connection():
    srv = Scripted([b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\none", b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo"])
    conn = http11.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        assert _get(conn)[2] == b"one" and _get(conn)[2] == b"two"
    finally:
        conn.close()
        srv.close()
    assert srv.connections == 2  # a new connection, not a request the server would not read


def test_a_closed_keep_alive_is_reopened_by_the_clients_retry(tmp_path):
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    srv = Scripted([answer, None, answer])  # the server drops the idle connection
    try:
        path = tmp_path / "kc"
        path.write_text(
            f'{{"clusters": [{{"name": "c", "cluster": {{"server": "http://127.0.0.1:{srv.port}"}}}}], "users": [], '
            '"contexts": [{"name": "c", "context": {"cluster": "c"}}], "current-context": "c"}'
        )
        client = Client(resolve(str(path)), timeout=5)
        assert client.get("/one") == {} and client.get("/two") == {}
        client.close()
    finally:
        srv.close()
    assert srv.connections == 2 and len(srv.requests) == 3


@pytest.mark.parametrize(
    "answer, error",
    [
        (b"SSH-2.0-OpenSSH_9.2\r\n", http11.BadStatusLine),
        (b"HTTP/1.1 abc OK\r\n\r\n", http11.BadStatusLine),
        (b"", http11.RemoteDisconnected),
        (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 101 + b"\r\n", http11.HTTPException),
        (b"HTTP/1.1 200 OK\r\nX: " + b"y" * 70000 + b"\r\n\r\n", http11.LineTooLong),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", http11.IncompleteRead),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", http11.IncompleteRead),
    ],
)
def test_broken_answers_raise_http_client_style_errors(answer, error):
    srv = Scripted([answer or None])
    conn = http11.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        with pytest.raises(error):
            _get(conn)
    finally:
        conn.close()
        srv.close()


def test_https_with_the_kubeconfigs_ca_and_a_body(tmp_path):
    with KubeAPIServer(tls=True, token="t0k") as srv:
        client = Client(resolve(srv.write_kubeconfig(tmp_path / "k", embed_certs=True)), timeout=5)
        try:
            created = client.request("POST", "/api/v1/namespaces", body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "made"}})
            assert created["metadata"]["name"] == "made"
            assert client.get("/api/v1/namespaces/made")["metadata"]["name"] == "made"
        finally:
            client.close()
        assert [r.method for r in srv.requests] == ["POST", "GET"]
