"""Injected faults: error statuses, delays, connection resets, cut watches, limits and clearing."""

from __future__ import annotations

import socket
import time
from http.client import HTTPConnection, RemoteDisconnected
from pathlib import Path

import pytest
import urllib3
from kubeapi import Fault, KubeAPIServer, load_fixture
from kubeapi.testing import api_client, http
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

BLOG = Path(__file__).resolve().parents[1] / "compat" / "cases" / "a-blog-6node"  # the repo's copy: a fresh clone has it
pytestmark = pytest.mark.skipif(not BLOG.is_dir(), reason="compat fixtures not available")


@pytest.fixture
def srv():
    with KubeAPIServer(load_fixture(BLOG)[0]) as s:
        yield s


@pytest.mark.parametrize(
    "code,reason", [(401, "Unauthorized"), (403, "Forbidden"), (404, "NotFound"), (429, "TooManyRequests"), (500, "InternalError"), (503, "ServiceUnavailable")]
)
def test_status_faults_send_a_proper_status(srv, code, reason):
    fault = srv.inject(Fault(path=r"^/api/v1/nodes$", status=code))
    got, body = http(srv.url + "/api/v1/nodes")
    assert got == code
    assert body["kind"] == "Status" and body["code"] == code and body["reason"] == reason and body["status"] == "Failure"
    assert http(srv.url + "/api/v1/nodes/ali1.k3s")[0] == 200  # the regex did not match this path
    assert fault.hits == 1


def test_times_limits_a_fault_and_the_official_client_sees_it(srv, tmp_path):
    fault = srv.inject(Fault(path="/peers", status=503, times=2))
    with api_client(srv.write_kubeconfig(tmp_path / "kc")) as api:
        co = client.CustomObjectsApi(api)
        for _ in range(2):
            with pytest.raises(ApiException) as err:
                co.list_cluster_custom_object("kilo.squat.ai", "v1alpha1", "peers")
            assert err.value.status == 503
        assert len(co.list_cluster_custom_object("kilo.squat.ai", "v1alpha1", "peers")["items"]) == 2
    assert fault.hits == 2 and fault.exhausted


def test_method_filter_custom_body_and_clear(srv):
    srv.inject(Fault(path="/nodes", method="PATCH", status=500, body={"custom": True}))
    srv.inject(Fault(path="/nodes/x", status=418, body="teapot"))
    assert http(srv.url + "/api/v1/nodes")[0] == 200
    assert http(srv.url + "/api/v1/nodes/ali1.k3s", "PATCH", {}, headers={"Content-Type": "application/merge-patch+json"}) == (500, {"custom": True})
    assert http(srv.url + "/api/v1/nodes/x") == (418, "teapot")
    srv.clear_faults()
    assert http(srv.url + "/api/v1/nodes/x")[0] == 404


def test_delay_makes_slow_responses_and_client_timeouts(srv, tmp_path):
    srv.inject(Fault(path="/api/v1/nodes", delay=0.3, times=1))
    t0 = time.monotonic()
    assert http(srv.url + "/api/v1/nodes")[0] == 200
    assert time.monotonic() - t0 >= 0.3
    srv.inject(Fault(path="/api/v1/nodes", delay=30))  # a stalled server
    with api_client(srv.write_kubeconfig(tmp_path / "kc")) as api:
        api.rest_client.pool_manager.connection_pool_kw["retries"] = False  # see the timeout itself
        t0 = time.monotonic()
        with pytest.raises(urllib3.exceptions.ReadTimeoutError):
            client.CoreV1Api(api).list_node(_request_timeout=0.3)
        assert time.monotonic() - t0 < 5
    # stop() does not wait for the stalled handler
    t0 = time.monotonic()
    srv.stop()
    assert time.monotonic() - t0 < 3


def test_delay_then_status(srv):
    srv.inject(Fault(path="/version", delay=0.2, status=504))
    t0 = time.monotonic()
    code, body = http(srv.url + "/version")
    assert code == 504 and body["reason"] == "Timeout" and time.monotonic() - t0 >= 0.2


def test_reset_closes_the_connection_abruptly(srv, tmp_path):
    srv.inject(Fault(path="/api/v1/nodes", reset=True, times=1))
    conn = HTTPConnection("127.0.0.1", srv.port, timeout=5)
    conn.request("GET", "/api/v1/nodes")
    with pytest.raises((ConnectionResetError, RemoteDisconnected)):
        conn.getresponse()
    conn.close()
    srv.inject(Fault(path="/api/v1/nodes", reset=True, times=1))
    with api_client(srv.write_kubeconfig(tmp_path / "kc")) as api:
        api.rest_client.pool_manager.connection_pool_kw["retries"] = False
        with pytest.raises((urllib3.exceptions.ProtocolError, urllib3.exceptions.MaxRetryError, ConnectionError)):
            client.CoreV1Api(api).list_node()
    assert http(srv.url + "/api/v1/nodes")[0] == 200


def test_reset_gives_a_tcp_rst(srv):
    srv.inject(Fault(path="/", reset=True))
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    sock.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
    with pytest.raises(ConnectionResetError):
        while sock.recv(4096):
            pass
    sock.close()


def test_cut_watch_after_n_events(srv, tmp_path):
    fault = srv.inject(Fault(path="/api/v1/nodes", cut_watch_after=3, times=1))
    assert http(srv.url + "/api/v1/nodes")[0] == 200 and fault.hits == 0  # only watches match
    with api_client(srv.write_kubeconfig(tmp_path / "kc")) as api:
        v1 = client.CoreV1Api(api)
        got = []
        with pytest.raises(urllib3.exceptions.ProtocolError):
            for ev in watch.Watch().stream(v1.list_node, timeout_seconds=5):
                got.append(ev["object"].metadata.name)
        assert got == ["ali1.k3s", "bd1.k3s", "bd2.k3s"]
        # the fault is used up: the next watch runs normally until its timeout
        names = [ev["object"].metadata.name for ev in watch.Watch().stream(v1.list_node, timeout_seconds=1)]
        assert len(names) == 6
    assert fault.hits == 1
