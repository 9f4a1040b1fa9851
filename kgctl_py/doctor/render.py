"""Renderers for doctor's results: a human table, JSON and a short summary.

``Env`` is the shared ``Environment`` (streams, terminals, colour) that
also paints doctor's statuses.
"""

from __future__ import annotations

import json
from typing import Any

from kgctl_py.doctor.model import CATEGORIES, RANK, CheckResult, Status, worst
from kgctl_py.doctor.render_scale import cap_pairs, location_summary
from kgctl_py.environment import Environment, visible

SCHEMA_VERSION = "kgctl-py.squat.ai/v1"
GLYPHS = {Status.PASS: "✔", Status.WARN: "‼", Status.FAIL: "×", Status.SKIP: "-", Status.UNKNOWN: "?"}
COLOURS = {Status.PASS: "32", Status.WARN: "33", Status.FAIL: "31", Status.SKIP: "2", Status.UNKNOWN: "35"}
# Beyond this many nodes the matrix is left to -o json.
MATRIX_MAX_NODES = 16


class Env(Environment):
    """The shared Environment, painting doctor's statuses in their colours."""

    def paint(self, status: Status, text: str) -> str:
        return self.style(COLOURS[status], text)


def _by_category(results: list[CheckResult]) -> list[tuple[str, list[CheckResult]]]:
    groups: dict[str, list[CheckResult]] = {}
    for r in results:
        groups.setdefault(r.check.category, []).append(r)
    order = [c for c in CATEGORIES if c in groups] + sorted(c for c in groups if c not in CATEGORIES)
    return [(c, groups[c]) for c in order]


def _subject_word(kind: str, n: int) -> str:
    word = {"node": "node", "peer": "peer", "location": "location", "pair": "pair", "cluster": "item"}.get(kind, kind)
    return f"{n} {word}" + ("" if n == 1 else "s")


def _rows(env: Env, r: CheckResult) -> list[list[str]]:
    rows = []
    passed = [f for f in r.findings if f.status == Status.PASS]
    others = [f for f in r.findings if f.status != Status.PASS]
    for f in others:
        rows.append([env.paint(f.status, GLYPHS[f.status]), r.check.id, visible(f.subject), visible(f.detail)])
    rows = cap_pairs(rows, [f.kind for f in others], [env.paint(Status.FAIL, GLYPHS[Status.FAIL]), r.check.id, ""])
    if passed:
        if len(passed) == 1:
            f = passed[0]
            rows.append([env.paint(Status.PASS, GLYPHS[Status.PASS]), r.check.id, visible(f.subject), visible(f.detail)])
        else:
            kinds = sorted({f.kind for f in passed})
            what = _subject_word(kinds[0], len(passed)) if len(kinds) == 1 else f"{len(passed)} subjects"
            label = f"{what} pass" if others else f"all {what} pass"
            rows.append([env.paint(Status.PASS, GLYPHS[Status.PASS]), r.check.id, "", label])
    if not r.findings:
        rows.append([env.paint(Status.SKIP, GLYPHS[Status.SKIP]), r.check.id, "", "no findings"])
    return rows


def summary(results: list[CheckResult]) -> dict[str, int]:
    counts = {s.value: 0 for s in (Status.PASS, Status.WARN, Status.FAIL, Status.SKIP, Status.UNKNOWN)}
    for r in results:
        counts[r.status.value] += 1
    return counts


def render_table(results: list[CheckResult], env: Env) -> str:
    from tabulate import tabulate  # type: ignore[import-untyped]

    out: list[str] = []
    for category, group in _by_category(results):
        status = worst([r.status for r in group])
        out.append(env.paint(status, f"{GLYPHS[status]} {category}"))
        rows = [row for r in group for row in _rows(env, r)]
        table = tabulate(rows, tablefmt="plain", disable_numparse=True)
        out.extend("  " + line.rstrip() for line in table.splitlines())
        out.append("")
    for r in results:
        if r.check.matrix and r.data and 1 < len(r.data.get("nodes", [])) <= MATRIX_MAX_NODES and "status" in r.data:
            out.append(_matrix(r.data))
            out.append("")
        elif r.check.matrix and r.data and len((r.data.get("locations") or {}).get("names", [])) > 1:
            out.append(location_summary(r.data["locations"]))
            out.append("")
    out.append(LEGEND)
    out.append("")
    hints = _hints(results, env)
    if hints:
        out.append("What to do:")
        out.extend(hints)
        out.append("")
    c = summary(results)
    out.append(f"{c['pass']} passed, {c['warn']} warnings, {c['fail']} failed, {c['skip']} skipped" + (f", {c['unknown']} unknown" if c["unknown"] else ""))
    return "\n".join(out) + "\n"


