"""kgctl_py.kube.kubectl_yaml reads ``kubectl get -o yaml`` dumps fast: whatever
it returns must be what PyYAML's safe loader (libyaml's, as before) returns,
type for type and key order included, and whatever PyYAML rejects it must
reject with PyYAML's error.  ``read_fast`` is the fast path alone (it raises
``Unsupported`` where ``load`` would ask PyYAML): kubectl's own output must
need no PyYAML at all."""

from __future__ import annotations

import json
import math
import string
from pathlib import Path
from typing import Any

import clirun
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kgctl_py.kube import kubectl_yaml
from kgctl_py.kube.fastyaml import Unsupported

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def pyyaml(text: str) -> Any:
    return yaml.load(text, Loader=LOADER)


def same(a: Any, b: Any, ordered: bool = True) -> bool:
    """Equal, with the same types all the way down (True is not 1) and keys in the same order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        keys_match = list(a) == list(b) if ordered else sorted(a, key=repr) == sorted(b, key=repr)
        return keys_match and all(same(a[k], b[k], ordered) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y, ordered) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def assert_read_as_pyyaml_reads(text: str) -> Any:
    want = pyyaml(text)
    got = kubectl_yaml.load(text)
    assert same(got, want), (text, got, want)
    return got


# --- PyYAML's dumper, set up to write as kubectl (go-yaml v2) does -------------------------


class KubectlDumper(yaml.SafeDumper):
    """No anchors (a decoded JSON object shares nothing), text with line breaks as
    ``|`` literals, strings that would read as another type double-quoted."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = None
    if "\n" in text:
        style = "|"
    elif dumper.resolve(yaml.ScalarNode, text, (True, False)) != "tag:yaml.org,2002:str":
        style = '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


KubectlDumper.add_representer(str, _represent_str)


def kubectl_dump(doc: Any, width: int = 80) -> str:
    # go-yaml folds long scalars at about 80 columns, as PyYAML's width=80 does.
    return yaml.dump(doc, Dumper=KubectlDumper, default_flow_style=False, sort_keys=True, allow_unicode=True, width=width)


# --- kubectl-shaped objects ----------------------------------------------------------------

# Strings PyYAML would read as something else if they were not quoted.
LOOK_ALIKES = [
    *("1", "0", "-1", "+1", "007", "0x1F", "0o17", "0b101", "1_000", "1:20", "190:20:30", "12345678901234567890"),
    *("1.5", "-.5", ".inf", "-.Inf", ".nan", "1e3", "6.02e+23", "1.0", "1."),
    *("2024-01-01", "2025-10-01T00:00:00Z", "2001-12-14 21:59:43.10 -5", "2001-12-14t21:59:43.10-05:00"),
    *("yes", "No", "ON", "off", "y", "n", "true", "True", "FALSE", "null", "Null", "NULL", "~", ""),
    *("<<", "=", "!", "&", "*", "-", "?", ":", "- x", "? x", ": x", "#x", "x #y", "x: y", "x:", "@x", "`x", "%x"),
    *("'", '"', "''", "'x'", '"x"', "\\", "\\n", "{}", "[]", "{a: b}", "[a, b]", "|", ">", "|-", "&a", "*a", "!!str"),
    *(" x", "x ", "  ", "x\ty", "\t", "---", "...", "--- x", "x\u00a0y", "\u2028", "\x85", "\ufeff", "\x07", "\x7f"),
]
WORDS = ["kubelet", "has", "sufficient", "memory", "available", "network", "plugin", "not", "ready:", "cni", "-", "#1", "a'b", 'say "hi"', "x:y"]
KEY_CHARS = string.ascii_letters + string.digits + "._/-"
_RESOLVER = yaml.resolver.Resolver()
# Keys kubectl writes plain (go-yaml quotes those that would read as another type, e.g. "1").
_ordinary_keys = st.text(KEY_CHARS, min_size=1, max_size=24).filter(
    lambda k: k[0] != "-" and _RESOLVER.resolve(yaml.ScalarNode, k, (True, False)) == "tag:yaml.org,2002:str"
)
_k8s_keys = st.sampled_from(
    [
        "apiVersion",
        "kind",
        "metadata",
        "kilo.squat.ai/endpoint",
        "k3s.io/node-args",
        "f:metadata",
        "f:kilo.squat.ai/last-seen",
        ".",
        'v:"10.42.0.0/24"',
        'k:{"type":"Ready"}',
        "Port",
        "x-y_z.w",
        "-flag",
        "a'b",
    ]
)
# Keys go-yaml must quote: they would read as another type, or not as one plain key.
_quoted_keys = st.sampled_from(["1", "yes", "null", "~", "...", "---", "a: b", "#x", "x #y", "- x", "-", "'q'", '"d"', "1.5", "2024-01-01", " x", "x "])
KEYS = st.one_of(_k8s_keys, _ordinary_keys, _quoted_keys)


