"""Docs that cannot drift: completions, man pages and docs/cli.md against the click tree."""

from __future__ import annotations

import importlib.metadata
import os
import pathlib
import re
import shutil
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET

import click
import pytest

from kgctl_py import KGCTL_COMPAT_VERSION, __version__
from kgctl_py.cli import app as _app
from kgctl_py.cli import cli

ROOT = pathlib.Path(__file__).resolve().parents[2]
_app.load_all()  # the tests walk the whole tree
sys.path.insert(0, str(ROOT / "tools"))
import gen_docs  # noqa: E402

SCRIPTS = pathlib.Path(sysconfig.get_path("scripts"))
KGCTL = str(SCRIPTS / "kgctl-py") if (SCRIPTS / "kgctl-py").exists() else shutil.which("kgctl-py") or "kgctl-py"
FIX = "run `python3 tools/gen_docs.py` and commit the result"
# The pages quote click's help formatting, so they are generated at the pinned click.
_PIN = re.search(r"^click==(\S+)$", (ROOT / "tests" / "constraints.txt").read_text(), re.M)
if _PIN and importlib.metadata.version("click") != _PIN.group(1):
    FIX += f" (or first install the pinned click {_PIN.group(1)}, not {importlib.metadata.version('click')}: pip install -c tests/constraints.txt -e '.[test]')"


def test_generated_files_match_the_code() -> None:
    drifted = gen_docs.drift(gen_docs.generate())
    assert not drifted, f"out of date: {', '.join(drifted)}; {FIX}"


