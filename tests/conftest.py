"""Shared pytest set-up.

The test helpers (kubeapi, lab, doctor_fixtures, clirun, strategies) live in
tests/ and are importable through pyproject's `pythonpath = ["tests"]`.
Tests are in folders by kind: unit/ (pure, no server), integration/ (the test
API server, kubectl, Graphviz, man, shells) and lab_tests/ (marker `lab`, root).
"""

from __future__ import annotations

from typing import Any

import pytest

# The longest single tests (100-node doctor; Hypothesis at 2,000 examples), started first so
# that they do not run alone at the end.
LONG = ("test_doctor_scale.py", "test_hostile_core.py")
LAB_TESTS = "tests/lab_tests/"
LAB_CHAINS = 2


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The lab tests go first: they are the longest chains (see pytest_xdist_make_scheduler).
    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("lab"):
            return 0
        return 1 if item.path.name in LONG else 2

    items.sort(key=rank)  # stable: the order within each rank is pytest's


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under ``-n 3``: the lab tests in two chains, each on one worker with one lab, every
    other test scheduled on its own. The lab mostly waits on the network, so the third
    worker keeps the two cores busy beside it from the start, and no third lab is built.
    (xdist's ``--dist loadgroup`` would say the same with markers, but its groups are
    ignored under pytest 9.)"""
    from xdist.scheduler import LoadScopeScheduling

    class LabChains(LoadScopeScheduling):
        chain: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.chain is None:  # lab tests dealt out in turn, in collection order
                labs = [n for n in self.collection or [] if n.startswith(LAB_TESTS)]
                self.chain = {n: f"lab-{i % LAB_CHAINS}" for i, n in enumerate(labs)}
            return self.chain.get(nodeid, nodeid)

    return LabChains(config, log)
