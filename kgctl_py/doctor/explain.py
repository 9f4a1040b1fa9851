"""Each check's page, built from the registry and the prose shipped in ``pages/``.

The header (title, category, severity, what the check needs) and the hint line
come from the ``Check`` record, so the docs cannot disagree with the code;
``doctor --explain ID`` prints the same page as ``docs/checks/ID.md``.
"""

from __future__ import annotations

from importlib import resources

from kgctl_py.doctor.model import Check

_NEEDS = {
    "static": "static: reads only objects, also on `--snapshot`",
    "exec": "live: execs in pods, needs a cluster",
    "network": "uses the network",
}


def _prose(name: str) -> str:
    return resources.files("kgctl_py.doctor").joinpath("pages").joinpath(name).read_text(encoding="utf-8")


def page(check: Check) -> str:
    """The Markdown page of one check."""
    extra = f" · runs with `--{check.opt_in.replace('_', '-')}`" if check.opt_in else ""
    extra += " · only with `--pre`, before Kilo is installed" if check.pre_only else (" · also with `--pre`" if check.pre else "")
    return (
        f"# `{check.id}`: {check.title}\n\n"
        f"Category `{check.category}` · severity `{check.severity.value}` · {_NEEDS[check.kind]}{extra}\n\n"
        f"{_prose(check.id + '.md').rstrip()}\n\n"
        f"Hint printed by doctor: `{check.hint}`\n"
    )


def table(checks: list[Check], link: str = "{id}.md") -> str:
    """The Markdown table of checks, in the order doctor runs them."""
    rows = ["| id | category | severity | kind | checks that |", "|----|----------|----------|------|-------------|"]
    for c in checks:
        target = link.format(id=c.id)
        rows.append(f"| [`{c.id}`]({target}) | {c.category} | {c.severity.value} | {c.kind} | {c.title} |")
    return "\n".join(rows) + "\n"


def index(checks: list[Check]) -> str:
    """docs/checks/README.md: how to select checks, the table, statuses, exit codes and the JSON schema."""
    intro = (
        "# kgctl-py doctor checks\n\n"
        f"`kgctl-py doctor` runs the {len(checks)} checks below, in this order. Each has a stable id,\n"
        "a category, a severity (the worst status it reports for a problem), and a page\n"
        "here, also printed by `kgctl-py doctor --explain ID` (a glob prints several);\n"
        "`kgctl-py doctor --list-checks` lists them. Select with `--check ID` /\n"
        "`--skip ID` (globs, repeatable, e.g. `--check 'kilo.*'`); `--static-only` runs only\n"
        "the checks that read objects. On `--snapshot` the live checks are skipped.\n\n"
        "This page and the check pages are generated from the registry\n"
        "(`kgctl_py/doctor/registry.py`, prose in `kgctl_py/doctor/pages/`) by `tools/gen_docs.py`.\n\n"
    )
    return intro + table(checks) + "\n" + _prose("README.tail.md")


def summary_by_category(checks: list[Check]) -> str:
    """The README's list of checks: one bullet per category."""
    groups: dict[str, list[str]] = {}
    for c in checks:
        groups.setdefault(c.category, []).append(f"`{c.id}`")
    head = (
        f"Its {len(checks)} checks are declared as data (`kgctl_py/doctor/registry.py`), each with a\n"
        "stable id, a category, a severity, a hint with the fix, and a page that\n"
        "`kgctl-py doctor --explain ID` prints (also in [docs/checks/](docs/checks/README.md));\n"
        "`kgctl-py doctor --list-checks` lists them with their severities:\n\n"
    )
    return head + "".join(f"* **{category}**: {', '.join(ids)};\n" for category, ids in groups.items())
