"""Live names for TAB completion: the Ready nodes or peers, as kgctl offers them.

A completion request is a whole process started per TAB, so this path stays
small: the stdlib client, one list call, no ``kubernetes`` import, and a short
timeout. A failing cluster must never break the user's shell, so every error
yields no names.
"""

from __future__ import annotations

import click

# A TAB press that waits longer than this feels broken; give up and offer nothing.
COMPLETION_TIMEOUT = 2.0


def ready_names(ctx: click.Context, kind: str) -> list[str]:
    """Names of the Ready nodes (``kind="node"``) or peers (``"peer"``), in list order."""
    try:
        return _ready_names(ctx, kind)
    except BaseException:  # noqa: BLE001  (completion must never raise, not even on ^C)
        return []


def _ready_names(ctx: click.Context, kind: str) -> list[str]:
    from kgctl_py.cli import settings
    from kgctl_py.mesh.cluster import Cluster

    s = settings(ctx)
    if s.snapshot == "-":
        # stdin belongs to the shell during completion.
        return []
    from kgctl_py import sources

    want = sources.NODE_NAMES if kind == "node" else sources.PEER_NAMES
    objects = sources.load(s, want, timeout=min(s.request_timeout, COMPLETION_TIMEOUT))
    if kind == "node":
        cluster = Cluster.from_objects(objects.nodes, [], s.topology_label)
        return [n.name for n in cluster.nodes if n.ready(objects.now)]
    if kind == "peer":
        # Without the Peer CRD the list fails, which means no names, as in kgctl.
        cluster = Cluster.from_objects([], objects.peers, s.topology_label)
        return [p.name for p in cluster.peers if p.ready()]
    return []


def member_names(ctx: click.Context) -> list[str]:
    """Names of every node, then every peer (ready or not): what ``status`` shows."""
    try:
        from kgctl_py import sources
        from kgctl_py.cli import settings
        from kgctl_py.mesh.cluster import Cluster

        s = settings(ctx)
        if s.snapshot == "-":
            return []
        timeout = min(s.request_timeout, COMPLETION_TIMEOUT)
        nodes = sources.load(s, sources.NODE_NAMES, timeout=timeout).nodes
        try:
            peers = sources.load(s, sources.PEER_NAMES, timeout=timeout).peers
        except Exception:  # noqa: BLE001  (no Peer CRD: node names only)
            peers = []
        cluster = Cluster.from_objects(nodes, peers, s.topology_label)
        names = [n.name for n in cluster.nodes] + [p.name for p in cluster.peers] + [p.name for p in cluster.invalid_peers]
        return [n for n in dict.fromkeys(names) if n]
    except BaseException:  # noqa: BLE001  (completion must never raise, not even on ^C)
        return []


def context_names(kubeconfig: str | None) -> list[str]:
    """The kubeconfig's context names (``--kubeconfig``, else KUBECONFIG merged), first definition wins."""
    try:
        import yaml

        from kgctl_py.kube.kubeconfig import kubeconfig_paths

        names: list[str] = []
        for path in kubeconfig_paths(kubeconfig):
            try:
                with open(path, "rb") as f:
                    data = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            except OSError:
                continue
            for entry in (data or {}).get("contexts") or [] if isinstance(data, dict) else []:
                name = entry.get("name") if isinstance(entry, dict) else None
                if isinstance(name, str) and name not in names:
                    names.append(name)
        return names
    except BaseException:  # noqa: BLE001  (completion must never raise)
        return []


def check_ids(incomplete: str) -> list[tuple[str, str]]:
    """doctor's check ids with their titles, then one ``category.*`` glob per category."""
    try:
        from kgctl_py.doctor.registry import CHECKS

        items = [(c.id, c.title) for c in CHECKS]
        # Report order, categories as they first appear.
        categories = list(dict.fromkeys(c.category for c in CHECKS))
        items += [(f"{cat}.*", f"every {cat} check") for cat in categories]
        return [(value, title) for value, title in items if value.startswith(incomplete)]
    except BaseException:  # noqa: BLE001  (completion must never raise)
        return []
