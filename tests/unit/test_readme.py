"""The README's two set-up commands are the ones CI and users run."""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", text, re.S)[:2]]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    _, test_command = _readme_commands()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci, "the last command of .ci/run must be the README's second command"
    assert ci[-1] == test_command


def test_first_command_runs_the_bundled_example() -> None:
    install, _ = _readme_commands()
    assert install.startswith("pip install .")
    example = re.search(r"--snapshot (\S+)", install)
    assert example and (ROOT / example.group(1)).is_file()
