"""Hostile kubeconfigs, through the real ``kgctl-py`` process: every one ends
in one line on stderr and exit status 2, and never prints a credential."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

SECRET = "kgctlpy-kubeconfig-secret-9d8e7f"
# The refused port 1 on loopback: a kubeconfig that parses gets that far and no further.
GOOD_CONTEXT = {"contexts": [{"name": "a", "context": {"cluster": "c", "user": "u"}}], "current-context": "a"}


def cfg(cluster: object = None, user: object = None, **top: object) -> dict:
    doc = dict(GOOD_CONTEXT)
    doc["clusters"] = [{"name": "c", "cluster": cluster if cluster is not None else {"server": "http://127.0.0.1:1"}}]
    doc["users"] = [{"name": "u", "user": user if user is not None else {"token": SECRET}}]
    doc.update(top)
    return doc


CASES = {
    "clusters not a list": (cfg(clusters=5), "kubeconfig {path}: clusters is not a list"),
    "contexts not a list": (cfg(contexts=7), "kubeconfig {path}: contexts is not a list"),
    "users not a list": (cfg(users={"u": 1}), "kubeconfig {path}: users is not a list"),
    "context cluster is a list": (cfg(contexts=[{"name": "a", "context": {"cluster": ["c"], "user": "u"}}]), 'cluster "" of context "a" does not exist'),
    "server not a string": (cfg({"server": 5}), 'cluster "c" has no server'),
    "bad IPv6 server": (cfg({"server": "http://[::1"}), "invalid server URL 'http://[::1'"),
    "port out of range": (cfg({"server": "http://127.0.0.1:99999"}), "invalid server URL 'http://127.0.0.1:99999'"),
    "not http": (cfg({"server": "ftp://127.0.0.1"}), "invalid server URL 'ftp://127.0.0.1'"),
    "CA data not base64": (cfg({"server": "https://127.0.0.1:1", "certificate-authority-data": "%%%"}), "certificate-authority-data is not valid base64"),
    "exec args not a list": (cfg(user={"exec": {"command": "/bin/true", "args": 5}}), "exec plugin args and env must be lists"),
    "exec env not a list": (cfg(user={"exec": {"command": "/bin/true", "env": 5}}), "exec plugin args and env must be lists"),
    "exec without command": (cfg(user={"exec": {"command": 5}}), "exec plugin has no command"),
    "exec not found": (cfg(user={"exec": {"command": "/nonexistent/plugin"}}), "exec plugin /nonexistent/plugin failed: "),
    "token file missing": (cfg(user={"tokenFile": "/nonexistent/token"}), "cannot read token file /nonexistent/token: No such file or directory"),
    "unknown context": (cfg(**{"current-context": "zzz"}), 'context "zzz" does not exist'),
    "not a mapping": ([1, 2], "kubeconfig {path} is not a mapping"),
}


def run(path: str) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "kgctl_py", "--kubeconfig", path, "graph"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_kubeconfig(tmp_path, name):
    doc, problem = CASES[name]
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    rc, out, err = run(str(path))
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    assert err.startswith("failed to create Kubernetes config: ") and problem.format(path=path) in err, err
    assert rc == 2 and out == ""
    assert SECRET not in err


def test_credentials_in_the_server_url_are_never_printed(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(cfg({"server": f"http://admin:{SECRET}@127.0.0.1:1/prefix"})))
    rc, out, err = run(str(path))
    assert rc == 3
    assert err == "cannot list nodes: cannot connect to http://127.0.0.1:1/prefix: Connection refused; is the API server running and the kubeconfig right?\n"
    path.write_text(yaml.safe_dump(cfg({"server": f"http://admin:{SECRET}@[::1"})))
    rc, out, err = run(str(path))
    assert rc == 2 and SECRET not in err and "invalid server URL 'http://[::1'" in err


@pytest.mark.parametrize(
    ("value", "problem"),
    [("1" * 5000, "a number has more than 4300 digits"), ("2025-13-45", "a date that does not exist (month must be in 1..12)")],
)
def test_a_scalar_pyyaml_cannot_build(tmp_path, value, problem):
    """PyYAML raises ValueError, not YAMLError, for these unquoted scalars."""
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(cfg()) + f"preferences: {{x: {value}}}\n")
    rc, out, err = run(str(path))
    assert err == f"failed to create Kubernetes config: kubeconfig {path} is not valid YAML: {problem}\n"
    assert rc == 2 and out == ""
