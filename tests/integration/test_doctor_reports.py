"""doctor's reports for runbooks and CI (issue 14): JUnit XML as CI systems
read it, a self-contained HTML report checked in real headless Chromium, the
document scripts get when the run cannot start, and --watch."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from doctor_fixtures.live import DoctorServer, Nodes
from kubeapi.testing import wait_until

from kgctl_py.doctor import report_html
from kgctl_py.doctor.model import Check, CheckResult, Finding, Severity, Status
from kgctl_py.doctor.outputs import check_writable, write_file
from kgctl_py.doctor.watch import changes, state
from kgctl_py.errors import CliError

KGCTL_PY = [sys.executable, "-m", "kgctl_py"]
CHROMIUM = shutil.which("chromium")
CUT = "bd1"  # the example cluster with location baidu (bd1) cut off


def cut_nodes() -> Nodes:
    return Nodes(reachable=lambda src, dst: CUT not in (src, dst))


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM, "chromium is installed on the test machines"
    profile = tempfile.mkdtemp(prefix="chromium-")
    try:
        return subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def cut_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("reports")
    with DoctorServer(nodes=cut_nodes()) as ds:
        proc = subprocess.run(
            [
                *KGCTL_PY,
                "doctor",
                "--kubeconfig",
                ds.kubeconfig,
                "--check",
                "pod.ping",
                "--check",
                "kilo.*",
                "-o",
                "junit",
                "--junit-file",
                str(tmp / "file.xml"),
                "--report",
                str(tmp / "report.html"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    return {"proc": proc, "tmp": tmp}


def test_junit_has_the_structure_ci_systems_read(cut_run: dict[str, object]) -> None:
    proc = cut_run["proc"]
    assert isinstance(proc, subprocess.CompletedProcess) and proc.returncode == 1, proc.stderr
    tmp = cut_run["tmp"]
    assert isinstance(tmp, Path)
    assert (tmp / "file.xml").read_text() == proc.stdout  # --junit-file holds the same document
    root = ET.fromstring(proc.stdout)
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert suites and all(s.get("name", "").startswith("kgctl-py doctor: ") for s in suites)
    cases = [c for s in suites for c in s.findall("testcase")]
    # Counts in attributes, as Jenkins and GitLab read them, agree with the children.
    for s in suites:
        found = s.findall("testcase")
        assert int(s.get("tests", "-1")) == len(found)
        assert int(s.get("failures", "-1")) == sum(1 for c in found if c.find("failure") is not None)
        assert int(s.get("skipped", "-1")) == sum(1 for c in found if c.find("skipped") is not None)
    assert int(root.get("tests", "-1")) == len(cases)
    assert int(root.get("failures", "-1")) == sum(int(s.get("failures", "0")) for s in suites) > 0
    failing = {(c.get("classname"), c.get("name")) for c in cases if c.find("failure") is not None}
    # One testcase per check and subject: the six pairs with bd1, and the culprit.
    assert {n for cls, n in failing if cls == "pod.ping"} == {"aws2 → bd1", "bd1 → aws2", "bd1 → gcp1", "bd1 → srv1", "gcp1 → bd1", "srv1 → bd1", "cluster"}
    culprit = next(c for c in cases if c.get("classname") == "pod.ping" and c.get("name") == "cluster").find("failure")
    assert culprit is not None and "location baidu" in culprit.get("message", "") and "hint: " in (culprit.text or "")
    assert all(c.get("classname") and c.get("name") for c in cases)


def test_html_report_renders_in_chromium_with_the_mesh_and_the_failing_pair(cut_run: dict[str, object]) -> None:
    tmp = cut_run["tmp"]
    assert isinstance(tmp, Path)
    page = (tmp / "report.html").read_text()
    # Self-contained: nothing fetched from anywhere.
    assert "<link" not in page and "<script" not in page and "src=" not in page and "@import" not in page
    dom = chromium("--dump-dom", (tmp / "report.html").as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert "<svg" in html and 'class="mesh"' in html
    assert ">bd1<" in html or "bd1</text>" in html  # the mesh picture names the nodes
    assert 'id="verdict">fail<' in html
    # The heatmap marks the cut location; the node matrix marks the failing pairs.
    assert 'data-status="fail" data-from="baidu" data-to="aws"' in html
    assert 'data-status="fail" data-from="bd1" data-to="srv1"' in html
    assert 'data-status="fail" data-from="srv1" data-to="aws2"' not in html
    assert "every pair crossing location baidu fails" in html
    shot = tmp / "report.png"
    run = chromium(f"--screenshot={shot}", "--window-size=1200,2000", (tmp / "report.html").as_uri())
    assert run.returncode == 0 and shot.stat().st_size > 10_000, run.stderr[-2000:]
    if os.environ.get("KGCTL_PY_REPORT_SHOT"):
        shutil.copy(shot, os.environ["KGCTL_PY_REPORT_SHOT"])


def test_html_escapes_hostile_names() -> None:
    check = Check("kilo.peers", "kilo", "Peers are valid", Severity.FAIL, "kubectl edit peer NAME", lambda inp: [])
    name = "<script>alert(\"x\")</script> & 'q'"
    page = report_html.render_html([CheckResult(check, [Finding(Status.FAIL, name, f"bad {name}", "peer", hint=f"fix {name}")])])
    assert "<script>" not in page and 'alert("x")' not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;q&#x27;" in page


@pytest.mark.parametrize("fmt", ["json", "junit"])
def test_unreachable_api_still_prints_a_document(fmt: str) -> None:
    with DoctorServer() as ds:
        kubeconfig = ds.kubeconfig
    proc = subprocess.run([*KGCTL_PY, "doctor", "--kubeconfig", kubeconfig, "-o", fmt], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 3  # unchanged
    assert len(proc.stderr.strip().splitlines()) == 1
    if fmt == "json":
        doc = json.loads(proc.stdout)
        assert doc["kind"] == "DoctorReport" and doc["status"] == "error" and doc["error"]["exitCode"] == 3
        assert doc["error"]["message"] == proc.stderr.strip()
    else:
        root = ET.fromstring(proc.stdout)
        assert root.get("errors") == "1"
        error = root.find("testsuite/testcase/error")
        assert error is not None and error.get("message") == proc.stderr.strip()


def test_write_file_is_atomic_and_refuses_special_files(tmp_path: Path) -> None:
    real = tmp_path / "real.html"
    real.write_text("old")
    link = tmp_path / "link.html"
    link.symlink_to(real)
    write_file(str(link), "new")
    assert link.is_symlink() and real.read_text() == "new"  # followed, not replaced
    # A report is a file for a ticket: a FIFO (which would block the run) is refused, never replaced.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(CliError, match="not a regular file"):
        write_file(str(fifo), "x")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    with pytest.raises(CliError, match="not a regular file"):
        check_writable(str(tmp_path))
    with pytest.raises(CliError, match="does not exist"):
        write_file(str(tmp_path / "missing" / "r.html"), "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "link.html", "real.html"]  # no temporary left


def test_watch_changes_name_what_started_and_stopped_failing() -> None:
    check = Check("pod.ping", "network", "ping", Severity.FAIL, "", lambda ctx: [])
    ok = [CheckResult(check, [Finding(Status.PASS, "a → b", "3/3")])]
    bad = [CheckResult(check, [Finding(Status.FAIL, "a → b", "0/3")])]
    worse = [CheckResult(check, [Finding(Status.FAIL, "a → b", "0/3"), Finding(Status.FAIL, "b → a", "0/3")])]
    assert changes(state(ok), state(ok), "t") == []
    assert changes(state(ok), state(bad), "t") == ["t × pod.ping started failing: a → b"]
    assert changes(state(bad), state(worse), "t") == ["t × pod.ping now also fails for b → a"]
    assert changes(state(worse), state(ok), "t") == ["t ✔ pod.ping stopped failing (now pass)"]


def test_watch_prints_only_changes_and_cleans_up_on_ctrl_c() -> None:
    nodes = Nodes()
    with DoctorServer(nodes=nodes) as ds:
        proc = subprocess.Popen(
            [*KGCTL_PY, "doctor", "--kubeconfig", ds.kubeconfig, "--check", "pod.ping", "-o", "short", "--watch", "1", "--timeout", "30"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("✔ pod.ping"), first
        nodes.reachable = lambda src, dst: CUT not in (src, dst)
        changed = proc.stdout.readline()
        assert "× pod.ping started failing: " in changed and "bd1" in changed, changed
        nodes.reachable = lambda src, dst: True
        healed = proc.stdout.readline()
        assert "✔ pod.ping stopped failing" in healed, healed
        time.sleep(1.5)  # in the middle of a run, or between two
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err
        assert "Traceback" not in err
        label = "app.kubernetes.io/managed-by=kgctl-py-doctor"
        # Interrupted, doctor waits only briefly for the namespace (issue 11); it goes all the same.
        wait_until(
            lambda: [o for kind in ("Namespace", "DaemonSet", "Pod") for o in ds.srv.store.list(kind, label_selector=label)] == [],
            timeout=30,
            what="doctor's objects to go",
        )


def test_bad_report_path_is_refused_before_the_run(tmp_path: Path) -> None:
    import doctor_fixtures as fx

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for args in (["--report", str(tmp_path / "missing" / "r.html")], ["--junit-file", str(fifo)]):
        proc = subprocess.run(
            [*KGCTL_PY, "doctor", "--snapshot", str(fx.HERE / "healthy.yaml"), *args], capture_output=True, text=True, timeout=60, check=False
        )
        assert proc.returncode == 2, proc.stderr
        assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert fifo.exists() and not (tmp_path / "missing").exists()
