"""kgctl-py never prints a bearer token, a client key, a password or an exec
plugin's credential: not in error messages, not in exceptions, not on stdout.

Each test makes a run fail while the kubeconfig holds known secrets, then
searches everything the process printed for them, raw and base64-encoded.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest
from kubeapi import KubeAPIServer, load_fixture
from kubeapi.kubeconfig import kubeconfig, write_kubeconfig

from kgctl_py.kube.kubeconfig import ClusterAuth, resolve

FIXTURE = Path(__file__).resolve().parents[1] / "compat" / "cases" / "a-blog-6node"  # the repo's copy: a fresh clone has it

TOKEN = "kgctlpy-secret-token-5f1e0c2a9b"
EXEC_TOKEN = "kgctlpy-exec-token-77aa01c3d9"
PASSWORD = "kgctlpy-password-c0ffee42"


def run_cli(*args: str) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-m", "kgctl_py", *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout + proc.stderr


def forms(secret: str | bytes) -> list[str]:
    """The secret as printed raw, base64-encoded, or any 16-character piece of its body."""
    raw = secret.encode() if isinstance(secret, str) else secret
    out = [raw.decode(errors="replace"), base64.b64encode(raw).decode()]
    # A PEM key: each base64 line of its body, long enough to be unmistakable.
    for line in raw.decode(errors="replace").splitlines():
        if not line.startswith("-----") and len(line) >= 16:
            out.append(line[:40])
    return [f for f in out if f]


def assert_no_secret(output: str, *secrets: str | bytes) -> None:
    for secret in secrets:
        for form in forms(secret):
            assert form not in output, f"secret leaked: {form[:12]}..."


@pytest.fixture
def fixture_objects():
    return load_fixture(FIXTURE)


def test_wrong_token_401(fixture_objects, tmp_path):
    objs, meta = fixture_objects
    with KubeAPIServer(objs, token="the-real-token", captured_at=meta["capturedAt"]) as srv:
        path = srv.write_kubeconfig(tmp_path / "kc", token=TOKEN)
        for args in (["graph"], ["showconf", "node", "ali1.k3s"], ["showconf", "peer", "laptop", "--as-peer", "-o", "json"]):
            rc, output = run_cli("--kubeconfig", path, *args)
            assert rc == 4 and "401" in output
            assert_no_secret(output, TOKEN)


def test_token_and_password_with_tls_failure(fixture_objects, tmp_path):
    objs, meta = fixture_objects
    with KubeAPIServer(objs, tls=True, captured_at=meta["capturedAt"]) as srv:
        cfg = kubeconfig(srv.url, token=TOKEN)  # no CA: verification fails
        cfg["users"][0]["user"].update({"username": "admin", "password": PASSWORD})
        path = write_kubeconfig(tmp_path / "kc", cfg)
        rc, output = run_cli("--kubeconfig", str(path), "graph")
        assert rc == 3 and "TLS verification" in output
        assert_no_secret(output, TOKEN, PASSWORD)


def test_client_key_with_403(fixture_objects, tmp_path):
    objs, meta = fixture_objects
    with KubeAPIServer(objs, tls=True, client_ca=True, captured_at=meta["capturedAt"]) as srv:
        cert, key = srv.issue_client_cert("admin")
        key_bytes = Path(key).read_bytes()
        srv.rbac = []  # nothing allowed: the certificate works, the request is denied
        for embed in (True, False):
            path = srv.write_kubeconfig(tmp_path / f"kc-{embed}", client_cert=(cert, key), embed_certs=embed)
            rc, output = run_cli("--kubeconfig", path, "graph")
            assert rc == 4 and "forbidden (403)" in output
            assert_no_secret(output, key_bytes)


def test_bad_client_key_data(fixture_objects, tmp_path):
    bad_key = b"-----BEGIN PRIVATE KEY-----\nS2djdGxQeVNlY3JldEtleU1hdGVyaWFsVGhhdE11c3ROb3RMZWFr\n-----END PRIVATE KEY-----\n"
    objs, meta = fixture_objects
    with KubeAPIServer(objs, tls=True, client_ca=True, captured_at=meta["capturedAt"]) as srv:
        cert, _ = srv.issue_client_cert("admin")
        cfg = kubeconfig(srv.url, ca_file=srv.ca_file, token=TOKEN)
        cfg["users"][0]["user"]["client-certificate-data"] = base64.b64encode(Path(cert).read_bytes()).decode()
        cfg["users"][0]["user"]["client-key-data"] = base64.b64encode(bad_key).decode()
        path = write_kubeconfig(tmp_path / "kc", cfg)
        rc, output = run_cli("--kubeconfig", str(path), "graph")
        assert rc == 2 and "client certificate or key is not valid PEM" in output
        assert_no_secret(output, bad_key, TOKEN)


def test_bad_ca_data(tmp_path):
    cfg = kubeconfig("https://127.0.0.1:1", token=TOKEN)
    cfg["clusters"][0]["cluster"]["certificate-authority-data"] = base64.b64encode(
        b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"
    ).decode()
    path = write_kubeconfig(tmp_path / "kc", cfg)
    rc, output = run_cli("--kubeconfig", str(path), "graph")
    assert rc == 2 and "certificate authority data is not a valid PEM certificate" in output
    assert_no_secret(output, TOKEN)


def test_invalid_base64_client_key(tmp_path):
    cfg = kubeconfig("https://127.0.0.1:1", token=TOKEN)
    cfg["users"][0]["user"]["client-key-data"] = "%%%" + TOKEN + "%%%"
    path = write_kubeconfig(tmp_path / "kc", cfg)
    rc, output = run_cli("--kubeconfig", str(path), "graph")
    assert rc == 2 and "client-key-data is not valid base64" in output
    assert_no_secret(output, TOKEN)


def test_exec_plugin_token_401(fixture_objects, tmp_path):
    objs, meta = fixture_objects
    with KubeAPIServer(objs, token="the-real-token", captured_at=meta["capturedAt"]) as srv:
        command = srv.exec_plugin(token=EXEC_TOKEN)
        path = srv.write_kubeconfig(tmp_path / "kc", exec_command=command)
        rc, output = run_cli("--kubeconfig", path, "graph")
        assert rc == 4 and "401" in output
        assert_no_secret(output, EXEC_TOKEN)
        # The plugin really ran: the token did reach the server, and was refused.
        assert (srv.workdir / "exec-plugin.calls").read_text().count("called") >= 1


def test_failing_exec_plugin_does_not_echo_its_output(tmp_path):
    # Its stdout (the credential) is never echoed; its stderr is its message to
    # the user and passes through, as with kubectl (tests/test_hostile_exec_plugin.py).
    plugin = tmp_path / "plugin.py"
    plugin.write_text(f"import sys\nprint({EXEC_TOKEN!r})\nprint('run the login command', file=sys.stderr)\nsys.exit(3)\n")
    cfg = kubeconfig("https://127.0.0.1:1", exec_command=[sys.executable, str(plugin)])
    path = write_kubeconfig(tmp_path / "kc", cfg)
    rc, output = run_cli("--kubeconfig", str(path), "graph")
    assert rc == 4 and "exited with status 3" in output and "run the login command" in output
    assert_no_secret(output, EXEC_TOKEN)
    # Not an ExecCredential, but the token is in it.
    plugin.write_text(f'print(\'{{"status": 5, "token": "{EXEC_TOKEN}"}}\')\n')
    rc, output = run_cli("--kubeconfig", str(path), "graph")
    assert rc == 4 and "did not print an ExecCredential" in output
    assert_no_secret(output, EXEC_TOKEN)


def test_cluster_auth_repr_hides_secrets(tmp_path):
    auth = ClusterAuth(server="https://127.0.0.1:6443", token=TOKEN, key_data=b"KEYMATERIAL-" + TOKEN.encode(), password=PASSWORD, context="c")
    for text in (repr(auth), str(auth), f"{auth}", f"{auth!r}", repr([auth]), repr({"a": auth})):
        assert_no_secret(text, TOKEN, PASSWORD)
        assert "127.0.0.1:6443" in text
    # resolve() builds the same from a kubeconfig.
    cfg = kubeconfig("https://127.0.0.1:6443", token=TOKEN)
    path = write_kubeconfig(tmp_path / "kc", cfg)
    assert_no_secret(repr(resolve(str(path))), TOKEN)


def test_graph_and_showconf_print_no_private_keys(fixture_objects, tmp_path):
    """There are none in the API; a Node annotated with one (by mistake or
    malice) must not make kgctl-py print it."""
    private = base64.b64encode(b"\x42" * 32).decode()
    objs, meta = fixture_objects
    for o in objs:
        if o.get("kind") == "Node":
            o["metadata"]["annotations"]["kilo.squat.ai/private-key"] = private
            o["metadata"]["annotations"]["kilo.squat.ai/preshared-key"] = private
    with KubeAPIServer(objs, captured_at=meta["capturedAt"]) as srv:
        path = srv.write_kubeconfig(tmp_path / "kc")
        for args in (["graph"], ["showconf", "node", "ali1.k3s"], ["showconf", "node", "ali1.k3s", "--as-peer", "-o", "yaml"], ["showconf", "peer", "laptop"]):
            rc, output = run_cli("--kubeconfig", path, *args)
            assert rc == 0
            assert "PrivateKey" not in output
            assert_no_secret(output, private)
