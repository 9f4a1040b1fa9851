"""Hypothesis strategies for hostile Kilo inputs: Node and Peer objects as a
broken or malicious cluster (or a hand-edited snapshot) might hand them to us.

Every ``kilo.squat.ai/*`` annotation gets either a value Kilo accepts or
garbage: invalid, IPv6 and huge CIDRs, keys of the wrong length, bad JSON in
discovered-endpoints, negative or huge keepalives, unicode (and lone
surrogate) names, missing or mistyped metadata and specs, duplicate names.
Sane values are mixed in on purpose: a cluster with no ready node only ever
reaches "did not find any valid Kilo nodes", and the topology code would go
untested.

Profiles (``HYPOTHESIS_PROFILE``): ``kgctl-ci`` (the default, 2,000 examples
per test), ``kgctl-quick`` (200, for editing), ``kgctl-fuzz`` (long local runs,
see tests/fuzz/).
"""

from __future__ import annotations

import base64
import functools
import json
import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from kgctl_py.mesh import annotations as ann

# The time every generated cluster is judged at; fresh nodes are seen just before it.
NOW = 1_760_000_000

_COMMON = dict(
    deadline=None,
    database=None,  # leave nothing behind in the work tree
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.register_profile("kgctl-ci", max_examples=2000, **_COMMON)
settings.register_profile("kgctl-quick", max_examples=200, **_COMMON)
settings.register_profile("kgctl-fuzz", max_examples=5_000, **_COMMON)  # per round; tests/fuzz/ repeats rounds


def profile(properties: bool = False) -> settings:
    """The settings the hostile tests run with (``HYPOTHESIS_PROFILE`` picks another).

    The order properties run every case twice over, so in CI they get a
    quarter of the examples; the strategies themselves get the full 2,000
    in the never-crash tests.
    """
    base = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "kgctl-ci"))
    if properties and base.max_examples <= 2000:
        return settings(base, max_examples=max(100, base.max_examples // 4))
    return base


# --- small values ---------------------------------------------------------------

GARBAGE_TEXT = [
    "",
    " ",
    "-",
    "null",
    "{}",
    "[]",
    "0",
    "-1",
    "\x00",
    "\ud800",
    "é",
    "😀",
    "\n",
    "a" * 300,
    "1e9",
    "0x10",
    "+5",
    "９",
    "NaN",
    "<nil>",
    '"',
    "\\",
    "%",
    "10.0.0.1%eth0",
]

KEYS_OK = [base64.b64encode(bytes([i]) * 32).decode() for i in range(1, 7)]
ZERO = base64.b64encode(bytes(32)).decode()
KEYS_BAD = [
    ZERO,
    base64.b64encode(b"x" * 31).decode(),
    base64.b64encode(b"x" * 33).decode(),
    base64.b64encode(b"x" * 64).decode(),
    KEYS_OK[0][:-1],
    KEYS_OK[0] + "=",
    KEYS_OK[0].replace("=", ""),
    KEYS_OK[0][:20] + "\n" + KEYS_OK[0][20:],  # Go's decoder skips newlines
    "not base64 at all!",
    base64.urlsafe_b64encode(b"\xfb" * 32).decode(),
]


@functools.cache
def garbage() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(GARBAGE_TEXT), st.text(max_size=12))


@functools.cache
def ipv4() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(["10.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "203.0.113.7", "198.51.100.9", "0.0.0.0", "255.255.255.255"]),
        st.ip_addresses(v=4).map(str),
    )


@functools.cache
def ipv6() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(["fd00::1", "fd01::1", "2001:db8::1", "::", "::1", "::ffff:198.51.100.3", "fe80::1"]),
        st.ip_addresses(v=6).map(str),
    )


@functools.cache
def ip() -> st.SearchStrategy[str]:
    return st.one_of(ipv4(), ipv6())


@functools.cache
def cidr() -> st.SearchStrategy[str]:
    """Valid, IPv6, huge (/0, /1) and broken CIDRs."""
    v4 = st.tuples(ipv4(), st.integers(0, 32)).map(lambda t: f"{t[0]}/{t[1]}")
    v6 = st.tuples(ipv6(), st.integers(0, 128)).map(lambda t: f"{t[0]}/{t[1]}")
    broken = st.sampled_from(
        [
            "10.0.0.0/33",
            "10.0.0.0/-1",
            "10.0.0.0/",
            "10.0.0.0",
            "/24",
            "10.0.0.0/0x18",
            "10.0.0.0/ 24",
            " 10.0.0.0/24",
            "10.0.0.0/024",
            "::/129",
            "0.0.0.0/0",
            "::/0",
            "10.0.0.0/1000000000000",
            "fe80::1%eth0/64",
            "1.2.3.4/32/32",
        ]
    )
    return st.one_of(v4, v6, broken, garbage())


@functools.cache
def endpoint() -> st.SearchStrategy[str]:
    port = st.one_of(st.just(51820), st.integers(-5, 70000))
    host = st.one_of(ipv4(), ipv6().map(lambda h: f"[{h}]"), ipv6(), st.sampled_from(["vpn.example.com", "Vpn.Example.com", "a..b", "x" * 260, "-bad"]))
    return st.one_of(st.tuples(host, port).map(lambda t: f"{t[0]}:{t[1]}"), garbage())


@functools.cache
def key() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(KEYS_OK), st.sampled_from(KEYS_BAD), garbage())


