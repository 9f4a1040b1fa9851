"""Each node's Kilo agent metrics on 127.0.0.1:1107 (host network, as kg serves them).

The numbers are what the lab's "agent" for that node configured: the ready
nodes and Peers it built its topology from, whether it leads, and its
reconcile and error counters (names and help texts as in Kilo's pkg/mesh).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PORT = 1107


def exposition(values: dict[str, float]) -> str:
    """Prometheus text format for Kilo's five metrics."""
    helps = {
        "kilo_errors_total": ("counter", "Number of errors that occurred while administering the mesh."),
        "kilo_leader": ("gauge", "Leadership status of the node."),
        "kilo_nodes": ("gauge", "Number of nodes in the mesh."),
        "kilo_peers": ("gauge", "Number of peers in the mesh."),
        "kilo_reconciles_total": ("counter", "Number of reconciliation attempts."),
    }
    out = []
    for name, (kind, text) in helps.items():
        out.append(f"# HELP {name} {text}\n# TYPE {name} {kind}\n")
        if name == "kilo_errors_total":
            out.append(f'{name}{{event="apply"}} {values.get(name, 0):g}\n')
        else:
            out.append(f"{name} {values.get(name, 0):g}\n")
    return "".join(out)


class MetricsServer:
    """HTTP on an already bound socket (made inside the node's namespace)."""

    def __init__(self, sock: socket.socket, values: Callable[[], dict[str, float]]) -> None:
        def handler(*args: Any) -> BaseHTTPRequestHandler:
            return _Handler(values, *args)

        self.httpd = ThreadingHTTPServer(sock.getsockname()[:2], handler, bind_and_activate=False)
        self.httpd.socket.close()
        self.httpd.socket = sock
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="lab-metrics", daemon=True)

    def start(self) -> MetricsServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        # shutdown() waits for serve_forever forever if it never ran: bound it.
        if self.thread.is_alive():
            stopper = threading.Thread(target=self.httpd.shutdown, daemon=True)
            stopper.start()
            stopper.join(timeout=5)
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    def __init__(self, values: Callable[[], dict[str, float]], *args: Any) -> None:
        self._values = values
        super().__init__(*args)

    def do_GET(self) -> None:  # noqa: N802 -- http.server's name
        if self.path != "/metrics":
            self.send_error(404)
            return
        body = exposition(self._values()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 -- quiet
        pass
