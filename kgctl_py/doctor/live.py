"""Checks that exec into pods or create them: each fetches over the API, then
hands the text to a pure judge (``judge_*``, ``wg``, ``ping``)."""

from __future__ import annotations

import secrets
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from kgctl_py.doctor import ping as P
from kgctl_py.doctor import wg
from kgctl_py.doctor.kube import ExecOutcome, Session
from kgctl_py.doctor.model import DoctorOptions, Finding, Status
from kgctl_py.doctor.pool import run_bounded
from kgctl_py.doctor.static import StaticInput, age_text, pod_ready
from kgctl_py.errors import CliError
from kgctl_py.kube import resources as R
from kgctl_py.kube.errors import ApiError
from kgctl_py.mesh.cluster import KgctlError, Options, node_topology
from kgctl_py.mesh.key import key_str
from kgctl_py.record import field, record


@record
class LiveContext:
    static: StaticInput
    session: Session
    opts: DoctorOptions
    progress: Callable[[str], None] = lambda message: None
    warn: Callable[[str], None] = lambda message: None
    kubectl: str = "kubectl"
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    # The namespace doctor may have created (cleanup deletes it only if it carries run_id).
    namespace: str | None = None
    # Doctor's hostNetwork pods by node (doctor --pre), created on first use.
    host_pods: dict[str, dict[str, Any]] | None = None
    _perm_cache: dict[tuple[str, ...], bool | None] = field(default_factory=dict)
    # What checks share within one run (e.g. the data-path checks' pods, see podnet.py).
    shared: dict[str, Any] = field(default_factory=dict)

    def permission_problem(self, wants: list[tuple[str, str, str, str, str | None]]) -> str:
        """'' when every (verb, group, resource, subresource, namespace) is allowed; else what is missing."""
        missing = []
        for verb, group, resource, sub, ns in wants:
            key = (verb, group, resource, sub, ns or "")
            if key not in self._perm_cache:
                self._perm_cache[key] = self.session.can(verb, resource, group, sub, ns)
            if self._perm_cache[key] is False:
                what = f"{resource}/{sub}" if sub else (f"{resource}.{group}" if group else resource)
                where = f" -n {ns}" if ns else ""
                missing.append(f"{verb} {what}{where}")
        if not missing:
            return ""
        return "missing RBAC permission: " + "; ".join(missing) + f" (check with: {self.kubectl} auth can-i {missing[0]})"

    def kilo_pods(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for pod in self.static.pods:
            node = (pod.get("spec") or {}).get("nodeName")
            if node and pod_ready(pod):
                found.setdefault(node, pod)
        return found


def _container(pod: dict[str, Any], preferred: str) -> str | None:
    names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or [] if isinstance(c, dict)]
    if preferred in names:
        return preferred
    return names[0] if names else None


def _exec_on(ctx: LiveContext, targets: dict[str, dict[str, Any]], command: list[str]) -> dict[str, ExecOutcome]:
    names = sorted(targets)

    def one(node: str) -> ExecOutcome:
        pod = targets[node]
        md = pod["metadata"]
        return ctx.session.exec(md.get("namespace", ctx.opts.kilo_namespace), md["name"], _container(pod, "kilo"), command, ctx.opts.exec_timeout)

    ctx.session.prepare_exec()
    results = run_bounded(names, one, ctx.opts.max_concurrent_execs)
    return {names[i]: r for i, r in results.items()}


def exec_hint(ctx: LiveContext, pod: dict[str, Any], command: list[str]) -> str:
    """For an exec that could not run: nothing is known of the node yet, so no fix, only the exec to try."""
    md = pod.get("metadata") or {}
    where = f"{ctx.kubectl} -n {md.get('namespace', ctx.opts.kilo_namespace)} exec {md.get('name', 'KILO-POD')}"
    return f"the exec failed, so nothing is known of the node yet; try it by hand: {where} -- {shlex.join(command)}"


