"""Kubernetes objects for the lab's API server, derived from the lab itself.

They look like what a K3s server with Kilo as CNI serves: Nodes carrying
Kilo's and K3s's annotations, Kilo Peers, and one host-network Kilo pod per
node in kube-system.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from .spec import LabSpec, NodeSpec, PeerSpec

KILO_IMAGE = "docker.io/squat/kilo:0.6.0"
KUBELET_VERSION = "v1.32.4+k3s1"
CREATED = "2025-08-07T05:15:42Z"
PORT = 51820

Obj = dict[str, Any]


def _uid(*parts: str) -> str:
    h = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _container_status(name: str, image: str, seed: str) -> Obj:
    # Every field the kubernetes client's models require (imageID, containerID...).
    digest = hashlib.sha256(image.encode()).hexdigest()
    return {
        "name": name,
        "image": image,
        "imageID": f"{image.split(':')[0]}@sha256:{digest}",
        "containerID": f"containerd://{hashlib.sha256(seed.encode()).hexdigest()}",
        "ready": True,
        "started": True,
        "restartCount": 0,
        "state": {"running": {"startedAt": CREATED}},
    }


def node_args(spec: LabSpec, node: NodeSpec, metrics_bind: bool = True) -> list[str]:
    """The `k3s.io/node-args` K3s records: how the blog starts servers and agents."""
    server = spec.server
    args = ["server", "--tls-san", str(server.public_ip)] if node.server else ["agent", "--server", f"https://{server.public_ip}:6443", "--token", "********"]
    if node.public_ip:
        args += ["--node-external-ip", node.public_ip]
    if node.server:
        args += ["--flannel-backend", "none"]
    if metrics_bind:
        args += ["--kube-proxy-arg", "metrics-bind-address=0.0.0.0"]
    return args


def node_endpoint(node: NodeSpec, force: str | None = None) -> str:
    """The `endpoint` annotation kg writes: the forced endpoint if any, else the private address."""
    if force:
        return force
    return f"{node.public_ip}:{PORT}" if node.public_ip else f"{node.private_addr}:{PORT}"


def discovered_endpoints(dump: str, natted: set[str]) -> str:
    """kg's `discovered-endpoints`: for every peer in `wg show IFACE dump` that
    keeps the tunnel alive (`natted` keys) and ever shook hands, where it was
    last seen, as Go marshals a *net.UDPAddr."""
    found: dict[str, dict[str, object]] = {}
    for line in dump.splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) < 5 or cols[0] not in natted or cols[4] in ("", "0") or cols[2] == "(none)":
            continue
        host, _, port = cols[2].rpartition(":")
        found[cols[0]] = {"IP": host.strip("[]"), "Port": int(port), "Zone": ""}
    return json.dumps(dict(sorted(found.items())), separators=(",", ":"))


def node_object(spec: LabSpec, node: NodeSpec, public_key: str, now: float | None = None) -> Obj:
    now = time.time() if now is None else now
    # As kg writes them: endpoint is the forced one when set, discovered
    # endpoints are filled in by the lab's agent loop once handshakes happen.
    annotations = {
        "kilo.squat.ai/cni-compatibility-ip": "",
        "kilo.squat.ai/discovered-endpoints": "{}",
        "kilo.squat.ai/endpoint": node_endpoint(node),
        "kilo.squat.ai/granularity": "location",
        "kilo.squat.ai/internal-ip": node.private_ip,
        "kilo.squat.ai/key": public_key,
        "kilo.squat.ai/last-seen": str(int(now)),
        "kilo.squat.ai/location": node.location,
        "kilo.squat.ai/persistent-keepalive": str(spec.persistent_keepalive),
        # Kilo writes its allocated IP here once it leads; the lab does the
        # same after reading the allocation back from kgctl-py.
        "kilo.squat.ai/wireguard-ip": "",
        "k3s.io/hostname": node.name,
        "k3s.io/internal-ip": node.private_addr,
        "k3s.io/node-args": json.dumps(node_args(spec, node)),
    }
    addresses = [{"address": node.private_addr, "type": "InternalIP"}]
    if node.public_ip:
        annotations["kilo.squat.ai/force-endpoint"] = f"{node.public_ip}:{PORT}"
        annotations["k3s.io/external-ip"] = node.public_ip
        addresses.append({"address": node.public_ip, "type": "ExternalIP"})
    addresses.append({"address": node.name, "type": "Hostname"})
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": node.name,
        "kubernetes.io/os": "linux",
    }
    if node.server:
        labels["node-role.kubernetes.io/control-plane"] = "true"
        labels["node-role.kubernetes.io/master"] = "true"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node.name,
            "uid": _uid("node", node.name),
            "creationTimestamp": CREATED,
            "labels": labels,
            "annotations": annotations,
        },
        "spec": {"podCIDR": node.pod_cidr, "podCIDRs": [node.pod_cidr]},
        "status": {
            "addresses": addresses,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                    "lastHeartbeatTime": stamp,
                    "lastTransitionTime": CREATED,
                }
            ],
            "nodeInfo": {"kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": KUBELET_VERSION},
        },
    }


def peer_object(peer: PeerSpec, public_key: str) -> Obj:
    spec: Obj = {"allowedIPs": list(peer.allowed_ips), "publicKey": public_key}
    if peer.persistent_keepalive:
        spec["persistentKeepalive"] = peer.persistent_keepalive
    if peer.public_ip and peer.endpoint:
        spec["endpoint"] = {"dnsOrIP": {"ip": peer.public_ip}, "port": PORT}
    return {
        "apiVersion": "kilo.squat.ai/v1alpha1",
        "kind": "Peer",
        "metadata": {"name": peer.name, "uid": _uid("peer", peer.name), "creationTimestamp": CREATED},
        "spec": spec,
    }


KILO_LABELS = {"app.kubernetes.io/name": "kilo", "app.kubernetes.io/part-of": "kilo"}
KILO_ARGS = ["--kubeconfig=/etc/kubernetes/kubeconfig", "--hostname=$(NODE_NAME)", "--mesh-granularity=location"]


def kilo_daemonset() -> Obj:
    """Kilo's DaemonSet (kilo-k3s.yaml); its pods are listed by kilo_pod()."""
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "kilo", "namespace": "kube-system", "uid": _uid("ds", "kilo"), "creationTimestamp": CREATED, "labels": dict(KILO_LABELS)},
        "spec": {
            "selector": {"matchLabels": dict(KILO_LABELS)},
            "template": {
                "metadata": {"labels": dict(KILO_LABELS)},
                "spec": {
                    "hostNetwork": True,
                    "serviceAccountName": "kilo",
                    "containers": [{"name": "kilo", "image": KILO_IMAGE, "args": list(KILO_ARGS)}],
                    "tolerations": [{"operator": "Exists", "effect": "NoSchedule"}, {"operator": "Exists", "effect": "NoExecute"}],
                },
            },
        },
    }


