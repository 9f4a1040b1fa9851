"""Just enough HTTP/1.1 for the API client, over socket and ssl.

``http.client`` costs ~11 ms of every run to import (it pulls in the email
package to parse headers); the client needs a small part of it: one
keep-alive connection, requests with a body, responses delimited by
Content-Length, chunked encoding or the end of the connection.  Names and
exceptions mirror ``http.client``'s, so callers and their messages read the
same.  No proxies, redirects or 100-continue: the client uses none of them.
"""

from __future__ import annotations

import socket
from typing import Any

MAX_LINE = 65536
MAX_HEADERS = 100


class HTTPException(Exception):
    pass


class BadStatusLine(HTTPException):
    pass


class LineTooLong(HTTPException):
    pass


class IncompleteRead(HTTPException):
    pass


class RemoteDisconnected(ConnectionResetError, BadStatusLine):
    """The server closed the connection before answering (e.g. an idle keep-alive)."""


class HTTPResponse:
    def __init__(self, conn: HTTPConnection, method: str) -> None:
        self._conn = conn
        self._file = conn._file
        assert self._file is not None
        self.status, self.reason = self._status_line()
        while 100 <= self.status < 200 and self.status != 101:  # informational: the answer follows
            self._headers()
            self.status, self.reason = self._status_line()
        self.headers = self._headers()
        connection = self.headers.get("connection", "").lower()
        # HTTP/1.0 closes after each answer unless it says otherwise.
        self.will_close = "close" in connection or (self._version == "HTTP/1.0" and "keep-alive" not in connection)
        self._chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        self._left: int | None = None  # bytes left in the body, or in the current chunk
        self._done = False
        if method == "HEAD" or self.status in (204, 304):
            self._left, self._chunked = 0, False
        elif not self._chunked:
            try:
                self._left = int(self.headers["content-length"])
                if self._left < 0:
                    raise ValueError
            except (KeyError, ValueError):
                self._left, self.will_close = None, True  # to the end of the connection

    def _line(self) -> bytes:
        assert self._file is not None
        line = self._file.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise LineTooLong("header line")
        return line

    def _status_line(self) -> tuple[int, str]:
        line = self._line()
        if not line:
            raise RemoteDisconnected("Remote end closed connection without response")
        try:
            version, status, *reason = line.decode("iso-8859-1").rstrip("\r\n").split(None, 2)
            code = int(status)
        except ValueError:
            raise BadStatusLine(repr(line[:80])) from None
        if not version.startswith("HTTP/") or not 100 <= code <= 999:
            raise BadStatusLine(repr(line[:80]))
        self._version = version
        return code, reason[0] if reason else ""

    def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS + 1):
            line = self._line()
            if line in (b"\r\n", b"\n", b""):
                return headers
            name, sep, value = line.decode("iso-8859-1").partition(":")
            if sep:
                key = name.strip().lower()
                value = value.strip()
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
        raise HTTPException(f"got more than {MAX_HEADERS} headers")

    def read1(self, n: int = 65536) -> bytes:
        """Up to ``n`` bytes of the body; ``b""`` at its end."""
        if self._done or self._file is None:
            return b""
        if self._chunked:
            if not self._left:
                self._left = self._chunk_size()
                if self._left == 0:
                    while self._line() not in (b"\r\n", b"\n", b""):  # trailers
                        pass
                    return self._finish()
            data = self._file.read1(min(n, self._left))
            if not data:
                raise IncompleteRead("chunk")
            self._left -= len(data)
            if self._left == 0 and self._line() not in (b"\r\n", b"\n"):
                raise IncompleteRead("chunk end")
            return data
        if self._left is None:
            data = self._file.read1(n)
            return data or self._finish()
        if self._left == 0:
            return self._finish()
        data = self._file.read1(min(n, self._left))
        if not data:
            raise IncompleteRead(f"{self._left} more bytes expected")
        self._left -= len(data)
        return data

    def _chunk_size(self) -> int:
        line = self._line()
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size < 0:
                raise ValueError
        except ValueError:
            raise IncompleteRead("bad chunk size") from None
        return size

    def _finish(self) -> bytes:
        self._done = True
        if self.will_close:
            self._conn.close()
        return b""

    def close(self) -> None:
        if not self._done:  # a body left unread: the connection cannot carry another request
            self._conn.close()
        self._file = None


class HTTPConnection:
    default_port = 80

    def __init__(self, host: str, port: int | None = None, timeout: float | None = None) -> None:
        self.host, self.port, self.timeout = host, port or self.default_port, timeout
        self.sock: socket.socket | None = None
        self._file: Any = None

    def connect(self) -> None:
        # An ASCII name as bytes skips the idna codec's import.
        host: Any = self.host.encode("ascii") if self.host.isascii() else self.host
        self.sock = socket.create_connection((host, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        file, sock = self._file, self.sock
        self._file = self.sock = None
        if file is not None:
            file.close()
        if sock is not None:
            sock.close()

    def request(self, method: str, target: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> None:
        if self.sock is None:
            self.connect()
            assert self.sock is not None
            self._file = self.sock.makefile("rb")
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port != self.default_port:
            host = f"{host}:{self.port}"
        lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Accept-Encoding: identity"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}")
        assert self.sock is not None
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))
        self._method = method

    def getresponse(self) -> HTTPResponse:
        if self._file is None:
            raise HTTPException("no request sent")
        return HTTPResponse(self, self._method)


class HTTPSConnection(HTTPConnection):
    default_port = 443

    def __init__(self, host: str, port: int | None = None, timeout: float | None = None, *, context: Any) -> None:
        super().__init__(host, port, timeout)
        self.context = context

    def connect(self) -> None:
        super().connect()
        assert self.sock is not None
        try:
            # As bytes, an ASCII name skips the idna codec here too.
            name: Any = self.host.encode("ascii") if self.host.isascii() else self.host
            self.sock = self.context.wrap_socket(self.sock, server_hostname=name)
        except BaseException:
            self.close()
            raise
