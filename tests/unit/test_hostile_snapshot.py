"""Malformed snapshots, through the real ``kgctl-py`` process: one line on
stderr naming the file and the problem, exit status 2, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parents[1] / "compat" / "cases" / "a-blog-6node"  # the repo's copy: a fresh clone has it


def run_cli(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    proc = subprocess.run([sys.executable, "-m", "kgctl_py", *args], input=stdin if stdin is not None else b"", capture_output=True, timeout=60)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


GOOD = FIXTURE.joinpath("cluster.yaml").read_bytes() if FIXTURE.exists() else b""

# name -> (file contents, or None for "make a directory" / "do not create"; the problem the message names)
CASES = {
    "truncated.yaml": (GOOD[: len(GOOD) // 3 + 7], "invalid YAML at line "),
    "truncated.json": (json.dumps({"kind": "List", "items": [{"kind": "Node"}]}).encode()[:-9], "invalid JSON: "),
    "list.json": (b"[1, 2, 3]\n", "expected a Kubernetes List object, got a list"),
    "string.yaml": (b"just some words\n", "expected a Kubernetes List object, got a string"),
    "number.json": (b"42\n", "expected a Kubernetes List object, got a number"),
    "pod.yaml": (b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n", "expected kind List (kubectl get nodes,peers -o yaml), got kind 'Pod'"),
    "nokind.json": (b'{"items": []}', "expected kind List (kubectl get nodes,peers -o yaml), got kind None"),
    "items.yaml": (b"kind: List\nitems: {a: 1}\n", "items is not a list"),
    "binary.bin": (bytes(range(256)) * 4, "it is a binary file, not YAML or JSON"),
    "gzip.yaml.gz": (b"\x1f\x8b\x08\xff\xfe\x03 compressed", "it is not UTF-8 text"),
    "empty.yaml": (b"", "the file is empty"),
    "blank.yaml": (b"\n  \n\t\n", "the file is empty"),
    "two-docs.yaml": (b"kind: List\n---\nkind: List\n", "invalid YAML at line 2: "),
    "python-tag.yaml": (b"!!python/object/apply:os.system ['true']\n", "invalid YAML at line 1: could not determine a constructor"),
    "huge-int.yaml": (b"kind: List\nitems:\n- kind: Node\n  x: " + b"1" * 5000 + b"\n", "invalid YAML: a number has more than 4300 digits"),
    "huge-hex.yaml": (b"kind: List\nitems:\n- kind: Node\n  x: 0x" + b"f" * 4000 + b"\n", "invalid YAML: a number has more than 4300 digits"),
    # PyYAML builds a base-60 1:1:1... in quadratic time: these 3 MB took a minute.
    "huge-base60.yaml": (b"kind: List\nitems:\n- kind: Node\n  x: " + b"1:" * 1_500_000 + b"1\n", "invalid YAML: a number has more than 4300 digits"),
    "huge-int.json": (b'{"kind": "List", "items": [{"kind": "Node", "x": ' + b"1" * 5000 + b"}]}", "invalid JSON: a number has more than 4300 digits"),
    "no-such-date.yaml": (b"kind: List\nitems:\n- kind: Node\n  x: 2025-13-45\n", "invalid YAML: a date that does not exist (month must be in 1..12)"),
    "a-directory": (None, "Is a directory"),
    "missing.yaml": (None, "No such file or directory"),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("command", [["graph"], ["showconf", "node", "ali1.k3s"], ["showconf", "peer", "laptop"]])
def test_malformed_snapshot(tmp_path, name, command):
    data, problem = CASES[name]
    path = tmp_path / name
    if name == "a-directory":
        path.mkdir()
    elif data is not None:
        path.write_bytes(data)
    rc, out, err = run_cli("--snapshot", str(path), *command)
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith(f"cannot read snapshot {path}: "), err
    assert problem in err, err
    assert rc == 2 and out == ""


def test_malformed_snapshot_on_stdin():
    rc, out, err = run_cli("--snapshot", "-", "graph", stdin=b"kind: List\nitems: [\n")
    assert rc == 2 and out == ""
    assert err.startswith("cannot read snapshot <stdin>: invalid YAML at line ") and err.count("\n") == 1


@pytest.mark.parametrize("command", ["graph", "snapshot"])
def test_a_closed_stdin_is_one_line(command):
    """`kgctl-py --snapshot - graph <&-`: Python's sys.stdin is None, not a stream."""
    proc = subprocess.run(["sh", "-c", f'exec "$0" -m kgctl_py --snapshot - {command} <&-', sys.executable], capture_output=True, timeout=60)
    assert proc.stderr == b"cannot read snapshot <stdin>: Bad file descriptor\n"
    assert proc.returncode == 2 and proc.stdout == b""