LEGEND = "(" + "  ".join(f"{GLYPHS[s]} {s.value}" for s in (Status.PASS, Status.WARN, Status.FAIL, Status.SKIP, Status.UNKNOWN)) + ")"
# Subjects named in one grouped hint before "and N more".
HINT_SUBJECTS = 8


def _hints(results: list[CheckResult], env: Env) -> list[str]:
    """One line per check and distinct hint, naming every subject it applies to once."""
    lines = []
    for r in results:
        groups: dict[str, tuple[Status, list[str]]] = {}
        for f in r.findings:
            if f.status not in (Status.FAIL, Status.WARN):
                continue
            # A finding without its own hint gets the check's generic one, shown once.
            hint = f.hint or r.check.hint
            status, subjects = groups.setdefault(hint, (f.status, []))
            if f.hint and f.subject and f.subject not in subjects:
                subjects.append(f.subject)
            if RANK[f.status] > RANK[status]:
                groups[hint] = (f.status, subjects)
        for hint, (status, subjects) in groups.items():
            shown = ", ".join(visible(s) for s in subjects[:HINT_SUBJECTS]) + (
                f" and {len(subjects) - HINT_SUBJECTS} more" if len(subjects) > HINT_SUBJECTS else ""
            )
            where = f" {shown}" if shown else ""
            lines.append(f"  {env.paint(status, GLYPHS[status])} {r.check.id}{where}: {visible(hint)}  ({r.check.explain})")
    return lines


def _matrix(data: dict[str, Any]) -> str:
    from tabulate import tabulate  # type: ignore[import-untyped]

    nodes = data["nodes"]
    rows = []
    for i, src in enumerate(nodes):
        row = [src]
        for j, _ in enumerate(nodes):
            status = data["status"][i][j]
            rtt = data["rttMs"][i][j]
            if i == j:
                row.append("·")
            elif status in ("pass", "warn") and rtt is not None:
                row.append(f"{rtt:.1f}" + ("!" if status == "warn" else ""))
            else:
                row.append({"fail": "×", "unknown": "?"}.get(status, status))
        rows.append(row)
    header = ["ping from \\ to (ms)", *nodes]
    return tabulate(rows, headers=header, tablefmt="simple", disable_numparse=True)


def report(results: list[CheckResult]) -> dict[str, Any]:
    """The JSON document; its schema is documented in docs/checks/README.md."""
    categories = []
    for category, group in _by_category(results):
        checks = []
        for r in group:
            item: dict[str, Any] = {
                "id": r.check.id,
                "title": r.check.title,
                "severity": r.check.severity.value,
                "status": r.status.value,
                "hint": r.check.hint,
                "explain": r.check.explain,
                "findings": [{"status": f.status.value, "kind": f.kind, "node": f.subject, "detail": f.detail, "hint": f.hint} for f in r.findings],
            }
            if r.data is not None:
                item["data"] = r.data
            checks.append(item)
        categories.append({"name": category, "status": worst([r.status for r in group]).value, "checks": checks})
    return {
        "apiVersion": SCHEMA_VERSION,
        "kind": "DoctorReport",
        "status": worst([r.status for r in results]).value,
        "summary": summary(results),
        "categories": categories,
    }


def render_json(results: list[CheckResult]) -> str:
    return json.dumps(report(results), indent=2, ensure_ascii=False) + "\n"


def render_short(results: list[CheckResult], env: Env) -> str:
    out = []
    for r in results:
        bad = [f for f in r.findings if f.status in (Status.FAIL, Status.WARN, Status.UNKNOWN)]
        tail = ""
        if bad:
            names = sorted({visible(f.subject) for f in bad})
            shown = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
            tail = f" ({shown})"
        out.append(f"{env.paint(r.status, GLYPHS[r.status])} {r.check.id}{tail}")
    return "\n".join(out) + "\n"
