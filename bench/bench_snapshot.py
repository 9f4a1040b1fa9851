"""Large snapshots: wall time and peak RSS of ``graph`` and ``doctor --static-only``.

Generates the snapshot itself: nodes shaped like a real K3s node as
``kubectl get nodes -o yaml`` prints it (labels, K3s and Kilo annotations,
managedFields, addresses, capacity, five conditions, 40 cached images), plus
peers, written in kubectl's block YAML and as JSON; then runs the installed
``kgctl-py --snapshot FILE`` on each (peak RSS from ``os.wait4``).  The dumps are
written by a child process: a forked child starts with its parent's high-water
RSS (Linux carries it across exec), so a parent holding the generated objects
would inflate every figure.

    python3 bench/bench_snapshot.py [--nodes 5000] [--runs 3] [--json FILE]
    python3 bench/bench_snapshot.py --weigh 5000   # only print what a dump of N nodes weighs

Targets (issue 11): a 50 MB snapshot under 5 s and 600 MB for graph, under 10 s
for doctor --static-only, for YAML and for JSON (what `kgctl-py snapshot`
writes). Exits 1 if a median misses its target.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

NOW = 1_760_000_000


def _key(seed: str) -> str:
    return base64.b64encode(hashlib.sha256(seed.encode()).digest()).decode()


def _fields(keys: list[str]) -> dict[str, Any]:
    """A managedFields fieldsV1 tree, as nested as the API server writes them."""
    return {f"f:{k}": {} for k in keys}


def realistic_node(i: int, locations: int = 100) -> dict[str, Any]:
    a, b = divmod(i, 250)
    name = f"node-{i:05d}"
    loc = f"loc-{i % locations}"
    notes = {
        "alpha.kubernetes.io/provided-node-ip": f"10.{100 + a}.{b}.1",
        "flannel.alpha.coreos.com/backend-data": "null",
        "flannel.alpha.coreos.com/backend-type": "host-gw",
        "flannel.alpha.coreos.com/kube-subnet-manager": "true",
        "flannel.alpha.coreos.com/public-ip": f"10.{100 + a}.{b}.1",
        "k3s.io/hostname": name,
        "k3s.io/internal-ip": f"10.{100 + a}.{b}.1",
        "k3s.io/node-args": json.dumps(
            ["agent", "--node-external-ip", f"203.0.{a}.{b + 1}", "--flannel-backend", "none", "--node-label", f"topology.kubernetes.io/region={loc}"]
        ),
        "k3s.io/node-config-hash": hashlib.sha256(name.encode()).hexdigest()[:52].upper() + "====",
        "k3s.io/node-env": '{"K3S_DATA_DIR":"/var/lib/rancher/k3s/data/abc"}',
        "kilo.squat.ai/discovered-endpoints": "{}",
        "kilo.squat.ai/endpoint": f"203.0.{a}.{b + 1}:51820",
        "kilo.squat.ai/granularity": "location",
        "kilo.squat.ai/internal-ip": f"10.{100 + a}.{b}.1/24",
        "kilo.squat.ai/key": _key(name),
        "kilo.squat.ai/last-seen": str(NOW - 5),
        "kilo.squat.ai/location": loc,
        "kilo.squat.ai/persistent-keepalive": "25",
        "kilo.squat.ai/wireguard-ip": f"10.4.{a}.{b + 1}/16",
        "node.alpha.kubernetes.io/ttl": "0",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
    }
    if i % 10 == 0:
        notes["kilo.squat.ai/leader"] = "true"
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/instance-type": "k3s",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": "k3s",
        "topology.kubernetes.io/region": loc,
        "topology.kubernetes.io/zone": f"{loc}-a",
    }
    managed = [
        {
            "apiVersion": "v1",
            "fieldsType": "FieldsV1",
            "manager": manager,
            "operation": "Update",
            "time": "2025-10-09T08:53:20Z",
            "fieldsV1": {
                "f:metadata": {"f:annotations": _fields(sorted(notes)[:8]), "f:labels": _fields(sorted(labels))},
                "f:spec": {"f:podCIDR": {}, "f:podCIDRs": {".": {}, 'v:"10.42.0.0/24"': {}}},
            },
        }
        for manager in ("k3s", "kilo", "kube-controller-manager")
    ]
    images = [
        {
            "names": [f"docker.io/library/image-{j}@sha256:{hashlib.sha256(f'{j}'.encode()).hexdigest()}", f"docker.io/library/image-{j}:v1.{j}.0"],
            "sizeBytes": 10_000_000 + j * 12_345,
        }
        for j in range(40)
    ]
    conditions = [
        {
            "lastHeartbeatTime": "2025-10-09T08:53:20Z",
            "lastTransitionTime": "2025-10-01T00:00:00Z",
            "message": message,
            "reason": reason,
            "status": status,
            "type": kind,
        }
        for kind, status, reason, message in (
            ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ("NetworkUnavailable", "False", "FlannelIsUp", "Flannel is running on this node"),
        )
    ]
    resources = {"cpu": "4", "ephemeral-storage": "81106868Ki", "hugepages-1Gi": "0", "hugepages-2Mi": "0", "memory": "8129212Ki", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "annotations": notes,
            "creationTimestamp": "2025-10-01T00:00:00Z",
            "finalizers": ["wrangler.cattle.io/node"],
            "labels": labels,
            "managedFields": managed,
            "name": name,
            "resourceVersion": str(100000 + i),
            "uid": hashlib.md5(name.encode()).hexdigest(),
        },
        "spec": {"podCIDR": f"10.{42 + a}.{b}.0/24", "podCIDRs": [f"10.{42 + a}.{b}.0/24"], "providerID": f"k3s://{name}"},
        "status": {
            "addresses": [
                {"address": f"10.{100 + a}.{b}.1", "type": "InternalIP"},
                {"address": f"203.0.{a}.{b + 1}", "type": "ExternalIP"},
                {"address": name, "type": "Hostname"},
            ],
            # Two objects, as decoded JSON gives: one shared would be dumped as a YAML anchor, which kubectl never writes.
            "allocatable": dict(resources),
            "capacity": dict(resources),
            "conditions": conditions,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "images": images,
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": hashlib.md5(f"boot-{name}".encode()).hexdigest(),
                "containerRuntimeVersion": "containerd://1.7.27-k3s1",
                "kernelVersion": "6.1.0-37-amd64",
                "kubeProxyVersion": "v1.33.4+k3s1",
                "kubeletVersion": "v1.33.4+k3s1",
                "machineID": hashlib.md5(f"m-{name}".encode()).hexdigest(),
                "operatingSystem": "linux",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "systemUUID": hashlib.md5(f"u-{name}".encode()).hexdigest(),
            },
        },
    }


def peer(j: int) -> dict[str, Any]:
    a, b = divmod(j, 250)
    return {
        "apiVersion": "kilo.squat.ai/v1alpha1",
        "kind": "Peer",
        "metadata": {"name": f"peer-{j:04d}", "creationTimestamp": "2025-10-01T00:00:00Z"},
        "spec": {
            "allowedIPs": [f"10.5.{a}.{b + 1}/32"],
            "publicKey": _key(f"peer-{j}"),
            "persistentKeepalive": 10,
            "endpoint": {"dnsOrIP": {"ip": f"198.51.{a}.{b + 1}"}, "port": 51820},
        },
    }


def dump(nodes: int) -> dict[str, Any]:
    items = [realistic_node(i) for i in range(nodes)] + [peer(j) for j in range(nodes // 10)]
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}


def write_yaml(doc: dict[str, Any], path: pathlib.Path) -> None:
    import yaml

    with open(path, "w") as f:
        yaml.dump(doc, f, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), default_flow_style=False, width=1 << 16)


def write_dumps(nodes: int, tmp: str) -> dict[str, pathlib.Path]:
    """dump.yaml and dump.json of ``nodes`` nodes in ``tmp``, written by a child (see the module's doc)."""
    files = {"yaml": pathlib.Path(tmp) / "dump.yaml", "json": pathlib.Path(tmp) / "dump.json"}
    subprocess.run([sys.executable, __file__, "--write-into", tmp, "--nodes", str(nodes)], check=True)
    return files


def run_child(argv: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MiB) and exit status of one run."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - start, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=3400, help="3400 realistic nodes are a 50 MB YAML dump")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--weigh", type=int, default=None, metavar="N", help="print the size of an N-node dump and exit")
    parser.add_argument("--json", default=None, help="also write the figures here")
    parser.add_argument("--write-into", default=None, metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_into:
        doc = dump(args.nodes)
        write_yaml(doc, pathlib.Path(args.write_into) / "dump.yaml")
        (pathlib.Path(args.write_into) / "dump.json").write_text(json.dumps(doc))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        files = write_dumps(args.weigh or args.nodes, tmp)
        sizes = {k: p.stat().st_size / 1e6 for k, p in files.items()}
        print(f"{args.weigh or args.nodes} nodes: YAML {sizes['yaml']:.1f} MB, JSON {sizes['json']:.1f} MB")
        if args.weigh:
            return 0
        exe = shutil.which("kgctl-py")
        if exe is None:
            print("kgctl-py is not installed (pip install -e .)", file=sys.stderr)
            return 2
        scenarios = [
            (f"graph, YAML {sizes['yaml']:.0f} MB", [exe, "--snapshot", str(files["yaml"]), "graph"], 5.0, 600.0),
            (
                f"doctor --static-only, YAML {sizes['yaml']:.0f} MB",
                [exe, "--snapshot", str(files["yaml"]), "doctor", "--static-only", "-o", "short"],
                10.0,
                None,
            ),
            # What `kgctl-py snapshot` writes: JSON.
            (f"graph, JSON {sizes['json']:.0f} MB", [exe, "--snapshot", str(files["json"]), "graph"], 5.0, 600.0),
            (
                f"doctor --static-only, JSON {sizes['json']:.0f} MB",
                [exe, "--snapshot", str(files["json"]), "doctor", "--static-only", "-o", "short"],
                10.0,
                None,
            ),
        ]
        rows, missed = [], False
        print(f"{'scenario':40} {'median':>8} {'min':>8} {'target':>7} {'peak RSS':>9} {'RSS target':>10}")
        for name, argv, target, rss_target in scenarios:
            results = [run_child(argv) for _ in range(args.runs)]
            bad = {r[2] for r in results} - {0, 1}  # doctor exits 1 when a check fails
            if bad:
                print(f"{name}: exit status {bad}", file=sys.stderr)
                return 1
            times = [r[0] for r in results]
            median, peak = statistics.median(times), max(r[1] for r in results)
            ok = (target is None or median < target) and (rss_target is None or peak < rss_target)
            missed |= not ok
            rows.append(
                {
                    "scenario": name,
                    "median_s": round(median, 2),
                    "min_s": round(min(times), 2),
                    "target_s": target,
                    "peak_rss_mib": round(peak),
                    "rss_target_mib": rss_target,
                    "ok": ok,
                }
            )
            print(
                f"{name:40} {median:7.2f}s {min(times):7.2f}s {'' if target is None else f'{target:5.1f}s':>7} {peak:7.0f}MB "
                f"{'' if rss_target is None else f'{rss_target:.0f}MB':>10}" + ("" if ok else "  MISSED")
            )
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
