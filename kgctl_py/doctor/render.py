"""Renderers for doctor's results: a human table, JSON and a short summary.

``Env`` holds the streams and whether they are terminals, so tests choose
colour and progress instead of patching globals.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from typing import IO, Any

from kgctl_py.doctor.model import CATEGORIES, CheckResult, Status, worst
from kgctl_py.doctor.render_scale import cap_pairs, location_summary

SCHEMA_VERSION = "kgctl-py.squat.ai/v1"
GLYPHS = {Status.PASS: "✔", Status.WARN: "‼", Status.FAIL: "×", Status.SKIP: "-", Status.UNKNOWN: "?"}
COLOURS = {Status.PASS: "32", Status.WARN: "33", Status.FAIL: "31", Status.SKIP: "2", Status.UNKNOWN: "35"}
# Beyond this many nodes the matrix is left to -o json.
MATRIX_MAX_NODES = 16


@dataclass
class Env:
    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    colour: bool = False
    progress: bool = False

    @classmethod
    def detect(cls, stdout: IO[str] | None = None, stderr: IO[str] | None = None, environ: dict[str, str] | None = None) -> Env:
        """Colour only on a terminal and never with NO_COLOR set (no-color.org); progress only on a terminal."""
        out, err = stdout or sys.stdout, stderr or sys.stderr
        env = os.environ if environ is None else environ
        no_color = env.get("NO_COLOR", "") != ""
        return cls(out, err, colour=_isatty(out) and not no_color, progress=_isatty(err))

    def paint(self, status: Status, text: str) -> str:
        return f"\x1b[{COLOURS[status]}m{text}\x1b[0m" if self.colour else text

    def show_progress(self, message: str) -> None:
        if self.progress:
            self.stderr.write(f"\r\x1b[2K{message}")
            self.stderr.flush()

    def end_progress(self) -> None:
        if self.progress:
            self.stderr.write("\r\x1b[2K")
            self.stderr.flush()


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


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
        rows.append([env.paint(f.status, GLYPHS[f.status]), r.check.id, f.subject, f.detail])
    rows = cap_pairs(rows, [f.kind for f in others], [env.paint(Status.FAIL, GLYPHS[Status.FAIL]), r.check.id, ""])
    if passed:
        if len(passed) == 1:
            f = passed[0]
            rows.append([env.paint(Status.PASS, GLYPHS[Status.PASS]), r.check.id, f.subject, f.detail])
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
    hints = []
    seen: set[str] = set()
    for r in results:
        for f in r.findings:
            if f.status not in (Status.FAIL, Status.WARN):
                continue
            # A finding's own hint names its subject; the check's generic hint is shown once.
            key = f"{r.check.id}\0{f.subject}\0{f.hint}" if f.hint else f"{r.check.id}\0"
            if key in seen:
                continue
            seen.add(key)
            where = f" {f.subject}" if f.hint and f.subject else ""
            hints.append(f"  {env.paint(f.status, GLYPHS[f.status])} {r.check.id}{where}: {f.hint or r.check.hint}  ({r.check.explain})")
    if hints:
        out.append("What to do:")
        out.extend(hints)
        out.append("")
    c = summary(results)
    out.append(f"{c['pass']} passed, {c['warn']} warnings, {c['fail']} failed, {c['skip']} skipped" + (f", {c['unknown']} unknown" if c["unknown"] else ""))
    return "\n".join(out) + "\n"


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
                "findings": [
                    {"status": f.status.value, "kind": f.kind, "node": f.subject, "detail": f.detail, "hint": f.hint}
                    for f in r.findings
                ],
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
            names = sorted({f.subject for f in bad})
            shown = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
            tail = f" ({shown})"
        out.append(f"{env.paint(r.status, GLYPHS[r.status])} {r.check.id}{tail}")
    return "\n".join(out) + "\n"
