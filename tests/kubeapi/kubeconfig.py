"""kubeconfig files and exec credential plugins for clients of the test server."""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

EXEC_API_VERSION = "client.authentication.k8s.io/v1"


def kubeconfig(
    server: str,
    *,
    ca_file: str | os.PathLike[str] | None = None,
    token: str | None = None,
    client_cert: tuple[str | os.PathLike[str], str | os.PathLike[str]] | None = None,
    context: str = "test",
    insecure: bool = False,
    exec_command: Sequence[str] | None = None,
    embed_certs: bool = False,
) -> dict[str, Any]:
    cluster: dict[str, Any] = {"server": server}
    if insecure:
        cluster["insecure-skip-tls-verify"] = True
    elif ca_file is not None:
        if embed_certs:
            cluster["certificate-authority-data"] = base64.b64encode(Path(ca_file).read_bytes()).decode()
        else:
            cluster["certificate-authority"] = str(ca_file)
    user: dict[str, Any] = {}
    if token:
        user["token"] = token
    if client_cert is not None:
        cert, key = client_cert
        if embed_certs:
            user["client-certificate-data"] = base64.b64encode(Path(cert).read_bytes()).decode()
            user["client-key-data"] = base64.b64encode(Path(key).read_bytes()).decode()
        else:
            user["client-certificate"], user["client-key"] = str(cert), str(key)
    if exec_command:
        user["exec"] = {
            "apiVersion": EXEC_API_VERSION,
            "command": exec_command[0],
            "args": list(exec_command[1:]),
            "interactiveMode": "Never",  # required by client-go for the v1 exec API
            "provideClusterInfo": False,
        }
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [{"name": context, "user": user}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
        "preferences": {},
    }


def write_kubeconfig(path: str | os.PathLike[str], config: dict[str, Any]) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    # The file may hold a token or key paths: keep it private like kubectl does.
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        yaml.safe_dump(config, f, sort_keys=False)
    return p


_PLUGIN = '''\
"""Exec credential plugin written by the kubeapi test server."""
import json, sys
cred = {{"apiVersion": {api!r}, "kind": "ExecCredential", "status": {{"token": {token!r}}}}}
json.dump(cred, sys.stdout)
with open({log!r}, "a") as f:  # lets tests see that (and how often) the plugin ran
    f.write("called\\n")
'''


def write_exec_plugin(directory: str | os.PathLike[str], token: str) -> list[str]:
    """Write a plugin printing an ``ExecCredential`` with ``token``; returns the command to run it.

    Each run appends a line to ``<directory>/exec-plugin.calls``.
    """
    d = Path(directory)
    script = d / "exec-plugin.py"
    log = d / "exec-plugin.calls"
    script.write_text(_PLUGIN.format(api=EXEC_API_VERSION, token=token, log=str(log)), encoding="utf-8")
    return [sys.executable, str(script)]