@functools.cache
def discovered_endpoints() -> st.SearchStrategy[str]:
    entry = st.one_of(
        st.none(),
        st.fixed_dictionaries({"IP": ip(), "Port": st.integers(-1, 1 << 64), "Zone": st.just("")}),
        st.fixed_dictionaries({"ip": st.one_of(ip(), st.integers(), st.none()), "port": st.one_of(st.integers(), st.text(max_size=3), st.floats())}),
        st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=5), st.none()), max_size=3),
        st.integers(),
        st.text(max_size=5),
    )
    table = st.dictionaries(st.one_of(st.sampled_from(KEYS_OK), st.text(max_size=5)), entry, max_size=4)
    bad_json = st.sampled_from(["{", "null", "[]", "[1,2]", '"x"', "1", '{"a":', "{'a': 1}", "\ud800", '{"a": {"IP": 5}}'])
    return st.one_of(table.map(lambda d: json.dumps(d, allow_nan=True)), bad_json, garbage())


@functools.cache
def keepalive_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(-(1 << 70), 1 << 70).map(str),
        st.sampled_from(["0", "10", "-10", "9223372036854775807", "-9223372036854775808", "9223372036854775808", "25s", "1e3"]),
        garbage(),
    )


@functools.cache
def last_seen() -> st.SearchStrategy[str]:
    fresh = st.integers(NOW - 59, NOW + 5).map(str)
    return st.one_of(fresh, fresh, st.integers(-(1 << 64), 1 << 64).map(str), garbage())


@functools.cache
def name() -> st.SearchStrategy[str]:
    """Node and peer names: mostly plain, some unicode or odd (kubectl would refuse them; a snapshot need not)."""
    return st.one_of(
        st.sampled_from(["a", "b", "c", "node-1", "node-2", "laptop", "phone", "location:x", "node:a"]),
        st.text(min_size=1, max_size=8),
        st.sampled_from(['q"uote', "back\\slash", "new\nline", "ünï", "名前", "\ud800", "x" * 300]),
    )


@functools.cache
def maybe(value: st.SearchStrategy[Any], p_missing: int = 3) -> st.SearchStrategy[Any]:
    """``value``, or now and then a marker meaning "leave the key out"."""
    return st.one_of(value, st.just(_MISSING)) if p_missing else value


_MISSING = object()


def _drop_missing(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not _MISSING}


@functools.cache
def not_a_string() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(), st.integers(), st.booleans(), st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2)
    )


# --- objects --------------------------------------------------------------------


# Hypothesis validates a strategy the first time it draws from it, which costs far
# more than the draw: the parts are built once (functools.cache) and reused, so a
# composite's draws cost only the drawing.


@functools.cache
def _node_annotation_values() -> dict[str, st.SearchStrategy[Any]]:
    return {
        ann.ENDPOINT: maybe(endpoint()),
        ann.FORCE_ENDPOINT: maybe(endpoint(), 1),
        ann.INTERNAL_IP: maybe(cidr()),
        ann.FORCE_INTERNAL_IP: maybe(st.one_of(cidr(), st.sampled_from(["", "-"]))),
        ann.KEY: maybe(key()),
        ann.LAST_SEEN: maybe(last_seen()),
        ann.LEADER: maybe(st.one_of(st.sampled_from(["", "true", "false"]), garbage())),
        ann.LOCATION: maybe(st.one_of(st.sampled_from(["", "aws", "gcp", "名前", "loc with space"]), garbage())),
        ann.PERSISTENT_KEEPALIVE: maybe(keepalive_text()),
        ann.WIREGUARD_IP: maybe(
            st.one_of(st.sampled_from(["10.4.0.1/16", "10.4.0.1/30", "10.4.0.1/32", "10.10.0.1/24", "fd00::1/64", "::/0", "0.0.0.0/0"]), cidr())
        ),
        ann.DISCOVERED_ENDPOINTS: maybe(discovered_endpoints()),
        ann.ALLOWED_LOCATION_IPS: maybe(st.lists(cidr(), max_size=4).map(",".join)),
        ann.GRANULARITY: maybe(st.one_of(st.sampled_from(["location", "full", "auto", "Location", ""]), garbage())),
        ann.CNI_COMPATIBILITY_IP: maybe(cidr()),
        ann.K3S_NODE_ARGS: maybe(garbage()),
    }


