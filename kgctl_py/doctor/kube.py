"""Doctor's API access: our stdlib client for reads and writes, the official
``kubernetes`` client (imported lazily) for exec over its websocket protocol.

The kubernetes client swaps ``call_api`` on the ApiClient while it streams, so
each worker thread gets an ApiClient of its own.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from typing import Any

from kgctl_py.kube import resources as R
from kgctl_py.kube.client import Client
from kgctl_py.kube.errors import ApiError
from kgctl_py.kube.kubeconfig import ClusterAuth
from kgctl_py.record import record


@record
class ExecOutcome:
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    # Set when the command could not be run or did not finish in time.
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and self.exit_code == 0


class Session:
    def __init__(self, auth: ClusterAuth, timeout: float) -> None:
        self.auth = auth
        self.timeout = timeout
        self.client = Client(auth, timeout=timeout)
        self._local = threading.local()
        self._configuration: Any = None
        self._tmpdir: str | None = None
        self._lock = threading.Lock()
        self.active_execs = 0
        self.peak_execs = 0
        self.exec_count = 0

    # --- plain API calls (main thread) ------------------------------------------------------

    def can(self, verb: str, resource: str, group: str = "", subresource: str = "", namespace: str | None = None) -> bool | None:
        """SelfSubjectAccessReview: True/False, or None when the review itself failed."""
        attrs: dict[str, Any] = {"verb": verb, "resource": resource, "group": group}
        if subresource:
            attrs["subresource"] = subresource
        if namespace:
            attrs["namespace"] = namespace
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": {"resourceAttributes": attrs}}
        try:
            review = R.SELF_SUBJECT_ACCESS_REVIEWS.create(self.client, body, what="selfsubjectaccessreviews")
        except ApiError:
            return None
        return bool(((review or {}).get("status") or {}).get("allowed"))

    # --- exec (any thread) ----------------------------------------------------------------------

    def prepare_exec(self) -> None:
        """Import the exec client once, before a pool of threads all wait on the import."""
        from kubernetes.stream import stream  # noqa: F401

        self._api()

    def _api(self) -> Any:
        api = getattr(self._local, "api", None)
        if api is None:
            from kubernetes import client

            with self._lock:
                if self._configuration is None:
                    self._configuration = self._build_configuration()
            api = client.CoreV1Api(client.ApiClient(self._configuration))
            self._local.api = api
        return api

    def _build_configuration(self) -> Any:
        import websocket
        from kubernetes import client

        # The kubernetes client opens exec websockets without a timeout of its own.
        websocket.setdefaulttimeout(self.timeout)
        c = client.Configuration()
        c.host = self.auth.server
        c.verify_ssl = not self.auth.insecure
        if self.auth.tls_server_name:
            c.tls_server_name = self.auth.tls_server_name
        if self.auth.token:
            c.api_key = {"authorization": f"Bearer {self.auth.token}"}
        elif self.auth.username:
            import base64

            basic = base64.b64encode(f"{self.auth.username}:{self.auth.password}".encode()).decode()
            c.api_key = {"authorization": f"Basic {basic}"}
        # The client reads CA and client certificates only from files: keep them private, remove them in close().
        if self.auth.ca_data or (self.auth.cert_data and self.auth.key_data):
            self._tmpdir = tempfile.mkdtemp(prefix="kgctl-py-doctor-")
        if self.auth.ca_data:
            c.ssl_ca_cert = self._write("ca.crt", self.auth.ca_data)
        if self.auth.cert_data and self.auth.key_data:
            c.cert_file = self._write("client.crt", self.auth.cert_data)
            c.key_file = self._write("client.key", self.auth.key_data)
        return c

    def _write(self, name: str, data: bytes) -> str:
        assert self._tmpdir is not None
        path = os.path.join(self._tmpdir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return path

    def exec(self, namespace: str, pod: str, container: str | None, command: list[str], timeout: float) -> ExecOutcome:
        with self._lock:
            self.active_execs += 1
            self.exec_count += 1
            self.peak_execs = max(self.peak_execs, self.active_execs)
        try:
            return self._exec(namespace, pod, container, command, timeout)
        finally:
            with self._lock:
                self.active_execs -= 1

    def _exec(self, namespace: str, pod: str, container: str | None, command: list[str], timeout: float) -> ExecOutcome:
        try:
            from kubernetes.stream import stream

            api = self._api()  # the first call imports the client: not part of the exec's time
            kwargs: dict[str, Any] = {
                "command": command,
                "stderr": True,
                "stdin": False,
                "stdout": True,
                "tty": False,
                "_preload_content": False,
                "_request_timeout": timeout,
            }
            if container:
                kwargs["container"] = container
            deadline = time.monotonic() + timeout
            ws = stream(api.connect_get_namespaced_pod_exec, pod, namespace, **kwargs)
        except Exception as err:  # the client wraps every failure in ApiException(status=0)
            return ExecOutcome(error=_exec_error(err))
        try:
            return _read_exec(ws, deadline, timeout)
        except Exception as err:
            return ExecOutcome(error=_exec_error(err))
        finally:
            try:
                ws.close()
            except Exception:
                pass

    def close(self) -> None:
        self.client.close()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None


# websocket-client's refused upgrade: "Handshake status 403 Forbidden -+-+- {headers} -+-+- body".
_HANDSHAKE_SEPARATOR = " -+-+- "


def _handshake_refused(reason: str) -> str:
    """The status line and the Status's message of a refused exec upgrade, without the
    response headers (a proxy's Set-Cookie, its tracing IDs) that follow them."""
    if _HANDSHAKE_SEPARATOR not in reason:
        return reason
    parts = reason.split(_HANDSHAKE_SEPARATOR)
    head, body = parts[0].strip(), parts[-1].strip() if len(parts) >= 3 else ""
    import json

    try:
        status = json.loads(body) if body else None
    except (ValueError, RecursionError):
        status = None
    message = status.get("message") if isinstance(status, dict) else None
    return f"{head}: {str(message).strip()[:300]}" if message and str(message).strip() else head


# No check reads more than a few kB; a pod that prints without end is cut here.
MAX_EXEC_OUTPUT = 4 << 20
_STDOUT, _STDERR, _STATUS = 1, 2, 3


def _read_exec(ws: Any, deadline: float, timeout: float) -> ExecOutcome:
    """The exec's channels, read frame by frame against the deadline and the size cap.

    Not the client's ``update()``: it reads on while frames keep arriving, past any
    deadline and into any amount of memory (a pod printing without end).
    """
    import select
    import ssl

    from websocket import ABNF, WebSocketConnectionClosedException

    sock = ws.sock  # websocket-client's WebSocket, connected by the kubernetes client
    channels: dict[int, list[bytes]] = {_STDOUT: [], _STDERR: [], _STATUS: []}
    size = 0

    def text(channel: int) -> str:
        return b"".join(channels[channel]).decode("utf-8", "replace")

    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return ExecOutcome(stdout=text(_STDOUT), error=f"timed out after {timeout:g}s")
        # TLS decrypts a whole record at once: frames may wait in the SSL buffer, unseen by select.
        buffered = isinstance(sock.sock, ssl.SSLSocket) and sock.sock.pending()
        if not buffered:
            poll = select.poll()  # not select(): a descriptor past 1024 is fine
            poll.register(sock.sock, select.POLLIN)
            if not poll.poll(left * 1000):
                continue
        try:
            opcode, frame = sock.recv_data_frame(True)
        except WebSocketConnectionClosedException:
            break
        if opcode == ABNF.OPCODE_CLOSE:
            break
        if opcode not in (ABNF.OPCODE_BINARY, ABNF.OPCODE_TEXT) or not frame.data:
            continue
        data = frame.data if isinstance(frame.data, bytes) else frame.data.encode()
        if data[0] in channels:  # 255 is v5's close of one channel: nothing to keep
            channels[data[0]].append(data[1:])
            size += len(data) - 1
            if size > MAX_EXEC_OUTPUT:
                return ExecOutcome(stdout=text(_STDOUT)[:4096], error=f"the command printed more than {MAX_EXEC_OUTPUT >> 20} MiB: cut there")
    code, problem = _exit_code(text(_STATUS))
    return ExecOutcome(text(_STDOUT), text(_STDERR), code, problem)


def _exit_code(text: str) -> tuple[int | None, str]:
    """The exit code from the exec's status channel, or why there is none."""
    import json

    try:
        status = json.loads(text) if text else {}
    except (ValueError, RecursionError):  # a nesting bomb is garbage too
        return None, f"exec failed: unreadable status {text[:80]!r}"
    if not isinstance(status, dict):
        return None, "exec failed: unreadable status"
    if status.get("status") == "Success":
        return 0, ""
    for cause in (status.get("details") or {}).get("causes") or []:
        if isinstance(cause, dict) and cause.get("reason") == "ExitCode":
            try:
                return int(str(cause.get("message"))), ""
            except (TypeError, ValueError):
                break
    return None, f"exec failed: {status.get('message') or 'the API server sent no exit status'}"


def _exec_error(err: Exception) -> str:
    reason = getattr(err, "reason", None) or str(err) or type(err).__name__
    reason = str(reason).strip().splitlines()[0] if str(reason).strip() else type(err).__name__
    reason = _handshake_refused(reason)
    if "403" in reason or "Forbidden" in reason:
        return f"exec forbidden: {reason}"
    return f"exec failed: {reason}"