def _multiline(draw: st.DrawFn) -> str:
    lines = draw(
        st.lists(
            st.one_of(st.text(string.printable.replace("\r", "").replace("\x0b", "").replace("\x0c", ""), max_size=20), st.just("")), min_size=1, max_size=5
        )
    )
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n"]))


@st.composite
def text_values(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.sampled_from(LOOK_ALIKES))
    if kind == 1:
        return _multiline(draw)
    if kind == 2:
        # Long text with spaces: folded at 80 columns.
        return " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=8, max_size=40)))
    if kind == 3:
        return draw(st.text(max_size=30))  # any Unicode, control characters too
    if kind == 4:
        return draw(st.text(KEY_CHARS + ":@, ", max_size=40))
    return draw(st.sampled_from(["10.4.0.1/16", "203.0.113.7:51820", "k3s://node-1", "docker.io/rancher/mirrored-pause:3.6", "8129212Ki", "v1.33.4+k3s1"]))


SCALARS = st.one_of(text_values(), st.integers(-(2**70), 2**70), st.booleans(), st.none())


def objects(scalars: st.SearchStrategy[Any], keys: st.SearchStrategy[Any] = KEYS) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
        max_leaves=30,
    )


@st.composite
def kubectl_lists(draw: st.DrawFn, scalars: st.SearchStrategy[Any] = SCALARS) -> dict[str, Any]:
    """A ``kubectl get -o yaml`` List of objects shaped like Kubernetes objects."""
    items = []
    for _ in range(draw(st.integers(0, 4))):
        item = draw(st.dictionaries(KEYS, objects(scalars), max_size=4))
        item.update(apiVersion="v1", kind=draw(st.sampled_from(["Node", "Peer"])), metadata=draw(st.dictionaries(KEYS, objects(scalars), max_size=4)))
        items.append(item)
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


# Bounded: the suite runs on a shared 2-core machine.
_bounded = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@_bounded
@given(doc=kubectl_lists(), width=st.sampled_from([80, 1 << 16]))
def test_kubectl_style_dumps_need_no_pyyaml_and_read_as_pyyaml_reads_them(doc, width):
    text = kubectl_dump(doc, width)
    # PyYAML's dumper writes these line breaks raw inside quotes; go-yaml escapes them.
    assume(not any(ch in text for ch in "\x85\u2028\u2029"))
    fast = kubectl_yaml.read_fast(text)  # Unsupported here would fail the test: kubectl's YAML is the fast path's
    assert same(fast, pyyaml(text)), text
    assert same(fast, doc, ordered=False)  # and it is what was dumped (kubectl sorts the keys)


@_bounded
@given(doc=st.one_of(kubectl_lists(), objects(SCALARS)), width=st.sampled_from([80, 1 << 16]))
def test_what_the_fast_path_reads_is_what_pyyaml_reads(doc, width):
    """Top-level lists, scalars, empty documents too: read fast where it can, by PyYAML where not."""
    assert_read_as_pyyaml_reads(kubectl_dump(doc, width))


ODD_SCALARS = st.one_of(SCALARS, st.floats(), st.sampled_from([1.5, -0.0, float("inf")]))


@_bounded
@given(
    doc=st.one_of(kubectl_lists(ODD_SCALARS), objects(ODD_SCALARS, st.one_of(KEYS, st.integers(), st.booleans(), st.none()))),
    flow=st.sampled_from([False, None]),
    indent=st.integers(2, 5),
    width=st.sampled_from([20, 80, 1 << 16]),
    share=st.booleans(),
)
def test_other_dumpers_output_is_read_as_pyyaml_reads_it(doc, flow, indent, width, share):
    """PyYAML's own style (single quotes, folded quoted scalars, flow collections,
    other indents, anchors for shared objects, floats, non-string keys): any piece
    the fast path does not know goes to PyYAML, and the result is the same."""
    if share and isinstance(doc, dict) and doc.get("items"):
        doc["items"].append(doc["items"][0])  # an anchor and an alias across items
    text = yaml.dump(doc, Dumper=yaml.SafeDumper, default_flow_style=flow, indent=indent, width=width, allow_unicode=True, sort_keys=False)
    assert_read_as_pyyaml_reads(text)


