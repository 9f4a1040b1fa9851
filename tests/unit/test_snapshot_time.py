"""When a snapshot is judged: --now, else the recorded capture time, else the
newest last-seen in the file (a dump shows the cluster as it was when its
freshest node last checked in)."""

from __future__ import annotations

import pathlib

import yaml
from clirun import run

BLOG = pathlib.Path(__file__).parents[1] / "compat" / "cases" / "a-blog-6node"
LAST_SEEN = "kilo.squat.ai/last-seen"


def _dump(tmp_path: pathlib.Path, captured_at: str | None = None) -> str:
    doc = yaml.safe_load((BLOG / "cluster.yaml").read_text())
    if captured_at is not None:
        doc["metadata"] = {"annotations": {"kgctl-py.squat.ai/captured-at": captured_at}}
    path = tmp_path / "dump.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def _newest_last_seen() -> int:
    doc = yaml.safe_load((BLOG / "cluster.yaml").read_text())
    return max(int(i["metadata"]["annotations"][LAST_SEEN]) for i in doc["items"] if i["kind"] == "Node")


def test_default_is_the_newest_last_seen(tmp_path: pathlib.Path) -> None:
    # The blog's nodes checked in within 25 s of each other: all ready then.
    result = run(["--snapshot", _dump(tmp_path), "graph"])
    assert result.code == 0 and result.stdout == (BLOG / "000-graph.stdout").read_bytes()


def test_recorded_capture_time_wins_over_last_seen(tmp_path: pathlib.Path) -> None:
    # An hour after the newest check-in every node is stale.
    late = str(_newest_last_seen() + 3600)
    result = run(["--snapshot", _dump(tmp_path, captured_at=late), "graph"])
    assert result.code == 1 and b"did not find any valid Kilo nodes" in result.stderr


def test_now_flag_wins_over_everything(tmp_path: pathlib.Path) -> None:
    late = str(_newest_last_seen() + 3600)
    result = run(["--snapshot", _dump(tmp_path, captured_at=late), "--now", str(_newest_last_seen()), "graph"])
    assert result.code == 0 and result.stdout == (BLOG / "000-graph.stdout").read_bytes()
    # 60 s after the oldest check-in that node is out: the node-level rule, not a constant.
    oldest = min(int(i["metadata"]["annotations"][LAST_SEEN]) for i in yaml.safe_load((BLOG / "cluster.yaml").read_text())["items"] if i["kind"] == "Node")
    result = run(["--snapshot", _dump(tmp_path), "--now", str(oldest + 60), "graph"])
    assert result.code == 0 and result.stdout != (BLOG / "000-graph.stdout").read_bytes()
