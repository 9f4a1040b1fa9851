"""The mesh as a picture an operator reads: a styled Graphviz DOT.

kgctl's own DOT (``dot.py``) stays byte for byte kgctl's; this is the DOT that
``graph -o svg|png`` renders by default.  It is built from the same Topology:
one box per segment (a location, or a node in full granularity), its leader
marked with a double border, the Peers in their own box, and a legend.  Above
``SUMMARY_ABOVE`` nodes it summarises: one box per location, pinned on a ring
in the segments' order, one edge per pair of leaders, and the Peers as one group
in the middle with one edge per location.

Node and cluster ids are generated (``n0``, ``cluster_1``), so names only ever
appear inside HTML-like labels, escaped by ``_html``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from kgctl_py.mesh.ipnet import ip_str
from kgctl_py.mesh.model import Peer
from kgctl_py.mesh.topology import LOGICAL_PREFIX, Segment, Topology, _NilNet
from kgctl_py.record import record

# fdp draws the location boxes (circo and neato ignore clusters) and keeps each
# location together.  The summary has no clusters: its boxes are pinned on a ring,
# where the leaders' full mesh stays legible, and neato only draws the lines.
FULL_ENGINE = "fdp"
SUMMARY_ENGINE = "neato"
# More nodes than this and every node's box no longer fits on a screen.
SUMMARY_ABOVE = 40
DETAILS = ("auto", "full", "summary")
# Lines of pod CIDRs or Peer names listed in one summary box.
LIST_CAP = 8

FONT = "DejaVu Sans"
TUNNEL_COLOUR = "#1f4e79"
PEER_COLOUR = "#7a3e9d"
PRIVATE_COLOUR = "#7f7f7f"


def _html(text: str) -> str:
    """``text`` safe inside an HTML-like label: markup escaped, control characters made visible."""
    import unicodedata  # only drawing needs it; graph's DOT path does not pay for it

    out = []
    for ch in text:
        if ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == '"':
            out.append("&quot;")
        elif ch == "'":
            out.append("&#39;")
        elif ch == "\\":
            # Graphviz expands \N, \G, ... even in HTML labels; \\ is one backslash.
            out.append("\\\\")
        elif unicodedata.category(ch) in ("Cc", "Cs", "Cn") or ch in "\u2028\u2029":
            # Graphviz's XML parser rejects these even as references.
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def location_title(location: str) -> str:
    """What a segment's box is called: the location, or the node of a one-node segment."""
    if location.startswith(LOGICAL_PREFIX):
        name = location[len(LOGICAL_PREFIX) :]
        return name if name else "(no location)"
    return location


def location_colours(index: int) -> tuple[str, str]:
    """(fill, border) of the ``index``-th location: hues a golden angle apart stay distinct."""
    import colorsys  # as unicodedata: imported when drawing

    hue = (index * 0.618033988749895) % 1.0
    fill = colorsys.hsv_to_rgb(hue, 0.13, 1.0)
    border = colorsys.hsv_to_rgb(hue, 0.75, 0.6)
    return _hex(fill), _hex(border)


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(c * 255):02x}" for c in rgb)


def node_count(t: Topology) -> int:
    return sum(len(s.hostnames) for s in t.segments)


def is_summary(t: Topology, detail: str = "auto") -> bool:
    if detail not in DETAILS:
        raise ValueError(f"detail {detail!r} unknown")
    return detail == "summary" or (detail == "auto" and node_count(t) > SUMMARY_ABOVE)


def engine_for(t: Topology, detail: str = "auto") -> str:
    """The Graphviz layout that draws ``picture_dot(t, detail)`` best."""
    return SUMMARY_ENGINE if is_summary(t, detail) else FULL_ENGINE


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' * (count != 1)}"


@record
class _Dot:
    lines: list[str]

    def add(self, line: str) -> None:
        self.lines.append(line)


def _label(rows: Iterable[str]) -> str:
    body = "".join(f"<TR><TD>{row}</TD></TR>" for row in rows)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{body}</TABLE>>'


