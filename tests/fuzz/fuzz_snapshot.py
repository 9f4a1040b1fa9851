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

import json
import os
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
_FD, _PATH = tempfile.mkstemp(prefix="kgctl-fuzz-", suffix=".yaml")
os.close(_FD)


def one_input(data: bytes) -> None:
    with open(_PATH, "wb") as f:
        f.write(data)
    try:
        objects = sources.read_snapshot(_PATH, NOW)
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


def seed_corpus() -> str:
    corpus = tempfile.mkdtemp(prefix="kgctl-fuzz-corpus-")
    import yaml

    for case in sorted(CASES.glob("*/cluster.yaml")):
        text = case.read_bytes()
        Path(corpus, case.parent.name + ".yaml").write_bytes(text)
        doc = yaml.safe_load(text)
        Path(corpus, case.parent.name + ".json").write_text(json.dumps(doc))
    return corpus


def main() -> None:
    argv = list(sys.argv)
    if not any(a.startswith("-artifact_prefix=") for a in argv):
        # Crashes and slow units go here, not into the work tree.
        out = tempfile.mkdtemp(prefix="kgctl-fuzz-artifacts-")
        argv.insert(1, f"-artifact_prefix={out}/")
        print(f"fuzz_snapshot: artifacts in {out}", file=sys.stderr)
    if not any(a.startswith("-max_len=") for a in argv):
        argv.insert(1, "-max_len=16384")
    if not any(not a.startswith("-") for a in argv[1:]):
        argv.append(seed_corpus())
    try:
        atheris.Setup(argv, one_input)
        atheris.Fuzz()
    finally:
        os.unlink(_PATH)


if __name__ == "__main__":
    main()