@functools.cache
def _retyped_annotations() -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(sorted(_node_annotation_values())), max_size=2)


@st.composite
def _node_annotations(draw: st.DrawFn) -> dict[str, Any]:
    out = {k: draw(v) for k, v in _node_annotation_values().items()}
    # A value that is not a string at all (YAML turns `last-seen: 123` into an int).
    for k in draw(_retyped_annotations()):
        out[k] = draw(not_a_string())
    return _drop_missing(out)


node_annotations = functools.cache(_node_annotations)


@functools.cache
def _node_parts() -> dict[str, st.SearchStrategy[Any]]:
    return {
        "shape": st.integers(0, 19),
        "not an object": st.one_of(st.none(), st.integers(), st.text(max_size=3), st.lists(st.integers(), max_size=2)),
        "annotations": st.one_of(node_annotations(), node_annotations(), node_annotations(), not_a_string(), st.just(_MISSING)),
        "labels": st.one_of(
            st.dictionaries(
                st.sampled_from(["topology.kubernetes.io/region", "topology.kubernetes.io/zone", "kubernetes.io/hostname"]),
                st.one_of(st.sampled_from(["eu", "us", ""]), garbage(), not_a_string()),
                max_size=3,
            ),
            not_a_string(),
            st.just(_MISSING),
        ),
        # the node's own name three times in six, else a wrong type or nothing
        "name": st.integers(0, 5),
        "podCIDR": st.one_of(cidr(), cidr(), not_a_string(), st.just(_MISSING)),
        "podCIDRs": st.one_of(st.lists(cidr(), max_size=2), st.just(_MISSING)),
    }


@st.composite
def _hostile_node(draw: st.DrawFn, names: st.SearchStrategy[str] | None = None) -> Any:
    """A v1 Node as the API (or a snapshot) might give it, often broken."""
    part = _node_parts()
    shape = draw(part["shape"])
    if shape == 0:
        return draw(part["not an object"])
    node_name = draw(names if names is not None else name())
    pick = draw(part["name"])
    metadata: Any = _drop_missing(
        {
            "name": node_name if pick < 3 else draw(not_a_string()) if pick < 5 else _MISSING,
            "annotations": draw(part["annotations"]),
            "labels": draw(part["labels"]),
        }
    )
    if shape == 1:
        metadata = draw(not_a_string())
    spec: Any = _drop_missing({"podCIDR": draw(part["podCIDR"]), "podCIDRs": draw(part["podCIDRs"])})
    if shape == 2:
        spec = draw(not_a_string())
    obj = _drop_missing(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": metadata if shape != 3 else _MISSING,
            "spec": spec if shape != 4 else _MISSING,
        }
    )
    return obj


hostile_node = functools.cache(_hostile_node)


@functools.cache
def _peer_parts() -> dict[str, st.SearchStrategy[Any]]:
    return {
        "port": st.one_of(st.just(51820), st.integers(-5, 70000), st.integers(-(1 << 70), 1 << 70), not_a_string(), st.floats(allow_nan=False)),
        "ip": st.one_of(ip(), garbage(), not_a_string(), st.just(_MISSING)),
        "dns": st.one_of(
            st.sampled_from(["vpn.example.com", "VPN.example.com", "a..b", "x" * 260]), garbage(), not_a_string(), st.just(_MISSING), st.just(_MISSING)
        ),
        # endpoint: 0 an object, 1 not one, 2 left out; its dnsOrIP: 0 the drawn one, 1 a wrong type, 2 left out
        "endpoint": st.integers(0, 2),
        "dnsOrIP": st.integers(0, 2),
        "port or missing": st.integers(0, 1),
        "allowedIPs": st.one_of(st.lists(cidr(), max_size=4), st.lists(st.one_of(cidr(), not_a_string()), max_size=3), not_a_string(), st.just(_MISSING)),
        "persistentKeepalive": st.one_of(
            st.integers(-(1 << 70), 1 << 70),
            st.sampled_from([0, 10, -1, 2**63 - 1, 2**63, 2**64]),
            not_a_string(),
            st.floats(allow_nan=False),
            st.just(_MISSING),
        ),
        "presharedKey": st.one_of(key(), not_a_string(), st.just(_MISSING)),
        "publicKey": st.one_of(st.sampled_from(KEYS_OK), key(), not_a_string(), st.just(_MISSING)),
        "shape": st.integers(0, 19),
        "not an object": st.one_of(st.none(), st.integers(), st.text(max_size=3)),
        "bad metadata": st.one_of(not_a_string(), st.just({})),
    }


