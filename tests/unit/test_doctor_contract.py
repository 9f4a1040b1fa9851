"""The runner applies every check's contract: it stamps the id, caps the status, and
skips by the check's own fields, never by special cases on ids."""

from __future__ import annotations

import subprocess
import sys

import doctor_fixtures as fx
import pytest

from kgctl_py.doctor import explain
from kgctl_py.doctor.model import Check, DoctorOptions, Finding, Observer, Severity, Status
from kgctl_py.doctor.registry import BY_ID, CHECKS
from kgctl_py.doctor.runner import apply_contract, run_checks
from kgctl_py.doctor.static import build_input
from kgctl_py.errors import CliError


def _over_reporting(inp):
    return [Finding(Status.FAIL, "n1", "worse than allowed"), Finding(Status.PASS, "n2", "fine"), Finding(Status.SKIP, "n3", "no data")]


@pytest.mark.parametrize(("severity", "capped"), [(Severity.FAIL, Status.FAIL), (Severity.WARN, Status.WARN), (Severity.INFO, Status.PASS)])
def test_runner_caps_findings_at_the_checks_severity(severity, capped):
    check = Check("test.cap", "kilo", "t", severity, "h", _over_reporting)
    result = apply_contract(check, _over_reporting(None))
    assert [f.status for f in result.findings] == [capped, Status.PASS, Status.SKIP]
    assert {f.check for f in result.findings} == {"test.cap"}


def test_runner_stamps_the_check_id_even_over_a_wrong_one():
    check = Check("test.stamp", "kilo", "t", Severity.FAIL, "h", lambda inp: [Finding(Status.PASS, "x", "y", check="other.id")])
    observer = Observer()
    inp = build_input(*fx.split(fx.healthy())[:2], now=fx.CAPTURED_AT)
    run_checks([check], inp, None, DoctorOptions(), observer)
    assert [f.check for f in observer.results[0].findings] == ["test.stamp"]


def test_opt_in_checks_are_skipped_with_their_own_reason():
    calls = []
    check = Check(
        "test.opt",
        "network",
        "t",
        Severity.FAIL,
        "h",
        lambda ctx: calls.append(ctx) or [],
        needs_network=True,
        opt_in="from_host",
        opt_in_reason="pass --from-host to try",
    )
    observer = Observer()
    inp = build_input(*fx.split(fx.healthy())[:2], now=fx.CAPTURED_AT)
    run_checks([check], inp, None, DoctorOptions(from_host=False), observer)
    assert not calls
    [finding] = observer.results[0].findings
    assert finding.status == Status.SKIP and finding.detail == "pass --from-host to try"


def test_registry_ids_are_unique_and_every_check_has_a_page():
    assert len(BY_ID) == len(CHECKS)
    for check in CHECKS:
        page = explain.page(check)
        assert page.startswith(f"# `{check.id}`: {check.title}\n")
        assert f"severity `{check.severity.value}`" in page and "## What it checks" in page and "## Fix" in page


def test_explain_prints_the_page_and_rejects_unknown_ids():
    ok = subprocess.run([sys.executable, "-m", "kgctl_py", "doctor", "--explain", "kilo.peers"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and ok.stdout == explain.page(BY_ID["kilo.peers"])
    bad = subprocess.run([sys.executable, "-m", "kgctl_py", "doctor", "--explain", "kilo.pers"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr == "no check matches 'kilo.pers' (did you mean 'kilo.peers'?); list them with: kgctl-py doctor --list-checks\n"
    far = subprocess.run([sys.executable, "-m", "kgctl_py", "doctor", "--check", "zzz"], capture_output=True, text=True, timeout=60)
    assert far.returncode == 2 and far.stderr == "no check matches 'zzz'; list them with: kgctl-py doctor --list-checks\n"
    # The hint works when pasted: every check, in the registry's order.
    listed = subprocess.run(bad.stderr.rsplit(": ", 1)[1].split(), capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["ID", "CATEGORY", "SEVERITY", "TITLE"]
    assert [line.split()[0] for line in lines[1:]] == [c.id for c in CHECKS]
    assert all(f" {c.severity.value} " in line and line.endswith(c.title) for c, line in zip(CHECKS, lines[1:]))


def test_explain_takes_a_glob_like_check():
    got = subprocess.run([sys.executable, "-m", "kgctl_py", "doctor", "--explain", "k3s.*"], capture_output=True, text=True, timeout=60)
    k3s = [c for c in CHECKS if c.id.startswith("k3s.")]
    assert got.returncode == 0 and len(k3s) >= 2
    assert got.stdout == "\n".join(explain.page(c) for c in k3s)


def test_a_waiting_check_lets_the_next_ones_run_and_still_reports_in_order():
    """Two reads some seconds apart: the check yields the wait, the runner runs the
    next checks meanwhile and resumes it once the wait is over."""
    import time

    events = []

    def twice(inp):
        events.append("first read")
        asked = time.monotonic()
        yield 0.3
        events.append(("second read", time.monotonic() - asked >= 0.3))
        return [Finding(Status.FAIL, "n1", "moved")]

    def quick(name):
        return lambda inp: events.append(name) or [Finding(Status.PASS, name, "ok")]

    def broken(inp):
        yield 0.1
        raise CliError("cannot list pods: forbidden")

    checks = [
        Check("test.twice", "kilo", "t", Severity.FAIL, "h", twice),
        Check("test.a", "kilo", "t", Severity.FAIL, "h", quick("a")),
        Check("test.broken", "kilo", "t", Severity.FAIL, "h", broken),
        Check("test.b", "kilo", "t", Severity.FAIL, "h", quick("b")),
    ]
    observer = Observer()
    inp = build_input(*fx.split(fx.healthy())[:2], now=fx.CAPTURED_AT)
    run_checks(checks, inp, None, DoctorOptions(), observer)
    assert events == ["first read", "a", "b", ("second read", True)]
    assert [r.check.id for r in observer.results] == ["test.twice", "test.a", "test.broken", "test.b"]
    assert [f.status for f in observer.results[0].findings] == [Status.FAIL]
    assert [(f.status, f.detail) for f in observer.results[2].findings] == [(Status.FAIL, "cannot list pods: forbidden")]