def _kilo_exec_precheck(ctx: LiveContext) -> tuple[dict[str, dict[str, Any]], list[Finding]]:
    if ctx.static.pods_problem:
        return {}, [Finding(Status.FAIL, "cluster", ctx.static.pods_problem, "cluster")]
    pods = ctx.kilo_pods()
    namespaces = sorted({p["metadata"].get("namespace", ctx.opts.kilo_namespace) for p in pods.values()}) or [ctx.opts.kilo_namespace]
    problem = ctx.permission_problem([("create", "", "pods", "exec", ns) for ns in namespaces])
    if problem:
        return {}, [Finding(Status.FAIL, "cluster", problem, "cluster")]
    if not pods:
        return {}, [Finding(Status.SKIP, "cluster", "no Ready Kilo pod (label app.kubernetes.io/name=kilo) to exec in", "cluster")]
    return pods, []


# --- node.ip-forward ---------------------------------------------------------------------------------


def judge_ip_forward(outcome: ExecOutcome) -> tuple[Status, str]:
    if outcome.error:
        return Status.FAIL, f"cannot read it: {outcome.error}"
    value = outcome.stdout.strip()
    if outcome.exit_code != 0:
        return Status.FAIL, f"cat failed ({outcome.exit_code}): {outcome.stderr.strip() or value}"
    if value == "1":
        return Status.PASS, "net.ipv4.ip_forward = 1"
    if value == "0":
        return Status.FAIL, "net.ipv4.ip_forward = 0: the node does not route pod traffic for other nodes"
    return Status.FAIL, f"unexpected content {value[:40]!r}"


def ip_forward(ctx: LiveContext) -> list[Finding]:
    pods, early = _kilo_exec_precheck(ctx)
    if early:
        return early
    ctx.progress("reading net.ipv4.ip_forward on the nodes")
    command = ["cat", "/proc/sys/net/ipv4/ip_forward"]
    outcomes = _exec_on(ctx, pods, command)
    out = []
    for node in ctx.static.nodes:
        if node.name not in outcomes:
            out.append(Finding(Status.SKIP, node.name, "no Ready Kilo pod to exec in"))
            continue
        o = outcomes[node.name]
        out.extend(ip_forward_findings(node.name, *judge_ip_forward(o), exec_failed=exec_hint(ctx, pods[node.name], command) if o.error else ""))
    return out


def ip_forward_findings(node: str, status: Status, detail: str, exec_failed: str = "") -> list[Finding]:
    """``exec_failed``: the hint when the value could not be read (the sysctl is then no fix)."""
    hint = (exec_failed or f"on {node}: sysctl -w net.ipv4.ip_forward=1 (and persist it in /etc/sysctl.d/)") if status == Status.FAIL else ""
    return [Finding(status, node, detail, hint=hint)]


def ip_forward_any(ctx: LiveContext) -> list[Finding]:
    """node.ip-forward: from the Kilo pods, or before Kilo (--pre) from doctor's host pods."""
    if ctx.opts.pre:
        from kgctl_py.doctor import pre

        return pre.ip_forward(ctx)
    return ip_forward(ctx)


# --- wireguard.handshake / wireguard.drift ----------------------------------------------------------


def _names(ctx: LiveContext) -> dict[str, str]:
    names: dict[str, str] = {}
    t = ctx.static.topology
    if t is not None:
        for s in t.segments:
            if s.key is not None:
                names[key_str(s.key)] = s.leader_name
    for p in ctx.static.cluster.peers:
        if p.public_key is not None:
            names.setdefault(key_str(p.public_key), f"peer {p.name}")
    return names


def _leaders(ctx: LiveContext) -> tuple[dict[str, dict[str, Any]], list[Finding]]:
    pods, early = _kilo_exec_precheck(ctx)
    if early:
        return {}, early
    t = ctx.static.topology
    if t is None:
        return {}, [Finding(Status.SKIP, "cluster", f"no topology: {ctx.static.topology_error}", "cluster")]
    out = []
    targets = {}
    for s in t.segments:
        if s.leader_name in pods:
            targets[s.leader_name] = pods[s.leader_name]
        else:
            out.append(Finding(Status.SKIP, s.leader_name, "leader has no Ready Kilo pod to exec in"))
    return targets, out


