"""pytest fixtures for the lab. Import them into a test module:

    from lab.fixtures import lab_cluster, clean_lab  # noqa: F401

`lab_cluster` is one lab for the whole session, however many modules import
it (pytest makes one fixture per importing module; they share one Lab by
reference count). `clean_lab` is the same lab, with every injected fault
undone after the test, pass or fail.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

from . import netns
from .lab import Lab
from .state import all_states, teardown

_lock = threading.Lock()
_shared: Lab | None = None
_users = 0


def remove_dead_labs() -> list[str]:
    """Tear down labs whose owner process is gone (a killed earlier run)."""
    removed = []
    for state in all_states():
        if not os.path.exists(f"/proc/{state.owner_pid}"):
            removed += teardown(state)
    return removed


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("the network-namespace lab needs root")


def _acquire() -> Lab:
    global _shared, _users
    with _lock:
        if _shared is None:
            remove_dead_labs()
            _shared = Lab().up()
        _users += 1
        return _shared


def _release() -> None:
    global _shared, _users
    with _lock:
        _users -= 1
        if _users == 0 and _shared is not None:
            _shared.down()
            _shared = None


@pytest.fixture(scope="session")
def lab_cluster() -> Iterator[Lab]:
    """The blog cluster, up for the session, down (everything removed) at its end."""
    require_root()
    lab = _acquire()
    try:
        yield lab
    finally:
        _release()


@pytest.fixture
def clean_lab(lab_cluster: Lab) -> Iterator[Lab]:
    """The session lab with no faults; faults injected by the test are undone after it."""
    lab_cluster.clear_faults()
    try:
        yield lab_cluster
    finally:
        lab_cluster.clear_faults()


__all__ = ["clean_lab", "lab_cluster", "netns", "remove_dead_labs", "require_root"]
