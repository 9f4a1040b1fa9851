"""Command hints shared by several checks; each works when pasted into bash."""

from __future__ import annotations

import shlex


def kilo_logs(node: str) -> str:
    """The logs of the Kilo pod on ``node``. `kubectl logs` has no --field-selector, so
    find the pod first; `xargs -r` keeps a node without a Kilo pod from a usage error."""
    pod = f"kubectl -n kube-system get pods -l app.kubernetes.io/name=kilo --field-selector spec.nodeName={shlex.quote(node)} -o name"
    return f"{pod} | xargs -r kubectl -n kube-system logs --prefix"
