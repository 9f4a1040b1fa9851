"""A small TCP relay: accept inside one namespace, connect out from the host.

The API server is a thread of the test process and listens on the host's
loopback. Lab namespaces cannot reach that, so the lab opens listeners inside
them (ty1's `:6443`, the operator's loopback) and pipes each connection to the
real server. The bytes pass untouched, so TLS stays end to end.
"""

from __future__ import annotations

import functools
import select
import socket
import ssl
import threading
from collections.abc import Callable


class Relay:
    def __init__(self, listener: socket.socket, target: Callable[[], tuple[str, int]]) -> None:
        # `target` is called per connection so the lab can repoint a relay
        # (e.g. at a restarted API server) without reopening the listener.
        self._listener = listener
        self._target = target
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, name="lab-relay", daemon=True)
        # When set, the relay ends TLS itself with this context (its own
        # certificate) and opens a fresh TLS connection upstream with
        # `upstream_tls`; otherwise bytes pass through untouched.
        self.terminate_tls: ssl.SSLContext | None = None
        self.upstream_tls: ssl.SSLContext | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._listener.getsockname()[:2]
        return host, port

    def start(self) -> Relay:
        self._thread.start()
        return self

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # listener closed by stop()
            if self.terminate_tls is not None:
                threading.Thread(target=self._terminated, args=(client,), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(self._target(), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns.update((client, upstream))
            done = threading.Barrier(2, action=functools.partial(self._close, client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst, done), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, done: threading.Barrier) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        # Half-close so the other direction can still finish (a client may
        # send EOF before the answer arrives); both sockets close once both
        # directions are done.
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        try:
            done.wait(timeout=300)
        except threading.BrokenBarrierError:
            self._close(src, dst)

    def _terminated(self, client: socket.socket) -> None:
        """One TLS-terminated connection, pumped in one thread.

        One thread per connection because an SSL socket must not be read and
        written from two threads at once.
        """
        server_ctx, client_ctx = self.terminate_tls, self.upstream_tls
        assert server_ctx is not None and client_ctx is not None
        socks: list[socket.socket] = [client]
        try:
            client.settimeout(10)
            tls_client = server_ctx.wrap_socket(client, server_side=True)
            socks.append(tls_client)
            host, port = self._target()
            upstream = client_ctx.wrap_socket(socket.create_connection((host, port), timeout=10), server_hostname=host)
            socks.append(upstream)
            with self._lock:
                self._conns.update((tls_client, upstream))
            peer = {tls_client: upstream, upstream: tls_client}
            while not self._closed:
                ready = [s for s in peer if s.pending()]
                if not ready:
                    ready, _, _ = select.select(list(peer), [], [], 300)
                    if not ready:
                        return  # idle for 5 minutes
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    peer[s].sendall(data)
        except (OSError, ssl.SSLError):
            return  # a failed handshake is the expected end of many of these
        finally:
            self._close(*socks)

    def _close(self, *socks: socket.socket) -> None:
        with self._lock:
            for s in socks:
                self._conns.discard(s)
                s.close()

    def stop(self) -> None:
        self._closed = True
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            for s in list(self._conns):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self._conns.clear()
        self._thread.join(timeout=2)
