"""The console scripts' entry (``kgctl_py.__main__``) ends the process without
the interpreter's teardown, yet keeps everything a normal exit gives: all the
output, the exit code, the exit handlers, and other threads run to their end."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import doctor_fixtures as fx
import pytest
from kubeapi import KubeAPIServer

BLOG = pathlib.Path(__file__).resolve().parents[1] / "compat" / "cases" / "a-blog-6node"

# A module-level object whose finaliser runs only in the interpreter's teardown.
_PROBE = """
import atexit, sys, threading, time

class Teardown:
    def __del__(self):
        sys.__stderr__.write("teardown ran\\n")

probe = Teardown()
atexit.register(lambda: sys.stdout.write("exit handler ran\\n"))
if sys.argv[1] == "thread":
    def late():
        time.sleep(0.5)
        sys.stdout.write("thread finished\\n")
    threading.Thread(target=late).start()
sys.argv = ["kgctl-py", *sys.argv[2:]]
from kgctl_py.__main__ import run
run()
"""


def _run(mode: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _PROBE, mode, *argv], capture_output=True, text=True, timeout=60)


def _plain(*argv: str) -> subprocess.CompletedProcess[str]:
    """The same command ended the interpreter's usual way."""
    code = "import sys; from kgctl_py.cli import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory):
    with KubeAPIServer.from_fixture(BLOG, tls=True, token="t0k") as srv:
        yield srv.write_kubeconfig(tmp_path_factory.mktemp("entry") / "k", embed_certs=True)


def test_a_run_skips_the_teardown_but_keeps_its_output_and_exit_handlers(kubeconfig: str) -> None:
    plain = _plain("--kubeconfig", kubeconfig, "graph")
    proc = _run("plain", "--kubeconfig", kubeconfig, "graph")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == plain.stdout + "exit handler ran\n"
    assert plain.stdout.startswith("digraph kilo {") and plain.stdout.endswith("}\n\n")
    assert "teardown ran" not in proc.stderr


def test_a_failing_run_keeps_its_exit_code_and_message(kubeconfig: str) -> None:
    proc = _run("plain", "--kubeconfig", kubeconfig, "showconf", "node", "no-such-node")
    plain = _plain("--kubeconfig", kubeconfig, "showconf", "node", "no-such-node")
    assert plain.returncode not in (0, None)
    assert (proc.returncode, proc.stderr) == (plain.returncode, plain.stderr)
    assert proc.stdout == "exit handler ran\n"


def test_another_running_thread_gets_the_interpreters_own_exit(kubeconfig: str) -> None:
    proc = _run("thread", "--kubeconfig", kubeconfig, "graph")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.endswith("}\n\nthread finished\nexit handler ran\n")
    assert "teardown ran" in proc.stderr


def test_a_large_output_through_a_pipe_arrives_whole(tmp_path: pathlib.Path) -> None:
    with KubeAPIServer(fx.scaled(1000, locations=50), tls=True, token="t0k", captured_at=fx.CAPTURED_AT) as srv:
        kubeconfig = srv.write_kubeconfig(tmp_path / "k", embed_certs=True)
        got = subprocess.run(f"kgctl-py --kubeconfig {kubeconfig} graph | cat", shell=True, capture_output=True, text=True, timeout=120)
        ref = subprocess.run(
            [sys.executable, "-c", "import sys; from kgctl_py.cli import main; sys.exit(main())", "--kubeconfig", kubeconfig, "graph"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert ref.returncode == 0 and got.returncode == 0, got.stderr
    assert len(got.stdout) > 100_000
    assert got.stdout == ref.stdout


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--port", "abc", "graph"], "Invalid value for '--port': 'abc' is not a valid integer. See 'kgctl-py --help'."),
        (["graph", "--no-such-flag"], "No such option '--no-such-flag'. See 'kgctl-py graph --help'."),
        (["grph"], "No such command 'grph'. See 'kgctl-py --help'."),
        (["showconf", "node"], "Missing argument 'NAME'. See 'kgctl-py showconf node --help'."),
        (["completion", "tcsh"], "Invalid value for '{bash|zsh|fish}': 'tcsh' is not one of 'bash', 'zsh', 'fish'. See 'kgctl-py completion --help'."),
    ],
)
def test_click_usage_errors_are_one_line(argv: list[str], expected: str) -> None:
    """click's own show() prints the usage line, "Try --help" and a blank line too: four lines."""
    proc = subprocess.run([sys.executable, "-m", "kgctl_py", *argv], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", expected + "\n")


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
@pytest.mark.parametrize("command", [["status"], ["doctor", "--static-only"], ["showconf", "node", "nœud"]])
def test_output_is_utf8_whatever_the_streams_encoding(tmp_path: pathlib.Path, encoding: str, command: list[str]) -> None:
    """kgctl writes UTF-8 bytes whatever the locale; an ASCII stdout made status and doctor crash on a name or a glyph."""
    import json

    import yaml

    doc = yaml.safe_load((BLOG / "cluster.yaml").read_text())
    doc["items"][0]["metadata"]["annotations"]["kilo.squat.ai/location"] = "雲"
    doc["items"][-1]["metadata"]["name"] = "téléphone"
    snap = tmp_path / "snap.json"
    snap.write_text(json.dumps(doc))
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    proc = subprocess.run([sys.executable, "-m", "kgctl_py", "--snapshot", str(snap), *command], capture_output=True, env=env, timeout=60)
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()
    if command[0] == "showconf":
        assert proc.returncode == 1 and proc.stderr.decode("utf-8") == 'did not find any node named "nœud" in the cluster\n'
    else:
        assert proc.returncode == 0, proc.stderr
        assert "雲" in proc.stdout.decode("utf-8") or "✔" in proc.stdout.decode("utf-8")


def test_a_profiler_still_gets_to_write_its_results(kubeconfig: str, tmp_path: pathlib.Path) -> None:
    stats = tmp_path / "run.prof"
    entry = "import sys; sys.argv[0] = 'kgctl-py'; from kgctl_py.__main__ import run; run()"
    script = tmp_path / "entry.py"
    script.write_text(entry + "\n")
    proc = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(stats), str(script), "--kubeconfig", kubeconfig, "graph"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("digraph kilo {")
    assert stats.stat().st_size > 0
