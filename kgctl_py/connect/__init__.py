"""``kgctl-py connect``: join this Linux host to a Kilo mesh as a WireGuard Peer.

``plan`` is pure (desired WireGuard config and routes from the cluster),
``system`` runs iproute2/wg/wireguard-go, ``agent`` is the resync loop.
"""

# Kilo's log levels (go-kit), from most to least verbose.
LOG_LEVELS = ("all", "debug", "info", "warn", "error", "none")
