"""pod.ping at scale (issue 14): the in-pod ping script run by real busybox,
the probe plan, the location summary, the progress line, and the exec timing
model of the test API server."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from kubeapi.exectiming import ExecTiming, ping_seconds

from kgctl_py.doctor import ping as P
from kgctl_py.doctor import plan, probe
from kgctl_py.doctor.meshping import location_summary
from kgctl_py.doctor.model import Status
from kgctl_py.doctor.progress import Meter

BUSYBOX = shutil.which("busybox")


def busybox_path(tmp_path: Path) -> str:
    """A PATH of busybox applets only, as in the busybox image."""
    assert BUSYBOX
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for applet in ("ping", "tr", "mktemp", "rm", "sh"):
        (bin_dir / applet).symlink_to(BUSYBOX)
    return str(bin_dir)


def test_script_pings_every_target_at_once_in_real_busybox(tmp_path: Path) -> None:
    targets = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"]
    started = time.monotonic()
    proc = subprocess.run(
        [BUSYBOX, *probe.command(targets)], capture_output=True, text=True, timeout=30, env={"PATH": busybox_path(tmp_path), "TMPDIR": str(tmp_path)}
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split(" ")[1] for line in lines] == targets  # one line per target, in order
    verdicts = probe.parse(targets, proc.returncode, proc.stdout, proc.stderr)
    assert {t: v.status for t, v in verdicts.items()} == dict.fromkeys(targets, Status.PASS)
    assert all(v.rtt_ms is not None and v.rtt_ms >= 0 for v in verdicts.values())
    # Six pings of 0.4 s each, at once: well under what one after another would take.
    assert 0.35 < elapsed < 6 * 0.4
    assert list((tmp_path).glob("tmp.*")) == []  # it removed its files


def test_script_reports_an_unreachable_target_as_failed(tmp_path: Path) -> None:
    unshare = shutil.which("unshare")
    assert unshare
    proc = subprocess.run(
        [unshare, "--net", BUSYBOX, *probe.command(["127.0.0.1"])],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": busybox_path(tmp_path), "TMPDIR": str(tmp_path)},
    )
    verdict = probe.parse(["127.0.0.1"], proc.returncode, proc.stdout, proc.stderr)["127.0.0.1"]
    assert verdict.status == Status.FAIL and "unreachable" in verdict.detail.lower(), verdict


def test_parse_marks_missing_lines_and_exec_errors_unknown() -> None:
    out = "kgctl-ping 10.0.0.1 0 PING x||--- x ping statistics ---|3 packets transmitted, 3 packets received, 0% packet loss|round-trip min/avg/max = 1.0/2.5/3.0 ms|\n"
    got = probe.parse(["10.0.0.1", "10.0.0.2"], 137, out, "Killed\n")
    assert got["10.0.0.1"].status == Status.PASS and got["10.0.0.1"].rtt_ms == 2.5
    assert got["10.0.0.2"].status == Status.UNKNOWN and "Killed" in got["10.0.0.2"].detail
    errs = probe.parse(["10.0.0.1"], None, "", "", "exec timed out")
    assert errs["10.0.0.1"].status == Status.UNKNOWN and errs["10.0.0.1"].detail == "exec timed out"


def test_timing_model() -> None:
    assert ping_seconds(["ping", "-c", "3", "-W", "2", "x"], True) >= 2.0  # 1 s between packets
    assert ping_seconds(["ping", "-c", "3", "-W", "2", "x"], False) == pytest.approx(4.0)  # then -W of silence
    timing = ExecTiming(overhead=0.05)
    reach = {"10.0.0.1": True, "10.0.0.2": False}.__getitem__
    # The script lasts as long as its slowest ping, plus the exec's overhead.
    assert timing.seconds(probe.command(["10.0.0.1"]), reach) == pytest.approx(0.4 + 0.0005 + 0.05)
    assert timing.seconds(probe.command(["10.0.0.1", "10.0.0.2"]), reach) == pytest.approx(0.4 + 2 + 0.05)
    assert ExecTiming(0.05, scale=0.1).seconds(["ping", "-c", "3", "-W", "2", "10.0.0.2"], reach) == pytest.approx(0.405)


def _cluster(n: int, locations: int) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    nodes = {f"n{i:04d}": f"10.{i // 250}.{i % 250}.1" for i in range(n)}
    location = {name: f"loc{i % locations:02d}" for i, name in enumerate(sorted(nodes))}
    leaders: dict[str, str] = {}
    for name in sorted(nodes):
        leaders.setdefault(location[name], name)
    return nodes, location, leaders


def test_default_limit_fits_a_minute_at_the_default_concurrency() -> None:
    limit = plan.DEFAULT_FULL_MATRIX_LIMIT
    assert limit == 160  # documented in README and --help
    worst = lambda n: -(-(n * -(-(n - 1) // probe.MAX_TARGETS_PER_EXEC)) // 16) * probe.WORST_EXEC_SECONDS  # noqa: E731
    assert worst(limit) <= 60 < worst(limit + 1)


def test_full_plan_up_to_the_limit_and_on_demand() -> None:
    nodes, location, leaders = _cluster(20, 4)
    p = plan.make_plan(nodes, location, leaders, [("laptop", "10.5.0.1/32")], limit=20)
    assert p.name == "full" and len(p.probes) == 20 * 19
    big, location, leaders = _cluster(30, 3)
    assert plan.make_plan(big, location, leaders, [], limit=20).name == "location"
    assert plan.make_plan(big, location, leaders, [], full=True, limit=20).name == "full"


@pytest.mark.parametrize(("n", "locations"), [(1000, 50), (61, 7), (25, 20)])
def test_location_plan_covers_every_node_from_every_location(n: int, locations: int) -> None:
    nodes, location, leaders = _cluster(n, locations)
    peers = [("laptop", "10.5.0.1/32"), ("office", "192.168.0.0/24"), ("phone", "fd00::5/128")]
    p = plan.make_plan(nodes, location, leaders, peers, limit=10)
    assert p.name == "location"
    pods = [(x.source, x.target) for x in p.probes if x.kind == "pod"]
    assert len(pods) == len(set(pods)) and all(a != b for a, b in pods)
    got = set(pods)
    for a in nodes:
        for b in nodes:
            if a != b and location[a] == location[b]:
                assert (a, b) in got  # every pod pings its own location
    covered = {(b, location[a]) for a, b in got}
    sources = {(a, location[b]) for a, b in got}
    for b in nodes:
        for loc in set(location.values()):
            if loc != location[b]:
                assert (b, loc) in covered  # pinged from every other location
                assert (b, loc) in sources  # and pings into every other location
    heads = set(leaders.values())
    assert {(a, b) for a in heads for b in heads if a != b} <= got
    peer = [x for x in p.probes if x.kind == "peer"]
    # Single addresses only (a /24 is no host to ping), from one pod per location: its leader.
    assert {(x.source, x.ip) for x in peer} == {(leaders[loc], ip) for loc in set(location.values()) for ip in ("10.5.0.1", "fd00::5")}
    if n == 1000:
        assert len(p.probes) < 75_000  # against 999 000 for the full matrix
        assert max(len(v) for v in p.by_source().values()) <= probe.MAX_TARGETS_PER_EXEC  # one exec per pod


def test_location_summary_and_culprits_on_a_sampled_plan() -> None:
    nodes, location, leaders = _cluster(200, 10)
    p = plan.make_plan(nodes, location, leaders, [], limit=10)
    broken = "loc03"
    results = {}
    for x in p.probes:
        cut = (location[x.source] == broken) != (location[x.target] == broken)
        results[(x.source, x.target)] = P.PingResult(Status.FAIL, None, "0/3 replies") if cut else P.PingResult(Status.PASS, 1.5, "3/3 replies")
    summary = location_summary(results, location)
    i = summary["names"].index(broken)
    assert summary["failures"][i][i] == 0 and summary["probes"][i][i] == 20 * 19
    assert all(summary["failures"][i][j] == summary["probes"][i][j] > 0 for j in range(10) if j != i)
    assert summary["medianRttMs"][0][1] == 1.5 and summary["medianRttMs"][i][(i + 1) % 10] is None
    places = {n: P.Place(location[n], leaders[location[n]], f"192.0.2.{k}:51820") for k, n in enumerate(sorted(nodes))}
    started = time.monotonic()
    named = P.culprits(sorted(nodes), results, places, 51820)
    assert time.monotonic() - started < 2
    assert len(named) == 1 and named[0].startswith(f"every pair crossing location {broken} fails"), named


def test_meter_shows_count_rate_and_eta() -> None:
    shown: list[str] = []
    now = [100.0]
    meter = Meter(shown.append, "probing", 100, "execs", clock=lambda: now[0], every=1.0)
    now[0] = 110.0
    meter.update(25)
    assert shown == ["probing: 25/100 execs, 2.5/s, ETA 30s"]
    now[0] = 110.5
    meter.update(26)  # throttled
    assert len(shown) == 1
    now[0] = 150.0
    meter.update(100)
    assert shown[-1] == "probing: 100/100 execs, 2.0/s"


def test_cli_and_options_defaults_are_the_computed_limit() -> None:
    from kgctl_py.cli.doctor_cmd import doctor
    from kgctl_py.doctor.model import DoctorOptions

    [param] = [p for p in doctor.params if p.name == "full_matrix_limit"]
    assert param.default == DoctorOptions().full_matrix_limit == plan.DEFAULT_FULL_MATRIX_LIMIT


def test_table_summary_for_many_locations_and_the_pair_cap() -> None:
    from kgctl_py.doctor import render_scale

    nodes, location, leaders = _cluster(400, 20)
    p = plan.make_plan(nodes, location, leaders, [], limit=10)
    results = {
        (x.source, x.target): P.PingResult(
            Status.FAIL if location[x.target] == "loc05" and location[x.source] != "loc05" else Status.PASS, None if location[x.target] == "loc05" else 2.0, ""
        )
        for x in p.probes
    }
    text = render_scale.location_summary(location_summary(results, location))
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["from", "location", "probes", "failed"]
    assert len(lines) == 2 + 20  # one row per location above GRID_MAX_LOCATIONS
    row = next(line for line in lines if line.startswith("loc00 "))
    assert "loc05 (" in row and "2.0" in row
    assert "loc05 (" not in next(line for line in lines if line.startswith("loc05 "))
    rows = [["×", "pod.ping", f"a{i} → b", "0/3"] for i in range(30)] + [["×", "pod.ping", "cluster", "culprit"]]
    capped = render_scale.cap_pairs(rows, ["pair"] * 30 + ["cluster"], ["×", "pod.ping", ""])
    assert capped[0][2] == "cluster" and len(capped) == 1 + render_scale.PAIR_ROWS_MAX + 1
    assert capped[-1][-1] == "… and 10 more (all in -o json)"