def _small(text: str) -> str:
    return f'<FONT POINT-SIZE="9" COLOR="#404040">{_html(text)}</FONT>'


def _capped(items: list[str], what: str) -> list[str]:
    if len(items) <= LIST_CAP:
        return items
    return [*items[: LIST_CAP - 1], f"… and {len(items) - LIST_CAP + 1} more {what}"]


def _wireguard_ip(s: Segment) -> str | None:
    if s.wireguard_ip is None:
        return None
    # An exhausted subnet hands out <nil>, as kgctl prints it.
    return str(s.wireguard_ip) if isinstance(s.wireguard_ip, _NilNet) else ip_str(s.wireguard_ip)


def _node_rows(s: Segment, j: int) -> list[str]:
    rows = [f"<B>{_html(s.hostnames[j])}</B>"]
    cidr = s.cidrs[j]
    rows.append(_small(f"pods {'<nil>' if cidr is None else cidr}"))
    if s.private_ips:
        rows.append(_small(f"private {ip_str(s.private_ips[j])}"))
    if j == s.leader:
        wg = _wireguard_ip(s)
        if wg is not None:
            rows.append(_small(f"wireguard {wg}"))
        if s.endpoint is not None and str(s.endpoint):
            rows.append(_small(f"endpoint {s.endpoint}"))
    return rows


def _peer_rows(p: Peer) -> list[str]:
    rows = [f"<B>{_html(p.name)}</B>"]
    rows.extend(_small(str(ip)) for ip in _capped([str(ip) for ip in p.allowed_ips], "IPs"))
    if p.endpoint is not None and str(p.endpoint):
        rows.append(_small(f"endpoint {p.endpoint}"))
    return rows


_LEADER = "peripheries=2, penwidth=2"
# Long, weak springs keep the Peers beside the mesh: linked to every leader with
# normal springs, fdp puts them in the middle, under every tunnel.
_PEER_SPRING = "len=2, weight=0.2"


def _sample(text: str, leader: bool = False, peer: bool = False) -> str:
    # Little boxes drawn as tables: a node, a leader's double border, a Peer.
    inner = f'<TABLE BORDER="1" STYLE="rounded" CELLBORDER="0" CELLPADDING="1"><TR><TD><FONT POINT-SIZE="9">{text}</FONT></TD></TR></TABLE>'
    if leader:
        return f'<TABLE BORDER="1" STYLE="rounded" CELLBORDER="0" CELLPADDING="1"><TR><TD>{inner}</TD></TR></TABLE>'
    if peer:
        return inner.replace('BORDER="1"', f'BORDER="1" COLOR="{PEER_COLOUR}"', 1)
    return inner


def _legend(title: str, summary: bool, has_peers: bool) -> str:
    def row(sample: str, text: str) -> str:
        return f'<TR><TD ALIGN="CENTER">{sample}</TD><TD ALIGN="LEFT">{_html(text)}</TD></TR>'

    rows = []
    if summary:
        rows.append(row(_sample("location", leader=True), "a location: its leader, node count and pod CIDRs"))
    else:
        rows.append(row(_sample("node"), "a node, in the coloured box of its location"))
        rows.append(row(_sample("leader", leader=True), "double border: the location's leader, its WireGuard endpoint"))
    if has_peers:
        rows.append(row(_sample("Peer", peer=True), "a Kilo Peer (a laptop, a phone, another site)"))
    rows.append(row(f'<FONT COLOR="{TUNNEL_COLOUR}"><B>━━━</B></FONT>', "WireGuard tunnel between two leaders"))
    if not summary:
        rows.append(row(f'<FONT COLOR="{PRIVATE_COLOUR}">───</FONT>', "private network: a member reaches the mesh via its leader"))
    if has_peers:
        rows.append(row(f'<FONT COLOR="{PEER_COLOUR}">╍╍╍</FONT>', "WireGuard to the Peers: each leader has a tunnel to every Peer"))
    legend = f'<TABLE BORDER="1" COLOR="#b0b0b0" CELLBORDER="0" CELLSPACING="1" CELLPADDING="2">{"".join(rows)}</TABLE>'
    head = f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="15"><B>{_html(title)}</B></FONT></TD></TR>'
    return f'<<TABLE BORDER="0" CELLSPACING="4">{head}<TR><TD ALIGN="LEFT">{legend}</TD></TR></TABLE>>'


