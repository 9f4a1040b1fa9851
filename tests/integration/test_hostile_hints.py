"""Every hint that is a kubectl command works when pasted: each one, from the
doctor registry and from the findings on every broken fixture (and the ping
culprits), runs in bash through the real kubectl against the project's API
server, with --dry-run=client where it would change something. A flag kubectl
does not know, or a usage error, fails the test."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import doctor_fixtures as fx
import pytest
from kubeapi import KubeAPIServer

from kgctl_py.doctor.model import Status
from kgctl_py.doctor.ping import PingResult, Place, culprits
from kgctl_py.doctor.registry import CHECKS
from kgctl_py.doctor.static import build_input

USAGE_ERRORS = re.compile(
    r"unknown flag|unknown shorthand flag|unknown command|Usage:|required flag|accepts \d+ arg|flag needs an argument|invalid argument|error: you must specify|See 'kubectl"
)
MUTATING = ("apply", "annotate", "label", "delete", "patch", "create", "replace", "taint", "cordon", "uncordon", "drain", "scale", "set")


def kubectl_commands(text: str) -> list[str]:
    """The kubectl commands in a hint: up to a closing backtick, `;` or the `)` that ends it."""
    out = []
    i = 0
    while (start := text.find("kubectl ", i)) != -1:
        depth, j = 0, start
        while j < len(text):
            if text.startswith("$(", j):
                depth += 1
                j += 2
                continue
            ch = text[j]
            if ch == ")":
                if depth == 0:
                    break
                depth -= 1
            elif ch in "`;" and depth == 0:
                break
            j += 1
        out.append(text[start:j].strip().rstrip(".,"))
        i = j
    return out


def hints() -> set[str]:
    found = {c.hint for c in CHECKS if c.hint}
    healthy = fx.healthy()
    for case in fx.cases():
        doc = fx.apply_case(healthy, case)
        nodes, peers, pods = fx.split(doc)
        inp = build_input(nodes, peers, pods=pods, crd_present=doc["metadata"]["annotations"].get("kgctl-py.squat.ai/peer-crd") != "false", now=fx.CAPTURED_AT)
        for check in CHECKS:
            if check.static:
                found |= {f.hint for f in check.run(inp) if f.hint}
    # The ping culprits, on the fixture's nodes: one node down, then nothing reachable.
    names = sorted(o["metadata"]["name"] for o in healthy["items"] if o["kind"] == "Node")[:3]
    places = {
        names[0]: Place("a", names[0], "203.0.113.1:51820"),
        names[1]: Place("b", names[1], "203.0.113.2:51820"),
        names[2]: Place("b", names[1], "203.0.113.2:51820"),
    }
    for down in ({names[2]}, set(names)):
        res = {(a, b): PingResult(Status.FAIL if {a, b} & down else Status.PASS, None) for a in places for b in places if a != b}
        found |= set(culprits(names, res, places, 51820))
    return found


def commands() -> list[str]:
    return sorted({cmd for hint in hints() for cmd in kubectl_commands(hint)})


def pasteable(cmd: str, node: str, peer: str, manifest: Path) -> str:
    cmd = re.sub(r"https?://\S+", str(manifest), cmd)  # no network: the same file, locally
    cmd = re.sub(r"\b(NODE|LEADER|SERVER)\b", node, cmd)
    cmd = re.sub(r"\bNAME\b", peer, cmd)
    cmd = cmd.replace(" KEY-", " kilo.squat.ai/force-endpoint-").replace("<public IP>", "203.0.113.9")
    words = cmd.split()
    verb = next((w for w in words[1:] if not w.startswith("-") and w not in ("kube-system",)), "")
    if words[1:2] == ["-n"]:
        verb = words[3] if len(words) > 3 else ""
    if verb in MUTATING:
        cmd += " --dry-run=client"
    return cmd


def test_the_hints_contain_kubectl_commands() -> None:
    found = commands()
    assert any(" logs " in c for c in found) and any(" annotate " in c for c in found)
    assert not [c for c in found if re.search(r"kubectl( -n \S+)? logs [^|]*--field-selector", c)]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_every_kubectl_hint_works_when_pasted(tmp_path: Path) -> None:
    objs = list(fx.healthy()["items"])
    node = next(o["metadata"]["name"] for o in objs if o["kind"] == "Node")
    peer = next((o["metadata"]["name"] for o in objs if o["kind"] == "Peer"), "laptop")
    manifest = tmp_path / "crds.yaml"
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hint-check\n  namespace: default\n")
    failures = []
    with KubeAPIServer(objs, captured_at=fx.CAPTURED_AT) as srv:
        kc = srv.write_kubeconfig(tmp_path / "kc")
        env = {**os.environ, "KUBECONFIG": kc, "EDITOR": "true", "KUBE_EDITOR": "true", "HOME": str(tmp_path)}
        for raw in commands():
            cmd = pasteable(raw, node, peer, manifest)
            proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
            if USAGE_ERRORS.search(proc.stderr):
                failures.append(f"{cmd}\n    {proc.stderr.strip().splitlines()[0]}")
    assert not failures, "\n".join(failures)


def test_the_old_logs_hint_is_caught() -> None:
    # The check above must see kubectl's complaint about a flag it lacks.
    proc = subprocess.run(
        ["kubectl", "logs", "-l", "a=b", "--field-selector", "spec.nodeName=x"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "KUBECONFIG": "/nonexistent"},
    )
    assert USAGE_ERRORS.search(proc.stderr), proc.stderr
