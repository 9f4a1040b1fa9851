"""A live cluster whose pods print odd things, or whose exec answers oddly: doctor
reads it through the project's test API server (real exec over websockets) and
still says what it found in findings, never in a traceback, and never echoes a
secret from the pod's output."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

import doctor_fixtures as fx
import pytest
from doctor_fixtures.live import DoctorServer, Nodes, wg_outputs
from kubeapi import ExecResult, Fault

Answer = Callable[[str, list[str]], ExecResult | None]
PRIVATE_KEY = "SECRETSECRETSECRETSECRETSECRETSECRETSECRET="


def doctor(ds: DoctorServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kgctl-py", "doctor", "--kubeconfig", ds.kubeconfig, "--timeout", "30", *args], capture_output=True, text=True, timeout=120, check=False
    )


def nodes(answer: Answer) -> Nodes:
    return Nodes(wg=wg_outputs(fx.healthy()["items"]), answer=answer)


def findings(proc: subprocess.CompletedProcess[str], check: str) -> list[dict]:
    doc = json.loads(proc.stdout)
    return next(c["findings"] for cat in doc["categories"] for c in cat["checks"] if c["id"] == check)


def test_thousands_of_digits_in_wg_output_are_garbage_not_a_traceback():
    many = "9" * 5000

    def answer(node: str, command: list[str]) -> ExecResult | None:
        if command[:2] == ["wg", "show"]:
            return ExecResult(f"(hidden)\tpub\t{many}\toff\nkey\t(none)\t(none)\t10.4.0.1/32\t{many}\t0\t0\toff\n".encode())
        if command[:2] == ["wg", "showconf"]:
            return ExecResult(f"[Interface]\nListenPort = {many}\n".encode())
        return None

    with DoctorServer(nodes=nodes(answer)) as ds:
        proc = doctor(ds, "-o", "json", "--check", "wireguard.*")
    assert "Traceback" not in proc.stderr and proc.stderr == "", proc.stderr
    assert proc.returncode == 1
    assert {f["status"] for f in findings(proc, "wireguard.handshake")} == {"fail"}


def test_a_pod_printing_garbage_round_trip_times_is_no_traceback_and_valid_json():
    avgs = iter(["1.2.3", "9" * 400] * 10)

    def answer(node: str, command: list[str]) -> ExecResult | None:
        if command[:2] == ["sh", "-c"] and command[3:4] == ["kgctl-ping"]:
            lines = [f"kgctl-ping {t} 0 3 packets transmitted, 3 packets received|round-trip min/avg/max = 0.1/{next(avgs)}/0.3 ms|\n" for t in command[4:]]
            return ExecResult("".join(lines).encode())
        return None

    with DoctorServer(nodes=nodes(answer)) as ds:
        proc = doctor(ds, "-o", "json", "--check", "pod.ping")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    # Strict JSON: Python would read Infinity, jq and browsers do not.
    doc = json.loads(proc.stdout, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
    ping = next(c for cat in doc["categories"] for c in cat["checks"] if c["id"] == "pod.ping")
    assert all(v is None for row in ping["data"]["rttMs"] for v in row)


def test_wg_failing_after_printing_the_private_key_does_not_show_it():
    # wg killed (or failing) after its first lines, nothing on stderr: the last line it printed holds the key.
    def answer(node: str, command: list[str]) -> ExecResult | None:
        if command[:2] == ["wg", "showconf"]:
            return ExecResult(f"[Interface]\nListenPort = 51820\nPrivateKey = {PRIVATE_KEY}\n".encode(), b"", 137)
        if command[:2] == ["wg", "show"]:
            return ExecResult(f"{PRIVATE_KEY}\tpub\t51820\toff\n".encode(), b"", 1)
        return None

    with DoctorServer(nodes=nodes(answer)) as ds:
        for fmt in ("table", "json"):
            proc = doctor(ds, "-o", fmt, "--check", "wireguard.*")
            assert proc.returncode == 1, proc.stderr
            assert PRIVATE_KEY not in proc.stdout + proc.stderr
    drift = findings(proc, "wireguard.drift")
    assert drift and all(f["status"] == "fail" and f["detail"].startswith("wg failed: exit code 137") for f in drift), drift


@pytest.mark.parametrize("code", [403, 404])
def test_an_exec_the_api_server_refuses_is_named_not_blamed_on_the_node(code):
    # SelfSubjectAccessReview allows exec; the exec itself is refused (a webhook, a pod deleted mid-run).
    with DoctorServer(nodes=nodes(lambda node, command: None)) as ds:
        ds.srv.inject(Fault(path=r"/exec$", status=code))
        proc = doctor(ds, "-o", "json", "--check", "node.ip-forward", "--check", "wireguard.handshake", "--check", "kilo.metrics")
    assert proc.returncode == 1 and proc.stderr == "", proc.stderr
    doc = json.loads(proc.stdout)
    assert "content-type" not in proc.stdout and "'date'" not in proc.stdout  # the refused upgrade's headers
    for check in ("node.ip-forward", "wireguard.handshake", "kilo.metrics"):
        for f in findings(proc, check):
            assert f["status"] == "fail" and f"Handshake status {code}" in f["detail"] and f"injected fault: HTTP {code}" in f["detail"], f
            # Not a fix for the node: what was read is nothing.
            assert f["hint"].startswith("the exec failed, so nothing is known of the node yet; try it by hand: kubectl "), f
            assert "sysctl" not in f["hint"] and "--wg-interface" not in f["hint"] and "--listen" not in f["hint"]
    assert doc["summary"]["fail"] == 3


def test_a_moving_peer_no_node_has_is_not_annotated_as_a_node():
    # A key on the interface that no Node or Peer has is named by its first characters: no node to annotate.
    reads: dict[str, int] = {}

    def answer(node: str, command: list[str]) -> ExecResult | None:
        if command[:2] == ["wg", "show"] and command[-1] == "endpoints":
            reads[node] = reads.get(node, 0) + 1
            return ExecResult(f"c3RyYW5nZXJzdHJhbmdlcnN0cmFuZ2Vyc3RyYW5nZXI=\t203.0.113.9:{40000 + reads[node]}\n".encode())
        return None

    with DoctorServer(nodes=nodes(answer)) as ds:
        proc = doctor(ds, "-o", "json", "--check", "wireguard.endpoint")
    assert proc.returncode == 1, proc.stderr
    found = findings(proc, "wireguard.endpoint")
    assert found and all(f["detail"].startswith("c3RyYW5n… moved from 203.0.113.9:40001 to 203.0.113.9:40002") for f in found), found
    for f in found:
        assert "annotate node" not in f["hint"] and "…" not in f["hint"], f["hint"]
        assert f["hint"].endswith(f"-n kube-system delete pod kilo-{f['node']}"), f["hint"]


def test_control_characters_a_pod_prints_are_shown_not_obeyed():
    # A wg error with ESC sequences would retitle the terminal and clear it, U+202E reverse the row.
    def answer(node: str, command: list[str]) -> ExecResult | None:
        if command[:2] == ["wg", "show"]:
            return ExecResult(b"", "\x1b]0;pwned\x07\x1b[2Jevil\u202erow\n".encode(), 1)
        return None

    with DoctorServer(nodes=nodes(answer)) as ds:
        proc = doctor(ds, "--check", "wireguard.handshake")
        assert proc.returncode == 1, proc.stderr
        assert not [c for c in proc.stdout if not c.isprintable() and c != "\n"], repr(proc.stdout)
        assert proc.stdout.count("wg failed: \\x1b]0;pwned\\a\\x1b[2Jevil\\u202erow") == 3
        # -o json keeps the text as the pod wrote it: the consumer escapes it.
        doc = json.loads(doctor(ds, "-o", "json", "--check", "wireguard.handshake").stdout)
    details = [f["detail"] for c in doc["categories"][0]["checks"] for f in c["findings"]]
    assert details and all("\x1b]0;pwned" in d for d in details)


def test_a_pod_printing_without_end_is_cut_and_the_deadline_holds():
    flood = b"x" * (64 << 20)  # 64 MiB to each leader's wg showconf: reading it all took 198 s

    def answer(node: str, command: list[str]) -> ExecResult | None:
        return ExecResult(flood) if command[:2] == ["wg", "showconf"] else None

    with DoctorServer(nodes=nodes(answer)) as ds:
        # A peak RSS is not asserted: a forked child starts with this test process's (the flood's).
        proc = doctor(ds, "-o", "json", "--check", "wireguard.drift")  # within 120 s, or TimeoutExpired
    assert "Traceback" not in proc.stderr
    drift = findings(proc, "wireguard.drift")
    assert drift and all(f["status"] == "fail" and "printed more than 4 MiB: cut there" in f["detail"] for f in drift), drift
