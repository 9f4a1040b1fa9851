"""The test Kubernetes API server: aiohttp on 127.0.0.1 in a background thread.

Request path: log -> injected fault -> authentication (401) -> RBAC (403) -> handler.
Handlers work on the :class:`Store` through the :class:`Registry` (write semantics);
the :class:`Controllers` react to store events like the cluster's control loops.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import copy
import email.utils
import functools
import hmac
import json
import logging
import os
import re
import shutil
import socket
import ssl
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import yaml
from aiohttp import web

from . import protobuf, tables
from . import resources as R
from .controllers import Controllers
from .errors import StatusError, status, success_status
from .execws import ExecHandler, serve_exec
from .faults import Fault, FaultSet
from .fixtures import load_fixture, yaml_load
from .kubeconfig import kubeconfig, write_exec_plugin, write_kubeconfig
from .patch import apply_patch
from .pki import CertificateAuthority
from .registry import DEFAULT_NAMESPACES, Registry, namespace_object
from .resources import ResourceType
from .selectors import parse as parse_selectors
from .store import Store
from .watch import serve_watch

log = logging.getLogger(__name__)

Obj = dict[str, Any]
LAST_SEEN = "kilo.squat.ai/last-seen"
_INT_RE = re.compile(r"\s*-?[0-9]+\s*")


class PodHooks(Protocol):  # both methods are optional
    def on_pod_created(self, pod: Obj) -> Obj | None: ...
    def on_pod_deleted(self, pod: Obj) -> None: ...


class RequestRecord(NamedTuple):
    method: str
    path: str
    query: dict[str, str]  # first value of each parameter


@dataclass
class RequestInfo:
    """What a request addresses, like the apiserver's RequestInfo."""

    verb: str
    rtype: ResourceType | None = None
    group: str = ""
    version: str = ""
    plural: str = ""
    namespace: str | None = None
    name: str | None = None
    subresource: str = ""
    watch: bool = False
    is_resource: bool = False


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


def request_info(method: str, path: str, query: dict[str, str]) -> RequestInfo:
    parts = [p for p in path.split("/") if p]
    watch = _truthy(query.get("watch"))
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return RequestInfo(verb=method.lower())
    if rest[:1] == ["watch"]:  # legacy /api/v1/watch/... paths
        watch, rest = True, rest[1:]
    if not rest:
        return RequestInfo(verb=method.lower())
    namespace = None
    if rest[0] == "namespaces" and len(rest) > 1:
        if len(rest) > 2 and rest[2] not in ("status", "finalize"):
            namespace, rest = rest[1], rest[2:]
        # else: the namespace object itself (namespaces/NAME[/status])
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else ""
    if len(rest) > 3:
        return RequestInfo(verb=method.lower())
    if method == "GET":
        verb = "watch" if watch else ("get" if name else "list")
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())
    if sub == "exec":
        verb = "create"  # like apiservers >= 1.30 authorise websocket exec
    return RequestInfo(
        verb=verb,
        rtype=R.find(group, version, plural),
        group=group,
        version=version,
        plural=plural,
        namespace=namespace,
        name=name,
        subresource=sub,
        watch=watch,
        is_resource=True,
    )


def _json(obj: Any, status_code: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(obj, separators=(",", ":")).encode(),
        status=status_code,
        content_type="application/json",
        headers={"Cache-Control": "no-cache, private"},
    )


def _not_found_page() -> StatusError:
    return StatusError(404, "the server could not find the requested resource", details={})


def _encode_continue(rv: int, key: tuple[str, str]) -> str:
    start = f"{key[0]}/{key[1]}" if key[0] else key[1]
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start + "\x00"}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if data.get("v") != "meta.k8s.io/v1":
            raise ValueError("unknown version")
        rv, start = int(data["rv"]), str(data["start"]).rstrip("\x00")
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise StatusError.bad_request(f"continue key is not valid: {exc}") from None
    ns, _, name = start.rpartition("/")
    return rv, (ns, name)


def _obj_key(obj: Obj) -> tuple[str, str]:
    md = obj["metadata"]
    return (md.get("namespace") or "", md["name"])


