"""The snapshot reader on YAML that the real kubectl wrote: `kubectl get nodes,peers -o yaml`
against the test API server, with values that make go-yaml fold, quote and use literals.

kgctl_py/kube/kubectl_yaml.py is written from go-yaml v2's emitter rules; this checks it
against the emitter itself, through Debian's kubectl.
"""

from __future__ import annotations

import copy
import os
import pathlib
import shutil
import subprocess
from typing import Any

import pytest
import yaml
from kubeapi import KubeAPIServer, load_fixture

from kgctl_py.kube import kubectl_yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "compat" / "cases" / "a-blog-6node"
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Values go-yaml writes in every style it has: folded over several lines, single- and
# double-quoted, as literals, and plain strings that would resolve to something else.
ODD_VALUES = {
    "example.com/long": "a long annotation value with spaces that go-yaml folds over more than one line "
    "because it is far longer than eighty columns, and then goes on a little further still",
    "example.com/long-no-spaces": "x" * 150,
    "example.com/multi": "first line\nsecond line\n  indented third\n",
    "example.com/multi-no-newline": "one\ntwo",
    "example.com/quotes": 'it\'s "quoted" and back\\slashed',
    "example.com/number": "0x1F",
    "example.com/float": "1e3",
    "example.com/bool": "yes",
    "example.com/null": "null",
    "example.com/date": "2026-12-01",
    "example.com/base60": "1:20",
    "example.com/empty": "",
    "example.com/space": " leading and trailing ",
    "example.com/dash": "- not a list",
    "example.com/colon": "key: value",
    "example.com/hash": "# not a comment",
    "example.com/unicode": "名前 ünï 😀",
    "example.com/tab": "a\tb",
    "example.com/json": '{"a":[1,2,{"b":null}],"c":"d"}',
}


def kubectl(kubeconfig: pathlib.Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    return subprocess.run([KUBECTL, "--kubeconfig", str(kubeconfig), *args], capture_output=True, timeout=60, env=env)


def with_odd_values(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = copy.deepcopy(objects)
    for obj in out:
        if obj.get("kind") == "Node":
            obj["metadata"].setdefault("annotations", {}).update(ODD_VALUES)
            obj["metadata"].setdefault("labels", {})["example.com/number-label"] = "0755"
    return out


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, pathlib.Path, pathlib.Path]:
    tmp = tmp_path_factory.mktemp("kubectl-yaml")
    objects, meta = load_fixture(FIXTURE)
    with KubeAPIServer(with_odd_values(objects), tls=True, token="yaml-token", captured_at=meta["capturedAt"]) as srv:
        kubeconfig = pathlib.Path(srv.write_kubeconfig(tmp / "kubeconfig"))
        proc = kubectl(kubeconfig, "get", "nodes,peers", "-o", "yaml")
        assert proc.returncode == 0, proc.stderr.decode()
        text = proc.stdout.decode()
        path = tmp / "dump.yaml"
        path.write_text(text)
        yield text, path, kubeconfig


def test_kubectls_own_yaml_is_read_without_pyyaml_as_pyyaml_reads_it(dump: tuple[str, pathlib.Path, pathlib.Path]) -> None:
    text, _, _ = dump
    # The dump really uses the styles under test: a folded line, a literal, quoting.
    assert "|" in text and "'" in text and '"' in text
    assert any(line.startswith("      ") and not line.strip().startswith(("-", "#")) and ":" not in line for line in text.splitlines()), (
        "no folded continuation line"
    )
    fast = kubectl_yaml.read_fast(text)  # raises Unsupported if any of it needed PyYAML
    assert fast == yaml.load(text, Loader=LOADER)
    nodes = [o for o in fast["items"] if o["kind"] == "Node"]
    assert len(nodes) == 6
    for node in nodes:
        notes = node["metadata"]["annotations"]
        for key, value in ODD_VALUES.items():
            assert notes[key] == value and type(notes[key]) is str, key
        assert node["metadata"]["labels"]["example.com/number-label"] == "0755"


def test_graph_of_kubectls_yaml_is_the_live_graph(dump: tuple[str, pathlib.Path, pathlib.Path]) -> None:
    _, path, kubeconfig = dump
    kgctl = [str(pathlib.Path(shutil.which("kgctl-py") or "kgctl-py"))]
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    offline = subprocess.run([*kgctl, "--snapshot", str(path), "graph"], capture_output=True, timeout=60, env=env)
    assert offline.returncode == 0, offline.stderr.decode()
    assert offline.stdout.startswith(b"digraph kilo {")
    # The same bytes as read from the server the dump came from (the server is gone now, so
    # compare with the JSON dump of the same objects, which the JSON reader reads).
    as_json = path.with_suffix(".json")
    import json

    as_json.write_text(json.dumps(kubectl_yaml.load(path.read_text())))
    from_json = subprocess.run([*kgctl, "--snapshot", str(as_json), "graph"], capture_output=True, timeout=60, env=env)
    assert from_json.returncode == 0, from_json.stderr.decode()
    assert offline.stdout == from_json.stdout