def picture_dot(t: Topology, detail: str = "auto", engine: str | None = None) -> str:
    """The styled DOT of the mesh; ``detail`` is auto, full or summary.

    ``engine`` is the layout it is drawn with (default ``engine_for``): only fdp
    draws an edge into a cluster, the others get one edge per leader and Peer;
    engines that draw no boxes at all get the location in each node instead.
    """
    summary = is_summary(t, detail)
    nodes = node_count(t)
    # Full granularity makes every node a segment of its own: not a location.
    unit = "location" if all(seg.location.startswith(LOGICAL_PREFIX) for seg in t.segments) else "segment"
    title = f"Kilo mesh {t.subnet.masked()}: {_plural(nodes, 'node')} in {_plural(len(t.segments), unit)}, {_plural(len(t.peers), 'Peer')}"
    if summary:
        title += " (summary; --detail full draws every node)"
    d = _Dot(["digraph mesh {"])
    # The legend is the graph's label, so that no layout engine can put it amid the boxes.
    d.add(
        f'\tgraph [fontname="{FONT}", label={_legend(title, summary, bool(t.peers))}, labelloc=t, labeljust=l, fontsize=12, outputorder=edgesfirst, overlap=false, sep="+8", K=1.5, pad=0.3];'
    )
    d.add(f'\tnode [fontname="{FONT}", fontsize=11, shape=box, style="rounded,filled", fillcolor=white, margin="0.12,0.04"];')
    d.add(f'\tedge [fontname="{FONT}", dir=none, arrowhead=none];')
    if summary:
        _summary(d, t, engine or engine_for(t, detail))
    else:
        _full(d, t, engine or engine_for(t, detail))
    d.add("}")
    return "\n".join(d.lines) + "\n"


# The Graphviz layouts that draw clusters.
_BOXES = ("fdp", "dot")


def _full(d: _Dot, t: Topology, engine: str) -> None:
    leaders = []
    for i, s in enumerate(t.segments):
        fill, border = location_colours(i)
        d.add(f"\tsubgraph cluster_{i} {{")
        d.add(
            f'\t\tgraph [label=<<B>{_html(location_title(s.location))}</B>>, labeljust=c, style="rounded,filled", fillcolor="{fill}", color="{border}", penwidth=2, fontcolor="{border}"];'
        )
        for j in range(len(s.hostnames)):
            extra = f', {_LEADER}, color="{border}"' if j == s.leader else f', color="{border}"'
            rows = _node_rows(s, j)
            if engine not in _BOXES:
                rows.insert(1, f'<FONT COLOR="{border}">{_html(location_title(s.location))}</FONT>')
                extra += f', fillcolor="{fill}"'
            d.add(f"\t\tn{i}_{j} [label={_label(rows)}{extra}];")
        for j in range(len(s.hostnames)):
            if j != s.leader:
                d.add(f'\t\tn{i}_{s.leader} -> n{i}_{j} [color="{PRIVATE_COLOUR}"];')
        d.add("\t}")
        leaders.append(f"n{i}_{s.leader}")
    for i, a in enumerate(leaders):
        for b in leaders[i + 1 :]:
            d.add(f'\t{a} -> {b} [color="{TUNNEL_COLOUR}", penwidth=1.6];')
    if not t.peers:
        return
    d.add("\tsubgraph cluster_peers {")
    d.add(
        f'\t\tgraph [label=<<B>Peers</B>>, labeljust=c, style="rounded,dashed,filled", fillcolor="#f7f0fb", color="{PEER_COLOUR}", penwidth=2, fontcolor="{PEER_COLOUR}"];'
    )
    for k, p in enumerate(t.peers):
        d.add(f'\t\tp{k} [label={_label(_peer_rows(p))}, shape=ellipse, color="{PEER_COLOUR}"];')
    d.add("\t}")
    # Every leader talks to every Peer; one edge per leader into the box says so
    # without a leaders × Peers web across the picture (fdp draws edges to clusters).
    for leader in leaders:
        if engine == "fdp":
            d.add(f'\t{leader} -> cluster_peers [color="{PEER_COLOUR}", style=dashed, {_PEER_SPRING}];')
        else:
            d.add("".join(f'\t{leader} -> p{k} [color="{PEER_COLOUR}", style=dashed];' for k in range(len(t.peers))))