def judge_handshakes(live: wg.LiveInterface, expected_keys: list[str], names: dict[str, str], peer_keys: set[str], now: int) -> tuple[Status, str]:
    fails: list[str] = []
    warns: list[str] = []
    fine = 0
    for key in expected_keys:
        name = names.get(key, key[:8] + "…")
        peer = live.peers.get(key)
        soft = key in peer_keys  # a Kilo Peer (a laptop, a phone) may simply be offline
        bucket = warns if soft else fails
        if peer is None:
            bucket.append(f"{name}: not configured")
        elif peer.latest_handshake == 0:
            bucket.append(f"{name}: no handshake ever")
        elif now - peer.latest_handshake > wg.HANDSHAKE_MAX_AGE:
            bucket.append(f"{name}: last handshake {age_text(now - peer.latest_handshake)} ago")
        else:
            fine += 1
    if fails:
        return Status.FAIL, "; ".join(fails + warns)
    if warns:
        return Status.WARN, "; ".join(warns)
    return Status.PASS, f"{fine} peer(s) shook hands within {wg.HANDSHAKE_MAX_AGE // 60} min"


def _wg_failed(ctx: LiveContext, outcome: ExecOutcome) -> str:
    if outcome.error:
        return outcome.error
    # Only wg's stderr: its stdout (showconf's, dump's first line) holds the interface's private key.
    text = outcome.stderr.strip().splitlines()
    why = text[-1] if text else f"exit code {outcome.exit_code}"
    return f"wg failed: {why} (is the interface called {ctx.opts.wg_interface}? see --wg-interface)"


def _wg_hint(ctx: LiveContext, leader: str, outcome: ExecOutcome) -> str:
    pod = ctx.kilo_pods().get(leader)
    if outcome.error and pod:
        return exec_hint(ctx, pod, ["wg", "show", ctx.opts.wg_interface])
    name = pod["metadata"]["name"] if pod else "KILO-POD"
    ns = pod["metadata"].get("namespace", ctx.opts.kilo_namespace) if pod else ctx.opts.kilo_namespace
    return f"list the interfaces with: {ctx.kubectl} -n {ns} exec {name} -- wg show interfaces; then pass --wg-interface NAME"


def _on_leaders(ctx: LiveContext, what: str, command: list[str]) -> tuple[list[Finding], list[tuple[str, str, list[Any]]]]:
    """Run ``wg`` on every leader: findings for those where it failed or there is
    nothing to compare with, and (leader, output, expected peers) for the rest."""
    targets, out = _leaders(ctx)
    if not targets:
        return out, []
    ctx.progress(what)
    ready = []
    for leader, outcome in sorted(_exec_on(ctx, targets, command).items()):
        if not outcome.ok:
            out.append(Finding(Status.FAIL, leader, _wg_failed(ctx, outcome), hint=_wg_hint(ctx, leader, outcome)))
            continue
        expected = _expected_conf(ctx, leader)
        if expected is None:
            out.append(Finding(Status.SKIP, leader, "not a ready node: nothing computed to compare"))
            continue
        ready.append((leader, outcome.stdout, expected))
    return out, ready


def handshake(ctx: LiveContext) -> list[Finding]:
    out, ready = _on_leaders(ctx, "reading WireGuard handshakes on the leaders", ["wg", "show", ctx.opts.wg_interface, "dump"])
    names = _names(ctx)
    peer_keys = {key_str(p.public_key) for p in ctx.static.cluster.peers if p.public_key is not None}
    now = int(time.time())
    for leader, stdout, expected in ready:
        keys = [key_str(p.public_key) for p in expected if p.public_key is not None]
        status, detail = judge_handshakes(wg.parse_dump(stdout), keys, names, peer_keys, now)
        if status == Status.FAIL:
            hint = f"check {leader}'s endpoint and that UDP {ctx.static.port} is open between the leaders; the clock of this machine matters too (date -u)"
        elif status == Status.WARN:
            hint = "a Kilo Peer (laptop, phone) may just be offline; if it should be up, check its endpoint, key and persistentKeepalive"
        else:
            hint = ""
        out.append(Finding(status, leader, detail, hint=hint))
    return out


