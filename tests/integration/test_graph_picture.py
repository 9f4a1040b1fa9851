"""The styled picture that `graph -o svg|png` renders, checked on the SVG that the
real Graphviz draws: boxes, colours, leaders, Peers, legend, summary at scale."""

from __future__ import annotations

import math
import pathlib
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest
import yaml

from kgctl_py import sources
from kgctl_py.mesh.cluster import Cluster, Options, topology_for_graph
from kgctl_py.mesh.model import DEFAULT_TOPOLOGY_LABEL, Granularity
from kgctl_py.mesh.picture import SUMMARY_ABOVE, location_colours, location_title, node_count, picture_dot
from kgctl_py.mesh.topology import Topology

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "examples" / "multicloud.yaml")
SCALE = str(ROOT / "tests" / "compat" / "cases" / "o-scale-100n-20loc" / "cluster.yaml")
KGCTL_PY = [sys.executable, "-m", "kgctl_py"]
SVG = "{http://www.w3.org/2000/svg}"


def _graph(snapshot: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*KGCTL_PY, "--snapshot", snapshot, "graph", *args], capture_output=True, timeout=120)


def _topology(snapshot: str) -> Topology:
    objects = sources.read_snapshot(snapshot, None)
    cluster = Cluster.from_objects(objects.nodes, objects.peers, DEFAULT_TOPOLOGY_LABEL)
    return topology_for_graph(cluster, Options(granularity=Granularity.AUTO, port=51820), objects.now)


def _points(group: ET.Element) -> list[tuple[float, float]]:
    """Every coordinate of a group's shapes (paths, polygons, ellipses)."""
    pts: list[tuple[float, float]] = []
    for el in group.iter():
        tag = el.tag.removeprefix(SVG)
        if tag == "path":
            nums = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", el.get("d", ""))]
            pts.extend(zip(nums[::2], nums[1::2], strict=False))
        elif tag == "polygon":
            pts.extend(tuple(map(float, p.split(","))) for p in el.get("points", "").split())  # type: ignore[misc]
        elif tag == "ellipse":
            cx, cy, rx, ry = (float(el.get(k, "0")) for k in ("cx", "cy", "rx", "ry"))
            pts.extend([(cx - rx, cy - ry), (cx + rx, cy + ry)])
    return pts


def _box(group: ET.Element) -> tuple[float, float, float, float]:
    pts = _points(group)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return min(xs), min(ys), max(xs), max(ys)


def _texts(group: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in group.iter(f"{SVG}text")]


