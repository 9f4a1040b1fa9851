"""``doctor --report PATH.html``: one self-contained page to attach to a
ticket: the summary, every finding with its hint, the mesh picture as inline
SVG, and the ping results as a location x location heatmap (plus the node
matrix when it is small).  No external assets; every value is escaped."""

from __future__ import annotations

import re
import time
from html import escape
from typing import TYPE_CHECKING, Any

from kgctl_py.doctor.model import CheckResult, Status
from kgctl_py.doctor.render import GLYPHS, _by_category, summary

if TYPE_CHECKING:
    from kgctl_py.doctor.static import StaticInput

# The per-node matrix is drawn up to this many nodes.
NODE_MATRIX_MAX = 40

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
.meta{color:#666}.counts span{margin-right:14px;font-weight:600}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:3px 6px;vertical-align:top;text-align:left}
th{background:#f4f4f4}.pass{color:#1a7f37}.warn{color:#9a6700}.fail{color:#cf222e}.skip{color:#777}.unknown{color:#8250df}
tr.fail td{background:#fff0f0}tr.warn td{background:#fff8e5}
.hint{color:#444;font-size:13px}.hint code,code{background:#f4f4f4;padding:0 3px}
.heat td.cell{text-align:center;min-width:44px;font-variant-numeric:tabular-nums}
.heat td.cell.fail{background:#cf222e;color:#fff;font-weight:700}.heat td.cell.self{background:#eee}
.mesh svg{max-width:100%;height:auto;border:1px solid #eee}
.legend{color:#666;font-size:12px}
"""


def mesh_svg(inp: StaticInput) -> str:
    """The mesh picture as inline SVG: the same styled picture as ``graph -o svg``."""
    from kgctl_py.render import render_picture

    if inp.topology is None:
        return ""
    svg = render_picture(inp.topology, "svg").decode()
    # Inline: no XML prolog or DOCTYPE inside HTML.
    return re.sub(r"^.*?(?=<svg)", "", svg, flags=re.S)


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _heat_colour(rtt: float, top: float) -> str:
    """Green for the fastest, through yellow, to red for the slowest median RTT."""
    share = 0.0 if top <= 0 else min(1.0, rtt / top)
    return f"hsl({int(120 * (1 - share))},70%,80%)"


def _heatmap(loc: dict[str, Any]) -> str:
    names = loc["names"]
    top = max((v for row in loc["medianRttMs"] for v in row if v is not None), default=0.0)
    head = "".join(f"<th>{_e(n or '(none)')}</th>" for n in names)
    rows = []
    for i, a in enumerate(names):
        cells = []
        for j, b in enumerate(names):
            p, f, u, m = loc["probes"][i][j], loc["failures"][i][j], loc["unknown"][i][j], loc["medianRttMs"][i][j]
            title = f"{a or '(none)'} → {b or '(none)'}: {p} probes, {f} failed, {u} unknown" + (f", median {m} ms" if m is not None else "")
            if not p:
                cells.append(f'<td class="cell self" title="{_e(title)}"></td>')
            elif f:
                cells.append(f'<td class="cell fail" data-status="fail" data-from="{_e(a)}" data-to="{_e(b)}" title="{_e(title)}">× {f}/{p}</td>')
            elif m is None:
                cells.append(f'<td class="cell unknown" data-status="unknown" title="{_e(title)}">?</td>')
            else:
                cells.append(f'<td class="cell" data-status="pass" style="background:{_heat_colour(m, top)}" title="{_e(title)}">{m:.1f}</td>')
        rows.append(f"<tr><th>{_e(a or '(none)')}</th>{''.join(cells)}</tr>")
    return (
        f'<table class="heat" id="location-matrix"><tr><th>from \\ to</th>{head}</tr>{"".join(rows)}</table>'
        '<p class="legend">median RTT in ms (green fast, red slow); × failed/probes marks a failing pair of locations</p>'
    )


def _node_matrix(data: dict[str, Any]) -> str:
    nodes = data["nodes"]
    top = max((v for row in data["rttMs"] for v in row if v is not None), default=0.0)
    head = "".join(f"<th>{_e(n)}</th>" for n in nodes)
    rows = []
    for i, a in enumerate(nodes):
        cells = []
        for j, b in enumerate(nodes):
            status, rtt = data["status"][i][j], data["rttMs"][i][j]
            if i == j:
                cells.append('<td class="cell self"></td>')
            elif status == "fail":
                cells.append(f'<td class="cell fail" data-status="fail" data-from="{_e(a)}" data-to="{_e(b)}" title="{_e(a)} → {_e(b)} fails">×</td>')
            elif rtt is None:
                cells.append(f'<td class="cell unknown" data-status="{_e(status)}">?</td>')
            else:
                cells.append(f'<td class="cell" data-status="{_e(status)}" style="background:{_heat_colour(rtt, top)}">{rtt:.1f}</td>')
        rows.append(f"<tr><th>{_e(a)}</th>{''.join(cells)}</tr>")
    return f'<table class="heat" id="node-matrix"><tr><th>from \\ to</th>{head}</tr>{"".join(rows)}</table>'


def _findings(results: list[CheckResult]) -> str:
    out = []
    for category, group in _by_category(results):
        out.append(f"<h3>{_e(category)}</h3><table><tr><th></th><th>check</th><th>subject</th><th>detail</th><th>what to do</th></tr>")
        for r in group:
            findings = r.findings or []
            if not findings:
                out.append(f'<tr class="skip"><td class="skip">{GLYPHS[Status.SKIP]}</td><td>{_e(r.check.id)}</td><td></td><td>no findings</td><td></td></tr>')
            for f in findings:
                s = f.status.value
                hint = f.hint or (r.check.hint if f.status in (Status.FAIL, Status.WARN) else "")
                explain = f"<br><code>{_e(r.check.explain)}</code>" if hint else ""
                out.append(
                    f'<tr class="{s}" data-check="{_e(r.check.id)}" data-status="{s}"><td class="{s}">{GLYPHS[f.status]}</td>'
                    f"<td>{_e(r.check.id)}</td><td>{_e(f.subject)}</td><td>{_e(f.detail)}</td>"
                    f'<td class="hint">{_e(hint)}{explain}</td></tr>'
                )
        out.append("</table>")
    return "\n".join(out)


def _problems(results: list[CheckResult]) -> str:
    """Failures and warnings first, each with what to do, as a ticket reader wants them."""
    rows = []
    found = [(r, f) for r in results for f in r.findings]
    # A named culprit (a cluster-wide finding) reads before the pairs it explains.
    for r, f in sorted(found, key=lambda rf: rf[1].kind != "cluster"):
        if f.status in (Status.FAIL, Status.WARN):
            s = f.status.value
            rows.append(
                f'<tr class="{s}" data-status="{s}"><td class="{s}">{GLYPHS[f.status]}</td><td>{_e(r.check.id)}</td><td>{_e(f.subject)}</td>'
                f'<td>{_e(f.detail)}</td><td class="hint">{_e(f.hint or r.check.hint)}</td></tr>'
            )
    if not rows:
        return '<p class="pass">nothing failed</p>'
    shown = rows[:200]
    more = f'<p class="meta">… and {len(rows) - 200} more below</p>' if len(rows) > 200 else ""
    return '<table id="problems"><tr><th></th><th>check</th><th>subject</th><th>detail</th><th>what to do</th></tr>' + "".join(shown) + "</table>" + more


def render_html(results: list[CheckResult], svg: str = "", svg_error: str = "", generated: float | None = None) -> str:
    counts = summary(results)
    worst = "fail" if counts["fail"] else ("warn" if counts["warn"] else "pass")
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(generated if generated is not None else time.time()))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>kgctl-py doctor report</title>',
        f"<style>{CSS}</style></head><body>",
        f'<h1>kgctl-py doctor: <span class="{worst}" id="verdict">{worst}</span></h1>',
        f'<p class="meta">generated {_e(when)}</p>',
        '<p class="counts" id="summary">' + "".join(f'<span class="{k}">{v} {k}</span>' for k, v in counts.items()) + "</p>",
        "<h2>Problems</h2>",
        _problems(results),
        "<h2>Mesh</h2>",
        f'<div class="mesh" id="mesh">{svg}</div>' if svg else f'<p class="meta">no picture: {_e(svg_error or "no topology")}</p>',
    ]
    for r in results:
        if r.check.matrix and r.data:
            parts.append(f"<h2>Ping: {_e(r.data.get('plan', 'full'))} plan, {_e(r.data.get('probes', r.data.get('pairs', 0)))} probes</h2>")
            if r.data.get("locations"):
                parts.append(_heatmap(r.data["locations"]))
            if "status" in r.data and 1 < len(r.data.get("nodes", [])) <= NODE_MATRIX_MAX:
                parts.append("<h3>node × node (ms)</h3>" + _node_matrix(r.data))
    parts += ["<h2>All findings</h2>", _findings(results), "</body></html>"]
    return "\n".join(parts) + "\n"