# Lines kubectl-like dumps are made of, and the ways they go wrong.
SOUP = [
    "- a: b",
    "- - c",
    "-",
    "- ",
    "  - d",
    "  e: f",
    "    g: h",
    "k:",
    "k: v",
    "k: 'q''s'",
    'k: "d\\tq"',
    'k: "\\q"',
    'k: "\\x4"',
    "k: 'open",
    "  close'",
    'k: "open',
    "  more\\",
    '  close"',
    "k: |",
    "k: |-",
    "k: |+",
    "k: |2",
    "k: >",
    "    literal text",
    "     deeper text",
    "  ",
    "      ",
    "",
    "k: {}",
    "- []",
    "k: 1",
    "k: -0",
    "k: +7",
    "k: 0x1F",
    "k: 0o17",
    "k: 017",
    "k: 1_000",
    "k: 1:20",
    "k: 1.5",
    "k: .inf",
    "k: 2024-01-01",
    "k: yes",
    "k: On",
    "k: OFF",
    "k: no",
    "k: y",
    "k: ~",
    "k: Null",
    "k: ''",
    '"k": v',
    "'k''s': v",
    "- 'q': v",
    "k: &a x",
    "k: *a",
    "k: !!str 1",
    "k: [a, b]",
    "  continued plain",
    "  - continued",
    "  # comment",
    "#top comment",
    "---",
    "...",
    "items:",
    "kind: List",
    "k:v",
    "k: a: b",
    "k: a #c",
    "'q': v",
    "? k",
    ": v",
    "\tk: v",
    "k: v\r",
    "%YAML 1.1",
]


def _embedded(text: str, where: str) -> str:
    """``text`` as is, or one piece deeper: a key's value, or the value of an item's key (a List's node)."""
    if where == "as is":
        return text
    pad = "  " if where == "under a key" else "    "
    head = "top:\n" if where == "under a key" else "- top:\n"
    return head + "".join(pad + line if line.strip(" ") else line for line in text.splitlines(keepends=True))


WHERE = ["as is", "under a key", "in an item"]


def _agree_with_pyyaml(text: str) -> None:
    try:
        want = pyyaml(text)
    except yaml.YAMLError as err:
        with pytest.raises(yaml.YAMLError) as got:
            kubectl_yaml.load(text)
        assert str(got.value) == str(err)
        return
    except (ValueError, OverflowError):  # PyYAML's own crashes (e.g. "._" as a float)
        assume(False)
    got = kubectl_yaml.load(text)
    assert same(got, want), (text, got, want)


@settings(_bounded, max_examples=2000)
@given(st.lists(st.sampled_from(SOUP), max_size=14), st.sampled_from(WHERE))
def test_line_soups_are_read_or_rejected_as_pyyaml_reads_or_rejects_them(lines, where):
    _agree_with_pyyaml(_embedded("\n".join(lines) + "\n", where))


@st.composite
def damaged_dumps(draw: st.DrawFn) -> str:
    """A kubectl-style dump with a few lines dropped, repeated, moved sideways or replaced by soup."""
    lines = kubectl_dump(draw(kubectl_lists()), draw(st.sampled_from([80, 1 << 16]))).split("\n")
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(lines) - 1))
        how = draw(st.integers(0, 3))
        if how == 0:
            del lines[at]
        elif how == 1:
            lines.insert(at, lines[at])
        elif how == 2:
            shift = draw(st.sampled_from([-2, -1, 1, 2]))
            lines[at] = " " * max(0, len(lines[at]) - len(lines[at].lstrip(" ")) + shift) + lines[at].lstrip(" ")
        else:
            lines.insert(at, " " * draw(st.sampled_from([0, 1, 2, 4, 6])) + draw(st.sampled_from(SOUP)))
    return "\n".join(lines)


@_bounded
@given(damaged_dumps())
def test_damaged_dumps_are_read_or_rejected_as_pyyaml_reads_or_rejects_them(text):
    _agree_with_pyyaml(text)


