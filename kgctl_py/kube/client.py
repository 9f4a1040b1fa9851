"""A small, read-mostly Kubernetes REST client on the standard library.

Retries idempotent reads on 5xx and dropped connections, follows list paging,
and turns every failure into a one-line typed ``ApiError`` that says what failed,
on which resource, with which verb, and what to check.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

from kgctl_py.errors import CliError, ExitCode
from kgctl_py.kube import MAX_REQUEST_TIMEOUT as MAX_TIMEOUT
from kgctl_py.kube import http11, valid_timeout
from kgctl_py.kube.decode import replace_lone_surrogates
from kgctl_py.kube.errors import ApiError, BadResponse, Timeout, Unreachable, for_status
from kgctl_py.kube.kubeconfig import ClusterAuth

DEFAULT_TIMEOUT = 30.0
# "Any version, the newest the server has at hand": served from the watch cache.
LIST_RESOURCE_VERSION = "0"
RETRIES = 3


def _ssl_context(auth: ClusterAuth) -> ssl.SSLContext:
    # Like client-go: the kubeconfig's CA replaces the system roots, which are
    # loaded only without one (loading them costs ~20 ms of every run).
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if auth.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif auth.ca_data:
        try:
            ctx.load_verify_locations(cadata=auth.ca_data.decode("ascii", "replace"))
        except (ssl.SSLError, ValueError):
            raise CliError("failed to create Kubernetes config: the certificate authority data is not a valid PEM certificate", ExitCode.USAGE) from None
    else:
        ctx.load_default_certs()
    if auth.cert_data and auth.key_data:
        # ssl only loads client certificates from files: write them privately and remove them at once.
        import tempfile  # only here: it costs ~2 ms of every run

        fd, path = tempfile.mkstemp(prefix="kgctl-py-", suffix=".pem")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(auth.cert_data.rstrip(b"\n") + b"\n" + auth.key_data)
            ctx.load_cert_chain(path)
        except (ssl.SSLError, ValueError):
            raise CliError("failed to create Kubernetes config: the client certificate or key is not valid PEM", ExitCode.USAGE) from None
        finally:
            os.unlink(path)
    return ctx


class Client:
    def __init__(self, auth: ClusterAuth, timeout: float = DEFAULT_TIMEOUT) -> None:
        if not valid_timeout(timeout):
            # The CLI checks --request-timeout once, up front (validate_globals).
            raise ValueError(f"timeout must be a number of seconds in (0, {MAX_TIMEOUT:g}], got {timeout!r}")
        self.auth = auth
        self.timeout = timeout
        try:
            url = urllib.parse.urlsplit(auth.server)
            port = url.port
        except ValueError:  # a bad IPv6 literal or port
            url, port = None, None
        if url is None or url.scheme not in ("http", "https") or not url.hostname:
            raise CliError(f"failed to create Kubernetes config: invalid server URL {auth.server!r}", ExitCode.USAGE)
        self.scheme = url.scheme
        self.host = url.hostname
        self.port = port or (443 if url.scheme == "https" else 80)
        self.prefix = url.path.rstrip("/")
        self._ctx = _ssl_context(auth) if url.scheme == "https" else None
        self._conn: http11.HTTPConnection | None = None
        # The API server's clock, as its last answer's Date header gave it (unparsed: cheap).
        self.server_date: str | None = None
        self.headers = {"Accept": "application/json", "User-Agent": "kgctl-py"}
        if auth.token:
            self.headers["Authorization"] = f"Bearer {auth.token}"
        elif auth.username:
            basic = base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()
            self.headers["Authorization"] = f"Basic {basic}"

    def _connection(self) -> http11.HTTPConnection:
        if self._conn is None:
            if self._ctx is not None:
                self._conn = http11.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self._ctx)
            else:
                self._conn = http11.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None, what: str = "", *, verb: str | None = None) -> Any:
        """One API call; JSON in and out.  ``what`` names the resource and ``verb``
        the Kubernetes verb (default: the method's) in errors."""
        query = "?" + urllib.parse.urlencode(params, doseq=True) if params else ""
        target = self.prefix + path + query
        payload = json.dumps(body).encode() if body is not None else None
        headers = dict(self.headers)
        if payload is not None:
            headers["Content-Type"] = "application/merge-patch+json" if method == "PATCH" else "application/json"
        attempts = RETRIES if method in ("GET", "HEAD") else 1
        what = what or path
        verb = verb or _verb(method)
        for attempt in range(attempts):
            try:
                conn = self._connection()
                conn.request(method, target, body=payload, headers=headers)
                resp = conn.getresponse()
                self.server_date = resp.headers.get("date") or self.server_date
                data = _read_body(resp, time.monotonic() + self.timeout)
            except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError, http11.RemoteDisconnected, http11.IncompleteRead) as err:
                self.close()
                if attempt + 1 < attempts:
                    time.sleep(0.2 * 2**attempt)
                    continue
                raise Unreachable(
                    f"cannot {verb} {what}: the connection to {self.auth.server} was reset ({type(err).__name__}); is the API server healthy?"
                ) from None
            except TimeoutError:
                self.close()
                raise Timeout(f"cannot {verb} {what}: no answer from {self.auth.server} within {self.timeout:g}s") from None
            except ssl.SSLCertVerificationError as err:
                self.close()
                raise Unreachable(
                    f"cannot {verb} {what}: TLS verification of {self.auth.server} failed ({err.verify_message}); check certificate-authority-data and the server name in the kubeconfig"
                ) from None
            except ssl.SSLError as err:
                self.close()
                raise Unreachable(f"cannot {verb} {what}: TLS error with {self.auth.server} ({err.reason or 'handshake failed'})") from None
            except socket.gaierror:
                self.close()
                raise Unreachable(f"cannot {verb} {what}: cannot resolve the API server host {self.host!r}; check the server URL in the kubeconfig") from None
            except OSError as err:
                self.close()
                reason = err.strerror or type(err).__name__
                raise Unreachable(
                    f"cannot {verb} {what}: cannot connect to {self.auth.server}: {reason}; is the API server running and the kubeconfig right?"
                ) from None
            except http11.HTTPException as err:
                self.close()
                raise Unreachable(
                    f"cannot {verb} {what}: {self.auth.server} did not answer in HTTP ({type(err).__name__}); is the server URL in the kubeconfig an API server?"
                ) from None
            if resp.status >= 500 and attempt + 1 < attempts:
                time.sleep(0.2 * 2**attempt)
                continue
            if resp.status >= 400:
                raise _api_error(resp.status, data, verb, what, self.auth.server)
            if not data:
                return None
            from kgctl_py.kube.decode import TooDeep, loads_json

            try:
                return replace_lone_surrogates(loads_json(data), data)
            except TooDeep as err:
                raise BadResponse(f"cannot {verb} {what}: the API server sent JSON that {err}", resp.status) from None
            except ValueError:
                raise BadResponse(f"cannot {verb} {what}: the API server sent something that is not JSON", resp.status) from None
        raise AssertionError("unreachable")

    def get(self, path: str, params: dict[str, Any] | None = None, what: str = "") -> Any:
        return self.request("GET", path, params, what=what)

    def list(self, path: str, params: dict[str, Any] | None = None, what: str = "") -> list[dict[str, Any]]:
        """Every item of a list, following ``continue`` tokens."""
        return list(self.iter_list(path, params, what))

    def iter_list(self, path: str, params: dict[str, Any] | None = None, what: str = "") -> Iterator[dict[str, Any]]:
        """Lists are read as client-go's informers (and so kgctl) first read
        them: ``resourceVersion=0`` without a limit, which the API server
        answers from its watch cache in one response instead of a quorum read
        from etcd.  A server without a watch cache answers from etcd, still in
        one response; one that pages anyway gets its ``continue`` tokens
        followed (without the resourceVersion, which a continue carries)."""
        query = dict(params or {})
        query.setdefault("resourceVersion", LIST_RESOURCE_VERSION)
        tokens: set[str] = set()
        while True:
            page = self.request("GET", path, query, what=what, verb="list")
            items = page.get("items") if isinstance(page, dict) else None
            if not isinstance(page, dict) or "items" not in page or not isinstance(items, (list, type(None))):
                raise BadResponse(f"cannot list {what or path}: the API server did not send a list")
            yield from (i for i in items or [] if isinstance(i, dict))
            meta = page.get("metadata")
            token = meta.get("continue") if isinstance(meta, dict) else None
            if not token:
                return
            if not isinstance(token, str) or token in tokens:
                # A server that hands out the same page again would keep us here forever.
                raise BadResponse(f"cannot list {what or path}: the API server repeated a continue token")
            tokens.add(token)
            query.pop("resourceVersion", None)
            query["continue"] = token


