"""The Kilo agent's flags, read from the Kilo DaemonSet's container args.

``kg`` parses its flags with pflag: ``--flag value`` or ``--flag=value``;
``--service-cidr`` may repeat and takes comma lists.
"""

from __future__ import annotations

from typing import Any

from kgctl_py.doctor.k3s import flag_values, raw_flag_values
from kgctl_py.record import field, record

KILO_LABEL = ("app.kubernetes.io/name", "kilo")

# kg's defaults (cmd/kg/main.go, pkg/mesh, pkg/wireguard).
DEFAULT_GRANULARITY = "location"
DEFAULT_PORT = 51820
DEFAULT_MTU = 1420


@record
class AgentFlags:
    daemonset: str  # namespace/name
    container: str
    args: list[str]
    granularity: str | None = None
    port: str | None = None
    subnet: str | None = None
    mtu: str | None = None
    service_cidrs: list[str] = field(default_factory=list)
    internal_cidrs: list[str] = field(default_factory=list)
    topology_label: str | None = None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def is_kilo(ds: dict[str, Any]) -> bool:
    meta = _dict(ds.get("metadata"))
    labels = _dict(meta.get("labels"))
    if labels.get(KILO_LABEL[0]) == KILO_LABEL[1]:
        return True
    return meta.get("name") == "kilo"


def _last(args: list[str], flag: str) -> str | None:
    values = raw_flag_values(args, flag)
    return values[-1] if values else None


def _kg_container(ds: dict[str, Any]) -> tuple[str, list[str]] | None:
    spec = _dict(_dict(_dict(ds.get("spec")).get("template")).get("spec"))
    containers = spec.get("containers")
    found = None
    for c in containers if isinstance(containers, list) else []:
        if not isinstance(c, dict):
            continue
        parts = [v for v in (c.get("command"), c.get("args")) if isinstance(v, list)]
        argv = [a for part in parts for a in part if isinstance(a, str)]
        name = str(c.get("name") or "")
        image = str(c.get("image") or "")
        # The container that runs kg: named kilo, a kilo image, or a kg command.
        if name == "kilo" or "kilo" in image or any(a.endswith("/kg") or a == "kg" for a in argv[:1]):
            return name, argv
        if found is None:
            found = (name, argv)
    return found


def flags(daemonsets: list[dict[str, Any]] | None) -> AgentFlags | None:
    """The first Kilo DaemonSet's kg flags, or None when there is none."""
    for ds in daemonsets or []:
        if not isinstance(ds, dict) or not is_kilo(ds):
            continue
        found = _kg_container(ds)
        if found is None:
            continue
        name, argv = found
        meta = _dict(ds.get("metadata"))
        split = flag_values(argv, "--service-cidr")
        internal = flag_values(argv, "--internal-cidr")
        return AgentFlags(
            daemonset=f"{meta.get('namespace', '')}/{meta.get('name', '')}",
            container=name,
            args=argv,
            granularity=_last(argv, "--mesh-granularity"),
            port=_last(argv, "--port"),
            subnet=_last(argv, "--subnet"),
            mtu=_last(argv, "--mtu"),
            service_cidrs=split,
            internal_cidrs=internal,
            topology_label=_last(argv, "--topology-label"),
        )
    return None
