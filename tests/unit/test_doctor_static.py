"""Static checks, table-driven: one broken fixture per check (tests/doctor_fixtures/cases.yaml)."""

from __future__ import annotations

import time

import doctor_fixtures as fx
import pytest
import strategies
from hypothesis import given
from hypothesis import strategies as st

from kgctl_py.doctor import k3s, mesh_checks, static
from kgctl_py.doctor.model import RANK, Severity, Status
from kgctl_py.doctor.registry import CHECKS
from kgctl_py.doctor.runner import apply_contract, run_one
from kgctl_py.doctor.static import build_input
from kgctl_py.mesh.ipnet import normalize_ip, parse_ip, parse_network

STATIC = [c for c in CHECKS if c.static]


def _input(doc):
    nodes, peers, pods = fx.split(doc)
    crd = doc["metadata"]["annotations"].get("kgctl-py.squat.ai/peer-crd") != "false"
    return build_input(nodes, peers, pods=pods, crd_present=crd, now=fx.CAPTURED_AT, daemonsets=fx.daemonsets(doc))


def _run_all(inp):
    return {c.id: apply_contract(c, run_one(c, inp, None)).findings for c in STATIC}


def test_healthy_cluster_passes_every_static_check():
    results = _run_all(_input(fx.healthy()))
    for cid, findings in results.items():
        assert findings, cid
        bad = [f for f in findings if f.status not in (Status.PASS,)]
        assert not bad, (cid, bad)


def test_every_static_check_has_a_broken_fixture():
    covered = {c["expect"]["check"] for c in fx.cases()}
    assert covered == {c.id for c in STATIC}


@pytest.mark.parametrize("case", fx.cases(), ids=lambda c: c["name"])
def test_broken_fixture(case):
    expect = case["expect"]
    results = _run_all(_input(fx.apply_case(fx.healthy(), case)))
    findings = results[expect["check"]]
    match = [f for f in findings if f.subject == expect["subject"]]
    assert match, (expect, findings)
    finding = match[0]
    assert finding.status == Status(expect["status"]), finding
    assert finding.check == expect["check"]
    if "detail" in expect:
        assert expect["detail"].lower() in finding.detail.lower(), finding.detail
    if finding.status == Status.FAIL:
        assert finding.hint, "a failure must say what to type"
    # The break is local: no other check turns to fail because of it, except
    # those that see the same fault from their side.
    for cid, other in results.items():
        if cid == expect["check"]:
            continue
        for f in other:
            assert f.status != Status.FAIL or _related(case, cid), (case["name"], cid, f)


def _related(case, cid):
    # Some faults are, by nature, seen by two checks.
    pairs = {
        ("bad-endpoint", "kilo.endpoint"),
        ("bad-endpoint", "k3s.node-external-ip"),
        ("bad-key", "kilo.endpoint"),
        ("bad-key", "kilo.last-seen"),
        ("private-leader-endpoint", "k3s.node-external-ip"),
        ("natd-without-keepalive", "k3s.node-external-ip"),
        ("natd-without-keepalive", "kilo.endpoint"),
        ("endpoint-port-mismatch", "k3s.node-external-ip"),
        ("pod-cidr-missing", "kilo.annotations"),
        ("pod-cidr-missing", "kilo.hidden"),
        ("hidden-no-pod-cidr", "node.pod-cidr"),
        ("external-ip-missing", "node.public-address"),
        ("external-ip-disagrees-with-endpoint", "kilo.endpoint"),
        ("stale-node", "kilo.endpoint"),
        # A node or peer that Kilo drops is also named by kilo.hidden.
        ("bad-key", "kilo.hidden"),
        ("stale-node", "kilo.hidden"),
        ("invalid-peer", "kilo.hidden"),
        ("invalid-peer", "kilo.keepalive"),
        ("hidden-no-pod-cidr", "kilo.annotations"),
        ("granularity-disagrees", "kilo.agent"),
        ("leader-by-name-order", "k3s.node-external-ip"),
        ("leader-by-name-order", "kilo.endpoint"),
        ("leader-annotation-elects-a-private-endpoint", "k3s.node-external-ip"),
        ("agent-granularity-differs-from-annotations", "kilo.granularity"),
    }
    return (case["name"], cid) in pairs


