"""kgctl-py: a kgctl-compatible CLI for Kilo meshes, plus a cluster doctor."""

__version__ = "0.1.0"
# The kgctl release whose behaviour (flags, messages, output bytes) we match.
KGCTL_COMPAT_VERSION = "0.6.0"