def _expected_conf(ctx: LiveContext, leader: str) -> list[Any] | None:
    s = ctx.static
    try:
        t, _ = node_topology(s.cluster, leader, Options(granularity=s.granularity, port=s.port), s.now)
    except KgctlError:
        return None
    return t.conf()


def drift(ctx: LiveContext) -> list[Finding]:
    out, ready = _on_leaders(ctx, "comparing the live WireGuard configuration", ["wg", "showconf", ctx.opts.wg_interface])
    names = _names(ctx)
    for leader, stdout, expected in ready:
        live = wg.parse_showconf(stdout)
        fails, warns = wg.drift(live, expected, names, ctx.static.port)
        stuck = wg.blind_spot(live, expected) if fails or warns else None
        if stuck is not None:
            # Kilo's own check misses this drift, so only a restart fixes it; a
            # moved endpoint alone stays a warning (WireGuard may have roamed).
            blocker, drifted = stuck
            name = lambda key: names.get(key, key[:8] + "…")  # noqa: E731
            why = (
                f"Kilo cannot see this: its (*Conf).Equal stops at {name(blocker)}, which has no endpoint, and "
                f"{', '.join(name(k) for k in drifted)} sort(s) after it, so they stay stale until the Kilo pod restarts"
            )
            md = (ctx.kilo_pods().get(leader) or {}).get("metadata") or {}
            out.append(
                Finding(
                    Status.FAIL if fails else Status.WARN,
                    leader,
                    "; ".join([*fails, *warns, why]),
                    hint=f"restart {leader}'s Kilo pod: {ctx.kubectl} -n {md.get('namespace', ctx.opts.kilo_namespace)} delete pod {md.get('name', 'KILO-POD')}",
                )
            )
        elif fails:
            out.append(
                Finding(
                    Status.FAIL,
                    leader,
                    "; ".join(fails + warns),
                    hint=f"compare: kgctl-py showconf node {leader}  vs  wg showconf {ctx.opts.wg_interface} on {leader}; restart its Kilo pod to reconcile",
                )
            )
        elif warns:
            out.append(Finding(Status.WARN, leader, "; ".join(warns)))
        else:
            out.append(Finding(Status.PASS, leader, f"{len(expected)} peer(s) match kgctl-py's configuration"))
    return out


# --- pod.ping --------------------------------------------------------------------------------------------


