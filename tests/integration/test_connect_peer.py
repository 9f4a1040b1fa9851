"""connect's Peer registration, key handling and clean-up against the project's API server.

No interface is made here (that needs CAP_NET_ADMIN; see test_lab_connect*.py):
these drive the Connector's API half over real HTTP, and the real `wg` for keys.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from kubeapi import Fault, KubeAPIServer, load_fixture

from kgctl_py.connect import system
from kgctl_py.connect.agent import Connector, Logger, Options
from kgctl_py.errors import CliError, ExitCode
from kgctl_py.kube.client import Client
from kgctl_py.kube.kubeconfig import resolve
from kgctl_py.mesh.ipnet import parse_network
from kgctl_py.mesh.key import key_str, parse_key

BLOG = Path(__file__).resolve().parents[1] / "compat" / "cases" / "a-blog-6node"  # the repo's copy: a fresh clone has it
PEERS = "/apis/kilo.squat.ai/v1alpha1/peers"
pytestmark = [
    pytest.mark.skipif(not BLOG.is_dir(), reason="compat fixtures not available"),
    pytest.mark.skipif(shutil.which("wg") is None, reason="needs wg (wireguard-tools)"),
]


@pytest.fixture
def srv():
    objects, meta = load_fixture(BLOG)
    with KubeAPIServer(objects, crd=True, captured_at=meta["capturedAt"]) as s:
        yield s


@pytest.fixture
def kubeconfig(srv, tmp_path) -> str:
    return srv.write_kubeconfig(tmp_path / "kubeconfig")


def connector(kubeconfig: str, name: str = "laptop2", key_path: str | None = None, timeout: float = 5) -> tuple[Connector, io.StringIO]:
    out = io.StringIO()
    opts = Options(name=name, allowed_ip=parse_network("10.5.0.9/32"), private_key_path=key_path)
    return Connector(Client(resolve(kubeconfig, None), timeout=timeout), opts, Logger("debug", out)), out


def writes(srv: KubeAPIServer) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in srv.requests if r.method != "GET"]


def test_registers_the_peer_and_deletes_it_on_clean_up(srv, kubeconfig, tmp_path) -> None:
    c, log = connector(kubeconfig, key_path=str(tmp_path / "laptop2.key"))
    c.load_key()
    c.register_peer()
    peer = srv.store.get("Peer", "laptop2")
    assert peer["spec"] == {"allowedIPs": ["10.5.0.9/32"], "persistentKeepalive": 10, "publicKey": key_str(c.public_key)}
    assert c.peer_created
    c.clean_up()
    assert srv.store.get("Peer", "laptop2") is None
    assert writes(srv) == [("POST", PEERS), ("DELETE", f"{PEERS}/laptop2")]
    assert c.cleanup_errors == []
    messages = [json.loads(line)["msg"] for line in log.getvalue().splitlines()]
    assert messages == ["generated a private key", "generated public key", "created peer", "deleted peer"]


def test_a_generated_key_file_is_private_and_matches_the_registered_key(kubeconfig, tmp_path) -> None:
    path = tmp_path / "laptop2.key"
    c, log = connector(kubeconfig, key_path=str(path))
    c.load_key()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    private = path.read_text().strip()
    assert parse_key(private) == c.private_key
    pub = subprocess.run(["wg", "pubkey"], input=private + "\n", capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    assert pub == key_str(c.public_key)
    assert private not in log.getvalue()  # never logged
    # A second run reads the same file instead of writing a new key.
    again, _ = connector(kubeconfig, key_path=str(path))
    again.load_key()
    assert again.public_key == c.public_key


def test_an_existing_peer_is_used_and_left_alone(srv, kubeconfig) -> None:
    c, log = connector(kubeconfig, name="laptop")
    c.load_key()
    c.register_peer()
    assert not c.peer_created
    c.clean_up()
    assert srv.store.get("Peer", "laptop") is not None
    assert writes(srv) == []
    # Its key is the blog laptop's, not ours: say so, the traffic would be dropped.
    assert any(json.loads(line)["level"] == "warn" and "another public key" in json.loads(line)["msg"] for line in log.getvalue().splitlines())


def test_an_unreadable_key_file_is_a_usage_error(kubeconfig, tmp_path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("not a key\n")
    c, _ = connector(kubeconfig, key_path=str(bad))
    with pytest.raises(CliError) as err:
        c.load_key()
    assert err.value.code == ExitCode.USAGE and "failed to parse private key" in err.value.message
    assert "not a key" not in err.value.message


def test_without_the_peer_crd_nothing_is_created(kubeconfig, tmp_path) -> None:
    objects, meta = load_fixture(BLOG)
    with KubeAPIServer([o for o in objects if o["kind"] != "Peer"], crd=False, captured_at=meta["capturedAt"]) as bare:
        c, _ = connector(bare.write_kubeconfig(tmp_path / "bare"))
        c.load_key()
        with pytest.raises(CliError) as err:
            c.register_peer()
        assert err.value.code == ExitCode.API_ERROR
        assert "peers.kilo.squat.ai CRD is not installed" in err.value.message
        assert writes(bare) == []


def test_forbidden_create_is_reported_with_the_api_exit_code(srv, kubeconfig) -> None:
    srv.rbac = [("get", "*", "*"), ("list", "*", "*")]
    c, _ = connector(kubeconfig)
    c.load_key()
    with pytest.raises(CliError) as err:
        c.register_peer()
    assert err.value.code == ExitCode.API_DENIED
    assert err.value.message.startswith('failed to create peer: cannot create peer "laptop2": forbidden (403)')
    assert srv.store.get("Peer", "laptop2") is None


def test_a_failed_delete_is_recorded_not_raised(srv, kubeconfig) -> None:
    c, log = connector(kubeconfig)
    c.load_key()
    c.register_peer()
    srv.inject(Fault(path="/peers/laptop2$", method="DELETE", status=500))
    c.clean_up()
    assert len(c.cleanup_errors) == 1 and "500" in c.cleanup_errors[0]
    assert srv.store.get("Peer", "laptop2") is not None
    assert any(json.loads(line)["msg"] == "failed to delete peer" for line in log.getvalue().splitlines())


def test_clean_up_of_the_peer_is_bounded_when_the_api_hangs(srv, kubeconfig) -> None:
    import time

    c, _ = connector(kubeconfig, timeout=30)
    c.load_key()
    c.register_peer()
    srv.inject(Fault(path="/peers/laptop2$", method="DELETE", delay=60))
    start = time.monotonic()
    c.clean_up()
    # Kilo gives the deletion 10 s, whatever the request timeout.
    assert time.monotonic() - start < 15
    assert c.cleanup_errors and "within 10s" in c.cleanup_errors[0]


def test_the_net_admin_check_reads_the_effective_set(tmp_path) -> None:
    status = tmp_path / "status"
    status.write_text("Name:\tx\nCapEff:\t0000000000001000\n")
    assert system.has_net_admin(str(status))
    status.write_text("Name:\tx\nCapEff:\t0000000000000fff\n")
    assert not system.has_net_admin(str(status))
    assert system.has_net_admin("/proc/self/status") == bool(int(_cap_eff(), 16) & (1 << 12))


def _cap_eff() -> str:
    with open("/proc/self/status") as f:
        return next(line.split()[1] for line in f if line.startswith("CapEff:"))


def test_private_key_file_is_never_overwritten(tmp_path) -> None:
    path = tmp_path / "k"
    path.write_text("old\n")
    with pytest.raises(CliError):
        system.write_private_key(str(path), bytes(32))
    assert path.read_text() == "old\n"
    os.unlink(path)


def test_a_wg_error_never_carries_a_key(tmp_path) -> None:
    """wg quotes the line it cannot parse; the message must not show the key."""
    secret = "YHh1ckRxWpw4e2dQGWBcCvbO3aP9i5HV1b3Yl9pq8n0="
    conf = f"[Interface]\nPrivateKey = {secret}\nListenPort = nope\n"
    with pytest.raises(CliError) as err:
        system.set_conf("kc-no-such-if", conf, replace=True)
    assert secret not in err.value.message and "wg setconf" in err.value.message
