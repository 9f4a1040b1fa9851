"""A multi-cloud K3s + Kilo cluster in network namespaces, for end-to-end tests.

See README.md beside this file. Quick use::

    from lab import Lab
    with Lab() as lab:                     # the blog's six-node cluster
        lab.ping_matrix()                  # real pings through real WireGuard
        lab.kgctl("graph")                 # kgctl-py against the lab's API server
"""

from .lab import Lab, LabError, LabNode, LabPeer, LabPod, PingResult
from .spec import LabSpec, NodeSpec, PeerSpec, blog_spec

__all__ = [
    "Lab",
    "LabError",
    "LabNode",
    "LabPeer",
    "LabPod",
    "LabSpec",
    "NodeSpec",
    "PeerSpec",
    "PingResult",
    "blog_spec",
]