@contextmanager
def deferred_signals() -> Iterator[list[int]]:
    """Hold SIGINT/SIGTERM while cleaning up; re-raise as KeyboardInterrupt afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield []
        return
    caught: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if caught:
        raise KeyboardInterrupt


# After Ctrl-C or SIGTERM, how long doctor waits for its namespace to go before it leaves.
INTERRUPTED_CLEANUP_WAIT = 3.0


def cleanup(ctx: LiveContext, interrupted: bool | None = None) -> None:
    """Delete doctor's DaemonSet and namespace and wait until the namespace is gone:
    up to --timeout, or only briefly when the run was interrupted (the deletion is
    requested either way; the command to check on it is printed)."""
    if interrupted is None:
        # Called from a ``finally``: the exception on its way out says whether the user interrupted.
        interrupted = isinstance(sys.exc_info()[1], KeyboardInterrupt)
    ns = ctx.namespace
    if ns is None:
        return
    client = ctx.session.client
    command = f"{ctx.kubectl} delete namespace {ns}"
    if ctx.opts.keep:
        ctx.warn(f"kept namespace {ns} with the ping pods for inspection; remove it with: {command}")
        ctx.namespace = None
        return
    with deferred_signals():
        try:
            current = R.NAMESPACES.get(client, ns, what=f"namespace {ns}")
            labels = ((current or {}).get("metadata") or {}).get("labels") or {}
            if labels.get(P.RUN_LABEL) != ctx.run_id:
                ctx.namespace = None  # not ours: never delete it
                return
            try:
                R.DAEMONSETS.delete(client, "kgctl-py-doctor-ping", ns, params={"propagationPolicy": "Background"}, what="daemonset kgctl-py-doctor-ping")
            except ApiError as err:
                if err.status != 404:
                    raise
            R.NAMESPACES.delete(client, ns, params={"propagationPolicy": "Background"}, what=f"namespace {ns}")
            wait = min(ctx.opts.timeout, INTERRUPTED_CLEANUP_WAIT) if interrupted else ctx.opts.timeout
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                try:
                    R.NAMESPACES.get(client, ns, what=f"namespace {ns}")
                except ApiError as err:
                    if err.status == 404:
                        ctx.namespace = None
                        return
                    raise
                time.sleep(0.2)
            ctx.warn(f"deletion of namespace {ns} requested, still terminating after {wait:g}s; check it with: {ctx.kubectl} get namespace {ns}")
            ctx.namespace = None
        except ApiError as err:
            if err.status == 404:
                ctx.namespace = None
                return
            ctx.namespace = None  # said once, with the command to finish the job
            ctx.warn(f"could not delete namespace {ns} ({err.message}); delete it with: {command}")
        except CliError as err:
            ctx.namespace = None
            ctx.warn(f"could not delete namespace {ns} ({err.message}); delete it with: {command}")


def _ping_places(ctx: LiveContext) -> dict[str, P.Place]:
    places: dict[str, P.Place] = {}
    t = ctx.static.topology
    if t is None:
        return places
    for s in t.segments:
        loc = s.location_name or '""'
        for host in s.hostnames:
            places[host] = P.Place(loc, s.leader_name, str(s.endpoint) if s.endpoint is not None else "")
    return places


def create_namespace(ctx: LiveContext, wants: list[tuple[str, str, str, str]]) -> tuple[str, list[Finding]]:
    """Doctor's own namespace (created once per run), after checking it may do ``wants`` there."""
    ns = ctx.opts.namespace or f"kgctl-py-doctor-{ctx.run_id}"
    problem = ctx.permission_problem(
        [
            ("create", "", "namespaces", "", None),
            ("delete", "", "namespaces", "", None),
            *[(verb, group, resource, sub, ns) for verb, group, resource, sub in wants],
        ]
    )
    if problem:
        return ns, [Finding(Status.FAIL, "cluster", problem, "cluster")]
    if ctx.namespace == ns:
        return ns, []
    try:
        ctx.namespace = ns
        R.NAMESPACES.create(ctx.session.client, P.namespace_manifest(ns, ctx.run_id), what=f"namespace {ns}")
    except ApiError as err:
        if err.status == 409:
            ctx.namespace = None  # not ours: cleanup must not touch it
            return ns, [
                Finding(
                    Status.FAIL,
                    "cluster",
                    f"namespace {ns} already exists; doctor only uses a namespace it creates",
                    "cluster",
                    hint="pick another --namespace, or delete the old one",
                )
            ]
        raise
    return ns, []