def _verb(method: str) -> str:
    return {"GET": "get", "POST": "create", "DELETE": "delete", "PATCH": "patch", "PUT": "update"}.get(method, method.lower())


def _read_body(resp: http11.HTTPResponse, deadline: float) -> bytes:
    """The whole body, or TimeoutError once ``deadline`` passes: the socket
    timeout alone would let a server that trickles bytes hold us forever."""
    chunks: list[bytes] = []
    while True:
        chunk = resp.read1(65536)
        if not chunk:
            resp.close()  # read1 leaves a finished response open; the next request needs it closed
            return b"".join(chunks)
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise TimeoutError("response too slow")


def _api_error(status: int, data: bytes, verb: str, what: str, server: str) -> ApiError:
    message = ""
    try:
        body = json.loads(data)
        if isinstance(body, dict):
            message = str(body.get("message") or "")
    except (ValueError, RecursionError):  # a nesting bomb is garbage too
        pass
    if status == 401:
        return for_status(
            status,
            f"cannot {verb} {what}: the API server at {server} rejected our credentials (401 Unauthorized); check the token or client certificate in the kubeconfig",
        )
    if status == 403:
        detail = f": {message}" if message else ""
        return for_status(status, f"cannot {verb} {what}: forbidden (403){detail}; ask for RBAC permission to {verb} it")
    if status == 404:
        return for_status(status, message or f"{what} not found")
    detail = f": {message}" if message else ""
    return for_status(status, f"cannot {verb} {what}: the API server answered {status}{detail}")
