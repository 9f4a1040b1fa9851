"""What the table shows of pod.ping on a large cluster: a location x location
summary instead of the node matrix, and a capped list of failing pairs."""

from __future__ import annotations

from typing import Any

# Failing pairs listed in the table before "… and N more" (the JSON has them all).
PAIR_ROWS_MAX = 20
# Up to this many locations the summary is a grid; above, one row per location.
GRID_MAX_LOCATIONS = 12


def cap_pairs(rows: list[list[str]], kinds: list[str], more: list[str]) -> list[list[str]]:
    """The other rows (a named culprit) first, then the first PAIR_ROWS_MAX rows
    of kind "pair"; ``more`` is the row template (glyph, id, subject) for "… and N more"."""
    out = [row for row, kind in zip(rows, kinds) if kind != "pair"]
    pairs = [row for row, kind in zip(rows, kinds) if kind == "pair"]
    out += pairs[:PAIR_ROWS_MAX]
    hidden = len(pairs) - PAIR_ROWS_MAX
    if hidden > 0:
        out.append([*more, f"… and {hidden} more (all in -o json)"])
    return out


def _cell(probes: int, failures: int, unknown: int, rtt: float | None) -> str:
    if not probes:
        return ""
    if failures:
        return f"×{failures}/{probes}"
    if unknown == probes:
        return "?"
    return f"{rtt:.1f}" if rtt is not None else "?"


def location_summary(summary: dict[str, Any]) -> str:
    from tabulate import tabulate  # type: ignore[import-untyped]

    names = [n or '""' for n in summary["names"]]
    size = len(names)
    p, f, u, m = summary["probes"], summary["failures"], summary["unknown"], summary["medianRttMs"]
    if size <= GRID_MAX_LOCATIONS:
        rows = [[names[i], *(_cell(p[i][j], f[i][j], u[i][j], m[i][j]) for j in range(size))] for i in range(size)]
        table = tabulate(rows, headers=["from \\ to location (median ms, ×failed/probes)", *names], tablefmt="simple", disable_numparse=True)
        return table
    rows = []
    for i in range(size):
        probes = sum(p[i])
        failed = sum(f[i])
        rtts = sorted(m[i][j] for j in range(size) if m[i][j] is not None)
        median = f"{rtts[len(rtts) // 2]:.1f}" if rtts else "?"
        to = [f"{names[j]} ({f[i][j]}/{p[i][j]})" for j in range(size) if f[i][j]]
        shown = ", ".join(to[:5]) + (f" … and {len(to) - 5} more" if len(to) > 5 else "")
        rows.append([names[i], str(probes), str(failed), median, shown])
    return tabulate(rows, headers=["from location", "probes", "failed", "median ms", "failing to (failed/probes)"], tablefmt="simple", disable_numparse=True)
