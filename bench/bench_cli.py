"""End-to-end `graph` and `showconf` against an HTTPS API server with a token, as
real clusters are: wall time, CPU time and peak RSS of the installed console script.

Serves the blog's 6-node cluster and a 1000-node cluster from the project's test
API server (tests/kubeapi) over TLS with bearer-token auth and the CA embedded in
the kubeconfig.  The server models a real apiserver's read costs: lists with
resourceVersion=0 come from its watch cache, every other read pays an etcd cost
(--etcd-request-ms per read, --etcd-item-us per object read).

With $KGCTL naming a kgctl binary, both run side by side (interleaved, so they
share the machine's noise); otherwise kgctl's recorded medians in
bench/baselines.json are the reference.  $KGCTL_PY_BEFORE may name another
kgctl-py console script (an older install) to run interleaved too, for a
before/after figure that this machine's drifting speed cannot skew.  Also
measures the floor: the interpreter alone and the interpreter importing click
and ssl.  Exits 1 if a ratio misses its
target (6 nodes: at most 0.6x kgctl's wall time; 1000 nodes: no slower than kgctl).

    python3 bench/bench_cli.py [--runs 15] [--only SUBSTR] [--json FILE]
    KGCTL=/path/to/kgctl python3 bench/bench_cli.py
    KGCTL_PY_BEFORE=/tmp/old-venv/bin/kgctl-py python3 bench/bench_cli.py
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_scale import NOW, cluster  # noqa: E402
from kubeapi import KubeAPIServer, load_fixture  # type: ignore[import-not-found]  # noqa: E402

FIXTURE = ROOT / "tests" / "compat" / "cases" / "a-blog-6node"
TOKEN = "bench-token-0123456789abcdef"
QUIET_PYTHON_MS = 23
# name, cluster, command, baseline key, target ratio of kgctl's median wall time
SCENARIOS = [
    ("6 nodes: graph", "blog", ["graph"], ("kgctl_6node", "graph"), 0.6),
    ("6 nodes: showconf node ty1.k3s", "blog", ["showconf", "node", "ty1.k3s"], ("kgctl_6node", "showconf node ty1.k3s"), 0.6),
    ("1000 nodes: graph", "1000", ["graph"], ("kgctl_1000node", "graph"), 1.0),
    # Its recorded baseline is from another server (HTTP fakekube): a target only side by side.
    ("1000 nodes: showconf node node-00000", "1000", ["showconf", "node", "node-00000"], ("kgctl_1000node", "showconf node <leader>"), None),
]


def kgctl_py() -> str:
    # The console script itself, not a shim in front of it.
    script = pathlib.Path(sysconfig.get_path("scripts")) / "kgctl-py"
    found = str(script) if script.exists() else shutil.which("kgctl-py")
    if found is None:
        sys.exit("kgctl-py is not installed (pip install .)")
    return found


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    # A user's install has its bytecode cached; without it every run recompiles.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MiB) of one run."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read() if proc.stderr else b""
    if proc.stderr:
        proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(argv)} failed: {err.decode(errors='replace').strip()}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def measure(commands: dict[str, list[str]], runs: int, env: dict[str, str]) -> dict[str, dict[str, float]]:
    """Median wall and CPU (ms) and peak RSS of each command, runs interleaved."""
    for argv in commands.values():
        for _ in range(2):  # warm-up: page cache, bytecode, the server's first answers
            run_once(argv, env)
    samples: dict[str, list[tuple[float, float, float]]] = {k: [] for k in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            samples[name].append(run_once(argv, env))
    return {
        name: {
            "wall_ms": round(statistics.median(s[0] for s in got) * 1000, 1),
            "cpu_ms": round(statistics.median(s[1] for s in got) * 1000, 1),
            "rss_mib": round(max(s[2] for s in got), 1),
        }
        for name, got in samples.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--only", default="")
    parser.add_argument("--json", default=None, help="also write the figures here")
    parser.add_argument("--etcd-request-ms", type=float, default=1.0)
    parser.add_argument("--etcd-item-us", type=float, default=50.0)
    args = parser.parse_args()
    baselines = json.loads((ROOT / "bench" / "baselines.json").read_text())
    exe, kgctl, env = kgctl_py(), os.environ.get("KGCTL") or None, child_env()
    before = os.environ.get("KGCTL_PY_BEFORE") or None
    python = str(pathlib.Path(exe).with_name("python"))
    if not os.path.exists(python):
        python = sys.executable
    floor = measure({"python": [python, "-c", "pass"], "python + click + ssl": [python, "-c", "import click, ssl"]}, args.runs, env)
    print(f"reference: {'kgctl side by side (' + kgctl + ')' if kgctl else 'bench/baselines.json'}; medians of {args.runs} runs")
    print(
        f"floor: bare interpreter {floor['python']['wall_ms']:.0f} ms wall / {floor['python']['cpu_ms']:.0f} ms CPU; "
        f"importing click + ssl {floor['python + click + ssl']['wall_ms']:.0f} ms / {floor['python + click + ssl']['cpu_ms']:.0f} ms"
    )
    # The bare interpreter starts in ~23 ms on this machine when it is quiet.
    if not kgctl and floor["python"]["wall_ms"] > 2 * QUIET_PYTHON_MS:
        print(
            f"warning: the machine is loaded (a bare interpreter took {floor['python']['wall_ms']:.0f} ms, ~{QUIET_PYTHON_MS} ms quiet): ratios against recorded baselines mean little; set $KGCTL"
        )
    print(
        f"{'scenario':38} {'wall':>8} {'CPU':>8} {'RSS':>7} {'kgctl wall':>11} {'kgctl CPU':>10} {'ratio':>6} {'target':>7}"
        + (f" {'before wall':>12} {'before CPU':>11}" if before else "")
    )
    rows, missed, servers = [], False, {}
    objects, meta = load_fixture(FIXTURE)
    shapes = {"blog": (objects, meta["capturedAt"]), "1000": (cluster(1000, 50, 100), NOW)}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, shape, cmd, (group, key), target in SCENARIOS:
                if args.only not in name:
                    continue
                if shape not in servers:
                    objs, captured = shapes[shape]
                    srv = KubeAPIServer(objs, tls=True, token=TOKEN, captured_at=captured).start()
                    srv.etcd_request_cost = args.etcd_request_ms / 1000
                    srv.etcd_item_cost = args.etcd_item_us / 1e6
                    servers[shape] = (srv, srv.write_kubeconfig(pathlib.Path(tmp) / f"kc-{shape}", embed_certs=True))
                _, kcfg = servers[shape]
                commands = {"kgctl-py": [exe, "--kubeconfig", kcfg, *cmd]}
                if kgctl:
                    commands["kgctl"] = [kgctl, "--kubeconfig", kcfg, *cmd]
                if before:
                    commands["before"] = [before, "--kubeconfig", kcfg, *cmd]
                got = measure(commands, args.runs, env)
                ours = got["kgctl-py"]
                ref = got.get("kgctl") or {
                    "wall_ms": baselines[f"{group}_ms"][key],
                    "cpu_ms": baselines.get(f"{group}_cpu_ms", {}).get(key, float("nan")),
                }
                ratio = ours["wall_ms"] / ref["wall_ms"]
                if target is None and kgctl:
                    target = 1.0
                ok = target is None or ratio <= target
                missed |= not ok
                rows.append(
                    {"scenario": name, "kgctl_py": ours, "kgctl": ref, "measured_kgctl": bool(kgctl), "ratio": round(ratio, 2), "target": target, "ok": ok}
                    | ({"before": got["before"]} if before else {})
                )
                print(
                    f"{name:38} {ours['wall_ms']:6.0f}ms {ours['cpu_ms']:6.0f}ms {ours['rss_mib']:5.0f}MB {ref['wall_ms']:9.0f}ms {ref['cpu_ms']:8.0f}ms {ratio:6.2f} {'' if target is None else f'{target:.2f}x':>7}"
                    + (f" {got['before']['wall_ms']:10.0f}ms {got['before']['cpu_ms']:9.0f}ms" if before else "")
                    + ("" if ok else "  MISSED")
                )
    finally:
        for srv, _ in servers.values():
            srv.stop()
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"floor": floor, "rows": rows}, indent=2) + "\n")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
