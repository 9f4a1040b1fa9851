"""Shared pytest set-up.

The test helpers (kubeapi, lab, doctor_fixtures, clirun, strategies) live in
tests/ and are importable through pyproject's `pythonpath = ["tests"]`.
Tests are in folders by kind: unit/ (pure, no server), integration/ (the test
API server, kubectl, Graphviz, man, shells) and lab_tests/ (marker `lab`, root).
"""

from __future__ import annotations

import pytest

# The longest single tests (100-node doctor; Hypothesis at 2,000 examples), started first so
# that they do not run alone at the end under -n 2.
LONG = ("test_doctor_scale.py", "test_hostile_core.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Under pytest-xdist (-n 2) each worker brings up its own lab (lab_cluster is per
    # process; labs are namespaced per run, so two coexist). The lab tests mostly wait on
    # the network, so they go first and the CPU-bound tests fill the gaps beside them.
    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("lab"):
            return 0
        return 1 if item.path.name in LONG else 2

    items.sort(key=rank)  # stable: the order within each rank is pytest's