def test_lone_surrogates_become_replacement_characters(tmp_path):
    """JSON may escape half a UTF-16 pair; Go decodes it to U+FFFD and so must
    we, or printing the name would crash."""
    import yaml

    doc = yaml.safe_load(GOOD)
    meta = json.loads(FIXTURE.joinpath("meta.json").read_text())
    doc["metadata"] = {"annotations": {"kgctl-py.squat.ai/captured-at": str(meta["capturedAt"])}}
    first = doc["items"][0]["metadata"]
    first["annotations"]["kilo.squat.ai/location"] = "x\ud800y"
    path = tmp_path / "surrogate.json"
    path.write_text(json.dumps(doc))  # ensure_ascii: written as the escape \ud800
    assert b"\\ud800" in path.read_bytes()
    rc, out, err = run_cli("--snapshot", str(path), "graph")
    assert rc == 0, err
    assert "x\ufffdy" in out
    rc, out, err = run_cli("--snapshot", str(path), "showconf", "node", first["name"], "--as-peer", "-o", "yaml")
    assert rc == 0, err


def test_objects_of_the_wrong_shape_are_skipped(tmp_path):
    """Items that are not objects, or objects of other kinds, are not nodes or peers."""
    doc = {"kind": "List", "metadata": 5, "items": [None, 1, "x", [], {"kind": "Peer", "apiVersion": "v1"}, {"kind": "Node", "metadata": []}]}
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(doc))
    rc, out, err = run_cli("--snapshot", str(path), "--now", "1760000000", "graph")
    # The one Node has no name or annotations: not ready, so kgctl's own error.
    assert err == "failed to determine granularity: mesh granularity auto is not supported\n"
    assert rc == 1 and out == ""


@pytest.mark.parametrize(
    "where",
    [
        "kgctl-py.squat.ai/captured-at",
        "kilo.squat.ai/last-seen",
        "kilo.squat.ai/persistent-keepalive",
        "kilo.squat.ai/force-endpoint",
    ],
)
def test_thousands_of_digits_in_an_annotation_are_garbage_not_a_crash(tmp_path, where):
    """int() refuses more than 4300 digits; Go's ParseInt says out of range, and so must we."""
    import yaml

    doc = yaml.safe_load(GOOD)
    digits = "0" * 10 + "1" * 5000
    if where.startswith("kgctl-py"):
        doc["metadata"] = {"annotations": {where: digits}}
    else:
        doc["items"][0]["metadata"]["annotations"][where] = f"203.0.113.21:{digits}" if where.endswith("endpoint") else digits
    path = tmp_path / "digits.json"
    path.write_text(json.dumps(doc))
    for command in (["graph"], ["showconf", "node", "ali1.k3s"], ["status"], ["doctor", "--static-only", "-q"]):
        rc, out, err = run_cli("--snapshot", str(path), "--now", "1760000000", *command)
        assert "Traceback" not in err and rc in (0, 1), (command, err)
        assert out or err.count("\n") == 1, (command, err)  # ali1 with a garbage last-seen is not ready


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_endless_binary_devices(device):
    rc, out, err = run_cli("--snapshot", device, "graph")
    assert err == f"cannot read snapshot {device}: it is a binary file, not YAML or JSON\n"
    assert rc == 2 and out == ""


def test_endless_text_stream_is_cut_off():
    """`yes | kgctl-py --snapshot - graph` must end, not eat all memory."""
    proc = subprocess.run(f"yes | {sys.executable} -m kgctl_py --snapshot - graph", shell=True, capture_output=True, timeout=120)
    assert proc.stderr.decode() == "cannot read snapshot <stdin>: it is larger than 256 MiB\n"
    assert proc.returncode == 2