def _groups(svg: bytes, kind: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    return {g.findtext(f"{SVG}title", ""): g for g in root.iter(f"{SVG}g") if g.get("class") == kind}


def _shapes(group: ET.Element) -> int:
    return sum(1 for el in group if el.tag.removeprefix(SVG) in ("path", "polygon", "ellipse"))


def _inside(inner: tuple[float, float, float, float], outer: tuple[float, float, float, float]) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


@pytest.fixture(scope="module")
def example_svg() -> bytes:
    result = _graph(EXAMPLE, "-o", "svg")
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_each_location_is_a_box_in_its_own_colour_around_its_nodes(example_svg: bytes) -> None:
    t = _topology(EXAMPLE)
    clusters, nodes = _groups(example_svg, "cluster"), _groups(example_svg, "node")
    fills = set()
    for i, s in enumerate(t.segments):
        box = clusters[f"cluster_{i}"]
        fill, border = location_colours(i)
        path = box.find(f"{SVG}path")
        assert path is not None and path.get("fill") == fill and path.get("stroke") == border
        assert location_title(s.location) in _texts(box)
        fills.add(fill)
        for j, hostname in enumerate(s.hostnames):
            node = nodes[f"n{i}_{j}"]
            assert hostname in _texts(node)
            # fdp drew the box around the location's nodes (circo would not).
            assert _inside(_box(node), _box(box)), (hostname, s.location)
    assert len(fills) == len(t.segments) == 5
    assert "baidu" in _texts(clusters["cluster_1"]) and len(t.segments[1].hostnames) == 2


def test_leaders_have_a_double_border_members_a_single_one(example_svg: bytes) -> None:
    t = _topology(EXAMPLE)
    nodes = _groups(example_svg, "node")
    for i, s in enumerate(t.segments):
        for j in range(len(s.hostnames)):
            assert _shapes(nodes[f"n{i}_{j}"]) == (2 if j == s.leader else 1), s.hostnames[j]
    assert "wireguard 10.4.0.2" in _texts(nodes["n1_0"]) and not any("wireguard" in x for x in _texts(nodes["n1_1"]))


def test_peers_sit_in_their_own_box_and_the_legend_explains(example_svg: bytes) -> None:
    clusters, nodes = _groups(example_svg, "cluster"), _groups(example_svg, "node")
    peers = clusters["cluster_peers"]
    assert "Peers" in _texts(peers)
    for k, name in enumerate(["laptop", "phone"]):
        assert name in _texts(nodes[f"p{k}"]) and _inside(_box(nodes[f"p{k}"]), _box(peers))
    # One dashed edge per leader into the Peers box, no leader × Peer web.
    edges = _groups(example_svg, "edge")
    to_peers = sorted(e.split("->")[0] for e in edges if e.endswith("cluster_peers"))
    assert to_peers == [f"n{i}_0" for i in range(5)] and not any(e.endswith(("p0", "p1")) for e in edges)
    legend = "\n".join(_texts(ET.fromstring(example_svg)))
    for text in (
        "Kilo mesh 10.4.0.0/16: 6 nodes in 5 locations, 2 Peers",
        "double border",
        "WireGuard tunnel between two leaders",
        "private network",
        "WireGuard to the Peers",
    ):
        assert text in legend


def test_the_styled_dot_lays_out_with_fdp_and_the_summary_with_neato() -> None:
    t = _topology(EXAMPLE)
    dot = picture_dot(t)
    for engine in ("fdp", "circo", "dot", "neato"):
        out = subprocess.run([engine, "-Tsvg"], input=dot.encode(), capture_output=True, timeout=60)
        assert out.returncode == 0 and b"bd2.k3s" in out.stdout, (engine, out.stderr)
    summary = picture_dot(t, "summary")
    out = subprocess.run(["neato", "-Tsvg"], input=summary.encode(), capture_output=True, timeout=60, check=True)
    assert b"bd1.k3s" in out.stdout and b"2 nodes" in out.stdout and b"bd2.k3s" not in out.stdout


def test_style_kgctl_is_kgctls_dot_rendered_unchanged(tmp_path: pathlib.Path) -> None:
    dot = _graph(EXAMPLE).stdout
    # circo and dot lay out kgctl's DOT the same way every time (fdp does not).
    for layout in ("circo", "dot"):
        expected = subprocess.run([layout, "-Tsvg"], input=dot, capture_output=True, timeout=60, check=True).stdout
        args = ["-o", "svg", "--style", "kgctl"] + (["--layout", layout] if layout != "circo" else [])
        assert _graph(EXAMPLE, *args).stdout == expected, layout
    # The DOT on stdout is still kgctl's, whatever the style.
    assert _graph(EXAMPLE, "--style", "picture", "--detail", "full").stdout == dot
    assert dot.startswith(b"digraph kilo {") and b"cluster_location_location:baidu" in dot


def test_the_100_node_fixture_is_summarised_under_10_seconds() -> None:
    t = _topology(SCALE)
    assert node_count(t) > SUMMARY_ABOVE and len(t.segments) == 20 and len(t.peers) == 30
    start = time.monotonic()
    result = _graph(SCALE, "-o", "svg")
    seconds = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    assert seconds < 10, seconds
    nodes, edges = _groups(result.stdout, "node"), _groups(result.stdout, "edge")
    assert not _groups(result.stdout, "cluster")
    assert sorted(nodes) == sorted([f"l{i}" for i in range(20)] + ["peers"])
    for i, s in enumerate(t.segments):
        texts = _texts(nodes[f"l{i}"])
        assert location_title(s.location) in texts and s.leader_name in texts
        assert f"{len(s.hostnames)} nodes" in texts
        assert all(str(c) in texts for c in s.cidrs)
    # One edge per pair of leaders, one per location to the Peers.
    assert len(edges) == 20 * 19 // 2 + 20
    assert "30 Peers" in _texts(nodes["peers"])
    # The boxes are on a ring in the locations' order, clockwise from the top,
    # apart from each other, around the Peers.
    boxes = [_box(nodes[f"l{i}"]) for i in range(20)]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1], (a, b)
    px0, py0, px1, py1 = _box(nodes["peers"])
    cx, cy = (px0 + px1) / 2, (py0 + py1) / 2
    angles = [math.atan2(-((b[1] + b[3]) / 2 - cy), (b[0] + b[2]) / 2 - cx) for b in boxes]
    clockwise_from_top = [(math.pi / 2 - a) % (2 * math.pi) for a in angles]
    assert clockwise_from_top == sorted(clockwise_from_top) and clockwise_from_top[0] < 0.05