@st.composite
def _peer_spec(draw: st.DrawFn) -> Any:
    part = _peer_parts()
    dns_or_ip = _drop_missing({"ip": draw(part["ip"]), "dns": draw(part["dns"])})
    endpoint_obj: Any = _MISSING
    form = draw(part["endpoint"])
    if form == 0:
        which = draw(part["dnsOrIP"])
        d = dns_or_ip if which == 0 else draw(not_a_string()) if which == 1 else _MISSING
        endpoint_obj = _drop_missing({"dnsOrIP": d, "port": draw(part["port"]) if draw(part["port or missing"]) == 0 else _MISSING})
    elif form == 1:
        endpoint_obj = draw(not_a_string())
    return _drop_missing(
        {
            "allowedIPs": draw(part["allowedIPs"]),
            "endpoint": endpoint_obj,
            "persistentKeepalive": draw(part["persistentKeepalive"]),
            "presharedKey": draw(part["presharedKey"]),
            "publicKey": draw(part["publicKey"]),
        }
    )


peer_spec = functools.cache(_peer_spec)


@st.composite
def _hostile_peer(draw: st.DrawFn, names: st.SearchStrategy[str] | None = None) -> Any:
    """A kilo.squat.ai/v1alpha1 Peer, often broken."""
    part = _peer_parts()
    shape = draw(part["shape"])
    if shape == 0:
        return draw(part["not an object"])
    peer_name = draw(names if names is not None else name())
    metadata: Any = {"name": peer_name} if shape != 1 else draw(part["bad metadata"])
    spec: Any = draw(peer_spec()) if shape != 2 else draw(not_a_string())
    return _drop_missing(
        {
            "apiVersion": "kilo.squat.ai/v1alpha1",
            "kind": "Peer",
            "metadata": metadata,
            "spec": spec if shape != 3 else _MISSING,
        }
    )


hostile_peer = functools.cache(_hostile_peer)


# --- sane objects, for clusters that are mostly right ------------------------------

_INDEX = st.integers(0, 250)
_BOOL = st.booleans()
_SANE = {
    "prefix": st.sampled_from(["10.0.0", "203.0.113", "192.168.1"]),
    "age": st.integers(0, 59),
    "location": st.sampled_from(["aws", "gcp", "home"]),
    "granularity": st.sampled_from(["location", "full"]),
    "keepalive text": st.sampled_from(["0", "10", "25"]),
    "keepalive": st.sampled_from([0, 10, 25]),
    "region": st.sampled_from(["eu", "us"]),
}


@st.composite
def sane_node(draw: st.DrawFn, index: int | None = None) -> dict[str, Any]:
    """A ready node; ``index`` picks its name, pod CIDR and key."""
    i = draw(_INDEX) if index is None else index
    annotations = {
        ann.ENDPOINT: f"{draw(_SANE['prefix'])}.{i % 250 + 1}:51820",
        ann.INTERNAL_IP: f"10.1.{i % 250}.{i % 250 + 1}/16",
        ann.KEY: KEYS_OK[i % len(KEYS_OK)],
        ann.LAST_SEEN: str(NOW - draw(_SANE["age"])),
        ann.LOCATION: draw(_SANE["location"]),
        ann.GRANULARITY: draw(_SANE["granularity"]),
        ann.WIREGUARD_IP: "10.4.0.1/16",
        ann.PERSISTENT_KEEPALIVE: draw(_SANE["keepalive text"]),
    }
    if draw(_BOOL):
        annotations[ann.LEADER] = ""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": f"node-{i}", "annotations": annotations},
        "spec": {"podCIDR": f"10.42.{i % 250}.0/24"},
    }


