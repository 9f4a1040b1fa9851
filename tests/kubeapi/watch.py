"""Watch streams: newline-delimited JSON events over chunked HTTP, like the apiserver's."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .aio import call_in_loop
from .errors import StatusError
from .resources import ResourceType
from .selectors import parse as parse_selectors
from .store import Event, Store

Obj = dict[str, Any]


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


def filtered_event(ev: Event, match: Callable[[Obj], bool], namespace: str | None) -> tuple[str, Obj] | None:
    """The event a filtered watch sees: objects entering the filter are ADDED, leaving it DELETED."""
    if namespace is not None and ev.object["metadata"].get("namespace") != namespace:
        return None
    was = ev.old is not None and ev.type != "ADDED" and match(ev.old)
    now = ev.type != "DELETED" and match(ev.object)
    if ev.type == "DELETED":
        return ("DELETED", ev.object) if was else None
    if ev.type == "ADDED":
        return ("ADDED", ev.object) if now else None
    if was and now:
        return ("MODIFIED", ev.object)
    if now:
        return ("ADDED", ev.object)
    if was:
        return ("DELETED", ev.object)
    return None


def _bookmark(rtype: ResourceType, rv: int, initial_end: bool = False) -> Obj:
    md: Obj = {"resourceVersion": str(rv)}
    if initial_end:
        md["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {"type": "BOOKMARK", "object": {"kind": rtype.kind, "apiVersion": rtype.api_version, "metadata": md}}


def _encode(events: list[Obj]) -> bytes:
    return b"".join(json.dumps(e, separators=(",", ":")).encode() + b"\n" for e in events)


async def serve_watch(
    request: web.Request,
    store: Store,
    rtype: ResourceType,
    namespace: str | None,
    name: str | None,
    *,
    present: Callable[[Obj], Obj],
    view: Callable[[Obj], Obj],
    bookmark_interval: float,
    max_timeout: float | None,
    cut_after: int | None,
) -> web.StreamResponse:
    """Stream events for ``rtype`` until ``timeoutSeconds``, the client leaves or the task is cancelled.

    Query parameters as in Kubernetes: ``resourceVersion`` (unset/"0": current state as ADDED
    first; N: the changes after N, or an ERROR 410 event when they are gone), ``labelSelector``,
    ``fieldSelector``, ``allowWatchBookmarks``, ``sendInitialEvents`` and ``timeoutSeconds``.
    ``view`` rewrites served objects (time shift), ``present`` wraps them (e.g. as a Table);
    ``cut_after`` aborts the connection after that many events (an injected fault).
    """
    q = request.query
    field_sel = q.get("fieldSelector")
    if name:  # deprecated single-object watch: .../nodes/NAME?watch=true
        field_sel = f"metadata.name={name}" + (f",{field_sel}" if field_sel else "")
    match = parse_selectors(q.get("labelSelector"), field_sel)
    rv_param = q.get("resourceVersion", "")
    initial_events = _truthy(q.get("sendInitialEvents"))
    bookmarks = _truthy(q.get("allowWatchBookmarks"))
    try:
        timeout = float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else None
    except ValueError:
        raise StatusError.bad_request(f"invalid timeoutSeconds {q.get('timeoutSeconds')!r}") from None
    if max_timeout is not None:
        timeout = min(timeout, max_timeout) if timeout is not None else max_timeout
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Event] = asyncio.Queue()

    def listener(ev: Event) -> None:  # runs under the store lock, in any thread
        if ev.resource is rtype:
            call_in_loop(loop, queue.put_nowait, ev)

    initial: list[Obj] = []
    backlog: list[Event] = []
    expired: StatusError | None = None
    with store.lock:  # snapshot and subscription are atomic: no event is lost or doubled
        if initial_events or rv_param in ("", "0"):
            last_rv, initial = store.snapshot(rtype, namespace)
        else:
            try:
                last_rv = int(rv_param)
            except ValueError:
                raise StatusError.bad_request(f"invalid resource version: {rv_param!r}") from None
            try:
                backlog = store.events_since(last_rv)
            except StatusError as exc:
                expired = exc
        unsubscribe = store.subscribe(listener) if expired is None else (lambda: None)

    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"})
    resp.enable_chunked_encoding()
    sent = 0

    async def send(events: list[Obj]) -> None:
        nonlocal sent
        if cut_after is not None and sent + len(events) >= cut_after:
            events = events[: cut_after - sent]
            if events:
                await resp.write(_encode(events))
            # Abort without the final chunk: the client sees the stream break mid-way.
            if request.transport is not None:
                request.transport.abort()
            raise ConnectionResetError("injected watch cut")
        if events:
            sent += len(events)
            await resp.write(_encode(events))

    def event(pair: tuple[str, Obj]) -> Obj:
        return {"type": pair[0], "object": present(view(pair[1]))}

    try:
        await resp.prepare(request)
        if expired is not None:
            await send([{"type": "ERROR", "object": expired.status}])
            await resp.write_eof()
            return resp
        first = [event(("ADDED", o)) for o in initial if match(o)]
        if initial_events:
            first.append(_bookmark(rtype, last_rv, initial_end=True))
        first.extend(event(p) for ev in backlog if (p := filtered_event(ev, match, namespace)) is not None)
        if backlog:
            last_rv = backlog[-1].rv
        await send(first)
        deadline = loop.time() + timeout if timeout is not None else None
        while True:
            wait = None if deadline is None else deadline - loop.time()
            if bookmarks:
                wait = bookmark_interval if wait is None else min(wait, bookmark_interval)
            if wait is not None and wait <= 0:
                break
            try:
                ev = await asyncio.wait_for(queue.get(), wait)
            except asyncio.TimeoutError:
                if deadline is not None and loop.time() >= deadline:
                    break
                await send([_bookmark(rtype, last_rv)])
                continue
            if ev.rv <= last_rv:
                continue
            last_rv = ev.rv
            pair = filtered_event(ev, match, namespace)
            if pair is not None:
                await send([event(pair)])
        await resp.write_eof()
    finally:
        unsubscribe()
    return resp
