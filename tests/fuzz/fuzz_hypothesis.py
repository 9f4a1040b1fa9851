"""Long-running Hypothesis fuzzing of the core, for local use (not CI).

Runs the hostile-input properties of tests/unit/test_hostile_core.py again and
again with the ``kgctl-fuzz`` profile (5,000 examples a property, a fresh
random seed each time) until the time is up (the property running at
the deadline is finished first); stops at the first failure
and prints Hypothesis's minimal example and reproduce blob.

    python3 tests/fuzz/fuzz_hypothesis.py --minutes 30
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(TESTS), str(TESTS / "unit")]
os.environ.setdefault("HYPOTHESIS_PROFILE", "kgctl-fuzz")

import test_hostile_core as core  # noqa: E402

PROPERTIES = [
    core.test_hostile_nodes_never_crash,
    core.test_hostile_peers_never_crash,
    core.test_hostile_cluster_never_crashes,
    core.test_hostile_cluster_is_deterministic,
    core.test_output_independent_of_peer_order,
    core.test_output_independent_of_node_order,
]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10)
    args = parser.parse_args()
    deadline = time.monotonic() + args.minutes * 60
    rounds = 0
    while time.monotonic() < deadline:
        for prop in PROPERTIES:
            if time.monotonic() >= deadline:
                break
            start = time.monotonic()
            try:
                prop()
            except BaseException as err:  # report whatever it was, then stop
                print(f"FOUND in {prop.__name__}: {type(err).__name__}: {err}", file=sys.stderr)
                return 1
            print(f"round {rounds}: {prop.__name__} passed in {time.monotonic() - start:.0f}s", flush=True)
        rounds += 1
    print(f"nothing found in {rounds} round(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
