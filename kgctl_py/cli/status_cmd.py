"""``kgctl-py status``: every Node and Peer, kubectl-style, and why kgctl leaves some out."""

from __future__ import annotations

import json
from typing import Any

import click

from kgctl_py.cli import CompletingChoice, environment, global_options, settings, validate_globals
from kgctl_py.environment import visible
from kgctl_py.errors import CliError, ExitCode

STATUS_FORMATS = ("table", "wide", "json", "yaml")
NONE = "<none>"


def _complete_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    from kgctl_py.cli.completion import member_names

    return [n for n in member_names(ctx) if n.startswith(incomplete)]


def age(seconds: int | None) -> str:
    """kubectl's short age: 45s, 3m20s, 5h10m, 2d3h."""
    if seconds is None:
        return "never"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 120:
        text = f"{seconds}s"
    elif seconds < 3600:
        text = f"{seconds // 60}m{seconds % 60}s" if seconds % 60 else f"{seconds // 60}m"
    elif seconds < 86400:
        text = f"{seconds // 3600}h{seconds % 3600 // 60}m"
    else:
        text = f"{seconds // 86400}d{seconds % 86400 // 3600}h"
    return sign + text


def _cells(row: Any, wide: bool) -> list[str]:
    is_node = row.kind == "node"
    wg = row.wireguard_ip if is_node else ",".join(row.allowed_ips)
    cells = [
        row.name or '""',
        row.kind,
        (row.location or NONE) if is_node else "-",
        ("yes" if row.leader else "no") if is_node else "-",
        row.endpoint or NONE,
        wg or NONE,
        (row.pod_cidr or NONE) if is_node else "-",
        age(row.age) if is_node else "-",
        "yes" if row.in_mesh else "no",
        "; ".join(row.reasons) or "-",
    ]
    if wide:
        cells[9:9] = [
            (row.internal_ip or NONE) if is_node else "-",
            str(row.keepalive) if row.keepalive else "0",
            (row.granularity or NONE) if is_node else "-",
            row.leader_reason or "-",
        ]
    return cells


def table(rows: list[Any], wide: bool) -> str:
    head = ["NAME", "KIND", "LOCATION", "LEADER", "ENDPOINT", "WIREGUARD-IP", "POD-CIDR", "LAST-SEEN", "IN-MESH", "WHY-NOT"]
    if wide:
        head[9:9] = ["INTERNAL-IP", "KEEPALIVE", "GRANULARITY", "ELECTED-BY"]
    lines = [head] + [[visible(c) for c in _cells(r, wide)] for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    # kubectl pads with three spaces; the last column is not padded.
    return "".join("   ".join(c.ljust(w) for c, w in zip(line[:-1], widths)) + "   " + line[-1] + "\n" for line in lines)


def item(row: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": row.name, "type": row.kind}
    if row.kind == "node":
        out.update(
            location=row.location,
            leader=row.leader,
            electedBy=row.leader_reason or None,
            endpoint=row.endpoint or None,
            wireguardIP=row.wireguard_ip or None,
            podCIDR=row.pod_cidr or None,
            internalIP=row.internal_ip or None,
            lastSeen=row.last_seen or None,
            lastSeenAgeSeconds=row.age,
            persistentKeepalive=row.keepalive,
            granularity=row.granularity or None,
        )
    else:
        out.update(endpoint=row.endpoint or None, allowedIPs=row.allowed_ips, persistentKeepalive=row.keepalive)
    out.update(inMesh=row.in_mesh, reasons=row.reasons)
    return out


@click.command("status")
@click.argument("name", required=False, shell_complete=_complete_names)
@click.option(
    "-o",
    "--output",
    "fmt",
    metavar="FORMAT",
    type=CompletingChoice(STATUS_FORMATS),
    default="table",
    show_default=True,
    help="table, wide (more columns), json or yaml.",
)
@global_options
@click.pass_context
def status(ctx: click.Context, name: str | None, fmt: str) -> None:
    """Show every node and peer: location, leader, endpoint, WireGuard IP, pod
    CIDR, last-seen age, and whether kgctl meshes it, and if not, why.

    With NAME, only the node or peer of that name (exit status 1 if there is
    none). The reasons are those of doctor's kilo.hidden check. Readiness is
    judged like graph's: now, or a snapshot's capture time, or --now.
    """
    if fmt not in STATUS_FORMATS:
        raise CliError(f"output format {fmt} unknown; possible values are: {', '.join(STATUS_FORMATS)}", ExitCode.USAGE)
    s = settings(ctx)
    validate_globals(s)
    from kgctl_py.cli.commands import _options, load_cluster
    from kgctl_py.mesh.status import status as build

    cluster, now = load_cluster(s, need_peers=False)
    result = build(cluster, _options(s), now)
    rows = result.rows
    if name is not None:
        rows = [r for r in rows if r.name == name]
        if not rows:
            from kgctl_py.mesh.cluster import go_quote

            raise CliError(f"did not find any node or peer named {go_quote(name)} in the cluster", ExitCode.FAILURE)
    if fmt in ("table", "wide"):
        text = table(rows, fmt == "wide")
        if result.topology_error and name is None:
            text += f"no leaders: {result.topology_error}\n"
    else:
        items = [item(r) for r in rows]
        doc: Any = {"apiVersion": "kgctl-py.squat.ai/v1", "kind": "StatusList", "now": now, "items": items}
        if name is not None and len(items) == 1:
            doc = {"apiVersion": "kgctl-py.squat.ai/v1", "kind": "Status", "now": now, **items[0]}
        if result.topology_error:
            doc["topologyError"] = result.topology_error
        if fmt == "json":
            text = json.dumps(doc, indent=2) + "\n"
        else:
            from kgctl_py.snapshot import dump_yaml

            text = dump_yaml(doc)
    environment(ctx).write(text)
