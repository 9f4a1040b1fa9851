"""Small helpers for tests that use the server (no pytest dependency)."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.01, what: str = "condition") -> T:
    """Poll until ``predicate()`` is truthy and return its value; AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def api_client(kubeconfig_path: str | os.PathLike[str]) -> Any:
    """An official ``kubernetes.client.ApiClient`` configured from a kubeconfig file."""
    from kubernetes import config

    return config.new_client_from_config(config_file=str(kubeconfig_path))  # type: ignore[no-untyped-call]


def http(
    url: str,
    method: str = "GET",
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    token: str | None = None,
    timeout: float = 5.0,
    context: Any = None,
) -> tuple[int, Any]:
    """One raw request with urllib: ``(status, decoded JSON or text)``; HTTP errors are returned, not raised."""
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            code, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        code, raw = exc.code, exc.read()
    try:
        return code, json.loads(raw)
    except ValueError:
        return code, raw.decode(errors="replace")
