"""kubeapi: the project's own Kubernetes API server for real-HTTP tests.

A real aiohttp server on 127.0.0.1 (HTTP or HTTPS with a generated CA) that the
official ``kubernetes`` client and ``kubectl`` talk to: discovery, get/list with
selectors and paging, watches, writes with namespace/DaemonSet/pod life cycles,
SelfSubjectAccessReview and RBAC enforcement, pod exec over WebSocket, tables for
kubectl, token / client-certificate / exec-plugin auth, and injectable faults.

    from kubeapi import KubeAPIServer, Fault, ExecResult, load_fixture

    objects, meta = load_fixture("/work/shared/compat/cases/a-blog-6node")
    with KubeAPIServer(objects, crd=meta["crd"], captured_at=meta["capturedAt"]) as srv:
        srv.write_kubeconfig(tmp_path / "kubeconfig")
        ...
"""

from .errors import StatusError
from .execws import ExecResult
from .faults import Fault
from .fixtures import load_fixture
from .server import KubeAPIServer, PodHooks, RequestRecord
from .store import Event, Store

__all__ = [
    "Event",
    "ExecResult",
    "Fault",
    "KubeAPIServer",
    "PodHooks",
    "RequestRecord",
    "StatusError",
    "Store",
    "load_fixture",
]
