"""The lab's Kubernetes API: the project's test server (tests/kubeapi) wired to the lab.

* Serves the lab's Nodes, Peers and Kilo pods (see kube.py).
* Pods created later (doctor's busybox DaemonSet) become pod namespaces on
  their node (`pod_hooks`), and get that namespace's IP.
* `exec` runs the real command in the pod's namespace: the node namespace
  for host-network pods (Kilo), the pod namespace otherwise.
* Listeners inside the lab reach the server through relays: the K3s
  server's `:6443` (all its addresses, as K3s listens) and the operator's
  `127.0.0.1:6443` (like an SSH tunnel to the server).
"""

from __future__ import annotations

import copy
import os
import ssl
import subprocess
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import yaml

from . import netns
from .relay import Relay

if TYPE_CHECKING:
    from .lab import Lab

EXEC_TIMEOUT = 60.0  # doctor's longest exec is a few pings


class LabPodHooks:
    """Gives every scheduled non-host-network pod a namespace on its node."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    def on_pod_created(self, pod: dict[str, Any]) -> dict[str, Any] | None:
        spec = pod.get("spec") or {}
        node_name = spec.get("nodeName")
        if not node_name or node_name not in self.lab.nodes:
            return None  # unscheduled, or for a node the lab does not have
        pod = copy.deepcopy(pod)
        status = pod.setdefault("status", {})
        node = self.lab.nodes[node_name]
        if spec.get("hostNetwork"):
            ip = node.spec.private_addr
        else:
            ip = self.lab.add_pod(node_name, pod_key(pod), status.get("podIP")).ip
        status.update(
            {
                "phase": "Running",
                "hostIP": node.spec.private_addr,
                "podIP": ip,
                "podIPs": [{"ip": ip}],
            }
        )
        status.setdefault("conditions", [{"type": "Ready", "status": "True"}])
        return pod

    def on_pod_deleted(self, pod: dict[str, Any]) -> None:
        self.lab.remove_pod(pod_key(pod))


def pod_key(pod: dict[str, Any]) -> str:
    md = pod.get("metadata") or {}
    return f"{md.get('namespace') or 'default'}/{md.get('name')}"


def exec_argv(lab: Lab, pod: dict[str, Any], command: list[str]) -> list[str]:
    """Where and how a pod's command runs in the lab."""
    spec = pod.get("spec") or {}
    node_name = spec.get("nodeName", "")
    if spec.get("hostNetwork"):
        return lab.node_argv(node_name, command)
    key = pod_key(pod)
    if key not in lab.pods:
        raise KeyError(f"pod {key} has no namespace in the lab")
    return lab.pod_argv(key, command)


def start_api(lab: Lab) -> None:
    from kubeapi import (  # tests/ is on sys.path under pytest and `python -m lab`
        ExecResult,
        KubeAPIServer,
    )

    def exec_handler(pod: dict[str, Any], container: str | None, command: list[str], stdin: bytes | None) -> Any:
        try:
            argv = exec_argv(lab, pod, command)
        except KeyError as exc:
            return ExecResult(b"", f"{exc}\n".encode(), 126)
        try:
            # Without -i, Kubernetes gives the process no stdin.
            where: dict[str, Any] = {"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}
            proc = subprocess.run(argv, capture_output=True, timeout=EXEC_TIMEOUT, check=False, **where)
        except subprocess.TimeoutExpired as exc:
            return ExecResult(exc.stdout or b"", (exc.stderr or b"") + b"\ncommand timed out\n", 124)
        return ExecResult(proc.stdout, proc.stderr, proc.returncode)

    server = lab.spec.server
    srv = KubeAPIServer(
        objects=lab.objects(),
        crd=True,
        tls=True,
        # K3s's --tls-san: the server's public IP, as in the blog.
        extra_sans=[str(server.public_ip), server.private_addr],
        exec_handler=exec_handler,
        pod_hooks=LabPodHooks(lab),
    ).start()
    lab.api = srv
    # A killed owner cannot stop the server; `down` then removes its files.
    lab.state.paths.append(str(srv.workdir))
    lab.state.save()
    srv.write_kubeconfig(lab.kubeconfig)

    def upstream() -> tuple[str, int]:
        url = urlparse(lab.api.url)
        return url.hostname or "127.0.0.1", url.port or 443

    server_ns = lab.nodes[server.name].ns
    lab.api_relay = Relay(netns.listen_tcp(server_ns, "0.0.0.0", 6443), upstream).start()
    op_relay = Relay(netns.listen_tcp(lab.operator_ns, "127.0.0.1", 6443), upstream).start()
    lab._relays += [lab.api_relay, op_relay]
    write_kubeconfig_for(lab, lab.operator_kubeconfig, "https://127.0.0.1:6443")
    write_kubeconfig_for(lab, lab.operator_kubeconfig_public, f"https://{server.public_ip}:6443")


def write_kubeconfig_for(lab: Lab, path: str, server_url: str) -> None:
    """The host kubeconfig with another server URL (same CA and credentials)."""
    with open(lab.kubeconfig) as f:
        config = yaml.safe_load(f)
    for cluster in config.get("clusters", []):
        cluster["cluster"]["server"] = server_url
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(config, f, sort_keys=False)


def get_object(api: Any, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    obj = api.store.get(kind, name, namespace)
    if obj is None:
        raise KeyError(f"{kind} {name} not found")
    return obj


def patch_object(api: Any, kind: str, name: str, patch: dict[str, Any], namespace: str | None = None) -> None:
    api.store.patch(kind, name, patch, namespace)


def cert_without_public_ip(lab: Lab) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context with a cluster-CA certificate lacking the public IP,
    client context trusting the cluster CA) for the K3s server's relay."""
    server = lab.spec.server
    # What K3s always puts in its serving certificate, plus the node's own
    # addresses, but not the --tls-san public IP.
    sans = [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "localhost",
        "127.0.0.1",
        server.name,
        server.private_addr,
    ]
    ca = lab.api._ca  # no public accessor yet (requested)
    cert, key = ca.issue("lab-apiserver-no-public-ip", "k3s", server=True, sans=sans)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(str(cert), str(key))
    client_ctx = ssl.create_default_context(cafile=str(lab.api.ca_file))
    return server_ctx, client_ctx