# --- real kubectl output -----------------------------------------------------------------

# `kubectl get nodes,peers -o yaml` of a K3s cluster (trimmed), as go-yaml v2
# writes it: timestamps and numbers-as-strings double-quoted, a NotReady
# condition's long message folded at 80 columns, a taint, last-applied-configuration
# as a | literal, JSON annotations single-quoted.
KUBECTL_DUMP = """\
apiVersion: v1
items:
- apiVersion: v1
  kind: Node
  metadata:
    annotations:
      alpha.kubernetes.io/provided-node-ip: 10.0.0.4
      flannel.alpha.coreos.com/backend-data: "null"
      flannel.alpha.coreos.com/backend-type: host-gw
      flannel.alpha.coreos.com/kube-subnet-manager: "true"
      k3s.io/hostname: ty1
      k3s.io/node-args: '["server","--flannel-backend","none","--node-external-ip","203.0.113.10"]'
      k3s.io/node-config-hash: 2ZQ3W7HXLMXTJ6UBWFTVKEQWQ3A5S2OPXF7CUBXYVQ3M5FKJ4EIQ====
      k3s.io/node-env: '{"K3S_DATA_DIR":"/var/lib/rancher/k3s/data/5d5b4e9f6f3f"}'
      kilo.squat.ai/discovered-endpoints: '{}'
      kilo.squat.ai/endpoint: 203.0.113.10:51820
      kilo.squat.ai/force-endpoint: 203.0.113.10:51820
      kilo.squat.ai/granularity: location
      kilo.squat.ai/internal-ip: 10.0.0.4/24
      kilo.squat.ai/key: cVxxz3H8tqcY9r2Jj5aF6zxqvQnJQ0xS6lq5bI8hXzk=
      kilo.squat.ai/last-seen: "1760000000"
      kilo.squat.ai/leader: "true"
      kilo.squat.ai/location: tokyo
      kilo.squat.ai/persistent-keepalive: "25"
      kilo.squat.ai/wireguard-ip: 10.4.0.1/16
      node.alpha.kubernetes.io/ttl: "0"
      volumes.kubernetes.io/controller-managed-attach-detach: "true"
    creationTimestamp: "2025-10-01T00:00:00Z"
    finalizers:
    - wrangler.cattle.io/node
    labels:
      beta.kubernetes.io/arch: amd64
      kubernetes.io/hostname: ty1
      node-role.kubernetes.io/control-plane: "true"
      node-role.kubernetes.io/master: "true"
      topology.kubernetes.io/region: tokyo
    managedFields:
    - apiVersion: v1
      fieldsType: FieldsV1
      fieldsV1:
        f:metadata:
          f:annotations:
            .: {}
            f:kilo.squat.ai/endpoint: {}
          f:finalizers:
            .: {}
            v:"wrangler.cattle.io/node": {}
        f:status:
          f:conditions:
            k:{"type":"Ready"}:
              f:lastHeartbeatTime: {}
      manager: k3s
      operation: Update
      subresource: status
      time: "2025-10-09T08:53:20Z"
    name: ty1
    resourceVersion: "123456"
    uid: 0b2f4d1e-7f3a-4c2b-9a51-2b8d3c4e5f60
  spec:
    podCIDR: 10.42.0.0/24
    podCIDRs:
    - 10.42.0.0/24
    providerID: k3s://ty1
    taints:
    - effect: NoSchedule
      key: node.kubernetes.io/not-ready
      timeAdded: "2025-10-09T08:50:00Z"
  status:
    addresses:
    - address: 10.0.0.4
      type: InternalIP
    - address: ty1
      type: Hostname
    allocatable:
      cpu: "4"
      ephemeral-storage: "78900924425"
      hugepages-2Mi: "0"
      memory: 8029212Ki
      pods: "110"
    conditions:
    - lastHeartbeatTime: "2025-10-09T08:53:20Z"
      lastTransitionTime: "2025-10-01T00:00:00Z"
      message: kubelet has sufficient memory available
      reason: KubeletHasSufficientMemory
      status: "False"
      type: MemoryPressure
    - lastHeartbeatTime: "2025-10-09T08:53:20Z"
      lastTransitionTime: "2025-10-09T08:50:00Z"
      message: 'container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady
        message:Network plugin returns error: cni plugin not initialized'
      reason: KubeletNotReady
      status: "False"
      type: Ready
    - lastHeartbeatTime: "2025-10-09T08:53:20Z"
      lastTransitionTime: "2025-10-09T08:50:00Z"
      message: Flannel is running on this node, and this message was made long enough
        for go-yaml to fold it at a space past the eightieth column
      reason: FlannelIsUp
      status: "False"
      type: NetworkUnavailable
    daemonEndpoints:
      kubeletEndpoint:
        Port: 10250
    images:
    - names:
      - docker.io/rancher/mirrored-pause@sha256:74c4244427b7312c5b901fe0f67cbc53683d06f4f24c6faee65d4182bf0fa893
      - docker.io/rancher/mirrored-pause:3.6
      sizeBytes: 301463
    nodeInfo:
      architecture: amd64
      bootID: 9b8f7c1e-2d3a-4e5f-8a9b-0c1d2e3f4a5b
      containerRuntimeVersion: containerd://1.7.27-k3s1
      kernelVersion: 6.1.0-37-amd64
      kubeProxyVersion: v1.33.4+k3s1
      kubeletVersion: v1.33.4+k3s1
      operatingSystem: linux
      osImage: Debian GNU/Linux 12 (bookworm)
- apiVersion: kilo.squat.ai/v1alpha1
  kind: Peer
  metadata:
    annotations:
      kubectl.kubernetes.io/last-applied-configuration: |
        {"apiVersion":"kilo.squat.ai/v1alpha1","kind":"Peer","metadata":{"annotations":{},"name":"laptop"},"spec":{"allowedIPs":["10.5.0.1/32"],"persistentKeepalive":10,"publicKey":"GY5aT1N9dTR/nJnT1N2f4ClZWVj0jOAld0r8ysWLyjg="}}
      note: |-
        first line
          indented line

        after a blank line
      padded: |2
          starts with spaces
      kept: |+
        two breaks after

    creationTimestamp: "2025-10-01T00:00:00Z"
    generation: 1
    name: laptop
    resourceVersion: "98765"
    uid: 5c6d7e8f-9a0b-1c2d-3e4f-5a6b7c8d9e0f
  spec:
    allowedIPs:
    - 10.5.0.1/32
    endpoint:
      dnsOrIP:
        ip: 198.51.100.9
      port: 51820
    persistentKeepalive: 10
    publicKey: GY5aT1N9dTR/nJnT1N2f4ClZWVj0jOAld0r8ysWLyjg=
    tags:
    - - nested
      - list
    - []
    - {}
    - "null"
    - null
    - "1.5"
    - 007x
    - "tab\\there \\u00e9 folded \\
      across lines"
kind: List
metadata:
  resourceVersion: ""
"""


