"""Every check, declared as data, in the order the report shows them.

Static checks take a ``StaticInput``; the others take a ``LiveContext``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kgctl_py.doctor import live, mesh_checks, pre, static
from kgctl_py.doctor.model import Check, Finding, Severity, Waiting

if TYPE_CHECKING:
    from kgctl_py.doctor.live import LiveContext

FAIL, WARN, INFO = Severity.FAIL, Severity.WARN, Severity.INFO


def _tls(ctx: LiveContext) -> list[Finding]:
    from kgctl_py.doctor import tls

    auth = ctx.session.auth
    return tls.check(auth.server, auth.insecure, auth.ca_data, ctx.static.node_objs, ctx.opts.api_port, min(ctx.opts.timeout, 10.0))


def _routes(ctx: LiveContext) -> list[Finding]:
    from kgctl_py.doctor import routes

    return routes.check(ctx)


def _pod_dns(ctx: LiveContext) -> list[Finding]:
    from kgctl_py.doctor import datapath

    return datapath.pod_dns(ctx)


def _pod_service(ctx: LiveContext) -> list[Finding]:
    from kgctl_py.doctor import datapath

    return datapath.pod_service(ctx)


def _wg_endpoint(ctx: LiveContext) -> Waiting:
    from kgctl_py.doctor import churn

    return churn.check(ctx)


def _mtu(ctx: LiveContext) -> tuple[list[Finding], dict[str, Any] | None]:
    from kgctl_py.doctor import mtu

    return mtu.check(ctx)


def _kilo_metrics(ctx: LiveContext) -> Waiting:
    from kgctl_py.doctor import metrics

    return metrics.check(ctx)


def _host_ping(ctx: LiveContext) -> list[Finding]:
    from kgctl_py.doctor import hostping

    return hostping.check(ctx.static, ctx.opts.timeout, ctx.opts.max_concurrent_execs)


CHECKS: list[Check] = [
    Check(
        "k3s.tls-san", "k3s", "server certificate names the public address", FAIL, "add --tls-san <public IP> to the K3s server", static.k3s_tls_san, pre=True
    ),
    Check(
        "k3s.node-external-ip",
        "k3s",
        "nodes declare their external IP, matching Kilo",
        FAIL,
        "start K3s with --node-external-ip <public IP>",
        static.k3s_node_external_ip,
        pre=True,
    ),
    Check(
        "k3s.metrics-bind-address",
        "k3s",
        "kube-proxy metrics bind to 0.0.0.0",
        FAIL,
        "start K3s with --kube-proxy-arg metrics-bind-address=0.0.0.0",
        static.k3s_metrics_bind_address,
        pre=True,
    ),
    Check(
        "k3s.flannel-backend",
        "k3s",
        "flannel is off when Kilo is the CNI",
        FAIL,
        "start the K3s server with --flannel-backend none",
        static.k3s_flannel_backend,
        pre=True,
    ),
    Check(
        "kilo.crd",
        "kilo",
        "the Peer CRD is installed",
        FAIL,
        "kubectl apply -f https://raw.githubusercontent.com/squat/kilo/main/manifests/crds.yaml",
        static.kilo_crd,
    ),
    Check(
        "kilo.annotations",
        "kilo",
        "Kilo's node annotations are present and parse",
        FAIL,
        "check the node's Kilo pod; fix or remove forced annotations (kubectl annotate node NODE KEY-)",
        static.kilo_annotations,
    ),
    Check("kilo.hidden", "kilo", "every node and peer is in the mesh, or named with Kilo's reason", FAIL, "kgctl-py status NAME", mesh_checks.kilo_hidden),
    Check("kilo.last-seen", "kilo", "every node checked in within 60 s", FAIL, "check the node's Kilo pod, and this machine's clock", static.kilo_last_seen),
    Check(
        "kilo.endpoint",
        "kilo",
        "leaders have public endpoints on --port",
        FAIL,
        "kubectl annotate node LEADER kilo.squat.ai/force-endpoint=<public IP>:51820",
        static.kilo_endpoint,
    ),
    Check(
        "kilo.leader", "kilo", "each location's elected leader, and why", INFO, "kubectl annotate node NODE kilo.squat.ai/leader=true", mesh_checks.kilo_leader
    ),
    Check(
        "kilo.keepalive",
        "kilo",
        "persistent keepalives are integers in 0..65535",
        FAIL,
        "kubectl annotate node NODE --overwrite kilo.squat.ai/persistent-keepalive=25",
        mesh_checks.kilo_keepalive,
    ),
    Check(
        "kilo.nat-keepalive",
        "kilo",
        "NAT'd nodes and peers keep their tunnels alive",
        WARN,
        "kubectl annotate node NODE kilo.squat.ai/persistent-keepalive=25",
        static.kilo_nat_keepalive,
    ),
    Check(
        "kilo.location",
        "kilo",
        "nodes of a location share one private network",
        WARN,
        "give nodes in different networks different locations (kilo.squat.ai/location)",
        static.kilo_location,
    ),
    Check(
        "kilo.internal-ip",
        "kilo",
        "internal IPs are routable node addresses outside the cluster's ranges",
        FAIL,
        "kubectl annotate node NODE --overwrite kilo.squat.ai/force-internal-ip=IP/PREFIX, or Kilo's --internal-cidr",
        mesh_checks.kilo_internal_ip,
    ),
    Check(
        "kilo.granularity", "kilo", "all nodes agree on the mesh granularity", FAIL, "run every Kilo with the same --mesh-granularity", static.kilo_granularity
    ),
    Check(
        "kilo.cidr-overlap",
        "kilo",
        "pod CIDRs, Kilo subnet and allowed IPs do not overlap",
        FAIL,
        "change one of the overlapping ranges",
        static.kilo_cidr_overlap,
    ),
    Check("kilo.peers", "kilo", "Peers are valid and keys are unique", FAIL, "kubectl edit peer NAME", static.kilo_peers),
    Check(
        "kilo.agent",
        "kilo",
        "Kilo's flags agree with the annotations and kgctl-py's flags",
        FAIL,
        "kubectl -n kube-system edit daemonset kilo",
        mesh_checks.kilo_agent,
    ),
    Check(
        "node.pod-cidr",
        "node",
        "every node has a pod CIDR for Kilo to route",
        FAIL,
        "start the K3s server with --cluster-cidr so that every node gets a spec.podCIDR",
        pre.pod_cidr,
        pre=True,
        pre_only=True,
    ),
    Check(
        "node.public-address",
        "node",
        "every planned location has a node with a public address",
        FAIL,
        "start K3s on one node per location with --node-external-ip <public IP>",
        pre.public_address,
        pre=True,
        pre_only=True,
    ),
    Check("node.ready", "node", "nodes are Ready", FAIL, "kubectl describe node NODE", static.node_ready, pre=True),
    Check("kilo.daemonset", "node", "one Ready Kilo pod per node", FAIL, "kubectl -n kube-system describe ds kilo", static.kilo_daemonset),
    Check(
        "api.tls-san",
        "api",
        "API certificates cover the addresses used",
        FAIL,
        "add --tls-san <address> to the K3s server",
        _tls,
        needs_api=True,
        needs_network=True,
        pre=True,
    ),
    Check(
        "node.ip-forward",
        "node",
        "IP forwarding is on",
        FAIL,
        "sysctl -w net.ipv4.ip_forward=1 on the node",
        live.ip_forward_any,
        needs_api=True,
        needs_exec=True,
        pre=True,
    ),
    Check(
        "node.wireguard-port",
        "node",
        "the WireGuard UDP port is free on every host",
        FAIL,
        "free UDP --port on the host (ss -ulpn), or choose another --port for Kilo",
        pre.wireguard_port,
        needs_api=True,
        needs_exec=True,
        pre=True,
        pre_only=True,
    ),
    Check(
        "node.routes",
        "node",
        "routes and rp_filter follow Kilo's topology",
        FAIL,
        "compare ip route on the node with what Kilo installs; restart its Kilo pod",
        _routes,
        needs_api=True,
        needs_exec=True,
    ),
    Check(
        "kilo.metrics",
        "node",
        "Kilo agents' metrics agree with kgctl-py's topology",
        FAIL,
        "read the Kilo pod's log and restart it (kubectl -n kube-system delete pod KILO-POD)",
        _kilo_metrics,
        needs_api=True,
        needs_exec=True,
    ),
    Check(
        "wireguard.handshake",
        "wireguard",
        "leaders shook hands with every peer in 3 min",
        FAIL,
        "check the leader's endpoint and UDP 51820 between leaders",
        live.handshake,
        needs_api=True,
        needs_exec=True,
    ),
    Check(
        "wireguard.drift",
        "wireguard",
        "live WireGuard config matches kgctl-py's",
        FAIL,
        "compare kgctl-py showconf node LEADER with wg showconf kilo0; restart the Kilo pod",
        live.drift,
        needs_api=True,
        needs_exec=True,
    ),
    Check(
        "wireguard.endpoint",
        "wireguard",
        "peers' endpoints stay put (no NAT churn)",
        FAIL,
        "kubectl annotate node NODE kilo.squat.ai/persistent-keepalive=25, or force a stable endpoint",
        _wg_endpoint,
        needs_api=True,
        needs_exec=True,
    ),
    Check(
        "pod.ping",
        "network",
        "pods ping each other across the mesh",
        FAIL,
        "follow the named culprit: a leader's endpoint and UDP port, or one node",
        live.pod_ping,
        needs_api=True,
        needs_exec=True,
        matrix=True,
    ),
    Check(
        "pod.dns",
        "network",
        "pods in every location resolve names through the cluster DNS",
        FAIL,
        "allow UDP 53 from every location to the DNS pods' location",
        _pod_dns,
        needs_api=True,
        needs_exec=True,
    ),
    Check(
        "pod.service",
        "network",
        "pods in every location reach the kubernetes Service",
        FAIL,
        "check kube-proxy and that the Service's endpoints are reachable across the mesh",
        _pod_service,
        needs_api=True,
        needs_exec=True,
    ),
    Check(
        "net.mtu",
        "network",
        "full-size packets cross every path; MTUs fit inside each other",
        FAIL,
        "set Kilo's --mtu and the CNI mtu to the largest size that crosses",
        _mtu,
        needs_api=True,
        needs_exec=True,
    ),
    Check(
        "host.ping",
        "network",
        "this machine pings every node's WireGuard IP and endpoint",
        FAIL,
        "check routes from this machine (ip route get ADDRESS)",
        _host_ping,
        needs_network=True,
        opt_in="from_host",
        opt_in_reason="pass --from-host to ping the nodes from this machine",
    ),
]

BY_ID = {c.id: c for c in CHECKS}
