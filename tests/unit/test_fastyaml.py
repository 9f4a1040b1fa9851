"""kgctl_py.kube.fastyaml reads kubeconfigs without PyYAML: whatever it
returns must be what PyYAML's safe loader returns, and whatever it cannot be
sure of it must leave to PyYAML (``Unsupported``)."""

from __future__ import annotations

import json
import pathlib

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubeapi import KubeAPIServer

from kgctl_py.kube import fastyaml

KUBECTL_STYLE = """\
# written by hand, in kubectl's layout
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkekNDQVIy
    server: https://127.0.0.1:6443
    insecure-skip-tls-verify: false
  name: default
contexts:
- context:
    cluster: default
    user: default
    namespace: kube-system
  name: default
current-context: default
kind: Config
preferences: {}
users:
- name: default
  user:
    token: "K10abc::server:def"
    username: 'o''brien'
    exec:
      command: /usr/bin/plugin
      args:
      - get-token
      -
      - --region=eu
      env: []
"""

# Each must be left to PyYAML: it reads them as numbers, dates, aliases, block
# scalars, flow collections, bools of other spellings... or rejects them.
LEFT_TO_PYYAML = [
    "a: 1\n",
    "a: 0x1f\n",
    "a: 1_000\n",
    "a: 1:20\n",
    "a: -1\n",
    "a: .5\n",
    "a: .inf\n",
    "a: 2024-01-01\n",
    "a: <<\n",
    "a: =\n",
    "a: &x b\nc: *x\n",
    "a: !!str 1\n",
    "a: |\n  text\n",
    "a: >\n  text\n",
    "a: [x, y]\n",
    "a: {b: c}\n",
    "a: b: c\n",
    "a: x #comment\n",
    'a: "esc\\n"\n',
    "a: 'open\n",
    "key:value\n",
    "a:\n  b\n",
    "a: b\n  continued\n",
    "a: b\n---\nc: d\n",
    "a: b\n...\n",
    "%YAML 1.1\n---\na: b\n",
    "? a\n: b\n",
    "1: a\n",
    "yes: a\n",
    "null: a\n",
    "a:\tb\n",
    "a: b\r\n",
    "\ufeffa: b\n",
    "  a: b\n",
    "- - a\n",
    "a:\n  - x\n  b: y\n",
    '{"a": 1}',
    '{"a": "\\u00e9"}',
    "a: @x\n",
    "a: `x\n",
    "a: %x\n",
    "a: -.5\n",
    "a: - x\n",
]


def _same_as_pyyaml(text: str) -> bool:
    """True when fastyaml read ``text`` (and agrees with PyYAML), False when it left it."""
    try:
        got = fastyaml.load(text)
    except fastyaml.Unsupported:
        return False
    want = yaml.safe_load(text)
    assert got == want and json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True), (text, got, want)
    return True


def test_a_kubectl_style_kubeconfig_is_read_as_pyyaml_reads_it():
    assert _same_as_pyyaml(KUBECTL_STYLE)
    doc = fastyaml.load(KUBECTL_STYLE)
    assert doc["users"][0]["user"]["exec"]["args"] == ["get-token", None, "--region=eu"]
    assert doc["clusters"][0]["cluster"]["insecure-skip-tls-verify"] is False


def test_json_kubeconfig_is_read_without_pyyaml():
    text = json.dumps(yaml.safe_load(KUBECTL_STYLE), indent=4)
    assert _same_as_pyyaml(text)


@pytest.mark.parametrize("text", LEFT_TO_PYYAML)
def test_what_it_cannot_be_sure_of_is_left_to_pyyaml(text):
    assert not _same_as_pyyaml(text)


@pytest.mark.parametrize("embed", [False, True])
def test_the_test_servers_kubeconfigs_need_no_pyyaml(tmp_path, embed):
    with KubeAPIServer(tls=True, token="t0k", client_ca=True) as srv:
        paths = [
            srv.write_kubeconfig(tmp_path / "token", embed_certs=embed),
            srv.write_kubeconfig(tmp_path / "cert", client_cert=srv.issue_client_cert(), token="", embed_certs=embed),
            srv.write_kubeconfig(tmp_path / "exec", exec_command=srv.exec_plugin()),
            srv.write_kubeconfig(tmp_path / "insecure", insecure=True),
        ]
        for path in paths:
            assert _same_as_pyyaml(pathlib.Path(path).read_text())


_keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC-_./0123456789", min_size=1, max_size=12)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.text(alphabet="ab:# -'\"\\{}[]&*!|>%@`~.0123456789yesnoYNtrufl", max_size=12),
)
_trees = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3), max_leaves=10)
# Bounded: the suite runs on a shared 2-core machine.
_bounded = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_bounded
@given(tree=st.dictionaries(_keys, _trees, max_size=4), flow=st.sampled_from([False, None]), indent=st.integers(2, 6))
def test_generated_documents_agree_with_pyyaml_or_are_left_to_it(tree, flow, indent):
    text = yaml.safe_dump(tree, default_flow_style=flow, indent=indent, allow_unicode=True, sort_keys=False)
    _same_as_pyyaml(text)
    _same_as_pyyaml(json.dumps(tree))


@_bounded
@given(
    st.lists(st.sampled_from(["a:", "b: c", "- d", "-", "  ", "    e: f", "  - g", "#x", "h: 'i'", 'j: "k"', "l: {}", "m: []", "n: yes", "o: ~"]), max_size=12)
)
def test_arbitrary_line_soups_agree_with_pyyaml_or_are_left_to_it(lines):
    text = "\n".join(lines) + "\n"
    try:
        yaml.safe_load(text)
    except yaml.YAMLError:
        # PyYAML rejects it: fastyaml must not accept it.
        with pytest.raises(fastyaml.Unsupported):
            fastyaml.load(text)
        return
    _same_as_pyyaml(text)
