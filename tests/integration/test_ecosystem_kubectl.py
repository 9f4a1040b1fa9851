"""`kubectl kilo ...` through the real kubectl binary, which finds kubectl-kilo on PATH."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sysconfig

import pytest
import yaml
from kubeapi import KubeAPIServer

from kgctl_py.kubectl_plugin import kubectl_duration, translate_args

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "compat" / "cases" / "a-blog-6node"
SCRIPTS = pathlib.Path(sysconfig.get_path("scripts"))
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


def plugin_dir() -> pathlib.Path:
    """Where pip installed kubectl-kilo (the console script, not a test stand-in)."""
    for d in (SCRIPTS, *(pathlib.Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p)):
        if (d / "kubectl-kilo").is_file() and "shims" not in d.parts:
            return d
    pytest.fail("kubectl-kilo is not installed: run `pip install -e .` (pyproject.toml declares the console script)")


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    # Only the installed scripts and the system: kubectl must find our kubectl-kilo.
    base["PATH"] = os.pathsep.join([str(plugin_dir()), "/usr/local/bin", "/usr/bin", "/bin"])
    base["HOME"] = extra.pop("HOME", base.get("HOME", "/root"))
    base.update(extra)
    return base


def kubectl(*args: str, **extra: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([KUBECTL, *args], capture_output=True, timeout=60, env=env(**extra))


def kgctl(*args: str, **extra: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(plugin_dir() / "kgctl-py"), *args], capture_output=True, timeout=60, env=env(**extra))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("kubectl")
    with KubeAPIServer.from_fixture(FIXTURE, tls=True, token="plugin-token") as srv:
        kubeconfig = pathlib.Path(srv.write_kubeconfig(tmp / "kubeconfig", context="blog"))
        yield srv, kubeconfig, tmp


def test_kubectl_finds_the_plugin() -> None:
    proc = kubectl("plugin", "list")
    assert proc.returncode == 0, proc.stderr
    assert str(plugin_dir() / "kubectl-kilo").encode() in proc.stdout


def test_kubectl_kilo_graph_is_kgctl_py_graph(cluster) -> None:
    _, kubeconfig, _ = cluster
    want = kgctl("--kubeconfig", str(kubeconfig), "graph")
    assert want.returncode == 0, want.stderr
    assert want.stdout == (FIXTURE / "000-graph.stdout").read_bytes()
    for args, extra in [
        (("kilo", "graph", "--kubeconfig", str(kubeconfig)), {}),
        (("kilo", "--kubeconfig", str(kubeconfig), "graph"), {}),
        (("kilo", "graph"), {"KUBECONFIG": str(kubeconfig)}),
        (("kilo", "graph", "--context", "blog", "--request-timeout", "10s"), {"KUBECONFIG": str(kubeconfig)}),
    ]:
        got = kubectl(*args, **extra)
        assert (got.returncode, got.stdout, got.stderr) == (0, want.stdout, b""), (args, got.stderr)


def test_kubectl_kilo_showconf_and_errors(cluster) -> None:
    _, kubeconfig, _ = cluster
    got = kubectl("kilo", "showconf", "node", "ty1.k3s", KUBECONFIG=str(kubeconfig))
    assert got.returncode == 0, got.stderr
    assert got.stdout == (FIXTURE / "006-showconf_node_ty1.k3s.stdout").read_bytes()
    # A context kubeconfig does not have: the same one-line error and exit status as kgctl-py.
    want = kgctl("--kubeconfig", str(kubeconfig), "--context", "nope", "graph")
    got = kubectl("kilo", "graph", "--context", "nope", "--kubeconfig", str(kubeconfig))
    assert want.returncode != 0
    assert (got.returncode, got.stdout, got.stderr) == (want.returncode, want.stdout, want.stderr)
    assert got.stderr.count(b"\n") == 1 and b"Traceback" not in got.stderr


def test_kubectl_kilo_merges_kubeconfig_files_like_kubectl(cluster) -> None:
    """KUBECONFIG=a:b, the current context in one file and the cluster in another."""
    _, kubeconfig, tmp = cluster
    config = yaml.safe_load(kubeconfig.read_text())
    first, second = tmp / "only-context", tmp / "rest"
    first.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "blog", "contexts": config["contexts"]}))
    second.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "clusters": config["clusters"], "users": config["users"]}))
    merged = f"{first}{os.pathsep}{second}"
    # kubectl itself reads this pair the same way.
    view = kubectl("config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}", KUBECONFIG=merged)
    assert view.returncode == 0 and view.stdout.startswith(b"https://127.0.0.1:")
    got = kubectl("kilo", "graph", KUBECONFIG=merged)
    assert got.returncode == 0, got.stderr
    assert got.stdout == (FIXTURE / "000-graph.stdout").read_bytes()


def test_kubectl_kilo_speaks_as_kubectl_kilo() -> None:
    got = kubectl("kilo", "--help")
    assert got.returncode == 0
    assert got.stdout.startswith(b"Usage: kubectl kilo [OPTIONS] COMMAND [ARGS]...")
    for name in (b"graph", b"showconf", b"doctor", b"snapshot"):
        assert b"\n  " + name + b" " in got.stdout
    doctor = kubectl("kilo", "doctor", "--help")
    assert doctor.returncode == 0 and doctor.stdout.startswith(b"Usage: kubectl kilo doctor [OPTIONS]")
    version = kubectl("kilo", "--version")
    assert version.returncode == 0 and version.stdout.startswith(b"kgctl-py ")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", "30"), ("1m30s", "90"), ("500ms", "0.5"), ("2h", "7200"), ("12", "12"), ("2.5", "2.5"), ("0", None), ("0s", None), ("soon", "soon")],
)
def test_kubectl_durations(text: str, seconds: str | None) -> None:
    assert kubectl_duration(text) == seconds


def test_translate_args_leaves_everything_else() -> None:
    assert translate_args(["graph", "--request-timeout", "1m", "-o", "svg"]) == ["graph", "--request-timeout", "60", "-o", "svg"]
    # kubectl's 0 (no timeout) keeps kgctl-py's bounded default.
    assert translate_args(["--request-timeout=0", "graph"]) == ["graph"]
    assert translate_args(["showconf", "node", "--", "--request-timeout=5s"]) == ["showconf", "node", "--", "--request-timeout=5s"]