def pod_ping(ctx: LiveContext) -> tuple[list[Finding], dict[str, Any] | None]:
    client = ctx.session.client
    try:
        ns, early = create_namespace(ctx, [("create", "apps", "daemonsets", ""), ("list", "", "pods", ""), ("create", "", "pods", "exec")])
        if early:
            return early, None
        R.DAEMONSETS.create(client, P.daemonset_manifest(ns, ctx.opts.image, ctx.run_id), ns, what="daemonset kgctl-py-doctor-ping")
        pods, waiting = _wait_for_pods(ctx, ns)
        debug_ns = "kgctl-py-doctor-debug"
        if not pods and waiting and all(why == NO_POD for why in waiting.values()):
            ds = R.DAEMONSETS.get(client, "kgctl-py-doctor-ping", ns, what="daemonset kgctl-py-doctor-ping")
            detail, hint = P.no_pods_verdict((ds or {}).get("status"), ctx.kubectl, debug_ns)
            return [Finding(Status.FAIL, "cluster", f"{detail} (waited {ctx.opts.timeout:g}s for {len(waiting)} nodes)", "cluster", hint=hint)], None
        findings, data = _ping_all(ctx, ns, pods)
        for node, why in waiting.items():
            findings.append(
                Finding(
                    Status.FAIL, node, f"no running ping pod after {ctx.opts.timeout:g}s: {why}", hint=P.not_running_hint(ctx.kubectl, debug_ns, ctx.opts.image)
                )
            )
        return findings, data
    finally:
        cleanup(ctx)


NO_POD = "no pod was created there"


def _wait_for_pods(ctx: LiveContext, ns: str) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    want = sorted(n.name for n in ctx.static.nodes)
    deadline = time.monotonic() + ctx.opts.timeout
    running: dict[str, dict[str, Any]] = {}
    last: dict[str, str] = {}
    from kgctl_py.doctor.progress import Meter

    meter = Meter(ctx.progress, "starting ping pods", len(want), "running")
    while True:
        pods = R.PODS.list(ctx.session.client, ns, selector=f"{P.RUN_LABEL}={ctx.run_id}")
        running, last = {}, {}
        for pod in pods:
            node = (pod.get("spec") or {}).get("nodeName") or ""
            if pod_ready(pod) and (pod.get("status") or {}).get("podIP"):
                running.setdefault(node, pod)
            else:
                last[node] = _pod_state(pod)
        meter.update(len([n for n in want if n in running]))
        if all(n in running for n in want) or time.monotonic() >= deadline:
            break
        time.sleep(0.25)
    missing = {n: last.get(n, NO_POD) for n in want if n not in running}
    return {n: p for n, p in running.items() if n in want}, missing


def _pod_state(pod: dict[str, Any]) -> str:
    status = pod.get("status") or {}
    for cs in status.get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting:
            return f"{waiting.get('reason', 'waiting')}: {waiting.get('message', '')}".strip(": ")
    for c in status.get("conditions") or []:
        if c.get("status") == "False" and c.get("message"):
            return str(c["message"])
    return f"pod {pod['metadata'].get('name')} is {status.get('phase', 'Pending')}"


def _ping_all(ctx: LiveContext, ns: str, pods: dict[str, dict[str, Any]]) -> tuple[list[Finding], dict[str, Any]]:
    from kgctl_py.doctor import meshping

    peak_before = ctx.session.peak_execs
    ctx.session.peak_execs = 0

    def exec_fn(node: str, command: list[str]) -> tuple[int | None, str, str, str]:
        o = ctx.session.exec(ns, pods[node]["metadata"]["name"], "ping", command, ctx.opts.exec_timeout)
        return o.exit_code, o.stdout, o.stderr, o.error

    ctx.session.prepare_exec()
    pod_ips = {n: p["status"]["podIP"] for n, p in pods.items()}
    peers = [(p.name, str(ip)) for p in ctx.static.cluster.peers for ip in p.allowed_ips]
    settings = meshping.Settings(ctx.opts.full_matrix, ctx.opts.full_matrix_limit, ctx.opts.max_concurrent_execs, ctx.static.port)
    findings, data = meshping.run(sorted(pods), pod_ips, _ping_places(ctx), peers, exec_fn, settings, ctx.progress)
    peak = ctx.session.peak_execs
    ctx.session.peak_execs = max(peak, peak_before)
    data["peakConcurrentExecs"] = peak
    return findings, data
