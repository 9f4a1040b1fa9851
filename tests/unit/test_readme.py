"""The README's two set-up commands are the ones CI and users run."""

from __future__ import annotations

import importlib.metadata
import pathlib
import re

from packaging.markers import default_environment
from packaging.requirements import Requirement

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONSTRAINTS = ROOT / "tests" / "constraints.txt"


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", text, re.S)[:2]]


def _pins() -> dict[str, str]:
    lines = [line for line in CONSTRAINTS.read_text().splitlines() if line and not line.startswith("#")]
    pins = {}
    for line in lines:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line)
        assert m, f"tests/constraints.txt: {line!r} is not name==version"
        pins[_norm(m.group(1))] = m.group(2)
    return pins


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    _, test_command = _readme_commands()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci, "the last command of .ci/run must be the README's second command"
    assert ci[-1] == test_command
    # Before it, only the package index refresh: what the command needs, it installs itself.
    commands = [line for line in ci[:-1] if line and not line.startswith(("#", "set ", "cd ", "export "))]
    assert [c.split(" >")[0] for c in commands] == ["apt-get update -qq"]
    assert "set -euo pipefail" in ci


def test_test_command_installs_into_a_new_venv_at_the_pins() -> None:
    """A fresh machine: a new venv first, then the pinned install, then pytest last (its summary line ends CI's log)."""
    _, test_command = _readme_commands()
    steps = [s.strip() for s in test_command.split("&&")]
    assert steps[0].startswith("apt-get install") and "python3-venv" in steps[0].split()
    venv = steps.index("python3 -m venv .venv")
    assert steps[venv + 1] == ". .venv/bin/activate"
    install = steps[venv + 2]
    assert install == "pip install -q -c tests/constraints.txt -e '.[test]'"
    assert steps[-1].startswith("python3 -m pytest ") and len(steps) == venv + 4
    assert ".venv/" in (ROOT / ".gitignore").read_text().split()


def test_constraints_pin_every_test_dependency() -> None:
    """Every distribution that kgctl-py[test] pulls in, transitively, is pinned (else `make pins`)."""
    pins = _pins()
    env = default_environment()
    seen: set[str] = set()
    todo = [(r, "test") for r in importlib.metadata.requires("kgctl-py") or []]
    while todo:
        text, extra = todo.pop()
        req = Requirement(text)
        if req.marker and not req.marker.evaluate({**env, "extra": extra}):
            continue
        name = _norm(req.name)
        if name in seen:
            continue
        seen.add(name)
        assert name in pins, f"{req.name} is not pinned in tests/constraints.txt; run `make pins`"
        # The pin satisfies the range the package asks for.
        assert req.specifier.contains(pins[name], prereleases=True), f"pin {name}=={pins[name]} is outside {req}"
        todo += [(r, "") for r in importlib.metadata.requires(req.name) or []]
    assert {"click", "pytest", "pytest-xdist", "hypothesis"} <= seen


def test_first_command_runs_the_bundled_example() -> None:
    install, _ = _readme_commands()
    assert install.startswith("pip install .")
    example = re.search(r"--snapshot (\S+)", install)
    assert example and (ROOT / example.group(1)).is_file()
