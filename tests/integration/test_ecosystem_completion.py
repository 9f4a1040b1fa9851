"""TAB completion through the real `kgctl-py` process and the real shells.

The expected Ready names come from kgctl's recorded behaviour in the golden
cases: a node or peer is Ready exactly when kgctl's `showconf` found it.
"""

from __future__ import annotations

import json
import os
import pathlib
import shlex
import shutil
import subprocess
import sysconfig
import time

import pytest
from kubeapi import Fault, KubeAPIServer, load_fixture

ROOT = pathlib.Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "compat" / "cases"
SCRIPTS = pathlib.Path(sysconfig.get_path("scripts"))
KGCTL = str(SCRIPTS / "kgctl-py") if (SCRIPTS / "kgctl-py").exists() else shutil.which("kgctl-py") or "kgctl-py"
ENV = {**os.environ, "PATH": f"{SCRIPTS}{os.pathsep}{os.environ.get('PATH', '')}"}


def golden_ready(fixture: str, kind: str) -> list[str]:
    """Names kgctl's `showconf KIND NAME` accepted, in the fixture's list order."""
    found = set()
    for case in json.loads((CASES / fixture / "cases.json").read_text()):
        args = case["args"]
        if args[:2] == ["showconf", kind] and len(args) == 3:
            stderr = (CASES / fixture / case["stderr"]).read_text()
            if f"did not find any {kind} named" not in stderr and "Usage:" not in stderr:
                found.add(args[2])
    objects, _ = load_fixture(CASES / fixture)
    kind_name = "Node" if kind == "node" else "Peer"
    return [o["metadata"]["name"] for o in objects if o.get("kind") == kind_name and o["metadata"]["name"] in found]


def complete(words: str, shell: str = "bash", timeout: float = 30) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    """Ask kgctl-py for completions the way the shell script does; the values offered."""
    parts = shlex.split(words)
    cword = len(parts) if words.endswith(" ") else len(parts) - 1
    env = {**ENV, "_KGCTL_PY_COMPLETE": f"{shell}_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    if shell == "fish":
        env["COMP_CWORD"] = "" if words.endswith(" ") else parts[-1]
    proc = subprocess.run([KGCTL], env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr
    if shell == "fish":
        values = [line.split(",", 1)[1].split("\t")[0] for line in proc.stdout.splitlines() if line.startswith("plain,")]
    else:
        values = [line.split(",", 1)[1] for line in proc.stdout.splitlines() if line.startswith("plain,")]
    return values, proc


@pytest.fixture(scope="module")
def stale_cluster(tmp_path_factory: pytest.TempPathFactory):
    """j-stale-and-incomplete: Ready, stale and incomplete nodes, served live."""
    tmp = tmp_path_factory.mktemp("stale")
    objects, meta = load_fixture(CASES / "j-stale-and-incomplete")
    with KubeAPIServer(objects, crd=meta["crd"], captured_at=meta["capturedAt"]) as srv:
        yield srv, srv.write_kubeconfig(tmp / "kubeconfig")


@pytest.fixture(scope="module")
def peers_cluster(tmp_path_factory: pytest.TempPathFactory):
    """i-peers-mixed: Ready peers next to peers without keys or allowed IPs."""
    tmp = tmp_path_factory.mktemp("peers")
    objects, meta = load_fixture(CASES / "i-peers-mixed")
    with KubeAPIServer(objects, crd=meta["crd"], captured_at=meta["capturedAt"]) as srv:
        yield srv, srv.write_kubeconfig(tmp / "kubeconfig")


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("kgctl-py --mesh-granularity ", ["location", "full", "auto"]),
        ("kgctl-py graph --mesh-granularity f", ["full"]),
        ("kgctl-py graph -o ", ["dot", "svg", "png"]),
        ("kgctl-py graph --output s", ["svg"]),
        ("kgctl-py graph --layout ", ["circo", "dot", "neato", "fdp", "sfdp", "twopi"]),
        ("kgctl-py showconf -o ", ["json", "wireguard", "yaml"]),
        ("kgctl-py showconf node ali1.k3s --as-peer --output ", ["json", "wireguard", "yaml"]),
        ("kgctl-py --backend ", ["kubernetes"]),
        ("kgctl-py completion ", ["bash", "zsh", "fish"]),
    ],
)
def test_flag_values(words: str, expected: list[str]) -> None:
    assert complete(words)[0] == expected