@pytest.mark.parametrize("flag", ["--port", "--mtu"])
def test_agent_flags_of_thousands_of_digits_are_not_numbers(flag):
    """int() refuses more than 4300 digits; kg refuses the flag (out of range)."""
    args = [f"{flag}={'1' * 5000}", "--service-cidr=10.43.0.0/16"]
    case = {"daemonsets": {"kilo": {"spec": {"template": {"spec": {"containers": [{"name": "kilo", "image": "squat/kilo:0.6.0", "args": args}]}}}}}}
    findings = mesh_checks.kilo_agent(_input(fx.apply_case(fx.healthy(), case)))
    assert [f.status for f in findings] == [Status.FAIL]
    assert "is not a UDP port" in findings[0].detail or "is not a usable MTU" in findings[0].detail


@pytest.mark.parametrize("case", fx.cases(), ids=lambda c: c["name"])
def test_no_check_is_worse_than_its_severity(case):
    inp = _input(fx.apply_case(fx.healthy(), case))
    for check in STATIC:
        limit = {Severity.FAIL: Status.FAIL, Severity.WARN: Status.WARN, Severity.INFO: Status.PASS}[check.severity]
        for f in run_one(check, inp, None):
            assert RANK[f.status] <= RANK[limit], (check.id, f)


def test_findings_name_their_subject():
    inp = _input(fx.apply_case(fx.healthy(), fx.cases()[0]))
    for findings in _run_all(inp).values():
        for f in findings:
            assert f.subject and f.kind in ("node", "peer", "location", "cluster", "pair")


def test_last_seen_all_stale_suspects_our_clock():
    inp = _input(fx.healthy())
    inp.now = fx.CAPTURED_AT + 3600
    inp.snapshot = False
    findings = static.kilo_last_seen(inp)
    assert [f.subject for f in findings if f.status == Status.FAIL] == ["srv1", "aws2", "gcp1", "bd1"]
    cluster = [f for f in findings if f.subject == "cluster"]
    assert cluster and "clock" in cluster[0].detail and cluster[0].status == Status.WARN


def test_node_args_spellings():
    args = ["server", "--tls-san", "a,b", "--tls-san=c", "--kube-proxy-arg=metrics-bind-address=0.0.0.0"]
    assert k3s.flag_values(args, "--tls-san") == ["a", "b", "c"]
    assert k3s.flag_values(args, "--kube-proxy-arg") == ["metrics-bind-address=0.0.0.0"]
    assert k3s.node_args({"metadata": {"annotations": {"k3s.io/node-args": "not json"}}}) is None


def test_static_checks_on_1000_nodes_are_fast_enough_to_run():
    # Not a timing test (see bench/bench_doctor.py): only that a big cluster works.
    doc = fx.healthy()
    nodes, peers, pods = fx.split(doc)
    many = []
    for i in range(200):
        for n in nodes:
            m = fx.merge_patch(
                n, {"metadata": {"name": f"{n['metadata']['name']}-{i}"}, "spec": {"podCIDR": f"10.{42 + i // 64}.{(i % 64) * 4 + nodes.index(n)}.0/24"}}
            )
            many.append(m)
    inp = build_input(many, peers, pods=[], crd_present=True, now=fx.CAPTURED_AT)
    started = time.monotonic()
    results = _run_all(inp)
    assert time.monotonic() - started < 30
    assert all(f.status != Status.FAIL for f in results["kilo.cidr-overlap"])


def test_healthy_fixture_carries_what_the_real_kilo_agent_writes():
    nodes, _, _ = fx.split(fx.healthy())
    for node in nodes:
        notes = node["metadata"]["annotations"]
        # kg writes the force-endpoint value into endpoint, and an empty CNI compatibility IP.
        assert notes["kilo.squat.ai/endpoint"] == notes["kilo.squat.ai/force-endpoint"]
        assert notes["kilo.squat.ai/cni-compatibility-ip"] == ""
        assert isinstance(__import__("json").loads(notes["kilo.squat.ai/discovered-endpoints"]), dict)
    srv1 = nodes[0]["metadata"]["annotations"]["kilo.squat.ai/discovered-endpoints"]
    assert set(next(iter(__import__("json").loads(srv1).values()))) == {"IP", "Port", "Zone"}