class KubeAPIServer:
    """A real HTTP(S) Kubernetes API server for tests. See the package docstring."""

    def __init__(
        self,
        objects: Iterable[Obj] = (),
        *,
        crd: bool = True,
        tls: bool = False,
        extra_sans: Sequence[str] = (),
        token: str | None = None,
        client_ca: bool = False,
        captured_at: int | None = None,
        exec_handler: ExecHandler | None = None,
        pod_hooks: PodHooks | None = None,
        exec_workers: int = 8,
    ):
        self.token = token
        self.tls = tls
        self.client_ca = client_ca and tls
        self.captured_at = captured_at
        self.exec_handler = exec_handler
        self.pod_hooks = pod_hooks
        self.user = "test"  # the user that token and anonymous requests act as
        # None: everything allowed; else allowed (verb, group, resource, subresource) tuples, '*' wildcards.
        self.rbac: list[tuple[str, ...]] | None = None
        self.bookmark_interval = 1.0  # seconds between BOOKMARKs on watches with allowWatchBookmarks
        self.watch_timeout: float | None = None  # server-side cap on watch duration (None: until timeoutSeconds/stop)
        self.exec_stdin_idle = 0.3  # v4 clients cannot close stdin: it ends after this much silence
        # Lists as a real apiserver costs them: resourceVersion=0 is served from the watch
        # cache (limit ignored, no etcd); every other list is a read from etcd, which pays
        # etcd_request_cost per request plus etcd_item_cost per object it reads (seconds).
        self.watch_cache = True
        self.etcd_request_cost = 0.0
        self.etcd_item_cost = 0.0
        # Page every list at this many items even without a limit (a server that pages anyway).
        self.list_page_cap: int | None = None
        self.read_stats = {"cache": 0, "etcd": 0, "etcd_items": 0}  # lists from the cache; etcd reads (gets and lists)
        # Seconds the server's clock runs ahead of this machine's: shifts the Date header and
        # the served last-seen alike, as a cluster whose nodes agree with the server would.
        self.clock_offset = 0
        self.requests: list[RequestRecord] = []
        self.store = Store()
        self.registry = Registry(self.store)
        self._faults = FaultSet()
        self._workdir = Path(tempfile.mkdtemp(prefix="kubeapi-"))
        self._ca: CertificateAuthority | None = None
        self._server_cert: tuple[Path, Path] | None = None
        if tls:
            self._ca = CertificateAuthority(self._workdir)
            self._server_cert = self._ca.issue("server", "kube-apiserver", server=True, sans=["127.0.0.1", "localhost", *extra_sans])
        self._seed(list(objects), crd)
        # Exec handlers (and other blocking work) run here; slow or hanging handlers need more.
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=exec_workers, thread_name_prefix="kubeapi-worker")
        self._controllers = Controllers(self.store, self.registry, pod_hooks, self._run_blocking)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._long_tasks: set[asyncio.Task[Any]] = set()
        self._port: int | None = None
        self._stopped = False

    @classmethod
    def from_fixture(cls, directory: str | os.PathLike[str], **kwargs: Any) -> KubeAPIServer:
        """A server for a compat fixture: its objects, its ``crd`` and ``capturedAt`` (overridable)."""
        objects, meta = load_fixture(directory)
        kwargs.setdefault("crd", bool(meta.get("crd", True)))
        kwargs.setdefault("captured_at", meta.get("capturedAt"))
        return cls(objects, **kwargs)

    def _seed(self, objects: list[Obj], crd: bool) -> None:
        names = {o["metadata"]["name"] for o in objects if o.get("kind") == "Namespace"}
        wanted = list(DEFAULT_NAMESPACES)
        for o in objects:
            ns = (o.get("metadata") or {}).get("namespace")
            if ns and ns not in wanted:
                wanted.append(ns)
        for ns in wanted:
            if ns not in names:
                self.store.create(namespace_object(ns))
        if crd:
            self.store.create(R.peer_crd())
        self.store.seed(objects)

    # --- life cycle -----------------------------------------------------------------------

    def start(self) -> KubeAPIServer:
        if self._thread is not None:
            raise RuntimeError("server already started")
        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._astart())
            except BaseException as exc:  # reported to start()'s caller
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=main, name="kubeapi-loop", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            self._thread.join()
            self._cleanup_files()
            raise failure[0]
        return self

    async def _astart(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        app.on_response_prepare.append(self._date_header)
        # handler_cancellation: a client that goes away ends its watch (or stalled fault) at once.
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._ssl_context())
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        self._controllers.start()

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        assert self._ca is not None and self._server_cert is not None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*self._server_cert)
        ctx.set_alpn_protocols(["http/1.1"])
        if self.client_ca:
            # Optional: token clients and certificate clients both work.
            ctx.verify_mode = ssl.CERT_OPTIONAL
            ctx.load_verify_locations(cafile=str(self._ca.cert_file))
        return ctx

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self._ashutdown(), loop).result(timeout=15)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(timeout=15)
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._cleanup_files()

    async def _ashutdown(self) -> None:
        for task in list(self._long_tasks):
            task.cancel()
        await self._controllers.stop()
        if self._runner is not None:
            await self._runner.cleanup()

    def _cleanup_files(self) -> None:
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> KubeAPIServer:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _run_blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(fn, *args))

    # --- public helpers -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("server not started")
        return self._port

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> str | None:
        return str(self._ca.cert_file) if self._ca else None

    @property
    def workdir(self) -> Path:
        """Temporary directory (certificates, exec plugin); removed by :meth:`stop`."""
        return self._workdir

    def issue_client_cert(self, cn: str = "admin", groups: Sequence[str] = ()) -> tuple[str, str]:
        """A client certificate signed by the server's CA: ``(cert_path, key_path)``; its CN is the user."""
        if self._ca is None:
            raise RuntimeError("client certificates need tls=True")
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", cn)
        cert, key = self._ca.issue(f"client-{safe}", cn, orgs=groups)
        return str(cert), str(key)

    def exec_plugin(self, token: str | None = None) -> list[str]:
        """Write an exec credential plugin that hands out ``token`` (default: the server's);
        returns its command for ``write_kubeconfig(exec_command=...)``."""
        tok = token if token is not None else self.token
        if tok is None:
            raise ValueError("no token to hand out")
        return write_exec_plugin(self._workdir, tok)

    def write_kubeconfig(
        self,
        path: str | os.PathLike[str],
        *,
        token: str | None = None,
        client_cert: tuple[str, str] | None = None,
        context: str = "test",
        insecure: bool = False,
        exec_command: Sequence[str] | None = None,
        embed_certs: bool = False,
    ) -> str:
        """Write a kubeconfig for this server. ``token=None`` uses the server's token unless
        ``client_cert`` or ``exec_command`` is given; ``token=""`` writes no credentials."""
        if token is None and client_cert is None and not exec_command:
            token = self.token
        config = kubeconfig(
            self.url,
            ca_file=self.ca_file,
            token=token or None,
            client_cert=client_cert,
            context=context,
            insecure=insecure,
            exec_command=exec_command,
            embed_certs=embed_certs,
        )
        return str(write_kubeconfig(path, config))

    def inject(self, fault: Fault) -> Fault:
        return self._faults.add(fault)

    def clear_faults(self) -> None:
        self._faults.clear()

    def allowed(self, verb: str, group: str, resource: str, subresource: str = "") -> bool:
        """Whether :attr:`rbac` lets the user do this."""
        rules = self.rbac
        if rules is None:
            return True
        want = (verb, group, resource, subresource)
        for rule in rules:
            pattern = tuple(rule) + ("",) * (4 - len(rule))
            if all(p == "*" or p == v for p, v in zip(pattern, want)):
                return True
        return False

    # --- last-seen time shift ------------------------------------------------------------------

    def _offset(self) -> int:
        return int(time.time()) + self.clock_offset - self.captured_at if self.captured_at is not None else 0

    async def _date_header(self, request: web.Request, response: web.StreamResponse) -> None:
        if self.clock_offset:
            response.headers["Date"] = email.utils.formatdate(time.time() + self.clock_offset, usegmt=True)

    def _shift(self, obj: Obj, offset: int) -> Obj:
        """Serve a Node with an integer last-seen moved by ``offset`` seconds (copying only what changes)."""
        if not offset or obj.get("kind") != "Node":
            return obj
        ann = (obj.get("metadata") or {}).get("annotations") or {}
        value = ann.get(LAST_SEEN)
        if not isinstance(value, str) or not _INT_RE.fullmatch(value):
            return obj
        out = dict(obj)
        out["metadata"] = {**obj["metadata"], "annotations": {**ann, LAST_SEEN: str(int(value) + offset)}}
        return out

    def _view(self, obj: Obj) -> Obj:
        return self._shift(obj, self._offset())

    # --- request entry --------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        query = {k: request.query[k] for k in request.query}
        self.requests.append(RequestRecord(request.method, request.path, query))
        info = request_info(request.method, request.path, query)
        try:
            fault = self._faults.take(request.method, request.path, info.watch)
            if fault is not None:
                response = await self._apply_fault(request, fault)
                if response is not None:
                    return response
            user = self._authenticate(request)
            self._authorize(user, info)
            if not info.is_resource:
                return self._discovery(request.path)
            return await self._resource(request, info, fault)
        except StatusError as exc:
            return _json(exc.status, exc.code)
        except ConnectionError:
            # The connection is gone (client left, or an injected reset/cut): aiohttp fails to
            # write this placeholder and drops it quietly, instead of logging a handler error.
            return web.Response(status=500)
        except Exception as exc:
            log.exception("kubeapi: %s %s failed", request.method, request.path)
            return _json(status(500, f"internal error: {exc}"), 500)

    async def _apply_fault(self, request: web.Request, fault: Fault) -> web.StreamResponse | None:
        if fault.delay:
            task = asyncio.current_task()
            assert task is not None
            self._long_tasks.add(task)
            try:
                await asyncio.sleep(fault.delay)
            finally:
                self._long_tasks.discard(task)
        if fault.reset:
            self._reset(request)
            raise ConnectionResetError("injected connection reset")
        if fault.status is not None:
            body = fault.body
            if body is None:
                body = status(fault.status, f"injected fault: HTTP {fault.status}")
            if isinstance(body, (dict, list)):
                return _json(body, fault.status)
            data = body.encode() if isinstance(body, str) else bytes(body)
            return web.Response(body=data, status=fault.status, content_type="text/plain")
        return None

    @staticmethod
    def _reset(request: web.Request) -> None:
        transport = request.transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Linger 0: close() sends a TCP RST instead of a FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    def _authenticate(self, request: web.Request) -> str:
        transport = request.transport
        peercert = transport.get_extra_info("peercert") if transport is not None and self.client_ca else None
        if peercert:
            for rdn in peercert.get("subject", ()):
                for key, value in rdn:
                    if key == "commonName":
                        return str(value)
        if self.token is None:
            return self.user
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and hmac.compare_digest(auth[7:].strip().encode(), self.token.encode()):
            return self.user
        raise StatusError(401, "Unauthorized")

    def _authorize(self, user: str, info: RequestInfo) -> None:
        if self.rbac is None or not info.is_resource or info.rtype is R.SSARS:
            return  # discovery and self-reviews are open to every authenticated user, as in real clusters
        if self.allowed(info.verb, info.group, info.plural, info.subresource):
            return
        gr = f"{info.plural}.{info.group}" if info.group else info.plural
        what = f'{gr} "{info.name}"' if info.name else gr
        res = f"{info.plural}/{info.subresource}" if info.subresource else info.plural
        scope = f'in the namespace "{info.namespace}"' if info.namespace else "at the cluster scope"
        details = {"kind": info.plural}
        if info.name:
            details["name"] = info.name
        if info.group:
            details["group"] = info.group
        raise StatusError(
            403,
            f'{what} is forbidden: User "{user}" cannot {info.verb} resource "{res}" in API group "{info.group}" {scope}',
            details=details,
        )

    # --- discovery ----------------------------------------------------------------------------

    def _crd_present(self) -> bool:
        return self.store.ref(R.CRDS, R.PEER_CRD_NAME) is not None

    def _discovery(self, path: str) -> web.Response:
        parts = [p for p in path.split("/") if p]
        gvs = R.group_versions(self._crd_present())
        if parts == ["version"]:
            return _json(R.VERSION_INFO)
        if parts in (["healthz"], ["readyz"], ["livez"]):
            return web.Response(text="ok")
        if parts == ["api"]:
            return _json(
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.port}"}],
                }
            )
        if parts == ["api", "v1"]:
            return _json(R.api_resource_list("v1", gvs["v1"]))
        if parts == ["apis"]:
            return _json(R.api_group_list(self._crd_present()))
        if len(parts) == 2 and parts[0] == "apis":
            for gv in gvs:
                if gv.split("/")[0] == parts[1] and "/" in gv:
                    return _json({"kind": "APIGroup", "apiVersion": "v1", **R.api_group(*gv.split("/"))})
        if len(parts) == 3 and parts[0] == "apis" and f"{parts[1]}/{parts[2]}" in gvs:
            gv = f"{parts[1]}/{parts[2]}"
            return _json(R.api_resource_list(gv, gvs[gv]))
        raise _not_found_page()

    # --- resources ------------------------------------------------------------------------------

    async def _resource(self, request: web.Request, info: RequestInfo, fault: Fault | None) -> web.StreamResponse:
        rtype = info.rtype
        if rtype is None or (rtype is R.PEERS and not self._crd_present()):
            raise _not_found_page()
        if rtype.namespaced and info.namespace is None and info.verb not in ("list", "watch"):
            raise _not_found_page()
        if not rtype.namespaced and info.namespace is not None:
            raise _not_found_page()
        if info.subresource:
            if info.subresource not in rtype.subresources:
                raise _not_found_page()
            if info.subresource == "exec":
                return await self._exec(request, info)
        if info.verb not in rtype.verbs or (info.subresource and info.verb not in ("get", "update", "patch")):
            raise StatusError(405, "the server does not allow this method on the requested resource")
        if rtype is R.SSARS:
            return await self._ssar(request)
        handler = {
            "get": self._get,
            "list": self._list,
            "watch": self._watch,
            "create": self._create,
            "update": self._update,
            "patch": self._patch,
            "delete": self._delete,
            "deletecollection": self._delete_collection,
        }[info.verb]
        return await handler(request, info, rtype, fault)

    def _wants_table(self, request: web.Request) -> bool:
        return "as=Table" in request.headers.get("Accept", "")

    def _table(self, request: web.Request, kind: str, items: list[Obj]) -> Obj:
        return tables.table(kind, items, request.query.get("includeObject", "Metadata"))

    async def _get(self, request: web.Request, info: RequestInfo, rtype: ResourceType, fault: Fault | None) -> web.StreamResponse:
        assert info.name is not None
        if request.query.get("resourceVersion") != "0" or not self.watch_cache:
            await self._etcd_read(1)
        obj = self.store.ref(rtype, info.name, info.namespace)
        if obj is None:
            raise StatusError.not_found(rtype.group, rtype.plural, info.name)
        obj = self._view(obj)
        if self._wants_table(request) and not info.subresource:
            table = self._table(request, rtype.kind, [obj])
            table["metadata"]["resourceVersion"] = obj["metadata"]["resourceVersion"]
            return _json(table)
        return _json(obj)

    async def _etcd_read(self, items: int) -> None:
        self.read_stats["etcd"] += 1
        self.read_stats["etcd_items"] += items
        cost = self.etcd_request_cost + self.etcd_item_cost * items
        if cost > 0:
            await asyncio.sleep(cost)

    async def _list(self, request: web.Request, info: RequestInfo, rtype: ResourceType, fault: Fault | None) -> web.StreamResponse:
        q = request.query
        label_sel, field_sel = q.get("labelSelector"), q.get("fieldSelector")
        match = parse_selectors(label_sel, field_sel)
        try:
            limit = int(q.get("limit") or 0)
        except ValueError:
            raise StatusError.bad_request(f"invalid limit {q.get('limit')!r}") from None
        token = q.get("continue")
        from_cache = self.watch_cache and not token and q.get("resourceVersion") == "0" and q.get("resourceVersionMatch", "NotOlderThan") == "NotOlderThan"
        if from_cache:
            limit = 0  # the watch cache serves the whole list at once
        if self.list_page_cap is not None and not 0 < limit <= self.list_page_cap:
            limit = self.list_page_cap
        if token:
            at_rv, start = _decode_continue(token)
            rv, items = self.store.snapshot(rtype, info.namespace, at_rv=at_rv)
            items = [o for o in items if _obj_key(o) > start]
        elif q.get("resourceVersionMatch") == "Exact" and q.get("resourceVersion"):
            try:
                exact = int(q["resourceVersion"])
            except ValueError:
                raise StatusError.bad_request(f"invalid resource version: {q['resourceVersion']!r}") from None
            rv, items = self.store.snapshot(rtype, info.namespace, at_rv=exact)
        else:
            rv, items = self.store.snapshot(rtype, info.namespace)
        scanned = len(items)
        items = [o for o in items if match(o)]
        if from_cache:
            self.read_stats["cache"] += 1
        else:
            # etcd reads the range up to the page's end; selectors are applied after the read.
            await self._etcd_read(min(scanned, limit + 1) if limit > 0 and not (label_sel or field_sel) else scanned)
        metadata: Obj = {"resourceVersion": str(rv)}
        if limit > 0 and len(items) > limit:
            metadata["continue"] = _encode_continue(rv, _obj_key(items[limit - 1]))
            if not label_sel and not field_sel:  # the apiserver only knows the count without a filter
                metadata["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        offset = self._offset()
        items = [self._shift(o, offset) for o in items]
        if self._wants_table(request):
            table = self._table(request, rtype.kind, items)
            table["metadata"] = metadata
            return _json(table)
        return _json({"kind": rtype.list_kind, "apiVersion": rtype.api_version, "metadata": metadata, "items": items})

    # --- watch ------------------------------------------------------------------------------------

    async def _watch(self, request: web.Request, info: RequestInfo, rtype: ResourceType, fault: Fault | None) -> web.StreamResponse:
        as_table = self._wants_table(request)
        task = asyncio.current_task()
        assert task is not None
        self._long_tasks.add(task)  # stop() ends open watches
        try:
            return await serve_watch(
                request,
                self.store,
                rtype,
                info.namespace,
                info.name,
                present=lambda obj: self._table(request, rtype.kind, [obj]) if as_table else obj,
                view=self._view,
                bookmark_interval=self.bookmark_interval,
                max_timeout=self.watch_timeout,
                cut_after=fault.cut_watch_after if fault is not None else None,
            )
        finally:
            self._long_tasks.discard(task)

    # --- writes -----------------------------------------------------------------------------------

    async def _body(self, request: web.Request, *, required: bool = True, protobuf_ok: bool = False) -> Any:
        raw = await request.read()
        if not raw.strip():
            if required:
                raise StatusError.bad_request("the request body is empty")
            return None
        if request.content_type == protobuf.CONTENT_TYPE:
            if not protobuf_ok:
                raise StatusError(415, "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml")
            try:
                return protobuf.decode_ssar(raw)
            except (ValueError, KeyError, IndexError) as exc:
                raise StatusError.bad_request(f"the request body could not be decoded: {exc}") from None
        try:
            if "yaml" in request.content_type:
                return yaml_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as exc:
            raise StatusError.bad_request(f"the request body could not be decoded: {exc}") from None

    def _unshift_write(self, obj: Any) -> Any:
        """Incoming Nodes speak the served (shifted) time: store the captured-time value."""
        if isinstance(obj, dict) and obj.get("kind", "Node") == "Node":
            return self._shift(obj, -self._offset())
        return obj

    async def _create(self, request: web.Request, info: RequestInfo, rtype: ResourceType, fault: Fault | None) -> web.StreamResponse:
        body = await self._body(request)
        if rtype is R.NODES:
            body = self._unshift_write({**body, "kind": "Node"} if isinstance(body, dict) else body)
        obj = self.registry.create(rtype, info.namespace, body)
        return _json(self._view(obj), 201)

    async def _update(self, request: web.Request, info: RequestInfo, rtype: ResourceType, fault: Fault | None) -> web.StreamResponse:
        assert info.name is not None
        body = await self._body(request)
        if rtype is R.NODES and isinstance(body, dict):
            body = self._unshift_write({**body, "kind": "Node"})
        obj = self.registry.update(rtype, info.namespace, info.name, body, info.subresource)
        return _json(self._view(obj))

    async def _patch(self, request: web.Request, info: RequestInfo, rtype: ResourceType, fault: Fault | None) -> web.StreamResponse:
        assert info.name is not None
        body = await self._body(request)
        for attempt in range(10):
            cur = self.store.ref(rtype, info.name, info.namespace)
            if cur is None:
                raise StatusError.not_found(rtype.group, rtype.plural, info.name)
            offset = self._offset()
            patched = apply_patch(request.content_type, copy.deepcopy(self._shift(cur, offset)), body)
            if not isinstance(patched.get("metadata"), dict):
                raise StatusError.invalid(rtype.kind, info.name, "metadata: Required value")
            if rtype is R.NODES:
                patched = self._shift({**patched, "kind": "Node"}, -offset)
            try:
                obj = self.registry.update(rtype, info.namespace, info.name, patched, info.subresource)
            except StatusError as exc:
                # The apiserver retries a patch that raced with another write, unless the patch itself
                # pinned a resourceVersion.
                if exc.code == 409 and attempt < 9 and patched["metadata"].get("resourceVersion") == cur["metadata"]["resourceVersion"]:
                    continue
                raise
            return _json(self._view(obj))
        raise AssertionError("unreachable")

    async def _delete_options(self, request: web.Request) -> tuple[str | None, int | None, Obj | None]:
        body = await self._body(request, required=False)
        opts = body if isinstance(body, dict) else {}
        q = request.query
        propagation = q.get("propagationPolicy") or opts.get("propagationPolicy")
        if propagation is None and opts.get("orphanDependents") is True:
            propagation = "Orphan"
        grace_raw = q.get("gracePeriodSeconds") or opts.get("gracePeriodSeconds")
        try:
            grace = int(grace_raw) if grace_raw is not None else None
        except (TypeError, ValueError):
            raise StatusError.bad_request(f"invalid gracePeriodSeconds {grace_raw!r}") from None
        return propagation, grace, opts.get("preconditions")

    async def _delete(self, request: web.Request, info: RequestInfo, rtype: ResourceType, fault: Fault | None) -> web.StreamResponse:
        assert info.name is not None
        propagation, grace, pre = await self._delete_options(request)
        obj, gone = self.registry.delete(rtype, info.namespace, info.name, propagation=propagation, grace=grace, preconditions=pre)
        if rtype.delete_returns_object or not gone:
            return _json(self._view(obj))
        details = {"name": info.name, "kind": rtype.plural, "uid": obj["metadata"].get("uid")}
        if rtype.group:
            details["group"] = rtype.group
        return _json(success_status(details))

    async def _delete_collection(self, request: web.Request, info: RequestInfo, rtype: ResourceType, fault: Fault | None) -> web.StreamResponse:
        propagation, grace, _ = await self._delete_options(request)
        match = parse_selectors(request.query.get("labelSelector"), request.query.get("fieldSelector"))
        _, items = self.store.snapshot(rtype, info.namespace)
        deleted = []
        for o in items:
            if not match(o):
                continue
            try:
                obj, _ = self.registry.delete(rtype, info.namespace, o["metadata"]["name"], propagation=propagation, grace=grace)
            except StatusError as exc:
                if exc.code == 404:
                    continue
                raise
            deleted.append(self._view(obj))
        return _json({"kind": rtype.list_kind, "apiVersion": rtype.api_version, "metadata": {"resourceVersion": str(self.store.rv)}, "items": deleted})

    # --- SelfSubjectAccessReview --------------------------------------------------------------------

    async def _ssar(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request, protobuf_ok=True)
        spec = (body or {}).get("spec") or {}
        attrs = spec.get("resourceAttributes")
        if attrs:
            allowed = self.allowed(attrs.get("verb", ""), attrs.get("group", ""), attrs.get("resource", ""), attrs.get("subresource", ""))
        else:
            allowed = True  # non-resource URLs (discovery, /version) are open to all authenticated users
        return _json(
            {
                "kind": "SelfSubjectAccessReview",
                "apiVersion": "authorization.k8s.io/v1",
                "metadata": {"creationTimestamp": None},
                "spec": spec,
                "status": {"allowed": allowed},
            },
            201,
        )

    # --- exec ---------------------------------------------------------------------------------------

    async def _exec(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        assert info.name is not None
        if request.method not in ("GET", "POST"):
            raise StatusError(405, "the server does not allow this method on the requested resource")
        pod = self.store.ref(R.PODS, info.name, info.namespace)
        if pod is None:
            raise StatusError.not_found("", "pods", info.name)
        task = asyncio.current_task()
        assert task is not None
        self._long_tasks.add(task)  # stop() ends open sessions
        try:
            return await serve_exec(request, pod, handler=self.exec_handler, run_blocking=self._run_blocking, stdin_idle=self.exec_stdin_idle)
        finally:
            self._long_tasks.discard(task)
