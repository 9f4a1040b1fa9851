"""Talking to the Kubernetes API: kubeconfig resolution and a small REST client.

``graph`` and ``showconf`` need three GETs; importing the ``kubernetes``
package alone costs more than kgctl's whole run, so those paths use this
client.  Commands that need the full client (doctor's live checks, exec) load
the ``kubernetes`` package lazily.
"""

# The longest --request-timeout we accept (about a year): longer than any
# socket accepts, and than anyone waits.
MAX_REQUEST_TIMEOUT = 365 * 86400.0


def valid_timeout(seconds: float) -> bool:
    """A request timeout we accept: 0 would mean "wait forever" to kubectl, and nothing of ours may hang."""
    return 0 < seconds <= MAX_REQUEST_TIMEOUT  # also false for nan