def test_real_kubectl_output_needs_no_pyyaml():
    fast = kubectl_yaml.read_fast(KUBECTL_DUMP)
    assert same(fast, pyyaml(KUBECTL_DUMP))
    node, peer = fast["items"]
    ready = node["status"]["conditions"][1]
    assert ready["message"] == (
        "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized"
    )
    assert node["status"]["conditions"][2]["message"].endswith("at a space past the eightieth column")
    assert node["metadata"]["resourceVersion"] == "123456" and node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] == 10250
    notes = peer["metadata"]["annotations"]
    assert notes["kubectl.kubernetes.io/last-applied-configuration"].endswith('"}}\n')
    assert notes["note"] == "first line\n  indented line\n\nafter a blank line"
    assert notes["padded"] == "  starts with spaces\n" and notes["kept"] == "two breaks after\n\n"
    assert peer["spec"]["tags"] == [["nested", "list"], [], {}, "null", None, "1.5", "007x", "tab\there \u00e9 folded across lines"]


def test_a_dump_with_windows_line_breaks_needs_no_pyyaml():
    text = KUBECTL_DUMP.replace("\n", "\r\n")
    assert same(kubectl_yaml.read_fast(text), pyyaml(text))
    assert same(kubectl_yaml.read_fast(text), pyyaml(KUBECTL_DUMP))
    with pytest.raises(Unsupported):
        kubectl_yaml.read_fast(text.replace("\r\n", "\r", 1))  # a lone \r: PyYAML's to read


