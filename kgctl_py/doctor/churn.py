"""wireguard.endpoint: the endpoint each leader's WireGuard uses for a peer,
read twice a few seconds apart (``wg show IFACE endpoints``, in parallel on
the leaders). A peer whose endpoint
moves between the reads is behind a NAT that keeps changing its mapping: Kilo
then rewrites its configuration and traffic drops while it does."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from kgctl_py.doctor.model import Finding, Status, Waiting

if TYPE_CHECKING:
    from kgctl_py.doctor.live import LiveContext

INTERVAL = 4  # seconds between the reads; WireGuard roams on the next packet from a new address


def parse_endpoints(text: str) -> dict[str, str]:
    """``wg show IFACE endpoints``: public key TAB endpoint (or ``(none)``)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, endpoint = line.strip().partition("\t")
        if sep:
            found[key] = "" if endpoint == "(none)" else endpoint
    return found


def judge_churn(first: dict[str, str], second: dict[str, str], names: dict[str, str]) -> list[tuple[str, str, str]]:
    """(peer name, before, after) for every peer whose endpoint changed between the reads."""
    moved = []
    for key in sorted(set(first) & set(second)):
        before, after = first[key], second[key]
        if before and after and before != after:
            moved.append((names.get(key, key[:8] + "…"), before, after))
    return moved


def _fix(ctx: LiveContext, peer: str, leader: str, known: bool) -> str:
    if not known:  # only its key's first characters: no Node or Peer to annotate
        md = (ctx.kilo_pods().get(leader) or {}).get("metadata") or {}
        return (
            f"no Node or Peer has this key, so it is not Kilo's peer (see wireguard.drift); "
            f"restart {leader}'s Kilo pod to reset its interface: {ctx.kubectl} -n {md.get('namespace', ctx.opts.kilo_namespace)} delete pod {md.get('name', 'KILO-POD')}"
        )
    if peer.startswith("peer "):
        name = peer.split(" ", 1)[1]
        return (
            f'keep the NAT mapping alive: {ctx.kubectl} patch peer {name} --type merge -p \'{{"spec":{{"persistentKeepalive":25}}}}\''
            "; or give the peer a stable public endpoint"
        )
    return (
        f"keep the NAT mapping alive: {ctx.kubectl} annotate node {peer} --overwrite kilo.squat.ai/persistent-keepalive=25"
        f"; or pin a stable public address: {ctx.kubectl} annotate node {peer} --overwrite kilo.squat.ai/force-endpoint=<public IP>:{ctx.static.port}"
    )


def check(ctx: LiveContext) -> Waiting:
    from kgctl_py.doctor.live import _exec_on, _leaders, _names, _wg_failed, _wg_hint

    targets, out = _leaders(ctx)
    if not targets:
        return out
    ctx.progress(f"reading WireGuard endpoints twice, {INTERVAL} s apart")
    names = _names(ctx)
    command = ["wg", "show", ctx.opts.wg_interface, "endpoints"]
    first = _exec_on(ctx, targets, command)
    again = {n: p for n, p in targets.items() if first[n].ok and any(parse_endpoints(first[n].stdout).values())}
    read_at = time.monotonic()
    if again:  # only peers with an endpoint can move
        yield INTERVAL  # the runner runs other checks meanwhile
    second = _exec_on(ctx, again, command) if again else {}
    seconds = round(time.monotonic() - read_at)
    for leader in sorted(targets):
        outcome = second.get(leader, first[leader])  # no second read: nothing could move
        if not outcome.ok:
            out.append(Finding(Status.FAIL, leader, _wg_failed(ctx, outcome), hint=_wg_hint(ctx, leader, outcome)))
            continue
        before, after = parse_endpoints(first[leader].stdout), parse_endpoints(outcome.stdout)
        moved = judge_churn(before, after, names)
        if moved:
            detail = "; ".join(f"{name} moved from {a} to {b} within {seconds} s (NAT churn)" for name, a, b in moved)
            out.append(Finding(Status.FAIL, leader, detail, hint=_fix(ctx, moved[0][0], leader, moved[0][0] in names.values())))
        else:
            watched = f"stable over {seconds} s" if leader in second else "none set yet, so none can move"
            out.append(Finding(Status.PASS, leader, f"{len(after)} peer endpoint(s) {watched}"))
    return out
