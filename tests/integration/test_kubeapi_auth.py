"""Authentication and authorisation: TLS, bearer tokens, client certificates, exec plugins,
SelfSubjectAccessReview and RBAC enforcement."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import urllib.error
from pathlib import Path

import pytest
from cryptography import x509
from kubeapi import KubeAPIServer, load_fixture
from kubeapi.testing import api_client, http
from kubernetes import client
from kubernetes.client.rest import ApiException

BLOG = Path(__file__).resolve().parents[1] / "compat" / "cases" / "a-blog-6node"  # the repo's copy: a fresh clone has it
TOKEN = "s3cret-token"
pytestmark = pytest.mark.skipif(not BLOG.is_dir(), reason="compat fixtures not available")
needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")


@pytest.fixture(scope="module")
def objects():
    return load_fixture(BLOG)[0]


def kubectl(args, kubeconfig, home):
    env = dict(os.environ, HOME=str(home))
    env.pop("KUBECONFIG", None)
    return subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), *args], capture_output=True, text=True, env=env, timeout=60)


def test_token_required_plain_http(objects, tmp_path):
    with KubeAPIServer(objects, token=TOKEN) as srv:
        code, body = http(srv.url + "/api/v1/nodes")
        assert code == 401
        assert body == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "Unauthorized",
            "reason": "Unauthorized",
            "code": 401,
        }
        assert http(srv.url + "/api/v1/nodes", token="wrong")[0] == 401
        assert http(srv.url + "/api/v1/nodes", token=TOKEN)[0] == 200
        with api_client(srv.write_kubeconfig(tmp_path / "kc")) as api:
            assert len(client.CoreV1Api(api).list_node().items) == 6
        with api_client(srv.write_kubeconfig(tmp_path / "none", token="")) as api:
            with pytest.raises(ApiException) as err:
                client.CoreV1Api(api).list_node()
            assert err.value.status == 401


def test_anonymous_when_no_token(objects):
    with KubeAPIServer(objects) as srv:
        assert http(srv.url + "/api/v1/nodes")[0] == 200


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_with_token_and_generated_ca(objects, tmp_path):
    with KubeAPIServer(objects, tls=True, token=TOKEN, extra_sans=["kube.test", "10.0.0.1"]) as srv:
        assert srv.url.startswith("https://127.0.0.1:") and srv.ca_file and Path(srv.ca_file).is_file()
        ctx = ssl.create_default_context(cafile=srv.ca_file)
        assert http(srv.url + "/version", token=TOKEN, context=ctx)[0] == 200
        with pytest.raises(urllib.error.URLError):  # the system trust store does not know our CA
            http(srv.url + "/version", token=TOKEN, context=ssl.create_default_context())
        pem = ssl.get_server_certificate(("127.0.0.1", srv.port))
        sans = x509.load_pem_x509_certificate(pem.encode()).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert set(sans.get_values_for_type(x509.DNSName)) == {"localhost", "kube.test"}
        assert {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "10.0.0.1"}
        with api_client(srv.write_kubeconfig(tmp_path / "kc")) as api:
            assert [n.metadata.name for n in client.CoreV1Api(api).list_node().items][0] == "ali1.k3s"
        with api_client(srv.write_kubeconfig(tmp_path / "embedded", embed_certs=True)) as api:
            assert client.VersionApi(api).get_code().git_version.startswith("v1.")
        with api_client(srv.write_kubeconfig(tmp_path / "insecure", insecure=True)) as api:
            assert client.VersionApi(api).get_code().major == "1"
        # no private key material ends up in the kubeconfig
        assert "PRIVATE KEY" not in (tmp_path / "kc").read_text()


@needs_kubectl
def test_kubectl_over_https_with_token(objects, tmp_path):
    objects_, meta = load_fixture(BLOG)
    with KubeAPIServer(objects_, tls=True, token=TOKEN, captured_at=meta["capturedAt"]) as srv:
        kc = srv.write_kubeconfig(tmp_path / "kc")
        r = kubectl(["get", "nodes"], kc, tmp_path)
        assert r.returncode == 0, r.stderr
        assert r.stdout.split()[:5] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
        assert len(r.stdout.splitlines()) == 7
        r = kubectl(["get", "peers", "-o", "name"], kc, tmp_path)
        assert r.stdout.split() == ["peer.kilo.squat.ai/laptop", "peer.kilo.squat.ai/phone"]
        bad = srv.write_kubeconfig(tmp_path / "bad", token="nope")
        r = kubectl(["get", "nodes"], bad, tmp_path)
        assert r.returncode != 0 and "Unauthorized" in r.stderr


def test_client_certificate_auth(objects, tmp_path):
    with KubeAPIServer(objects, tls=True, token=TOKEN, client_ca=True) as srv:
        cert, key = srv.issue_client_cert("alice", groups=["system:masters"])
        assert "PRIVATE KEY" in Path(key).read_text() and oct(os.stat(key).st_mode & 0o777) == "0o600"
        with api_client(srv.write_kubeconfig(tmp_path / "cert", client_cert=(cert, key))) as api:
            assert len(client.CoreV1Api(api).list_node().items) == 6
        # token still works on the same server; nothing at all does not
        with api_client(srv.write_kubeconfig(tmp_path / "tok")) as api:
            assert len(client.CoreV1Api(api).list_node().items) == 6
        with api_client(srv.write_kubeconfig(tmp_path / "none", token="")) as api:
            with pytest.raises(ApiException) as err:
                client.CoreV1Api(api).list_node()
            assert err.value.status == 401
        # the certificate's CN is the user RBAC talks about
        srv.rbac = []
        code, body = http(srv.url + "/api/v1/nodes", context=_client_ctx(srv, cert, key))
        assert code == 403 and 'User "alice" cannot list resource "nodes"' in body["message"]


def _client_ctx(srv, cert, key):
    ctx = ssl.create_default_context(cafile=srv.ca_file)
    ctx.load_cert_chain(cert, key)
    return ctx


def test_foreign_client_certificate_is_rejected(objects, tmp_path):
    with KubeAPIServer(objects, tls=True, client_ca=True) as other, KubeAPIServer(objects, tls=True, token=TOKEN, client_ca=True) as srv:
        cert, key = other.issue_client_cert("mallory")
        ctx = ssl.create_default_context(cafile=srv.ca_file)
        ctx.load_cert_chain(cert, key)
        with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionResetError)):
            http(srv.url + "/api/v1/nodes", context=ctx)


def test_exec_plugin_kubeconfig(objects, tmp_path):
    with KubeAPIServer(objects, tls=True, token=TOKEN) as srv:
        command = srv.exec_plugin()
        kc = srv.write_kubeconfig(tmp_path / "kc", exec_command=command)
        text = Path(kc).read_text()
        assert "client.authentication.k8s.io/v1" in text and TOKEN not in text
        with api_client(kc) as api:
            assert len(client.CoreV1Api(api).list_node().items) == 6
        calls = srv.workdir / "exec-plugin.calls"
        assert calls.read_text().count("called") >= 1
        if shutil.which("kubectl"):
            r = kubectl(["get", "nodes", "-o", "name"], kc, tmp_path)
            assert r.returncode == 0, r.stderr
            assert len(r.stdout.split()) == 6
        wrong = srv.write_kubeconfig(tmp_path / "wrong", exec_command=srv.exec_plugin("bad-token"))
        with api_client(wrong) as api:
            with pytest.raises(ApiException) as err:
                client.CoreV1Api(api).list_node()
            assert err.value.status == 401


def test_self_subject_access_review(objects, tmp_path):
    with KubeAPIServer(objects) as srv, api_client(srv.write_kubeconfig(tmp_path / "kc")) as api:
        authz = client.AuthorizationV1Api(api)

        def can(verb, resource, group="", subresource="", namespace=None):
            review = client.V1SelfSubjectAccessReview(
                spec=client.V1SelfSubjectAccessReviewSpec(
                    resource_attributes=client.V1ResourceAttributes(verb=verb, resource=resource, group=group, subresource=subresource, namespace=namespace)
                )
            )
            return authz.create_self_subject_access_review(review).status.allowed

        assert can("delete", "nodes")  # rbac None: everything is allowed
        srv.rbac = [("list", "", "nodes", ""), ("*", "kilo.squat.ai", "peers", ""), ("create", "", "pods", "exec")]
        assert can("list", "nodes") and not can("delete", "nodes")
        assert can("watch", "peers", "kilo.squat.ai") and can("delete", "peers", "kilo.squat.ai")
        assert can("create", "pods", subresource="exec", namespace="kube-system")
        assert not can("create", "pods", namespace="kube-system")
        srv.rbac = [("*", "*", "*", "*")]
        assert can("create", "pods", subresource="exec") and can("escalate", "clusterroles", "rbac.authorization.k8s.io")


def test_rbac_is_enforced_with_real_403s(objects, tmp_path):
    with KubeAPIServer(objects) as srv, api_client(srv.write_kubeconfig(tmp_path / "kc")) as api:
        v1 = client.CoreV1Api(api)
        srv.rbac = [("get", "", "nodes"), ("list", "kilo.squat.ai", "peers", "")]
        assert v1.read_node("ali1.k3s").metadata.name == "ali1.k3s"
        with pytest.raises(ApiException) as err:
            v1.list_node()
        assert err.value.status == 403
        code, body = http(srv.url + "/api/v1/nodes")
        assert code == 403 and body["reason"] == "Forbidden"
        assert body["message"] == 'nodes is forbidden: User "test" cannot list resource "nodes" in API group "" at the cluster scope'
        _, body = http(srv.url + "/api/v1/namespaces/kube-system/pods/x")
        assert body["message"] == 'pods "x" is forbidden: User "test" cannot get resource "pods" in API group "" in the namespace "kube-system"'
        _, body = http(srv.url + "/apis/apps/v1/namespaces/default/daemonsets", "POST", {})
        assert body["message"].startswith('daemonsets.apps is forbidden: User "test" cannot create resource "daemonsets" in API group "apps"')
        assert http(srv.url + "/apis/kilo.squat.ai/v1alpha1/peers")[0] == 200
        assert http(srv.url + "/apis/kilo.squat.ai/v1alpha1/peers?watch=true&timeoutSeconds=1")[0] == 403
        assert http(srv.url + "/version")[0] == 200 and http(srv.url + "/apis")[0] == 200  # discovery stays open
        if shutil.which("kubectl"):
            r = kubectl(["auth", "can-i", "list", "peers.kilo.squat.ai"], srv.write_kubeconfig(tmp_path / "k2"), tmp_path)
            assert r.stdout.strip() == "yes"
            r = kubectl(["auth", "can-i", "list", "nodes"], tmp_path / "k2", tmp_path)
            assert r.stdout.strip() == "no" and r.returncode == 1
