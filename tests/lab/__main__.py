"""`python3 -m lab up|down|status|serve` (from tests/), or `python3 tests/lab/__main__.py ...`.

`up` starts the lab in a background process (the API server lives in it)
and returns once the mesh is up; `down` stops it and removes everything any
lab run recorded; `status` shows what is running.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

if not __package__:  # run as a file: make `lab` and `kubeapi` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    __package__ = "lab"

from lab import netns
from lab.lab import Lab
from lab.state import PREFIX, STATE_ROOT, all_states, teardown

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVE_NEEDLE = "lab-serve"  # in the daemon's argv, so `down` only signals our own daemon


def cmd_serve(args: argparse.Namespace) -> int:
    """Build a lab, report it, and hold it until SIGTERM/SIGINT."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    lab = Lab()
    try:
        lab.up()
        info = json.dumps(lab.describe(), indent=1)
        if args.ready_file:
            with open(args.ready_file + ".tmp", "w") as f:
                f.write(info)
            os.replace(args.ready_file + ".tmp", args.ready_file)
        else:
            print(info, flush=True)
        while not stop.wait(1):
            pass
    finally:
        lab.down()
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    if args.foreground:
        return cmd_serve(argparse.Namespace(ready_file=None))
    os.makedirs(STATE_ROOT, exist_ok=True)
    ready = os.path.join(STATE_ROOT, f"ready-{os.getpid()}.json")
    log_path = os.path.join(STATE_ROOT, f"serve-up{os.getpid()}.log.tmp")
    start = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lab", "serve", "--ready-file", ready, "--tag", SERVE_NEEDLE],
            cwd=TESTS,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives this shell command
        )
    # Named after the daemon, so `down` knows when the log is no longer needed.
    final_log = os.path.join(STATE_ROOT, f"serve-{proc.pid}.log")
    os.replace(log_path, final_log)
    log_path = final_log
    deadline = time.monotonic() + args.timeout
    while not os.path.exists(ready):
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=60)
            with open(log_path, errors="replace") as f:
                sys.stderr.write(f.read()[-4000:])
            os.unlink(log_path)  # its tail is on stderr now
            print("lab: up failed", file=sys.stderr)
            return 1
        time.sleep(0.1)
    with open(ready) as f:
        info = json.load(f)
    os.unlink(ready)
    info["serve_pid"] = proc.pid
    info["log"] = log_path
    print(json.dumps(info, indent=1))
    print(f"lab: up in {time.monotonic() - start:.1f}s (mesh {info['up_seconds']:.1f}s); export KUBECONFIG={info['kubeconfig']}", file=sys.stderr)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    states = [s for s in all_states() if not args.run_ids or s.run_id in args.run_ids]
    for state in states:
        owner = state.owner_pid
        if owner != os.getpid() and netns.pid_alive(owner, SERVE_NEEDLE):
            os.kill(owner, signal.SIGTERM)  # the daemon tears its own lab down
            deadline = time.monotonic() + 30
            while netns.pid_alive(owner, SERVE_NEEDLE) and time.monotonic() < deadline:
                time.sleep(0.1)
        removed = teardown(state)  # whatever the owner left (or a dead owner's lab)
        print(f"lab {state.run_id}: down ({len(removed)} namespaces removed now)")
    for name in os.listdir(STATE_ROOT) if os.path.isdir(STATE_ROOT) else []:
        if name.startswith("serve-") and name.endswith(".log"):
            pid = int(name[len("serve-") : -len(".log")])
            if not netns.pid_alive(pid, SERVE_NEEDLE):
                os.unlink(os.path.join(STATE_ROOT, name))
    if args.sweep:
        # Namespaces of runs that left no state (e.g. killed before recording).
        known = {s.prefix for s in all_states()}
        for ns in netns.list_ns():
            run_prefix = ns.split("-", 1)[0]
            if ns.startswith(PREFIX) and "-" in ns and run_prefix not in known and len(run_prefix) == len(PREFIX) + 5:
                netns.delete(ns)
                print(f"swept {ns}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    states = all_states()
    if not states:
        print("no lab is up")
        return 1
    for s in states:
        live_ns = [n for n in s.namespaces if netns.exists(n)]
        live_procs = [p.pid for p in s.processes if netns.pid_alive(p.pid, p.needle)]
        owner = "alive" if os.path.exists(f"/proc/{s.owner_pid}") else "gone"
        print(
            f"lab {s.run_id}: owner pid {s.owner_pid} ({owner}), {len(live_ns)}/{len(s.namespaces)} namespaces, "
            f"{len(live_procs)}/{len(s.processes)} wireguard-go running, up {time.time() - s.created:.0f}s ago"
        )
        info: dict[str, Any] = s.info
        if info:
            print(f"  kubeconfig {info.get('kubeconfig')}  api {info.get('api')}  up_seconds {info.get('up_seconds')}")
            for name, node in (info.get("nodes") or {}).items():
                role = f"leader {node['wireguard_ip']}" if node["leader"] else "member"
                print(f"  {name:10} {node['ns']:16} {role:22} pods {node['pods']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m lab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start the blog cluster lab")
    up.add_argument("--foreground", action="store_true", help="stay in the foreground until Ctrl-C")
    up.add_argument("--timeout", type=float, default=120, help="seconds to wait for the mesh")
    down = sub.add_parser("down", help="stop labs and remove everything they made")
    down.add_argument("run_ids", nargs="*", help="only these runs (default: all)")
    down.add_argument("--sweep", action="store_true", help="also remove unrecorded kgl* namespaces")
    sub.add_parser("status", help="show running labs")
    serve = sub.add_parser("serve", help=argparse.SUPPRESS)
    serve.add_argument("--ready-file")
    serve.add_argument("--tag", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    return {"up": cmd_up, "down": cmd_down, "status": cmd_status, "serve": cmd_serve}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
