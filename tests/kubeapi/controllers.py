"""Tiny stand-ins for the cluster's control loops, driven by store events:

* scheduler: binds unscheduled pods to a node (nodeSelector, taints, unschedulable);
* kubelet: "runs" bound pods (phase Running, Ready, podIP from the node's podCIDR, or the
  node's InternalIP for hostNetwork pods) and finishes graceful deletions, calling the
  optional ``pod_hooks`` in worker threads;
* DaemonSet controller: one pod per eligible node, adoption, status counters;
* garbage collector: deletes dependents of deleted owners, and foreground deletion;
* namespace controller: empties a Terminating namespace, then removes it.

Everything here runs on the server's event loop; only the hooks run in worker threads.
"""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from . import resources as R
from .aio import call_in_loop
from .errors import StatusError
from .registry import FOREGROUND, Registry, owner_uids, random_suffix
from .selectors import match_label_selector_object
from .store import Event, Store, now_rfc3339

log = logging.getLogger(__name__)

Obj = dict[str, Any]
RunBlocking = Callable[..., Awaitable[Any]]


def _md(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _deleting(obj: Obj) -> bool:
    return bool(_md(obj).get("deletionTimestamp"))


def controller_ref(obj: Obj) -> dict[str, Any] | None:
    for ref in _md(obj).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            return ref
    return None


def node_address(node: Obj, *types: str) -> str | None:
    addresses = (node.get("status") or {}).get("addresses") or []
    for kind in types:
        for a in addresses:
            if a.get("type") == kind and a.get("address"):
                return str(a["address"])
    return None


def tolerates(tolerations: list[dict[str, Any]], taint: dict[str, Any]) -> bool:
    for t in tolerations:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        if t.get("operator") == "Exists":
            if not t.get("key") or t.get("key") == taint.get("key"):
                return True
        elif t.get("key") == taint.get("key") and (t.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def fits(pod_spec: dict[str, Any], node: Obj) -> bool:
    """nodeSelector and NoSchedule/NoExecute taints (affinity is not modelled)."""
    labels = _md(node).get("labels") or {}
    for k, v in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    tolerations = pod_spec.get("tolerations") or []
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(tolerations, taint):
            return False
    return True


@dataclass
class _PodRun:
    state: str  # starting, running, stopping, stopped
    started_by_us: bool
    stop_requested: bool = False


class Controllers:
    def __init__(self, store: Store, registry: Registry, pod_hooks: Any, run_blocking: RunBlocking):
        self.store = store
        self.registry = registry
        self.pod_hooks = pod_hooks
        self.run_blocking = run_blocking
        self.namespace_delay = 0.2  # seconds a namespace stays Terminating before it is emptied
        self.daemonsets_enabled = True  # False: a cluster whose DaemonSet controller does not run
        self._runs: dict[str, _PodRun] = {}  # by pod uid
        self._reserved_ips: dict[str, set[str]] = {}  # by node name, while a pod is starting
        self._finalizing_ns: set[str] = set()
        self._dirty_ds: set[tuple[str, str]] = set()  # reconciled once a burst of events is handled
        self._tasks: set[asyncio.Task[Any]] = set()
        self._queue: asyncio.Queue[Event] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._main: asyncio.Task[None] | None = None

    # --- life cycle -------------------------------------------------------------------

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        with self.store.lock:
            self._unsubscribe = self.store.subscribe(self._on_event)
            self._resync()
        self._main = self._loop.create_task(self._run())

    async def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
        tasks = [t for t in [self._main, *self._tasks] if t is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _on_event(self, ev: Event) -> None:
        # Called under the store lock from any thread: just hand the event to the loop.
        assert self._loop is not None and self._queue is not None
        call_in_loop(self._loop, self._queue.put_nowait, ev)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        assert self._loop is not None
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            ev = await self._queue.get()
            try:
                self._handle(ev)
                if self._queue.empty():
                    self._flush_daemonsets()
            except Exception:
                log.exception("controller failed on %s %s", ev.type, ev.resource.kind)

    def _flush_daemonsets(self) -> None:
        # Coalescing matters: a DaemonSet over N nodes makes O(N) pod events.
        while self._dirty_ds:
            namespace, name = self._dirty_ds.pop()
            self._reconcile_ds(namespace, name)

    def _mark_ds(self, namespace: str | None = None, name: str | None = None) -> None:
        """Queue DaemonSets for reconciliation: one, those of a namespace, or all."""
        if namespace is not None and name is not None:
            self._dirty_ds.add((namespace, name))
            return
        for ds in self.store.snapshot(R.DAEMONSETS, namespace)[1]:
            self._dirty_ds.add((ds["metadata"]["namespace"], ds["metadata"]["name"]))

    def _resync(self) -> None:
        for ns in self.store.snapshot(R.NAMESPACES)[1]:
            if _deleting(ns):
                self._finalize_namespace(ns["metadata"]["name"])
        for pod in self.store.snapshot(R.PODS)[1]:
            self._pod_changed(pod)
        self._mark_ds()
        self._flush_daemonsets()

    def _handle(self, ev: Event) -> None:
        obj = ev.object
        if ev.resource is R.PODS:
            if ev.type == "DELETED":
                self._pod_removed(obj)
            else:
                self._pod_changed(obj)
            ref = controller_ref(obj)
            if ref and ref.get("kind") == "DaemonSet":
                self._mark_ds(obj["metadata"]["namespace"], ref.get("name", ""))
            elif ev.type == "ADDED":
                self._mark_ds(obj["metadata"]["namespace"])  # an orphan the DaemonSets may adopt
        elif ev.resource is R.NODES:
            self._mark_ds()
            for pod in self.store.snapshot(R.PODS)[1]:
                if not (pod.get("spec") or {}).get("nodeName"):
                    self._schedule(pod)
        elif ev.resource is R.DAEMONSETS and ev.type != "DELETED":
            self._mark_ds(obj["metadata"]["namespace"], obj["metadata"]["name"])
        elif ev.resource is R.NAMESPACES and ev.type != "DELETED" and _deleting(obj):
            self._finalize_namespace(obj["metadata"]["name"])
        self._collect_garbage(ev)

    # --- scheduler ----------------------------------------------------------------------

    def _schedule(self, pod: Obj) -> None:
        if _deleting(pod):
            return
        spec = pod.get("spec") or {}
        nodes = [n for n in self.store.snapshot(R.NODES)[1] if not (n.get("spec") or {}).get("unschedulable") and fits(spec, n)]
        new = copy.deepcopy(pod)
        conditions = [c for c in (new.get("status") or {}).get("conditions") or [] if c.get("type") != "PodScheduled"]
        if not nodes:
            if any(c.get("type") == "PodScheduled" for c in (pod.get("status") or {}).get("conditions") or []):
                return
            conditions.append(
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": f"0/{len(self.store.snapshot(R.NODES)[1])} nodes are available",
                }
            )
        else:
            load: dict[str, int] = {}
            for p in self.store.values(R.PODS):
                name = (p.get("spec") or {}).get("nodeName")
                if name:
                    load[name] = load.get(name, 0) + 1
            target = min(nodes, key=lambda n: (load.get(n["metadata"]["name"], 0), n["metadata"]["name"]))
            new["spec"]["nodeName"] = target["metadata"]["name"]
            conditions.append({"type": "PodScheduled", "status": "True", "lastTransitionTime": now_rfc3339()})
        new.setdefault("status", {})["conditions"] = conditions
        self.store.replace(new)

    # --- kubelet ------------------------------------------------------------------------

    def _pod_changed(self, pod: Obj) -> None:
        spec, md = pod.get("spec") or {}, pod["metadata"]
        if not spec.get("nodeName"):
            self._schedule(pod)
            return
        uid = md["uid"]
        run = self._runs.get(uid)
        if _deleting(pod):
            if run is None:
                self._runs[uid] = run = _PodRun("running", started_by_us=False)
            if run.state == "starting":
                run.stop_requested = True
            elif run.state == "running":
                run.state = "stopping"
                self._spawn(self._stop_pod(pod, run))
            return
        if run is None and (pod.get("status") or {}).get("phase", "Pending") == "Pending":
            self._runs[uid] = run = _PodRun("starting", started_by_us=True)
            self._spawn(self._start_pod(pod, run))

    def _pod_removed(self, pod: Obj) -> None:
        run = self._runs.get(pod["metadata"]["uid"])
        if run is None:
            return
        if run.state == "starting":
            run.stop_requested = True
        elif run.state == "running":
            run.state = "stopping"
            self._spawn(self._stop_pod(pod, run))

    def _allocate_ip(self, pod: Obj, node: Obj) -> str | None:
        if (pod.get("spec") or {}).get("hostNetwork"):
            return node_address(node, "InternalIP", "ExternalIP")
        cidr = (node.get("spec") or {}).get("podCIDR")
        if not cidr:
            return None
        name = node["metadata"]["name"]
        used = set(self._reserved_ips.get(name, set()))
        for p in self.store.values(R.PODS):
            if (p.get("spec") or {}).get("nodeName") == name and not (p.get("spec") or {}).get("hostNetwork"):
                ip = (p.get("status") or {}).get("podIP")
                if ip:
                    used.add(ip)
        try:
            hosts = ipaddress.ip_network(cidr, strict=False).hosts()
        except ValueError:
            return None
        next(hosts, None)  # the first address is the node's bridge/gateway, as with CNI host-local
        for host in hosts:
            if str(host) not in used:
                self._reserved_ips.setdefault(name, set()).add(str(host))
                return str(host)
        return None

    def _running_status(self, pod: Obj, node: Obj | None, ip: str | None) -> dict[str, Any]:
        now = now_rfc3339()
        containers = (pod.get("spec") or {}).get("containers") or []
        status: dict[str, Any] = {
            **(pod.get("status") or {}),
            "phase": "Running",
            "startTime": now,
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": now}
                for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
            ],
            "containerStatuses": [
                {
                    "name": c.get("name", ""),
                    "image": c.get("image", ""),
                    "imageID": "",
                    "ready": True,
                    "started": True,
                    "restartCount": 0,
                    "containerID": f"containerd://{random_suffix(12)}",
                    "state": {"running": {"startedAt": now}},
                }
                for c in containers
            ],
        }
        host_ip = node_address(node, "InternalIP", "ExternalIP") if node else None
        if host_ip:
            status["hostIP"], status["hostIPs"] = host_ip, [{"ip": host_ip}]
        if ip:
            status["podIP"], status["podIPs"] = ip, [{"ip": ip}]
        return status

    async def _start_pod(self, pod: Obj, run: _PodRun) -> None:
        node_name = pod["spec"]["nodeName"]
        node = self.store.ref(R.NODES, node_name)
        ip = self._allocate_ip(pod, node) if node else None
        candidate = copy.deepcopy(pod)
        candidate["status"] = self._running_status(pod, node, ip)
        hook = getattr(self.pod_hooks, "on_pod_created", None)
        try:
            if hook is not None:
                try:
                    result = await self.run_blocking(hook, copy.deepcopy(candidate))
                except Exception as exc:
                    log.exception("pod_hooks.on_pod_created failed for %s", pod["metadata"]["name"])
                    candidate["status"].update(phase="Failed", reason="StartError", message=f"on_pod_created: {exc}")
                    candidate["status"]["conditions"] = [
                        {**c, "status": "False"} if c["type"] in ("Ready", "ContainersReady") else c for c in candidate["status"]["conditions"]
                    ]
                else:
                    if isinstance(result, dict) and isinstance(result.get("status"), dict):
                        status = {**candidate["status"], **copy.deepcopy(result["status"])}
                        if status.get("podIP") and "podIPs" not in result["status"]:
                            status["podIPs"] = [{"ip": status["podIP"]}]
                        candidate["status"] = status
            run.state = "running"
            cur = self.store.ref(R.PODS, pod["metadata"]["name"], pod["metadata"]["namespace"])
            if cur is not None and cur["metadata"]["uid"] == pod["metadata"]["uid"] and not run.stop_requested:
                new = copy.deepcopy(cur)
                new["status"] = candidate["status"]
                self.store.replace(new)
                if _deleting(cur):
                    run.stop_requested = True
            else:
                run.stop_requested = True
        finally:
            if ip:
                self._reserved_ips.get(node_name, set()).discard(ip)
        if run.stop_requested:
            run.state = "stopping"
            await self._stop_pod(pod, run)

    async def _stop_pod(self, pod: Obj, run: _PodRun) -> None:
        hook = getattr(self.pod_hooks, "on_pod_deleted", None)
        if hook is not None and run.started_by_us:
            try:
                await self.run_blocking(hook, copy.deepcopy(pod))
            except Exception:
                log.exception("pod_hooks.on_pod_deleted failed for %s", pod["metadata"]["name"])
        run.state = "stopped"
        md = pod["metadata"]
        cur = self.store.ref(R.PODS, md["name"], md["namespace"])
        if cur is not None and cur["metadata"]["uid"] == md["uid"] and not _md(cur).get("finalizers"):
            self.store.remove(R.PODS, md["name"], md["namespace"])
        self._runs.pop(md["uid"], None)

    # --- DaemonSet controller -----------------------------------------------------------

    def _reconcile_ds(self, namespace: str, name: str) -> None:
        ds = self.store.ref(R.DAEMONSETS, name, namespace)
        if ds is None or not self.daemonsets_enabled:
            return
        md, spec = ds["metadata"], ds.get("spec") or {}
        template = spec.get("template") or {}
        pod_spec = template.get("spec") or {}
        owned: list[Obj] = []
        for pod in self.store.snapshot(R.PODS, namespace)[1]:
            ref = controller_ref(pod)
            if ref is not None:
                if ref.get("uid") == md["uid"]:
                    owned.append(pod)
            elif not _deleting(ds) and not _deleting(pod) and match_label_selector_object(spec.get("selector"), _md(pod).get("labels") or {}):
                adopted = copy.deepcopy(pod)
                adopted["metadata"].setdefault("ownerReferences", []).append(self._owner_ref(ds))
                owned.append(self.store.replace(adopted))
        if _deleting(ds):
            return
        eligible = sorted(n["metadata"]["name"] for n in self.store.snapshot(R.NODES)[1] if fits(pod_spec, n))
        live = [p for p in owned if not _deleting(p)]
        on_node = {p["spec"].get("nodeName") for p in live}
        for node in eligible:
            if node not in on_node:
                live.append(self._create_ds_pod(ds, node))
        for pod in live:
            if pod["spec"].get("nodeName") not in eligible:
                try:
                    self.registry.delete(R.PODS, namespace, pod["metadata"]["name"])
                except StatusError:
                    pass
        live = [p for p in live if p["spec"].get("nodeName") in eligible]
        ready = sum(1 for p in live if any(c.get("type") == "Ready" and c.get("status") == "True" for c in (p.get("status") or {}).get("conditions") or []))
        status = {
            "currentNumberScheduled": len(live),
            "desiredNumberScheduled": len(eligible),
            "numberMisscheduled": 0,
            "numberReady": ready,
            "numberAvailable": ready,
            "updatedNumberScheduled": len(live),
            "observedGeneration": md.get("generation", 1),
        }
        if len(eligible) - ready > 0:
            status["numberUnavailable"] = len(eligible) - ready
        cur = self.store.ref(R.DAEMONSETS, name, namespace)
        if cur is not None and cur.get("status") != status:
            new = copy.deepcopy(cur)
            new["status"] = status
            self.store.replace(new)

    @staticmethod
    def _owner_ref(ds: Obj) -> dict[str, Any]:
        return {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "name": ds["metadata"]["name"],
            "uid": ds["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }

    def _create_ds_pod(self, ds: Obj, node: str) -> Obj:
        template = copy.deepcopy((ds.get("spec") or {}).get("template") or {})
        tmd = template.get("metadata") or {}
        ds_name = ds["metadata"]["name"]
        labels = dict(tmd.get("labels") or {})
        labels["pod-template-generation"] = str(ds["metadata"].get("generation", 1))
        pod: Obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "generateName": f"{ds_name}-",
                "namespace": ds["metadata"]["namespace"],
                "labels": labels,
                "ownerReferences": [self._owner_ref(ds)],
            },
            "spec": {**(template.get("spec") or {}), "nodeName": node},
        }
        if tmd.get("annotations"):
            pod["metadata"]["annotations"] = tmd["annotations"]
        return self.registry.create(R.PODS, ds["metadata"]["namespace"], pod)

    # --- garbage collector ---------------------------------------------------------------

    def _collect_garbage(self, ev: Event) -> None:
        obj, md = ev.object, _md(ev.object)
        if ev.type == "DELETED":
            uid = md.get("uid", "")
            for rtype, dep in self.registry.dependents(uid):
                self._drop_owner(rtype, dep, uid)
            for ref in md.get("ownerReferences") or []:
                self._maybe_finish_foreground(ref, md.get("namespace"))
        elif FOREGROUND in (md.get("finalizers") or []) and md.get("deletionTimestamp"):
            deps = self.registry.dependents(md["uid"])
            for rtype, dep in deps:
                if not _deleting(dep):
                    self._delete_quietly(rtype, dep)
            if not deps:
                self.registry.remove_finalizer(ev.resource, obj, FOREGROUND)

    def _drop_owner(self, rtype: R.ResourceType, dep: Obj, uid: str) -> None:
        others = [u for u in owner_uids(dep) if u != uid and self.store.find_uid(u) is not None]
        if others:
            new = copy.deepcopy(dep)
            new["metadata"]["ownerReferences"] = [r for r in new["metadata"]["ownerReferences"] if r.get("uid") != uid]
            self.store.replace(new)
        elif not _deleting(dep):
            self._delete_quietly(rtype, dep)

    def _delete_quietly(self, rtype: R.ResourceType, obj: Obj) -> None:
        try:
            self.registry.delete(rtype, obj["metadata"].get("namespace"), obj["metadata"]["name"], propagation="Background")
        except StatusError:
            pass  # already gone

    def _maybe_finish_foreground(self, ref: dict[str, Any], namespace: str | None) -> None:
        """A dependent is gone: finish its owner's foreground deletion if it was the last one."""
        try:
            rtype = R.for_object({"kind": ref.get("kind"), "apiVersion": ref.get("apiVersion", "")})
        except KeyError:
            return
        owner = self.store.ref(rtype, ref.get("name", ""), namespace)
        if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
            return
        if FOREGROUND in (_md(owner).get("finalizers") or []) and not self.registry.dependents(ref["uid"]):
            self.registry.remove_finalizer(rtype, owner, FOREGROUND)

    # --- namespace controller ---------------------------------------------------------------

    def _finalize_namespace(self, name: str) -> None:
        if name not in self._finalizing_ns:
            self._finalizing_ns.add(name)
            self._spawn(self._empty_namespace(name))

    async def _empty_namespace(self, name: str) -> None:
        await asyncio.sleep(self.namespace_delay)
        while True:
            remaining = 0
            for rtype in R.STORED:
                if not rtype.namespaced:
                    continue
                for obj in self.store.snapshot(rtype, name)[1]:
                    remaining += 1
                    if not _deleting(obj):
                        self._delete_quietly(rtype, obj)
            if not remaining:
                break
            await asyncio.sleep(0.02)
        try:
            self.store.remove(R.NAMESPACES, name)
        except StatusError:
            pass
        self._finalizing_ns.discard(name)
