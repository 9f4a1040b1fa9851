"""Coverage-guided fuzzing of snapshot reading plus the core, with atheris
(local use: ``pip install atheris``; not part of CI).

Each input is the bytes of a snapshot file.  read_snapshot may reject it only
with CliError; whatever it accepts goes through Cluster.from_objects, graph
and showconf for every node and peer name in every granularity, which may
fail only with kgctl's own KgctlError.  Anything else is a crash.

    python3 tests/fuzz/fuzz_snapshot.py -max_total_time=600 [CORPUS_DIR]

The compat fixtures (YAML, and the same as JSON) seed the corpus when no
directory is given.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from kgctl_py import sources
    from kgctl_py.errors import CliError
    from kgctl_py.mesh.cluster import Cluster, KgctlError, Options, graph, showconf_node, showconf_peer
    from kgctl_py.mesh.model import Granularity

CASES = Path(__file__).resolve().parents[3] / "shared" / "compat" / "cases"
if not CASES.exists():
    CASES = Path("/work/shared/compat/cases")
NOW = 1_760_000_000


def one_input(data: bytes) -> None:
    # Fed as stdin (--snapshot -): no file to write or leave behind.
    sys.stdin = io.TextIOWrapper(io.BytesIO(data))
    try:
        objects = sources.read_snapshot("-", NOW)
    except CliError:
        return
    cluster = Cluster.from_objects(objects.nodes, objects.peers)
    names_n = {n.name for n in cluster.nodes}
    names_p = {p.name for p in cluster.peers}
    for gran in (Granularity.LOCATION, Granularity.FULL, Granularity.AUTO):
        opts = Options(granularity=gran)
        calls = [(graph, (cluster, opts, NOW))]
        for run, names in ((showconf_node, names_n), (showconf_peer, names_p)):
            calls += [(run, (cluster, n, opts, NOW, fmt != "", fmt or "wireguard")) for n in names for fmt in ("", "json", "yaml")]
        for fn, call_args in calls:
            try:
                out = fn(*call_args)
            except KgctlError:
                continue
            (out.stdout + out.stderr).encode("utf-8")  # the CLI must be able to print it


def seed_corpus(corpus: str) -> None:
    import yaml

    for case in sorted(CASES.glob("*/cluster.yaml")):
        text = case.read_bytes()
        Path(corpus, case.parent.name + ".yaml").write_bytes(text)
        Path(corpus, case.parent.name + ".json").write_text(json.dumps(yaml.safe_load(text)))


def main() -> int:
    args = sys.argv[1:]
    if os.environ.get("KGCTL_FUZZ_CHILD"):
        atheris.Setup([sys.argv[0], *args], one_input)
        atheris.Fuzz()  # ends the process itself
        return 0
    # libFuzzer exits without running Python's clean-up, so the fuzzing runs
    # in a child and this parent removes what it made.
    made = []
    if not any(a.startswith("-artifact_prefix=") for a in args):
        out = tempfile.mkdtemp(prefix="kgctl-fuzz-artifacts-")
        args.insert(0, f"-artifact_prefix={out}/")
        made.append(out)
    if not any(a.startswith("-max_len=") for a in args):
        args.insert(0, "-max_len=16384")
    if not any(not a.startswith("-") for a in args):
        corpus = tempfile.mkdtemp(prefix="kgctl-fuzz-corpus-")
        seed_corpus(corpus)
        args.append(corpus)
        made.append(corpus)
    try:
        code = subprocess.run([sys.executable, __file__, *args], env={**os.environ, "KGCTL_FUZZ_CHILD": "1"}, check=False).returncode
    finally:
        for d in made:
            if "artifacts" in d and os.path.isdir(d) and os.listdir(d):
                print(f"fuzz_snapshot: findings kept in {d}", file=sys.stderr)
            else:
                shutil.rmtree(d, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