def _size(lines: list[str]) -> tuple[float, float]:
    """A generous (width, height) in inches of a box holding ``lines`` at 11 points."""
    return max(len(line) for line in lines) * 0.085 + 0.5, len(lines) * 0.19 + 0.4


def _ring(sizes: list[tuple[float, float]], inner: float) -> list[tuple[float, float]]:
    """Centres, in inches, of boxes of ``sizes`` on a circle, clockwise from the top, outside radius ``inner``."""
    step = max(max(w, h) for w, h in sizes) + 0.5
    radius = max(step * len(sizes) / (2 * math.pi), inner + step / 2 + 0.5)
    centres = []
    for i in range(len(sizes)):
        angle = math.pi / 2 - 2 * math.pi * i / len(sizes)
        centres.append((radius * math.cos(angle), radius * math.sin(angle)))
    return centres


def _pos(x: float, y: float) -> str:
    return f', pos="{x:.2f},{y:.2f}!"'


def _summary(d: _Dot, t: Topology, engine: str) -> None:
    # The boxes are pinned on a ring in the segments' order, with the Peers in the
    # middle: neato then only draws the lines (circo takes minutes on 50 locations).
    boxes = []
    for i, s in enumerate(t.segments):
        fill, border = location_colours(i)
        plain = [location_title(s.location), f"leader {s.leader_name}"]
        rows = [f'<FONT POINT-SIZE="13" COLOR="{border}"><B>{_html(plain[0])}</B></FONT>', f"leader <B>{_html(s.leader_name)}</B>"]
        wg = _wireguard_ip(s)
        small = [f"endpoint {s.endpoint}"] if s.endpoint is not None and str(s.endpoint) else []
        small += [f"wireguard {wg}"] if wg is not None else []
        rows += [_small(x) for x in small]
        rows.append(_plural(len(s.hostnames), "node"))
        cidrs = _capped(["<nil>" if c is None else str(c) for c in s.cidrs], "CIDRs")
        rows += [_small(c) for c in cidrs]
        boxes.append((f'label={_label(rows)}, {_LEADER}, color="{border}", fillcolor="{fill}"', _size([*plain, *small, *cidrs])))
    names = _capped([p.name for p in t.peers], "Peers")
    peers_size = _size([_plural(len(t.peers), "Peer"), *names]) if t.peers else (0.0, 0.0)
    centres = _ring([size for _, size in boxes], max(peers_size) / 2)
    pin = engine == "neato"
    for i, ((attrs, _), (x, y)) in enumerate(zip(boxes, centres, strict=True)):
        d.add(f"\tl{i} [{attrs}{_pos(x, y) if pin else ''}];")
    ids = [f"l{i}" for i in range(len(boxes))]
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            d.add(f'\t{a} -> {b} [color="{TUNNEL_COLOUR}a0"];')
    if not t.peers:
        return
    rows = [f'<FONT POINT-SIZE="13" COLOR="{PEER_COLOUR}"><B>{_plural(len(t.peers), "Peer")}</B></FONT>']
    rows.extend(_small(n) for n in names)
    d.add(
        f'\tpeers [label={_label(rows)}, shape=ellipse, style="dashed,filled", fillcolor="#f7f0fb", color="{PEER_COLOUR}", penwidth=2{_pos(0, 0) if pin else ""}];'
    )
    for a in ids:
        d.add(f'\t{a} -> peers [color="{PEER_COLOUR}", style=dashed, penwidth=1.5];')
