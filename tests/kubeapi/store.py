"""A thread-safe object store with resource versions and an event history.

Stored objects are never modified in place: every write stores a fresh dict.
That makes old states cheap to keep (for watches from a resourceVersion and for
consistent paging) and lets the server serialise stored objects without copying.
Public methods hand out deep copies, so tests cannot corrupt the store.
"""

from __future__ import annotations

import builtins
import collections
import copy
import datetime as dt
import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from . import defaults, resources
from .errors import StatusError
from .patch import merge_patch
from .resources import ResourceType
from .selectors import parse

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (namespace or "", name): the order lists come out in, like etcd keys
Objects = list[dict[str, Any]]  # an alias, because Store.list shadows the builtin in the class body


def now_rfc3339() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Event:
    """One change. ``object`` is the new state; for DELETED the last state stamped with the deletion's rv."""

    rv: int
    type: str  # ADDED, MODIFIED or DELETED
    resource: ResourceType
    object: dict[str, Any]
    old: dict[str, Any] | None


Listener = Callable[[Event], None]


def _key(obj: dict[str, Any]) -> Key:
    md = obj["metadata"]
    return (md.get("namespace") or "", md["name"])


def _with_rv(obj: dict[str, Any], rv: int) -> dict[str, Any]:
    out = dict(obj)
    out["metadata"] = {**obj["metadata"], "resourceVersion": str(rv)}
    return out


