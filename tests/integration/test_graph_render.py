"""`graph -o svg|png` renders through the real Graphviz binaries, and the
classic pipe `kgctl-py graph | circo -Tsvg` keeps working."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

EXAMPLE = str(pathlib.Path(__file__).resolve().parents[2] / "examples" / "multicloud.yaml")
KGCTL_PY = [sys.executable, "-m", "kgctl_py"]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*KGCTL_PY, "--snapshot", EXAMPLE, *args], capture_output=True, timeout=60, env=env)


def test_dot_pipes_into_circo() -> None:
    dot = _run("graph")
    assert dot.returncode == 0
    svg = subprocess.run(["circo", "-Tsvg"], input=dot.stdout, capture_output=True, timeout=60, check=True).stdout
    assert svg.lstrip().startswith(b"<?xml") and b"ty1.k3s" in svg and b"laptop" in svg


@pytest.mark.parametrize("style", ["picture", "kgctl"])
@pytest.mark.parametrize("layout", ["circo", "dot", "neato", "fdp", "sfdp", "twopi"])
def test_svg_with_every_layout(layout: str, style: str, tmp_path: pathlib.Path) -> None:
    out = tmp_path / "cluster.svg"
    result = _run("graph", "-o", "svg", "--style", style, "--layout", layout, "--output-file", str(out))
    assert result.returncode == 0, result.stderr
    svg = out.read_bytes()
    assert b"<svg" in svg and b"bd2.k3s" in svg
    if style == "kgctl":
        assert b"location:baidu" in svg
    else:
        # The picture names locations plainly, and no engine draws a stray node for an edge into the Peers box.
        assert b">baidu</text>" in svg and b">cluster_peers</text>" not in svg


def test_png_on_stdout() -> None:
    result = _run("graph", "-o", "png")
    assert result.returncode == 0
    assert result.stdout.startswith(b"\x89PNG\r\n\x1a\n")


def test_missing_graphviz_is_one_clear_line(tmp_path: pathlib.Path) -> None:
    # An empty PATH: Python is started by its full path, Graphviz cannot be found.
    env = dict(os.environ, PATH=str(tmp_path))
    result = _run("graph", "-o", "svg", env=env)
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "graphviz" in lines[0] and "apt-get install graphviz" in lines[0]
    assert result.stdout == b""


def test_bad_format_and_layout_are_usage_errors() -> None:
    assert _run("graph", "-o", "jpeg").returncode == 2
    assert _run("graph", "-o", "svg", "--layout", "spring").returncode == 2


def test_sigterm_during_a_stalled_request_is_one_line_and_130(tmp_path: pathlib.Path) -> None:
    import signal
    import socket
    import time

    # A server that accepts and never answers.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{listener.getsockname()[1]}'}}}}]\n"
        "users: [{name: c, user: {}}]\ncontexts: [{name: c, context: {cluster: c, user: c}}]\n"
    )
    proc = subprocess.Popen([*KGCTL_PY, "--kubeconfig", str(kubeconfig), "graph"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        conn, _ = listener.accept()
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
        listener.close()
    assert proc.returncode == 130
    assert err.decode().strip() == "kgctl-py: interrupted" and out == b""
