"""Wrong types at every level of Node, Peer and Pod objects (metadata, annotations,
labels, spec, status, addresses, conditions, list items): graph, showconf and
doctor --static-only answer with their output or one line and a documented
exit code, never a traceback."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import strategies as hs
from clirun import run
from hypothesis import given, settings

from kgctl_py import shapes
from kgctl_py.errors import ExitCode

DOCUMENTED = {int(c) for c in ExitCode}
FIXTURE = Path(__file__).resolve().parents[1] / "compat/cases/a-blog-6node/cluster.yaml"

COMMANDS = [
    ["graph"],
    ["showconf", "node", "node-1"],
    ["showconf", "peer", "peer-1"],
    ["doctor", "--static-only", "-o", "json"],
]


def snapshot(items: list[Any]) -> bytes:
    return json.dumps(
        {"apiVersion": "v1", "kind": "List", "metadata": {"annotations": {"kgctl-py.squat.ai/captured-at": str(hs.NOW)}}, "items": items}
    ).encode()


def check(command: list[str], data: bytes) -> None:
    result = run(["--snapshot", "-", *command], stdin=data)
    err = result.stderr.decode()
    assert "Traceback" not in err
    assert result.code in DOCUMENTED, (result.code, err)
    if command[0] == "doctor":
        if result.code in (0, 1):
            json.loads(result.stdout)
        else:
            assert err.count("\n") == 1, err
    else:
        errors = [line for line in err.splitlines() if not line.startswith("kgctl-py: warning: ")]
        assert len(errors) <= 1, err


# Four real CLI runs per example: a few hundred examples (the fuzz profile runs more).
@settings(hs.profile(properties=True), max_examples=min(hs.profile(properties=True).max_examples, 200))
@given(items=hs.shaped_lists())
def test_wrong_types_anywhere_never_crash(items: list[Any]) -> None:
    data = snapshot(items)
    for command in COMMANDS:
        check(command, data)


@hs.profile()
@given(items=hs.shaped_lists())
def test_shaped_objects_match_their_schema(items: list[Any]) -> None:
    for item in items:
        for fn, schema in ((shapes.node, shapes.NODE), (shapes.peer, shapes.PEER), (shapes.pod, shapes.POD)):
            before = copy.deepcopy(item)
            out = fn(item)
            assert item == before  # never changed in place
            _conforms(out, schema)


def _conforms(value: Any, schema: Any) -> None:
    if isinstance(schema, dict):
        assert isinstance(value, dict)
        for key, sub in schema.items():
            if key in value:
                _conforms(value[key], sub)
    elif isinstance(schema, list):
        assert isinstance(value, list)
        for v in value if schema else []:
            _conforms(v, schema[0]) if isinstance(schema[0], dict) else None


CASES = {
    "node metadata is a string": (0, ["metadata"], "garbage"),
    "node spec is a string": (0, ["spec"], "garbage"),
    "node status is a list": (0, ["status"], [1, 2]),
    "node status is a string": (0, ["status"], "x"),
    "node labels are a list": (0, ["metadata", "labels"], ["a"]),
    "node annotations are a number": (1, ["metadata", "annotations"], 5),
    "node addresses are a mapping": (0, ["status", "addresses"], {"a": 1}),
    "node conditions hold strings": (0, ["status", "conditions"], ["Ready", 5]),
    "peer spec is a list": (-1, ["spec"], ["x"]),
    "peer metadata is a number": (-1, ["metadata"], 7),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("command", [["graph"], ["showconf", "node", "ty1.k3s"], ["doctor", "--static-only"]])
def test_bad_shapes_through_the_console_script(tmp_path: Path, case: str, command: list[str]) -> None:
    import yaml

    index, path, value = CASES[case]
    doc = yaml.safe_load(FIXTURE.read_text())
    target = doc["items"][index]
    for step in path[:-1]:
        target = target.setdefault(step, {})
    target[path[-1]] = value
    snap = tmp_path / "snap.json"
    snap.write_text(json.dumps(doc))
    proc = subprocess.run([sys.executable, "-m", "kgctl_py", "--snapshot", str(snap), *command], capture_output=True, text=True, timeout=60)
    assert "Traceback" not in proc.stderr and "Error" not in proc.stderr, proc.stderr
    assert proc.returncode in DOCUMENTED
    if command[0] == "doctor":
        assert proc.returncode in (0, 1) and "passed" in proc.stdout, proc.stdout + proc.stderr
