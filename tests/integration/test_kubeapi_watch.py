"""Watches on the test API server: live events, resourceVersion, bookmarks, watch-list, timeouts."""

from __future__ import annotations

import http.client
import json
import queue
import socket
import threading
import time
from pathlib import Path

import pytest
from kubeapi import KubeAPIServer, load_fixture
from kubeapi.testing import api_client
from kubeapi.testing import http as http_req
from kubernetes import client, watch

BLOG = Path(__file__).resolve().parents[1] / "compat" / "cases" / "a-blog-6node"  # the repo's copy: a fresh clone has it
pytestmark = pytest.mark.skipif(not BLOG.is_dir(), reason="compat fixtures not available")


@pytest.fixture
def srv():
    objects, meta = load_fixture(BLOG)
    with KubeAPIServer(objects, captured_at=meta["capturedAt"]) as s:
        yield s


class RawWatch:
    """A watch read with http.client, line by line, on a background thread."""

    def __init__(self, srv: KubeAPIServer, path: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        self.conn.request("GET", path)
        self.resp = self.conn.getresponse()
        self.events: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for line in self.resp:
                if line.strip():
                    self.events.put(json.loads(line))
        except Exception as exc:  # connection cut, or closed by close() mid-read
            self.events.put(exc)
        self.events.put(None)  # end of stream

    def next(self, timeout: float = 5.0):
        return self.events.get(timeout=timeout)

    def take(self, n: int) -> list:
        return [self.next() for _ in range(n)]

    def close(self) -> None:
        # shutdown() wakes the reader thread; close() alone would wait for its lock.
        if self.conn.sock is not None:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        self.thread.join(5)
        self.conn.close()


def test_official_client_watch_gets_initial_and_live_events(srv, tmp_path):
    with api_client(srv.write_kubeconfig(tmp_path / "kc")) as api:
        v1 = client.CoreV1Api(api)
        w = watch.Watch()
        got = []

        def mutate():
            time.sleep(0.3)
            srv.store.patch("Node", "hw1.k3s", {"metadata": {"labels": {"probe": "1"}}})
            srv.store.delete("Node", "bd2.k3s")

        threading.Thread(target=mutate).start()
        for ev in w.stream(v1.list_node, timeout_seconds=5):
            got.append((ev["type"], ev["object"].metadata.name))
            if ev["type"] == "DELETED":
                w.stop()
        assert got[:6] == [("ADDED", n) for n in ["ali1.k3s", "bd1.k3s", "bd2.k3s", "hw1.k3s", "tx1.k3s", "ty1.k3s"]]
        assert got[6:] == [("MODIFIED", "hw1.k3s"), ("DELETED", "bd2.k3s")]


def test_watch_from_resource_version_is_chunked_and_ordered(srv):
    _, nodes = http_req(srv.url + "/api/v1/nodes")
    rv = nodes["metadata"]["resourceVersion"]
    srv.store.patch("Node", "ali1.k3s", {"metadata": {"labels": {"a": "1"}}})  # after rv: must be replayed
    w = RawWatch(srv, f"/api/v1/nodes?watch=1&resourceVersion={rv}")
    assert w.resp.status == 200 and w.resp.getheader("Transfer-Encoding") == "chunked"
    first = w.next()
    assert first["type"] == "MODIFIED" and first["object"]["metadata"]["labels"]["a"] == "1"
    srv.store.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "new1"}})
    ev = w.next()
    assert (ev["type"], ev["object"]["metadata"]["name"]) == ("ADDED", "new1")
    assert int(ev["object"]["metadata"]["resourceVersion"]) > int(first["object"]["metadata"]["resourceVersion"])
    w.close()


