"""kgctl's golden outputs, replayed byte for byte.

Every non-help case of ``tests/compat/cases`` (copied from the shared
recordings of the real kgctl) runs through the real CLI twice: against the
project's own API server over HTTP, and from a snapshot of the same cluster
with ``--now`` set to the capture time.
"""

from __future__ import annotations

import json
import pathlib

import pytest
import yaml
from clirun import run
from kubeapi import KubeAPIServer, load_fixture

CASES = pathlib.Path(__file__).parents[1] / "compat" / "cases"


def _fixtures() -> list[pathlib.Path]:
    return sorted(d for d in CASES.iterdir() if d.is_dir() and not d.name.startswith("help"))


def _cases(fixture: pathlib.Path) -> list[dict]:
    cases = json.loads((fixture / "cases.json").read_text())
    return [c for c in cases if "help" not in c.get("tags", [])]


def _check(fixture: pathlib.Path, base_args: list[str]) -> list[str]:
    failures = []
    for case in _cases(fixture):
        result = run(base_args + case["args"])
        expected = (fixture / case["stdout"]).read_bytes()
        if result.stdout != expected or (result.code == 0) != (case["exit"] == 0):
            failures.append(
                f"{fixture.name} {case['args']}: exit {result.code} (want {case['exit']}), stdout {'same' if result.stdout == expected else 'differs'}"
            )
    return failures


@pytest.mark.parametrize("fixture", _fixtures(), ids=lambda p: p.name)
def test_golden_cases_against_api_server(fixture: pathlib.Path, tmp_path: pathlib.Path) -> None:
    objects, meta = load_fixture(fixture)
    with KubeAPIServer(objects, crd=meta["crd"], captured_at=meta["capturedAt"]) as srv:
        kubeconfig = srv.write_kubeconfig(tmp_path / "kubeconfig")
        failures = _check(fixture, ["--kubeconfig", str(kubeconfig)])
    assert not failures, "\n".join(failures[:20])


@pytest.mark.parametrize("fixture", _fixtures(), ids=lambda p: p.name)
def test_golden_cases_from_snapshot(fixture: pathlib.Path, tmp_path: pathlib.Path) -> None:
    meta = json.loads((fixture / "meta.json").read_text())
    snapshot = fixture / "cluster.yaml"
    if not meta["crd"]:
        doc = yaml.safe_load(snapshot.read_text())
        doc.setdefault("metadata", {})["annotations"] = {"kgctl-py.squat.ai/peer-crd": "false"}
        snapshot = tmp_path / "cluster.yaml"
        snapshot.write_text(yaml.safe_dump(doc))
    failures = _check(fixture, ["--snapshot", str(snapshot), "--now", str(meta["capturedAt"])])
    assert not failures, "\n".join(failures[:20])


def test_every_fixture_has_cases() -> None:
    # Guards against a broken copy of the goldens making the suite vacuous.
    total = sum(len(_cases(f)) for f in _fixtures())
    assert len(_fixtures()) >= 45 and total >= 1900