def workload_pod(key: str, node: NodeSpec, ip: str) -> Obj:
    """A running busybox pod the lab made at `up` (its namespace exists already)."""
    namespace, name = key.split("/", 1)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": _uid("pod", key), "creationTimestamp": CREATED, "labels": {"app": "lab-workload"}},
        "spec": {"nodeName": node.name, "containers": [{"name": "busybox", "image": "busybox:1.36", "command": ["sleep", "infinity"]}]},
        "status": {
            "phase": "Running",
            "hostIP": node.private_addr,
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [_container_status("busybox", "docker.io/library/busybox:1.36", key)],
        },
    }


def kilo_pod(node: NodeSpec) -> Obj:
    """The Kilo DaemonSet's pod on `node`: host network, so its IP is the node's."""
    suffix = hashlib.sha256(node.name.encode()).hexdigest()[:5]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"kilo-{suffix}",
            "namespace": "kube-system",
            "uid": _uid("pod", "kilo", node.name),
            "creationTimestamp": CREATED,
            "labels": dict(KILO_LABELS),
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "kilo", "uid": _uid("ds", "kilo"), "controller": True, "blockOwnerDeletion": True}
            ],
        },
        "spec": {
            "nodeName": node.name,
            "hostNetwork": True,
            "serviceAccountName": "kilo",
            "containers": [
                {
                    "name": "kilo",
                    "image": KILO_IMAGE,
                    "args": list(KILO_ARGS),
                }
            ],
        },
        "status": {
            "phase": "Running",
            "hostIP": node.private_addr,
            "podIP": node.private_addr,
            "podIPs": [{"ip": node.private_addr}],
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [_container_status("kilo", KILO_IMAGE, node.name)],
        },
    }


