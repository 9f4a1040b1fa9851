"""Renderers: golden table, JSON and short outputs; colour and progress rules."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import doctor_fixtures as fx
import pytest
from click.testing import CliRunner

from kgctl_py.doctor.model import Check, CheckResult, Finding, Severity, Status
from kgctl_py.doctor.render import Env, render_table

GOLDEN = fx.HERE / "golden"
REGEN = os.environ.get("DOCTOR_REGEN_GOLDEN") == "1"
BROKEN = ["tls-san-missing-public-ip", "bad-key", "private-leader-endpoint", "metrics-bind-address-default", "invalid-peer", "location-split-networks"]


def _broken_doc():
    doc = fx.healthy()
    by_name = {c["name"]: c for c in fx.cases()}
    for name in BROKEN:
        doc = fx.apply_case(doc, by_name[name])
    return doc


def _run(snapshot, *args):
    from kgctl_py.cli import (
        app,  # noqa: F401  (registers the commands)
        cli,
    )

    result = CliRunner().invoke(cli, ["doctor", "--snapshot", str(snapshot), *args], env={"NO_COLOR": ""})
    return result.exit_code, result.output


@pytest.mark.parametrize("scenario", ["healthy", "broken"])
@pytest.mark.parametrize("fmt", ["table", "json", "short"])
def test_golden(tmp_path, scenario, fmt):
    doc = fx.healthy() if scenario == "healthy" else _broken_doc()
    snapshot = fx.write(doc, tmp_path / "cluster.yaml")
    code, out = _run(snapshot, "-o", fmt)
    assert code == (0 if scenario == "healthy" else 1), out
    path = GOLDEN / f"{scenario}.{fmt}"
    if REGEN:
        path.write_text(out)
    assert out == path.read_text(), f"regenerate with DOCTOR_REGEN_GOLDEN=1 if intended: {path}"


def test_json_schema_is_stable(tmp_path):
    snapshot = fx.write(_broken_doc(), tmp_path / "cluster.yaml")
    _, out = _run(snapshot, "-o", "json")
    doc = json.loads(out)
    assert list(doc) == ["apiVersion", "kind", "status", "summary", "categories"]
    assert doc["apiVersion"] == "kgctl-py.squat.ai/v1" and doc["kind"] == "DoctorReport"
    assert set(doc["summary"]) == {"pass", "warn", "fail", "skip", "unknown"}
    for cat in doc["categories"]:
        assert list(cat) == ["name", "status", "checks"]
        for check in cat["checks"]:
            assert list(check)[:7] == ["id", "title", "severity", "status", "hint", "explain", "findings"]
            for f in check["findings"]:
                assert list(f) == ["status", "kind", "node", "detail", "hint"]
                assert f["status"] in ("pass", "warn", "fail", "skip", "unknown") and f["node"]
            assert check["explain"] == f"kgctl-py doctor --explain {check['id']}"


def _results():
    check = Check("kilo.endpoint", "kilo", "t", Severity.FAIL, "generic hint", lambda i: [])
    return [CheckResult(check, [Finding(Status.FAIL, "baidu", "private", "location", "annotate it", check="kilo.endpoint")])]


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_colour_only_on_a_tty_and_never_with_no_color():
    assert "\x1b[" not in render_table(_results(), Env.detect(io.StringIO(), io.StringIO(), {}))
    assert "\x1b[31m" in render_table(_results(), Env.detect(_Tty(), io.StringIO(), {}))
    assert "\x1b[" not in render_table(_results(), Env.detect(_Tty(), io.StringIO(), {"NO_COLOR": "1"}))
    # A dumb terminal shows escape codes as text.
    assert "\x1b[" not in render_table(_results(), Env.detect(_Tty(), io.StringIO(), {"TERM": "dumb"}))
    assert "\x1b[31m" in render_table(_results(), Env.detect(io.StringIO(), io.StringIO(), {}, color="always"))


def test_every_command_writes_to_the_environment_main_is_given():
    from kgctl_py.cli import main
    from kgctl_py.environment import Environment

    out, err = _Tty(), io.StringIO()
    env = Environment.detect(out, err, {})
    assert main(["--snapshot", str(fx.HERE / "healthy.yaml"), "doctor", "--static-only", "-o", "short"], env=env) == 0
    assert "\x1b[32m" in out.getvalue()
    assert main(["--snapshot", str(fx.HERE / "healthy.yaml"), "graph"], env=env) == 0
    assert "digraph" in out.getvalue()
    assert main(["showconf", "node", "nope", "--snapshot", str(fx.HERE / "healthy.yaml")], env=env) == 1
    assert err.getvalue().count("\n") == 1


def test_progress_only_on_a_tty():
    quiet, loud = io.StringIO(), _Tty()
    Env.detect(io.StringIO(), quiet, {}).show_progress("pings done: 1/2")
    Env.detect(io.StringIO(), loud, {}).show_progress("pings done: 1/2")
    assert quiet.getvalue() == "" and "pings done: 1/2" in loud.getvalue()


def test_hints_follow_the_table():
    text = render_table(_results(), Env())
    table, hints = text.split("What to do:")
    assert "baidu" in table and "× kilo.endpoint baidu: annotate it  (kgctl-py doctor --explain kilo.endpoint)" in hints


def test_graph_and_showconf_never_import_doctor():
    code = (
        "import sys\n"
        "from kgctl_py.cli import main\n"
        "try:\n"
        f"    main(['graph', '--snapshot', {str(fx.HERE / 'healthy.yaml')!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        "bad = sorted(m for m in sys.modules if m.startswith('kgctl_py.doctor') or m == 'kubernetes' or m == 'tabulate')\n"
        "sys.stderr.write(repr(bad))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.startswith("digraph"), proc.stderr
    assert proc.stderr.endswith("[]"), proc.stderr


def test_a_hint_shared_by_many_subjects_is_printed_once_naming_them_all():
    check = Check("kilo.peers", "kilo", "t", Severity.FAIL, "generic hint", lambda i: [])
    shared = "give each node and peer its own key pair (wg genkey | wg pubkey)"
    findings = [Finding(Status.FAIL, f"n{i}", "shared key", hint=shared, check="kilo.peers") for i in range(11)]
    findings.append(Finding(Status.FAIL, "cluster", "no hint of its own", "cluster", check="kilo.peers"))
    text = render_table([CheckResult(check, findings)], Env())
    hints = text.split("What to do:")[1]
    assert hints.count(shared) == 1 and hints.count("generic hint") == 1
    assert "n0, n1, n2, n3, n4, n5, n6, n7 and 3 more: " + shared in hints


def test_the_table_has_a_legend_of_its_glyphs():
    text = render_table(_results(), Env())
    table, _ = text.split("What to do:")
    assert table.rstrip().splitlines()[-1] == "(✔ pass  ‼ warn  × fail  - skip  ? unknown)"
