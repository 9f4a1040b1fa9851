"""Pod exec over WebSocket with Kubernetes' channel protocols (v5, v4 and the original).

Frames carry a leading channel byte: 0 stdin, 1 stdout, 2 stderr, 3 the error channel
(a ``Status`` when the command ends), 255 the v5 close signal (``[255, channel]``).
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from .errors import StatusError, status

log = logging.getLogger(__name__)

Obj = dict[str, Any]
PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, CLOSE = 0, 1, 2, 3, 255
CHUNK = 32 * 1024


@dataclass
class ExecResult:
    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int = 0


ExecHandler = Callable[[Obj, "str | None", list[str], "bytes | None"], ExecResult]
RunBlocking = Callable[..., Awaitable[Any]]


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


def exit_status(command: list[str], code: int) -> Obj:
    """What the kubelet puts on the error channel when the command ends."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command {command}, exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def resolve_container(pod: Obj, requested: str | None) -> str | None:
    name = pod["metadata"]["name"]
    names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    if requested is None:
        if len(names) > 1:
            raise StatusError.bad_request(f"a container name must be specified for pod {name}, choose one of: {names}")
        return names[0] if names else None
    if requested not in names:
        raise StatusError.bad_request(f"container {requested} is not valid for pod {name}")
    return requested


async def read_stdin(ws: web.WebSocketResponse, idle: float) -> bytes:
    """All of stdin: until the v5 close signal or the socket closes. v4 clients have no way to
    close stdin, so for them it ends after ``idle`` seconds without a frame."""
    buf = bytearray()
    timeout = None if ws.ws_protocol == "v5.channel.k8s.io" else idle
    while True:
        try:
            msg = await ws.receive(timeout=timeout)
        except asyncio.TimeoutError:
            break
        if msg.type in (WSMsgType.BINARY, WSMsgType.TEXT) and msg.data:
            # The Python client sends text frames whose first character is the channel.
            data = msg.data.encode() if isinstance(msg.data, str) else bytes(msg.data)
            if data[0] == STDIN:
                buf += data[1:]
            elif data[0] == CLOSE and data[1:2] == bytes([STDIN]):
                break
        elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            break
    return bytes(buf)


async def serve_exec(
    request: web.Request,
    pod: Obj,
    *,
    handler: ExecHandler | None,
    run_blocking: RunBlocking,
    stdin_idle: float,
) -> web.WebSocketResponse:
    """Validate the exec request, upgrade it, run ``handler`` in a worker thread and stream its result."""
    q = request.query
    command = q.getall("command", [])
    if not command:
        raise StatusError.bad_request("you must specify at least 1 command")
    container = resolve_container(pod, q.get("container") or None)
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise StatusError.bad_request("Upgrade request required")
    ws = web.WebSocketResponse(protocols=PROTOCOLS, timeout=2.0)
    await ws.prepare(request)
    stdin = await read_stdin(ws, stdin_idle) if _truthy(q.get("stdin")) else None
    if handler is None:
        result_status = status(500, "exec is not configured on this test server (no exec_handler)")
    else:
        try:
            result = await run_blocking(handler, copy.deepcopy(pod), container, list(command), stdin)
        except Exception as exc:
            log.exception("kubeapi: exec_handler failed")
            result_status = status(500, f"exec handler failed: {exc}")
        else:
            for channel, data, param in ((STDOUT, result.stdout, "stdout"), (STDERR, result.stderr, "stderr")):
                data = data.encode() if isinstance(data, str) else bytes(data)
                if data and _truthy(q.get(param, "true")):
                    for i in range(0, len(data), CHUNK):
                        await ws.send_bytes(bytes([channel]) + data[i : i + CHUNK])
            result_status = exit_status(list(command), int(result.exit_code))
    await ws.send_bytes(bytes([ERROR]) + json.dumps(result_status).encode())
    await ws.close()
    return ws