def test_a_single_object_as_kubectl_get_node_name_prints_it():
    node = kubectl_yaml.read_fast(KUBECTL_DUMP)["items"][0]
    text = "".join(line[2:] + "\n" for line in KUBECTL_DUMP.split("- apiVersion: kilo")[0].split("\n")[2:-1])
    assert same(kubectl_yaml.read_fast(text), node)


@pytest.mark.parametrize(
    "odd",
    [
        "      ratio: 1.5\n",  # a float
        "      when: 2025-10-01\n",  # a date
        "      ref: &a {x: 1}\n      again: *a\n",  # an anchor, an alias and a flow mapping
        "      # a comment\n",
        "      tab: 'a\tb'\n",
        "      folded: >\n        text\n",
    ],
)
def test_one_odd_item_is_read_by_pyyaml_and_only_it(odd):
    lines = KUBECTL_DUMP.split("\n")
    at = lines.index("    name: laptop")
    text = "\n".join([*lines[:at], "    extra:", odd.rstrip("\n"), *lines[at:]])
    with pytest.raises(Unsupported):
        kubectl_yaml.read_fast(text)
    got = assert_read_as_pyyaml_reads(text)
    assert same(got["items"][0], kubectl_yaml.read_fast(KUBECTL_DUMP)["items"][0])


@pytest.mark.parametrize(
    "change",
    [
        ("    name: laptop", "    name: laptop\n   bad: indentation"),
        ("    persistentKeepalive: 10", "    persistentKeepalive: [10"),
        ("    generation: 1", "    generation: 1\n---\nkind: List"),
        ("  kind: Peer", "  kind: 'Peer"),
        ("    - 10.5.0.1/32", "    - 10.5.0.1/32\n     x: y"),
        ("    publicKey: GY5aT1N9dTR/nJnT1N2f4ClZWVj0jOAld0r8ysWLyjg=", "    publicKey: a: b"),
        ("kind: List", "kind: List\n- stray item"),
    ],
)
def test_a_syntax_error_is_pyyamls_with_its_line(change):
    old, new = change
    text = KUBECTL_DUMP.replace(old, new, 1)
    with pytest.raises(yaml.YAMLError) as want:
        pyyaml(text)
    with pytest.raises(yaml.YAMLError) as got:
        kubectl_yaml.load(text)
    assert str(got.value) == str(want.value)
    assert got.value.problem_mark.line == want.value.problem_mark.line  # type: ignore[attr-defined]


def test_deep_nesting_is_read_without_recursion():
    """No call per level: 3000 levels are read (sources.py then refuses past decode.MAX_DEPTH)."""
    deep = "".join("  " * k + f"k{k}:\n" for k in range(3000)) + "  " * 3000 + "leaf: '1'\n"
    got = kubectl_yaml.read_fast(deep)
    for k in range(3000):
        got = got[f"k{k}"]
    assert got == {"leaf": "1"}


def test_a_quoted_key_is_a_string_and_the_same_key_plain_is_not():
    text = "- '1': quoted\n  '2': x\n- 1: plain\n"
    assert_read_as_pyyaml_reads(text)
    assert kubectl_yaml.load(text) == [{"1": "quoted", "2": "x"}, {1: "plain"}]


# Block scalars and folds at their edges: each read by the fast path, as PyYAML reads it.
EDGES = [
    "k: |\n  a\n      \n  b\n",  # a blank line longer than the indent is text (spaces)
    "k: |\n  a\n\n  b\n",
    "k: |+\n  a\n\n\nj: 1\n",
    "k: |-\n  a\n\n",
    "k: |2\n   a\n  b\n",
    "k: |1-\n   a\n",
    "k: |\n\n  a\n",
    "k: |\n  \n  a\n",
    "k: |+\n\n",
    "- |\n  a\n- |-\n  b\n- x\n",
    "k:\n- |\n  a\n  b\nj: 2\n",
    "- k: |\n    a\n  j: 3\n",
    "k: a\n  b\n   c\nj: d\n",
    "- a\n  - b\n",
    "k:\n- a b\n  c\n- d\n",
    "- k: 'a\n\n    b'\n",
    '- k: "a\\\n    b \\ c"\n',
    "-\n- a\n",
    "k:\n-\n- b\n-\n  c: d\n",
    "-\n - a\n",
    "- a\n -b\n",
]