@st.composite
def sane_peer(draw: st.DrawFn, index: int | None = None) -> dict[str, Any]:
    i = draw(_INDEX) if index is None else index
    spec: dict[str, Any] = {"allowedIPs": [f"10.5.{i % 250}.1/32"], "publicKey": KEYS_OK[i % len(KEYS_OK)]}
    if draw(_BOOL):
        spec["endpoint"] = {"dnsOrIP": {"ip": f"198.51.100.{i % 250 + 1}"}, "port": 51820}
    if draw(_BOOL):
        spec["persistentKeepalive"] = draw(_SANE["keepalive"])
    return {"apiVersion": "kilo.squat.ai/v1alpha1", "kind": "Peer", "metadata": {"name": f"peer-{i}"}, "spec": spec}


def node_lists(max_size: int = 6) -> st.SearchStrategy[list[Any]]:
    """Hostile nodes, some sane ones among them, duplicate names likely (names come from a small pool)."""
    pool = st.sampled_from(["a", "b", "c", "node-1", "peer-a"])
    return st.lists(st.one_of(hostile_node(), hostile_node(pool), sane_node()), max_size=max_size)


def peer_lists(max_size: int = 5) -> st.SearchStrategy[list[Any]]:
    pool = st.sampled_from(["peer-a", "peer-b", "a", "node-1"])
    return st.lists(st.one_of(hostile_peer(), hostile_peer(pool), sane_peer()), max_size=max_size)


# --- wrong types at every level ---------------------------------------------------------------
#
# ``corrupted`` takes any object strategy and swaps the value at a few randomly
# chosen paths (metadata, annotations, labels, spec, status, addresses,
# conditions, an item of a list, a key deep inside) for a value of another type.


@functools.cache
def wrong_type() -> st.SearchStrategy[Any]:
    return st.one_of(
        not_a_string(),
        garbage(),
        st.floats(allow_nan=True),
        st.lists(st.one_of(garbage(), not_a_string()), max_size=3),
        st.dictionaries(garbage(), st.one_of(garbage(), not_a_string()), max_size=2),
    )


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, prefix + (i,))
    return out


@st.composite
def corrupted(draw: st.DrawFn, objects: st.SearchStrategy[Any], max_changes: int = 3) -> Any:
    obj = draw(objects)
    paths = _paths(obj)
    if not paths:
        return obj
    for path in draw(st.lists(st.sampled_from(paths), min_size=1, max_size=max_changes)):
        parent = obj
        try:
            for step in path[:-1]:
                parent = parent[step]
            parent[path[-1]] = draw(wrong_type())
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change replaced a container on this path
    return obj


@st.composite
def full_node(draw: st.DrawFn, index: int | None = None) -> dict[str, Any]:
    """A sane node with the rest of a real Node around it: labels, taints, status."""
    node = draw(sane_node(index))
    name_ = node["metadata"]["name"]
    node["metadata"]["labels"] = {"kubernetes.io/hostname": name_, "topology.kubernetes.io/region": draw(_SANE["region"])}
    node["metadata"]["annotations"][ann.K3S_NODE_ARGS] = json.dumps(["server", "--tls-san", "203.0.113.1", "--flannel-backend", "none"])
    node["spec"]["podCIDRs"] = [node["spec"]["podCIDR"]]
    node["spec"]["taints"] = [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    node["status"] = {
        "addresses": [{"type": "InternalIP", "address": "10.1.0.1"}, {"type": "ExternalIP", "address": "203.0.113.1"}],
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ok"}],
        "nodeInfo": {"kubeletVersion": "v1.33.4+k3s1"},
    }
    return node


@st.composite
def kilo_pod(draw: st.DrawFn, index: int | None = None) -> dict[str, Any]:
    i = draw(_INDEX) if index is None else index
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"kilo-{i}",
            "namespace": "kube-system",
            "labels": {"app.kubernetes.io/name": "kilo"},
            "ownerReferences": [{"kind": "DaemonSet", "name": "kilo"}],
        },
        "spec": {"nodeName": f"node-{i}", "containers": [{"name": "kilo", "image": "squat/kilo", "env": [{"name": "X", "value": "1"}]}]},
        "status": {
            "phase": "Running",
            "podIP": f"10.42.{i % 250}.2",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "kilo", "ready": True, "state": {"running": {}}}],
        },
    }


def shaped_lists(max_size: int = 5) -> st.SearchStrategy[list[Any]]:
    """Nodes, Peers and Kilo pods, each with wrong types put anywhere in it."""
    return st.lists(
        st.one_of(corrupted(full_node()), corrupted(sane_peer()), corrupted(kilo_pod()), full_node(), sane_peer(), kilo_pod()),
        max_size=max_size,
    )