def test_check_mode_reports_drift(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`gen_docs.py --check` fails on a changed page and on a stale one, and names the fix."""
    for sub in ("man", "completions", "docs"):
        shutil.copytree(ROOT / sub, tmp_path / sub)
    monkeypatch.setattr(gen_docs, "ROOT", tmp_path)
    assert gen_docs.main(["--check"]) == 0
    page = tmp_path / "man" / "kgctl-py-graph.1"
    page.write_text(page.read_text().replace("graph", "grpah", 1))
    (tmp_path / "man" / "kgctl-py-removed.1").write_text(".TH X 1\n")
    assert gen_docs.drift(gen_docs.generate()) == ["man/kgctl-py-graph.1", "man/kgctl-py-removed.1"]
    assert gen_docs.main(["--check"]) == 1
    assert gen_docs.main(["--only", "man"]) == 0
    assert not (tmp_path / "man" / "kgctl-py-removed.1").exists()
    assert gen_docs.main(["--check"]) == 0


def test_check_mode_from_the_command_line() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_docs.py"), "--check"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert re.fullmatch(r"gen_docs: \d+ files up to date\n", proc.stdout)


def _commands_in_tree() -> list[tuple[tuple[str, ...], click.Command]]:
    return [(path, cmd) for path, cmd, _ in gen_docs.contexts()]


def test_every_command_has_help_a_man_page_and_a_reference_section() -> None:
    reference = (ROOT / "docs" / "cli.md").read_text()
    for path, cmd in _commands_in_tree():
        title = " ".join(("kgctl-py", *path))
        assert (cmd.help or "").strip(), f"{title} has no help text"
        assert (ROOT / "man" / f"{'-'.join(('kgctl-py', *path))}.1").is_file(), f"{title} has no man page; {FIX}"
        assert f"\n## {title}\n" in reference, f"{title} is not in docs/cli.md; {FIX}"
    assert {"graph", "showconf", "snapshot", "completion"} <= set(cli.commands)


MAN_PAGES = sorted((ROOT / "man").glob("*.1"))


@pytest.mark.parametrize("page", MAN_PAGES, ids=[p.name for p in MAN_PAGES])
def test_man_page_renders_without_warnings(page: pathlib.Path) -> None:
    groff = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(page)], capture_output=True, text=True, timeout=60)
    assert groff.returncode == 0 and groff.stderr == "", groff.stderr
    env = {**os.environ, "MANWIDTH": "80", "MANPAGER": "cat", "PAGER": "cat"}
    man = subprocess.run(["man", "--warnings", "-l", str(page)], capture_output=True, text=True, timeout=60, env=env)
    assert man.returncode == 0 and man.stderr == "", man.stderr
    text = re.sub(r".\x08", "", man.stdout)
    name = page.name.removesuffix(".1")
    assert re.search(rf"^NAME\n\s+{re.escape(name)} - \S", text, re.M), text[:400]
    assert "SYNOPSIS" in text and "SEE ALSO" in text


def test_root_man_page_documents_exit_codes_and_every_subcommand() -> None:
    env = {**os.environ, "MANWIDTH": "200", "MANPAGER": "cat"}
    text = subprocess.run(["man", "-l", str(ROOT / "man" / "kgctl-py.1")], capture_output=True, text=True, timeout=60, env=env).stdout
    text = re.sub(r".\x08", "", text)
    from kgctl_py.errors import ExitCode

    for code in ExitCode:
        assert re.search(rf"^\s+{int(code)}\s+{code.name}\b", text, re.M), f"exit status {int(code)} missing"
    for name in cli.commands:
        assert f"kgctl-py-{name}(1)" in text


def test_reference_is_the_real_help_output() -> None:
    """Each block in docs/cli.md is what `kgctl-py ... --help` prints in an 80-column terminal."""
    reference = (ROOT / "docs" / "cli.md").read_text()
    blocks = dict(re.findall(r"\n## (kgctl-py[^\n]*)\n\n```text\n(.*?)\n```\n", reference, re.S))
    titles = [" ".join(("kgctl-py", *path)) for path, _ in _commands_in_tree()]
    assert sorted(blocks) == sorted(titles)
    env = {**os.environ, "COLUMNS": "80"}
    for title, body in blocks.items():
        proc = subprocess.run([KGCTL, *title.split()[1:], "--help"], capture_output=True, text=True, timeout=60, env=env)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.rstrip("\n") == body, f"docs/cli.md section {title!r} differs from --help; {FIX}"


def test_version_names_both_versions() -> None:
    proc = subprocess.run([KGCTL, "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert proc.stdout == f"kgctl-py {__version__} (compatible with kgctl {KGCTL_COMPAT_VERSION})\n"
    # The package metadata (pyproject.toml) and the code agree.
    assert importlib.metadata.version("kgctl-py") == __version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", KGCTL_COMPAT_VERSION)


def test_changelog_has_this_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(rf"^## \[?{re.escape(__version__)}\]?", changelog, re.M), f"CHANGELOG.md has no section for {__version__}"


def test_example_svg_is_the_blog_cluster() -> None:
    """docs/example-multicloud.svg is `graph -o svg` of examples/multicloud.yaml: every node and peer is in it."""
    from kgctl_py.mesh.cluster import Cluster, Options, topology_for_graph
    from kgctl_py.sources import read_snapshot

    objects = read_snapshot(str(ROOT / "examples" / "multicloud.yaml"))
    cluster = Cluster.from_objects(objects.nodes, objects.peers)
    topology = topology_for_graph(cluster, Options(), objects.now)
    names = {h for s in topology.segments for h in s.hostnames} | {p.name for p in topology.peers}
    svg = ET.parse(ROOT / "docs" / "example-multicloud.svg").getroot()
    texts = {"".join(t.itertext()) for t in svg.iter("{http://www.w3.org/2000/svg}text")}
    assert names and names <= texts, names - texts
    assert "ali1.k3s" in names and "laptop" in names


def test_install_puts_man_pages_in_share_man_man1(tmp_path: pathlib.Path) -> None:
    """setuptools, reading pyproject.toml, installs every page under <prefix>/share/man/man1 (offline: no wheel build)."""
    proc = subprocess.run(
        [sys.executable, "-c", "from setuptools import setup; setup()", "-q", "install_data", "-d", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    installed = sorted(p.name for p in (tmp_path / "share" / "man" / "man1").iterdir())
    assert installed == sorted(p.name for p in MAN_PAGES)
    # The real man finds them by name there (a venv's <prefix>/share/man is on man's path via PATH).
    env = {**os.environ, "MANPATH": str(tmp_path / "share" / "man"), "MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "80"}
    for name in ("kgctl-py", "kgctl-py-showconf-node"):
        man = subprocess.run(["man", name], capture_output=True, text=True, timeout=60, env=env)
        assert man.returncode == 0 and re.search(rf"^NAME\n\s+{name} - ", re.sub(r".\x08", "", man.stdout), re.M), man.stderr


def test_readme_says_how_to_read_the_man_page_in_a_checkout() -> None:
    """An editable install (the README's second command) installs no data files; the README's stated way works."""
    readme = (ROOT / "README.md").read_text()
    [line] = [line for line in readme.splitlines() if line.startswith("man kgctl-py ")]
    argv = re.search(r"editable checkout: (man -l \S+)", line).group(1).split()  # type: ignore[union-attr]
    env = {**os.environ, "MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "80"}
    man = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, cwd=ROOT, stdin=subprocess.DEVNULL)
    assert man.returncode == 0, man.stderr
    assert re.search(r"^NAME\n\s+kgctl-py - ", re.sub(r".\x08", "", man.stdout), re.M), man.stdout[:300]


def test_console_scripts_are_declared() -> None:
    scripts = {e.name: e.value for e in importlib.metadata.entry_points(group="console_scripts") if e.dist and e.dist.name == "kgctl-py"}
    assert scripts == {"kgctl-py": "kgctl_py.__main__:run", "kubectl-kilo": "kgctl_py.__main__:run_plugin"}


def test_check_pages_and_readme_list_come_from_the_registry(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hand-edited check page, a page of a removed check and a stale README list all drift."""
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    monkeypatch.setattr(gen_docs, "ROOT", tmp_path)
    assert gen_docs.drift(gen_docs.check_docs()) == []
    page = tmp_path / "docs" / "checks" / "k3s.metrics-bind-address.md"
    page.write_text(page.read_text().replace("severity `fail`", "severity `warn`"))
    (tmp_path / "docs" / "checks" / "kilo.removed.md").write_text("# gone\n")
    readme = tmp_path / "README.md"
    readme.write_text(readme.read_text().replace("`kilo.peers`", "`kilo.peer`", 1))
    assert sorted(gen_docs.drift(gen_docs.check_docs())) == ["README.md", "docs/checks/k3s.metrics-bind-address.md", "docs/checks/kilo.removed.md"]
    assert gen_docs.main(["--only", "checks"]) == 0
    assert gen_docs.drift(gen_docs.check_docs()) == [] and not (tmp_path / "docs" / "checks" / "kilo.removed.md").exists()