def test_commands_and_flags() -> None:
    values, _ = complete("kgctl-py ")
    assert {"graph", "showconf", "snapshot", "completion"} <= set(values)
    assert complete("kgctl-py showconf ")[0][:2] == ["node", "peer"]
    flags, _ = complete("kgctl-py graph --")
    assert {"--output", "--layout", "--output-file", "--kubeconfig", "--snapshot", "--mesh-granularity"} <= set(flags)


def test_ready_node_names_from_cluster(stale_cluster) -> None:
    _, kubeconfig = stale_cluster
    expected = golden_ready("j-stale-and-incomplete", "node")
    assert expected == ["ok-1", "ok-2", "ok-3"]
    assert complete(f"kgctl-py --kubeconfig {kubeconfig} showconf node ")[0] == expected
    # Global flags after the subcommand count too, and the prefix filters.
    assert complete(f"kgctl-py showconf node --kubeconfig {kubeconfig} ok-")[0] == expected
    assert complete(f"kgctl-py showconf node --kubeconfig {kubeconfig} stale")[0] == []


def test_ready_peer_names_from_cluster(peers_cluster) -> None:
    _, kubeconfig = peers_cluster
    expected = golden_ready("i-peers-mixed", "peer")
    assert expected == ["alpha", "bravo", "charlie", "golf", "hotel"]
    assert complete(f"kgctl-py --kubeconfig {kubeconfig} showconf peer ")[0] == expected


def test_ready_names_from_snapshot() -> None:
    snapshot = CASES / "j-stale-and-incomplete" / "cluster.yaml"
    meta = json.loads((CASES / "j-stale-and-incomplete" / "meta.json").read_text())
    at = meta["capturedAt"]
    assert complete(f"kgctl-py --snapshot {snapshot} --now {at} showconf node ")[0] == ["ok-1", "ok-2", "ok-3"]
    # Readiness is judged at --now: a minute later every node has gone stale.
    assert complete(f"kgctl-py --snapshot {snapshot} --now {at + 120} showconf node ")[0] == []
    peers = CASES / "i-peers-mixed" / "cluster.yaml"
    assert complete(f"kgctl-py showconf peer --snapshot {peers} ")[0] == golden_ready("i-peers-mixed", "peer")


def test_names_come_from_one_list_call(stale_cluster) -> None:
    srv, kubeconfig = stale_cluster
    before = len(srv.requests)
    complete(f"kgctl-py --kubeconfig {kubeconfig} showconf node ")
    paths = [r.path for r in srv.requests[before:]]
    assert paths == ["/api/v1/nodes"], paths


def test_a_broken_source_offers_nothing_quietly(tmp_path: pathlib.Path, stale_cluster) -> None:
    srv, kubeconfig = stale_cluster
    garbage = tmp_path / "garbage.yaml"
    garbage.write_text("{not yaml: [")
    assert complete(f"kgctl-py --snapshot {garbage} showconf node ")[0] == []
    assert complete(f"kgctl-py --snapshot {tmp_path / 'missing.yaml'} showconf node ")[0] == []
    assert complete("kgctl-py --snapshot - showconf node ")[0] == []
    refused = tmp_path / "refused"
    refused.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
    )
    assert complete(f"kgctl-py --kubeconfig {refused} showconf node ")[0] == []
    assert complete(f"kgctl-py --kubeconfig {tmp_path / 'nope'} showconf peer ")[0] == []
    # A hanging API server costs at most the completion timeout, not --request-timeout.
    fault = srv.inject(Fault(path="^/api/v1/nodes$", delay=8, times=1))
    try:
        start = time.monotonic()
        assert complete(f"kgctl-py --kubeconfig {kubeconfig} --request-timeout 30 showconf node ")[0] == []
        assert time.monotonic() - start < 5
    finally:
        srv.clear_faults()
    assert fault.hits == 1


