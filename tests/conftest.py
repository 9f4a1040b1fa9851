"""Shared pytest set-up.

The test helpers (kubeapi, lab, doctor_fixtures, clirun, strategies) live in
tests/ and are importable through pyproject's `pythonpath = ["tests"]`.
Tests are in folders by kind: unit/ (pure, no server), integration/ (the test
API server, kubectl, Graphviz, man, shells) and lab/ (marker `lab`, root).
"""
