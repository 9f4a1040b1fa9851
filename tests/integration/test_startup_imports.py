"""graph and showconf against an HTTPS cluster with a token import none of
what start-up cost was cut from: a new import here is milliseconds of every run."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest
from kubeapi import KubeAPIServer

BLOG = pathlib.Path(__file__).resolve().parents[1] / "compat" / "cases" / "a-blog-6node"
# Each costs 1-30 ms of CPU per run; none is needed by these commands.
NOT_IMPORTED = (
    "yaml",
    "http.client",
    "email",
    "tempfile",
    "subprocess",
    "encodings.idna",
    "kubernetes",
    "dataclasses",  # records (kgctl_py/record.py) compile nothing; dataclasses cost 12-16 ms
    "kgctl_py.doctor",
    "kgctl_py.connect.plan",
    "kgctl_py.connect.system",
    "kgctl_py.connect.agent",
)

_PROBE = """
import json, sys
from kgctl_py.cli import main
try:
    code = main(sys.argv[2:])
except SystemExit as exit_:
    code = exit_.code
with open(sys.argv[1], "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""


@pytest.mark.parametrize("command", [["graph"], ["showconf", "node", "ty1.k3s"]], ids=" ".join)
def test_graph_and_showconf_import_only_what_they_need(tmp_path, command):
    with KubeAPIServer.from_fixture(BLOG, tls=True, token="t0k") as srv:
        kubeconfig = srv.write_kubeconfig(tmp_path / "k", embed_certs=True)
        out = tmp_path / "modules.json"
        proc = subprocess.run([sys.executable, "-c", _PROBE, str(out), "--kubeconfig", kubeconfig, *command], capture_output=True, timeout=60)
    result = json.loads(out.read_text())
    assert result["code"] in (0, None), proc.stderr
    assert proc.stdout.startswith(b"digraph kilo {" if command == ["graph"] else b"[Interface]")
    loaded = {m for m in result["modules"] if any(m == name or m.startswith(name + ".") for name in NOT_IMPORTED)}
    assert loaded == set()