@pytest.mark.parametrize(
    "notes",
    [
        {"kilo.squat.ai/wireguard-ip": "", "kilo.squat.ai/discovered-endpoints": ""},
        {"kilo.squat.ai/internal-ip": "", "kilo.squat.ai/force-internal-ip": ""},
        {"kilo.squat.ai/discovered-endpoints": "null", "kilo.squat.ai/allowed-location-ips": "10.9.0.0/16,10.10.0.0/16"},
        {"kilo.squat.ai/last-seen": str(fx.CAPTURED_AT - 30)},
    ],
    ids=["empty-wireguard-ip", "no-internal-ip", "null-discovered", "last-seen-one-period-ago"],
)
def test_values_the_kilo_agent_writes_pass_the_annotation_check(notes):
    doc = fx.apply_case(fx.healthy(), {"nodes": {"aws2": {"metadata": {"annotations": notes}}}})
    findings = [f for f in _run_all(_input(doc))["kilo.annotations"] if f.subject == "aws2"]
    assert findings and all(f.status == Status.PASS for f in findings), findings


def test_every_annotation_key_typo_names_the_closest_key():
    from kgctl_py.doctor.mesh_checks import KNOWN_KEYS, annotation_problems

    for key in KNOWN_KEYS:
        typo = key[:-2] + key[-1] + key[-2]  # swap the last two letters
        if typo in KNOWN_KEYS:
            continue
        (problem,) = annotation_problems({typo: "x"})
        assert f"did you mean {key}?" in problem, (typo, problem)
    (spaced,) = annotation_problems({"kilo.squat.ai/allowed-location-ips": "10.9.0.0/16, 10.10.0.0/16"})
    assert "' 10.10.0.0/16'" in spaced and "does not strip spaces" in spaced
    (retired,) = annotation_problems({"kilo.squat.ai/force-external-ip": "1.2.3.4"})
    assert "use kilo.squat.ai/force-endpoint" in retired


WRONG = [None, "text", 7, [], ["x"], {"a": 1}, True]


@pytest.mark.parametrize("wrong", WRONG, ids=repr)
def test_new_checks_take_every_shape_the_readers_hand_them(wrong):
    from kgctl_py.doctor import mesh_checks

    doc = fx.healthy()
    nodes, peers, pods = fx.split(doc)
    ds = fx.daemonsets(doc)[0]
    bent_nodes = [
        fx.merge_patch(nodes[0], {"metadata": {"annotations": {"kilo.squat.ai/persistent-keepalive": None}}}) | {"status": wrong},
        {**nodes[1], "spec": wrong},
        {**nodes[2], "metadata": {**nodes[2]["metadata"], "annotations": wrong}},
        nodes[3] | {"metadata": wrong},
    ]
    bent_peers = [{**peers[0], "spec": {**peers[0]["spec"], "persistentKeepalive": wrong}}, {"kind": "Peer", "spec": wrong}, wrong]
    bent_ds = [
        ds | {"spec": wrong},
        {
            "metadata": {"labels": {"app.kubernetes.io/name": "kilo"}},
            "spec": {"template": {"spec": {"containers": [{"name": "kilo", "args": wrong, "command": wrong}, wrong]}}},
        },
        wrong,
    ]
    for daemonsets in ([bent_ds[0]], [bent_ds[1]], [bent_ds[2]], bent_ds):
        inp = build_input(bent_nodes, bent_peers, pods=pods, now=fx.CAPTURED_AT, daemonsets=daemonsets)
        # The older checks' shapes are issue 11's (hostile helper).
        for run in (mesh_checks.kilo_hidden, mesh_checks.kilo_keepalive, mesh_checks.kilo_internal_ip, mesh_checks.kilo_leader, mesh_checks.kilo_agent):
            for f in run(inp):
                assert f.subject and f.status in Status, (run.__name__, f)


@given(nets=st.lists(strategies.cidr(), max_size=12), addrs=st.lists(strategies.ip(), min_size=1, max_size=6))
@strategies.profile(properties=True)
def test_containing_finds_exactly_the_nets_that_contain_an_address(nets, addrs):
    """kilo.internal-ip's index of ranges (one lookup per prefix length) agrees with testing each net."""
    parsed = [n for n in (parse_network(c) for c in nets) if n is not None]
    parsed += [normalize_ip(c) for c in nets if normalize_ip(c) is not None]  # host bits kept, as Kilo's annotations
    inside = mesh_checks.containing(parsed)
    for text in addrs:
        addr = parse_ip(text)
        if addr is not None:
            assert inside(addr) == [k for k, net in enumerate(parsed) if net.contains(addr)]