class Store:
    """Objects by resource type; every mutation bumps the resource version and emits an :class:`Event`.

    ``kind`` arguments accept ``"Node"``, ``"nodes"``, ``"no"``, ``"daemonsets.apps"``, ... (see
    :func:`resources.lookup`); ``namespace`` is ignored for cluster-scoped kinds and defaults to
    ``"default"`` for namespaced ones on writes.
    """

    def __init__(self, *, history: int = 10_000, start_rv: int = 1000):
        self._lock = threading.RLock()
        self._data: dict[str, dict[Key, dict[str, Any]]] = {r.key: {} for r in resources.STORED}
        self._rv = start_rv
        self._history: collections.deque[Event] = collections.deque(maxlen=history)
        self._oldest_rv = start_rv  # events after this rv are all still in _history
        self._listeners: builtins.list[Listener] = []
        # Indexes for the garbage collector: uid -> where the object is; owner uid -> dependents.
        self._types = {r.key: r for r in resources.STORED}
        self._by_uid: dict[str, tuple[str, Key]] = {}
        self._by_owner: dict[str, set[tuple[str, Key]]] = {}

    # --- public, test-friendly API (deep copies in and out) ---------------------

    @property
    def rv(self) -> int:
        """The current resource version."""
        with self._lock:
            return self._rv

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        obj = self.ref(resources.lookup(kind), name, namespace)
        # Stored objects are immutable, so copying needs no lock (and does not hold up the server).
        return copy.deepcopy(obj) if obj is not None else None

    def list(
        self,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Objects:
        match = parse(label_selector, field_selector)
        _, items = self.snapshot(resources.lookup(kind), namespace)
        return [copy.deepcopy(o) for o in items if match(o)]

    def objects(self, kind: str | None = None) -> Objects:
        """All objects (of one kind, if given), sorted by kind then namespace/name."""
        types = [resources.lookup(kind)] if kind else builtins.list(resources.STORED)
        with self._lock:
            items = [o for r in types for _, o in sorted(self._data[r.key].items())]
        return [copy.deepcopy(o) for o in items]

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(self.put_new(obj))

    def update(self, obj: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(self.replace(obj))

    def patch(self, kind: str, name: str, patch: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        """Apply a JSON merge patch (``None`` values delete keys)."""
        rtype = resources.lookup(kind)
        with self._lock:
            cur = self.ref(rtype, name, namespace)
            if cur is None:
                raise StatusError.not_found(rtype.group, rtype.plural, name)
            new = self.replace(merge_patch(cur, patch))
        return copy.deepcopy(new)

    def delete(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        """Remove an object at once (no finalizers, no graceful deletion) and return its last state."""
        return copy.deepcopy(self.remove(resources.lookup(kind), name, namespace))

    # --- internal API used by the server (no copies: treat results as read-only) -------

    @staticmethod
    def _ns(rtype: ResourceType, namespace: str | None) -> str:
        return (namespace or "default") if rtype.namespaced else ""

    def ref(self, rtype: ResourceType, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        with self._lock:
            return self._data[rtype.key].get((self._ns(rtype, namespace), name))

    def snapshot(self, rtype: ResourceType, namespace: str | None = None, at_rv: int | None = None) -> tuple[int, Objects]:
        """``(rv, objects)`` sorted like etcd keys; ``at_rv`` rebuilds an older state from the history
        (410 Expired when it is no longer there, as when etcd has compacted it)."""
        with self._lock:
            data = dict(self._data[rtype.key])
            rv = self._rv
            if at_rv is not None and at_rv < rv:
                if at_rv < self._oldest_rv:
                    raise StatusError.gone(
                        "The provided continue parameter is too old to display a consistent list result. "
                        "You can start a new list without the continue parameter."
                    )
                for ev in reversed(self._history):
                    if ev.rv <= at_rv:
                        break
                    if ev.resource is not rtype:
                        continue
                    if ev.type == "ADDED":
                        data.pop(_key(ev.object), None)
                    elif ev.old is not None:
                        data[_key(ev.old)] = ev.old
                rv = at_rv
        items = [o for k, o in sorted(data.items()) if namespace is None or not rtype.namespaced or k[0] == namespace]
        return rv, items

    def values(self, rtype: ResourceType) -> Objects:
        """All objects of a type in no particular order (cheaper than :meth:`snapshot`)."""
        with self._lock:
            return list(self._data[rtype.key].values())

    def find_uid(self, uid: str) -> tuple[ResourceType, dict[str, Any]] | None:
        with self._lock:
            where = self._by_uid.get(uid)
            return (self._types[where[0]], self._data[where[0]][where[1]]) if where else None

    def dependents(self, owner_uid: str) -> builtins.list[tuple[ResourceType, dict[str, Any]]]:
        """Objects with an ownerReference to ``owner_uid``."""
        with self._lock:
            return [(self._types[rkey], self._data[rkey][key]) for rkey, key in sorted(self._by_owner.get(owner_uid, ()))]

    def _index(self, rtype: ResourceType, obj: dict[str, Any], add: bool) -> None:
        md = obj["metadata"]
        where = (rtype.key, _key(obj))
        if add:
            self._by_uid[md["uid"]] = where
        elif self._by_uid.get(md["uid"]) == where:
            del self._by_uid[md["uid"]]
        for ref in md.get("ownerReferences") or []:
            owner = ref.get("uid") if isinstance(ref, dict) else None
            if not owner:
                continue
            deps = self._by_owner.setdefault(owner, set())
            if add:
                deps.add(where)
            else:
                deps.discard(where)
                if not deps:
                    del self._by_owner[owner]

    def events_since(self, rv: int) -> builtins.list[Event]:
        """Events after ``rv``; 410 if some of them have been dropped from the history."""
        with self._lock:
            if rv < self._oldest_rv:
                raise StatusError.gone(f"too old resource version: {rv} ({self._oldest_rv + 1})")
            return [ev for ev in self._history if ev.rv > rv]

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every later change, under the store lock (keep it quick)."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    @property
    def lock(self) -> threading.RLock:
        """Hold it to read several things atomically, or to subscribe right after a snapshot."""
        return self._lock

    def put_new(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Store a new object (callers' dicts are copied: they may share parts with stored ones)."""
        obj = copy.deepcopy(obj)
        rtype = resources.for_object(obj) if obj.get("apiVersion") else resources.lookup(str(obj.get("kind", "")))
        md = obj.setdefault("metadata", {})
        if not md.get("name"):
            raise StatusError.invalid(rtype.kind, "", "metadata.name: Required value: name or generateName is required")
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        if rtype.namespaced:
            md["namespace"] = md.get("namespace") or "default"
        else:
            md.pop("namespace", None)
        md.setdefault("uid", str(uuid.uuid4()))
        md.setdefault("creationTimestamp", now_rfc3339())
        md.setdefault("generation", 1)
        defaults.apply(rtype, obj)
        with self._lock:
            table = self._data[rtype.key]
            key = _key(obj)
            if key in table:
                raise StatusError.already_exists(rtype.group, rtype.plural, md["name"])
            new = _with_rv(obj, self._rv + 1)
            table[key] = new
            self._emit("ADDED", rtype, new, None)
            return new

    def replace(self, obj: dict[str, Any], *, check_rv: bool = False) -> dict[str, Any]:
        """Replace an existing object; a write that changes nothing keeps the old resourceVersion."""
        obj = copy.deepcopy(obj)
        rtype = resources.for_object(obj) if obj.get("apiVersion") else resources.lookup(str(obj.get("kind", "")))
        md = obj.setdefault("metadata", {})
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        if not rtype.namespaced:
            md.pop("namespace", None)
        elif not md.get("namespace"):
            md["namespace"] = "default"
        defaults.apply(rtype, obj)
        with self._lock:
            table = self._data[rtype.key]
            key = _key(obj)
            cur = table.get(key)
            if cur is None:
                raise StatusError.not_found(rtype.group, rtype.plural, md.get("name", ""))
            if check_rv and md.get("resourceVersion") and md["resourceVersion"] != cur["metadata"]["resourceVersion"]:
                raise StatusError.conflict(rtype.group, rtype.plural, md["name"])
            old_md = cur["metadata"]
            for field in ("uid", "creationTimestamp"):
                md[field] = old_md.get(field)
            generation = int(old_md.get("generation") or 1)
            if obj.get("spec") != cur.get("spec"):
                generation += 1
            md["generation"] = generation
            new = _with_rv(obj, self._rv + 1)
            if {k: v for k, v in new.items() if k != "metadata"} == {k: v for k, v in cur.items() if k != "metadata"} and {
                k: v for k, v in new["metadata"].items() if k != "resourceVersion"
            } == {k: v for k, v in old_md.items() if k != "resourceVersion"}:
                return cur  # a no-op write keeps the resourceVersion, like the apiserver
            table[key] = new
            self._emit("MODIFIED", rtype, new, cur)
            return new

    def remove(self, rtype: ResourceType, name: str, namespace: str | None = None) -> dict[str, Any]:
        with self._lock:
            key = (self._ns(rtype, namespace), name)
            cur = self._data[rtype.key].pop(key, None)
            if cur is None:
                raise StatusError.not_found(rtype.group, rtype.plural, name)
            gone = _with_rv(cur, self._rv + 1)
            self._emit("DELETED", rtype, gone, cur)
            return gone

    def seed(self, objects: Iterable[dict[str, Any]]) -> None:
        for obj in objects:
            self.create(obj)

    def _emit(self, type_: str, rtype: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        self._rv += 1
        if old is not None:
            self._index(rtype, old, add=False)
        if type_ != "DELETED":
            self._index(rtype, obj, add=True)
        ev = Event(self._rv, type_, rtype, obj, old)
        if len(self._history) == self._history.maxlen:
            self._oldest_rv = self._history[0].rv
        self._history.append(ev)
        for listener in list(self._listeners):
            try:
                listener(ev)
            except Exception:  # a broken watcher must not break writers
                log.exception("store listener failed")