# Each rejected by PyYAML: the fast path must not read it.
REJECTED = [
    "k: |\n  x: plain\n deeper\n",  # after a block scalar, not a fold of its last line
    "k: 'a\n  b'\n c\n",
    "k:\n  a: 1\n b: 2\n",
    "k: v\n- x\n",
    "- a\nk: v\n",
    "k:\n  - a\n  b: c\n",
    "k: a\n  b: c\n",
    'k: "an \\q escape"\n',  # PyYAML's error, at the whole text's line
    "k: 'never closed\n  j: 1\n",
]


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("text", EDGES)
def test_edges_of_block_and_folded_scalars(text, where):
    text = _embedded(text, where)
    got, want = kubectl_yaml.read_fast(text), pyyaml(text)
    assert same(got, want), (got, want)


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("text", REJECTED)
def test_what_pyyaml_rejects_the_fast_path_does_not_read(text, where):
    text = _embedded(text, where)
    with pytest.raises(Unsupported):
        kubectl_yaml.read_fast(text)
    with pytest.raises(yaml.YAMLError) as want:
        pyyaml(text)
    with pytest.raises(yaml.YAMLError) as got:
        kubectl_yaml.load(text)
    assert str(got.value) == str(want.value)


# --- through kgctl-py --snapshot ---------------------------------------------------------

CASES = sorted((Path(__file__).resolve().parents[1] / "compat" / "cases").glob("*/cluster.yaml"))
# A few cases of each kind: the 49 are read by tests/integration/test_compat.py as well.
SOME_CASES = [c for c in CASES if c.parent.name[:2] in ("a-", "b-", "c-", "e-", "f-")][::3]


def _snapshot_outputs(path: Path, command: list[str]) -> tuple[int, bytes, bytes]:
    got = clirun.run(["--snapshot", str(path), *command])
    return got.code, got.stdout, got.stderr


@pytest.mark.parametrize("case", SOME_CASES, ids=lambda p: p.parent.name)
@pytest.mark.parametrize("style", ["as captured", "kubectl, folded at 80 columns"])
def test_graph_of_a_yaml_snapshot_is_graph_of_the_same_snapshot_as_json(tmp_path, case, style):
    text = case.read_text()
    if style != "as captured":
        text = kubectl_dump(pyyaml(text))
    kubectl_yaml.read_fast(text)  # read by the fast path, not left to PyYAML
    (tmp_path / "yaml").mkdir()
    (tmp_path / "json").mkdir()
    as_yaml, as_json = tmp_path / "yaml" / "snapshot", tmp_path / "json" / "snapshot"
    as_yaml.write_text(text)
    as_json.write_text(json.dumps(pyyaml(text)))
    for command in (["graph"], ["graph", "--mesh-granularity", "full"], ["doctor", "--static-only", "-o", "short"]):
        code, out, err = _snapshot_outputs(as_yaml, command)
        assert (code, out, err.replace(b"/yaml/", b"/json/")) == _snapshot_outputs(as_json, command), command
        assert out, command


def test_a_syntax_error_in_a_yaml_snapshot_names_pyyamls_line(tmp_path):
    text = CASES[0].read_text()
    lines = text.split("\n")
    at = len(lines) * 2 // 3  # inside a later item
    lines.insert(at, lines[at].rstrip() + ": [unclosed")
    path = tmp_path / "broken.yaml"
    path.write_text("\n".join(lines))
    with pytest.raises(yaml.YAMLError) as want:
        pyyaml(path.read_text())
    code, out, err = _snapshot_outputs(path, ["graph"])
    mark = want.value.problem_mark  # type: ignore[attr-defined]
    assert err.decode() == f"cannot read snapshot {path}: invalid YAML at line {mark.line + 1}: {want.value.problem}\n"  # type: ignore[attr-defined]
    assert (code, out) == (2, b"")


def test_a_yaml_snapshot_nested_too_deep_is_refused(tmp_path):
    deep = "".join("  " * k + "- x:\n" for k in range(120)) + "  " * 120 + "  y: 1\n"
    path = tmp_path / "deep.yaml"
    path.write_text("apiVersion: v1\nkind: List\nitems:\n" + deep)
    code, out, err = _snapshot_outputs(path, ["graph"])
    assert err.decode() == f"cannot read snapshot {path}: invalid YAML: it nests deeper than 100 levels\n"
    assert (code, out) == (2, b"")