def test_watch_list_initial_events_and_bookmark(srv):
    w = RawWatch(srv, "/api/v1/nodes?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan")
    events = w.take(7)
    assert [e["type"] for e in events] == ["ADDED"] * 6 + ["BOOKMARK"]
    bm = events[-1]["object"]
    assert bm["kind"] == "Node" and bm["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert bm["metadata"]["resourceVersion"] == str(srv.store.rv)
    w.close()


def test_periodic_bookmarks_carry_the_latest_resource_version(srv):
    srv.bookmark_interval = 0.1
    w = RawWatch(srv, "/apis/kilo.squat.ai/v1alpha1/peers?watch=true&allowWatchBookmarks=true&resourceVersion=0")
    assert [e["type"] for e in w.take(2)] == ["ADDED", "ADDED"]
    srv.store.patch("Peer", "phone", {"spec": {"persistentKeepalive": 7}})
    mod = w.next()
    while mod["type"] == "BOOKMARK":  # bookmarks may come before the change
        mod = w.next()
    assert mod["type"] == "MODIFIED" and mod["object"]["spec"]["persistentKeepalive"] == 7
    bm = w.next()
    assert bm["type"] == "BOOKMARK" and bm["object"]["metadata"]["resourceVersion"] == mod["object"]["metadata"]["resourceVersion"]
    w.close()


def test_timeout_seconds_ends_the_stream(srv):
    t0 = time.monotonic()
    w = RawWatch(srv, f"/api/v1/nodes?watch=true&timeoutSeconds=1&resourceVersion={srv.store.rv}")
    assert w.next(timeout=5) is None
    assert 0.9 <= time.monotonic() - t0 < 3


def test_selector_watch_sees_objects_enter_and_leave(srv):
    w = RawWatch(srv, f"/api/v1/nodes?watch=true&labelSelector=probe%3Dyes&resourceVersion={srv.store.rv}")
    srv.store.patch("Node", "tx1.k3s", {"metadata": {"labels": {"probe": "yes"}}})
    srv.store.patch("Node", "tx1.k3s", {"metadata": {"annotations": {"x": "y"}}})
    srv.store.patch("Node", "tx1.k3s", {"metadata": {"labels": {"probe": None}}})
    srv.store.patch("Node", "ali1.k3s", {"metadata": {"labels": {"other": "x"}}})  # never matches
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in w.take(3)] == [("ADDED", "tx1.k3s"), ("MODIFIED", "tx1.k3s"), ("DELETED", "tx1.k3s")]
    w.close()


def test_namespaced_and_all_namespace_pod_watches(srv):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "kube-system"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    w_all = RawWatch(srv, f"/api/v1/pods?watch=true&resourceVersion={srv.store.rv}")
    w_def = RawWatch(srv, f"/api/v1/namespaces/default/pods?watch=true&resourceVersion={srv.store.rv}&timeoutSeconds=1")
    srv.store.create(pod)
    assert w_all.next()["object"]["metadata"]["name"] == "p"
    assert w_def.next(timeout=5) is None  # nothing in "default" before the timeout
    w_all.close()


def test_last_seen_is_rewritten_in_watch_events(srv):
    w = RawWatch(srv, "/api/v1/nodes?watch=true&fieldSelector=metadata.name%3Dbd1.k3s")
    ev = w.next()
    served = int(ev["object"]["metadata"]["annotations"]["kilo.squat.ai/last-seen"])
    assert abs((time.time() - served) - (1760000000 - 1759999984)) <= 2
    w.close()


def test_too_old_resource_version_gives_an_error_event(srv):
    w = RawWatch(srv, "/api/v1/nodes?watch=true&resourceVersion=5")
    ev = w.next()
    assert ev["type"] == "ERROR" and ev["object"]["code"] == 410 and ev["object"]["reason"] == "Expired"
    assert w.next() is None


def test_stop_ends_open_watches(srv):
    w = RawWatch(srv, f"/api/v1/nodes?watch=true&resourceVersion={srv.store.rv}")
    time.sleep(0.1)
    t0 = time.monotonic()
    srv.stop()
    assert time.monotonic() - t0 < 3
    end = w.next()
    assert end is None or isinstance(end, Exception)
