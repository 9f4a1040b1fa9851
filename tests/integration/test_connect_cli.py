"""`kgctl-py connect` flags: kgctl's names and defaults, one-line errors, and the
CAP_NET_ADMIN check that comes before anything is touched."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from clirun import run
from kubeapi import KubeAPIServer, load_fixture

BLOG = Path(__file__).resolve().parents[1] / "compat" / "cases" / "a-blog-6node"  # the repo's copy: a fresh clone has it


def one_line(stderr: bytes) -> str:
    lines = stderr.decode().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-a", "10.5.0.300/32"], 'invalid argument "10.5.0.300/32" for "-a, --allowed-ip" flag: invalid CIDR address: 10.5.0.300/32'),
        (["--allowed-ips", "10.43.0.0/16,nope"], "invalid CIDR address: nope"),
        (["--resync-period", "30"], 'invalid argument "30" for "--resync-period" flag: time: invalid duration "30"'),
        (["--resync-period", "0s"], "--resync-period must be positive, got 0s"),
        (["--log-level", "loud"], "log level loud unknown; possible values are: all, debug, info, warn, error, none"),
        (["--clean-up=maybe"], 'invalid argument "maybe" for "--clean-up" flag: strconv.ParseBool: parsing "maybe": invalid syntax'),
        (["-i", "a-very-long-interface-name"], "invalid interface name \"a-very-long-interface-name\": at most 15 bytes, without '/', ':' or spaces"),
        (["-i", "wg/0"], "invalid interface name \"wg/0\": at most 15 bytes, without '/', ':' or spaces"),
        (["--persistent-keepalive", "-1"], "--persistent-keepalive must be between 0 and 65535, got -1"),
        (["--snapshot", "x.yaml"], "connect works on the live cluster; --snapshot and --now do not apply"),
        (["--port", "0"], "invalid port: port mus be in range [1:65535], but got 0"),
    ],
)
def test_bad_flags_are_one_line_usage_errors(args: list[str], expected: str) -> None:
    result = run(["connect", "laptop", *args])
    assert result.code == 2
    assert one_line(result.stderr) == expected
    assert result.stdout == b""


def test_a_peer_name_must_be_a_kubernetes_name() -> None:
    result = run(["connect", "My_Laptop"])
    assert result.code == 2
    assert one_line(result.stderr).startswith('peer name "My_Laptop" is not a valid DNS-1123 subdomain')


def test_help_lists_kgctls_flags_and_defaults() -> None:
    result = run(["connect", "--help"])
    assert result.code == 0
    text = " ".join(result.stdout.decode().split())
    for flag in (
        "-a, --allowed-ip CIDR",
        "--allowed-ips CIDRS",
        "--private-key PATH",
        "--clean-up / --no-clean-up",
        "--mtu",
        "--resync-period DURATION",
        "-i, --interface NAME",
        "--persistent-keepalive",
        "--log-level",
    ):
        assert flag in text
    for default in ("[default: 10.10.10.10/32]", "[default: 1420; x>=0]", "[default: 30s]", "[default: kilo0]", "[default: 10]", "[default: info]"):
        assert default in text
    assert "Usage: kgctl-py connect [OPTIONS] [PEER_NAME]" in text


def _unprivileged(argv: list[str]) -> list[str]:
    """argv without any capability: dropped from every set (root), or as it is (non-root)."""
    if os.geteuid() != 0:
        return argv
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("setpriv (util-linux) is needed to drop capabilities as root")
    return [setpriv, "--inh-caps=-all", "--bounding-set=-all", *argv]


@pytest.mark.skipif(not BLOG.is_dir(), reason="compat fixtures not available")
def test_without_net_admin_it_stops_before_touching_anything(tmp_path) -> None:
    objects, meta = load_fixture(BLOG)
    key = tmp_path / "laptop.key"
    with KubeAPIServer(objects, crd=True, captured_at=meta["capturedAt"]) as srv:
        kubeconfig = srv.write_kubeconfig(tmp_path / "kubeconfig")
        argv = [sys.executable, "-m", "kgctl_py", "connect", "laptop2", "--kubeconfig", kubeconfig, "--private-key", str(key), "-i", "kcnoperm0"]
        proc = subprocess.run(_unprivileged(argv), capture_output=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
        assert proc.returncode == 2
        assert one_line(proc.stderr) == "kgctl-py connect needs CAP_NET_ADMIN to create the WireGuard interface and routes; run with sudo"
        assert proc.stdout == b""
        assert srv.requests == []  # not even a GET
        assert not key.exists()  # no key written
    assert subprocess.run(["ip", "link", "show", "kcnoperm0"], capture_output=True, timeout=10).returncode != 0