def test_bash_script_completes_live_names(stale_cluster) -> None:
    """The committed bash script, sourced by a real bash, fills COMPREPLY."""
    _, kubeconfig = stale_cluster
    script = ROOT / "completions" / "kgctl-py.bash"
    body = (
        f"source {shlex.quote(str(script))}\n"
        f"COMP_WORDS=(kgctl-py --kubeconfig {shlex.quote(str(kubeconfig))} showconf node ok-)\n"
        "COMP_CWORD=5\n"
        "_kgctl_py_completion kgctl-py\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
        "complete -p kgctl-py\n"
    )
    proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", body], env=ENV, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:-1] == ["ok-1", "ok-2", "ok-3"]
    assert lines[-1] == "complete -o nosort -F _kgctl_py_completion kgctl-py"


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_script_completes(stale_cluster) -> None:
    _, kubeconfig = stale_cluster
    script = ROOT / "completions" / "kgctl-py.fish"
    cmd = f"source {shlex.quote(str(script))}; complete -C 'kgctl-py graph --layout n'; complete -C 'kgctl-py --kubeconfig {kubeconfig} showconf node '"
    proc = subprocess.run(["fish", "--no-config", "-c", cmd], env=ENV, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.splitlines() == ["neato", "ok-1", "ok-2", "ok-3"]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_script_completes() -> None:
    """The zsh script, with compadd and _describe standing in for the line editor."""
    script = ROOT / "completions" / "_kgctl-py"
    body = (
        "compdef() { :; }\n"
        'compadd() { print -l -- "compadd" "${@[-1]}" "${completions[@]}"; }\n'
        '_describe() { print -l -- "describe" "${completions_with_descriptions[@]}"; }\n'
        f"source {shlex.quote(str(script))}\n"
        "words=(kgctl-py graph --layout c); CURRENT=4\n"
        "_kgctl_py_completion\n"
        "words=(kgctl-py sh); CURRENT=2\n"
        "_kgctl_py_completion\n"
    )
    proc = subprocess.run(["zsh", "-f", "-c", body], env=ENV, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:3] == ["compadd", "completions", "circo"]
    assert lines[3] == "describe"
    assert lines[4].startswith("showconf:Show the WireGuard configuration")


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_command_prints_the_committed_script(shell: str) -> None:
    committed = {"bash": "kgctl-py.bash", "zsh": "_kgctl-py", "fish": "kgctl-py.fish"}[shell]
    proc = subprocess.run([KGCTL, "completion", shell], env=ENV, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (ROOT / "completions" / committed).read_text()


def test_completion_rejects_an_unknown_shell() -> None:
    proc = subprocess.run([KGCTL, "completion", "powershell"], env=ENV, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "powershell" in proc.stderr and "Traceback" not in proc.stderr


def test_file_options_complete_file_names() -> None:
    for words in ("kgctl-py --snapshot exa", "kgctl-py graph --kubeconfig exa", "kgctl-py graph --output-file exa", "kgctl-py snapshot -o exa"):
        _, proc = complete(words)
        assert proc.stdout == "file,exa\n", words


def test_context_names_from_the_kubeconfig(tmp_path: pathlib.Path) -> None:
    def config(*names: str) -> str:
        contexts = ", ".join(f"{{name: {n}, context: {{cluster: c, user: u}}}}" for n in names)
        return f"apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:1'}}}}]\nusers: [{{name: u, user: {{}}}}]\ncontexts: [{contexts}]\n"

    first, second = tmp_path / "a", tmp_path / "b"
    first.write_text(config("prod-eu", "prod-us"))
    second.write_text(config("lab", "prod-eu"))
    assert complete(f"kgctl-py --kubeconfig {second} graph --context ")[0] == ["lab", "prod-eu"]
    # Without --kubeconfig, KUBECONFIG's files are merged as kubectl merges them.
    words = "kgctl-py showconf node --context prod"
    env = {**ENV, "KUBECONFIG": f"{first}{os.pathsep}{second}", "_KGCTL_PY_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": "4"}
    proc = subprocess.run([KGCTL], env=env, capture_output=True, text=True, timeout=30)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "plain,prod-eu\nplain,prod-us\n", "")
    assert complete(f"kgctl-py --kubeconfig {tmp_path / 'missing'} --context ")[0] == []


def test_doctor_check_ids() -> None:
    from kgctl_py.doctor.registry import CHECKS

    kilo = [c.id for c in CHECKS if c.id.startswith("kilo.")]
    assert kilo and complete("kgctl-py doctor --check kilo.")[0] == [*kilo, "kilo.*"]
    assert complete("kgctl-py doctor --static-only --skip ")[0][: len(CHECKS)] == [c.id for c in CHECKS]
    # zsh shows each id with its title.
    _, proc = complete(f"kgctl-py doctor --check {CHECKS[0].id}", shell="zsh")
    assert proc.stdout.splitlines()[:3] == ["plain", CHECKS[0].id, CHECKS[0].title]
