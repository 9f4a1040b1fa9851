"""``showconf --as-peer -o json|yaml``: a ``kilo.squat.ai/v1alpha1`` Peer.

Same fields, order and indentation as kgctl's serializer, with three of its
bugs fixed so that the object passes Kilo's own validation when applied:
the keepalive is in seconds (kgctl: nanoseconds), a missing endpoint is
omitted (kgctl: ``ip: <nil>``), and a DNS endpoint carries the host name in
``dns`` (kgctl: the port, and ``ip: <nil>``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from kgctl_py.mesh.ipnet import ip_str
from kgctl_py.mesh.key import ZERO_KEY, key_str
from kgctl_py.mesh.model import duration_seconds
from kgctl_py.mesh.topology import NIL_NET, WireGuardPeer

API_VERSION = "kilo.squat.ai/v1alpha1"


def peer_manifest(name: str, peer: WireGuardPeer) -> dict[str, Any]:
    """The Peer object, with keys in kgctl's (Go struct) order."""
    spec: dict[str, Any] = {
        # kgctl skips the placeholder of an exhausted WireGuard subnet.
        "allowedIPs": [str(ip) for ip in peer.allowed_ips if ip is not NIL_NET] or None,
    }
    endpoint = peer.endpoint
    if endpoint is not None and (endpoint.dns is not None or endpoint.ip is not None):
        dns_or_ip = {"dns": endpoint.dns} if endpoint.dns is not None else {"ip": ip_str(endpoint.ip)}  # type: ignore[arg-type]
        spec["endpoint"] = {"dnsOrIP": dns_or_ip, "port": endpoint.port}
    keepalive = duration_seconds(peer.keepalive_ns or 0)
    if keepalive > 0:
        spec["persistentKeepalive"] = keepalive
    if peer.preshared_key is not None:
        spec["presharedKey"] = key_str(peer.preshared_key)
    spec["publicKey"] = key_str(peer.public_key) if peer.public_key not in (None, ZERO_KEY) else ""
    return {"kind": "Peer", "apiVersion": API_VERSION, "metadata": {"name": name}, "spec": spec}


_GO_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def to_json(obj: dict[str, Any]) -> str:
    """Go's indented ``encoding/json`` output (HTML-safe escapes, no final newline)."""
    text = json.dumps(obj, indent=2, ensure_ascii=False)
    for char, escape in _GO_JSON_ESCAPES.items():
        text = text.replace(char, escape)
    return text


# go-yaml v2 (behind sigs.k8s.io/yaml) double-quotes a string that would read
# back as another type; PyYAML single-quotes some of those and misses others
# ("1e3", "y"), so the decision is made here the way go-yaml makes it.
_GO_YAML_WORDS = frozenset(
    "y Y yes Yes YES true True TRUE on On ON n N no No NO false False FALSE off Off OFF "
    "~ null Null NULL .nan .NaN .NAN .inf .Inf .INF +.inf +.Inf +.INF -.inf -.Inf -.INF <<".split()
)
_GO_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_GO_YAML_BASE60 = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?\Z")
_GO_YAML_DATE = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ]|\Z)")
_GO_INT = re.compile(r"[-+]?(0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|[0-9]+)\Z")


def go_yaml_quotes(text: str) -> bool:
    """Whether go-yaml v2 would emit ``text`` double-quoted."""
    if text == "" or text in _GO_YAML_WORDS:
        return True
    first = text[0]
    if first.isdigit() or first in "+-.":
        plain = text.replace("_", "")
        if _GO_YAML_DATE.match(text) or _GO_INT.match(plain) or _GO_YAML_FLOAT.match(plain) or _GO_YAML_BASE60.match(text):
            return True
    return False


def to_yaml(obj: dict[str, Any]) -> str:
    """sigs.k8s.io/yaml output: block style, keys sorted, go-yaml's quoting."""
    import yaml  # only this output format needs it

    class Dumper(yaml.SafeDumper):
        pass

    def represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = '"' if go_yaml_quotes(value) else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, represent_str)
    return yaml.dump(obj, Dumper=Dumper, default_flow_style=False, sort_keys=True, allow_unicode=True, width=1 << 30)
