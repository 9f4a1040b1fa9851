"""Shared pytest set-up: make the test helpers (kubeapi, lab) importable."""

import pathlib
import sys

TESTS = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