# K3s's defaults: the service CIDR 10.43.0.0/16, CoreDNS at .10, the API at .1.
KUBERNETES_CLUSTER_IP = "10.43.0.1"
DNS_CLUSTER_IP = "10.43.0.10"
DNS_POD = "kube-system/coredns-lab"
DNS_LABELS = {"k8s-app": "kube-dns"}


def service(namespace: str, name: str, cluster_ip: str, ports: list[Obj], labels: dict[str, str] | None = None) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "uid": _uid("svc", namespace, name), "creationTimestamp": CREATED, "labels": dict(labels or {})},
        "spec": {"type": "ClusterIP", "clusterIP": cluster_ip, "clusterIPs": [cluster_ip], "ports": ports, **({"selector": dict(labels)} if labels else {})},
    }


def services() -> list[Obj]:
    return [
        service(
            "default",
            "kubernetes",
            KUBERNETES_CLUSTER_IP,
            [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
            {"component": "apiserver", "provider": "kubernetes"},
        ),
        service(
            "kube-system",
            "kube-dns",
            DNS_CLUSTER_IP,
            [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53}, {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}],
            DNS_LABELS,
        ),
    ]


def dns_pod(node: NodeSpec, ip: str) -> Obj:
    """CoreDNS's pod (the lab serves DNS with dnsmasq in its namespace)."""
    namespace, name = DNS_POD.split("/", 1)
    image = "rancher/mirrored-coredns-coredns:1.12.0"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": _uid("pod", DNS_POD), "creationTimestamp": CREATED, "labels": dict(DNS_LABELS)},
        "spec": {"nodeName": node.name, "containers": [{"name": "coredns", "image": image}]},
        "status": {
            "phase": "Running",
            "hostIP": node.private_addr,
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [_container_status("coredns", image, DNS_POD)],
        },
    }


def kube_proxy_rules(pod_cidr: str, dns_ip: str, api_ip: str) -> str:
    """nftables doing what kube-proxy does for the two Services: DNAT the
    ClusterIP to its endpoint, for pods (prerouting) and the host (output),
    and masquerade hairpin traffic so replies come back through the node."""
    dnat = (
        f"    ip daddr {DNS_CLUSTER_IP} udp dport 53 dnat to {dns_ip}:53\n"
        f"    ip daddr {DNS_CLUSTER_IP} tcp dport 53 dnat to {dns_ip}:53\n"
        f"    ip daddr {KUBERNETES_CLUSTER_IP} tcp dport 443 dnat to {api_ip}:6443\n"
    )
    return (
        "table ip kglab_kube_proxy {\n"
        "  chain prerouting { type nat hook prerouting priority -100; policy accept;\n" + dnat + "  }\n"
        "  chain output { type nat hook output priority -100; policy accept;\n" + dnat + "  }\n"
        "  chain postrouting { type nat hook postrouting priority 100; policy accept;\n"
        f"    ct status dnat ip saddr {pod_cidr} ip daddr {pod_cidr} masquerade\n  }}\n"
        "}\n"
    )