def test_detail_full_draws_every_node_and_peer() -> None:
    t = _topology(SCALE)
    result = _graph(SCALE, "-o", "svg", "--detail", "full")
    assert result.returncode == 0, result.stderr
    texts = set(_texts(ET.fromstring(result.stdout)))
    hostnames = [h for s in t.segments for h in s.hostnames]
    assert len(hostnames) == node_count(t) > SUMMARY_ABOVE
    assert set(hostnames) <= texts and {p.name for p in t.peers} <= texts
    assert len(_groups(result.stdout, "cluster")) == 21


def test_the_picture_is_the_same_every_time() -> None:
    # docs/example-multicloud.svg is regenerated from it; it must not move by itself.
    # (fdp 2.43 jitters by hundredths of a point from run to run; nothing more.)
    number = re.compile(rb"-?\d+(?:\.\d+)?")
    runs = [_graph(EXAMPLE, "-o", "svg").stdout for _ in range(3)]
    assert b"bd2.k3s" in runs[0]
    for other in runs[1:]:
        assert number.sub(b"#", other) == number.sub(b"#", runs[0])
        pairs = zip(number.findall(runs[0]), number.findall(other), strict=True)
        assert max(abs(float(a) - float(b)) for a, b in pairs) < 1.0


def test_png_picture_and_bad_values() -> None:
    result = _graph(EXAMPLE, "-o", "png", "--detail", "summary")
    assert result.returncode == 0 and result.stdout.startswith(b"\x89PNG\r\n\x1a\n")
    for args in (["--style", "fancy"], ["--detail", "most"]):
        bad = _graph(EXAMPLE, "-o", "svg", *args)
        assert bad.returncode == 2 and bad.stdout == b""
        assert len(bad.stderr.decode().strip().splitlines()) == 1 and args[1] in bad.stderr.decode()


HOSTILE = ['a "quoted" site', "back\\slash \\N \\G \\n", "<b>&amp; </table>", "東京 ☁ région", "tab\tand\x01ctl"]


def test_hostile_location_names_render_as_written(tmp_path: pathlib.Path) -> None:
    doc = yaml.safe_load(pathlib.Path(EXAMPLE).read_text())
    nodes = [o for o in doc["items"] if o["kind"] == "Node"]
    for node, name in zip(nodes, HOSTILE, strict=False):
        node["metadata"]["annotations"]["kilo.squat.ai/location"] = name
    snap = tmp_path / "hostile.yaml"
    snap.write_text(yaml.safe_dump(doc, allow_unicode=True))
    t = _topology(str(snap))
    for detail in ("full", "summary"):
        result = _graph(str(snap), "-o", "svg", "--detail", detail)
        assert result.returncode == 0, result.stderr
        texts = _texts(ET.fromstring(result.stdout))
        for s in t.segments:
            # Control characters are shown escaped; everything else as written.
            title = location_title(s.location).replace("\t", "\\x09").replace("\x01", "\\x01")
            assert title in texts, (detail, title)
    assert {location_title(s.location) for s in t.segments} >= set(HOSTILE[:4])


def test_the_picture_module_is_pure_core() -> None:
    code = (
        "import sys, kgctl_py.mesh.picture; print(sorted({m.split('.')[0] for m in sys.modules} & {'click', 'kubernetes', 'yaml', 'graphviz', 'subprocess'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
