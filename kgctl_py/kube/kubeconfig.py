"""Resolve a kubeconfig into what a client needs: server, TLS and credentials.

Follows kubectl's rules: ``KUBECONFIG`` may list several files, merged so
that the first file to define a name (or the current context) wins; relative
paths in a file are relative to that file; ``--context`` picks another context.
"""

from __future__ import annotations

import base64
import json
import os
import re
import urllib.parse
from typing import TYPE_CHECKING, Any, BinaryIO

from kgctl_py.record import field, record

if TYPE_CHECKING:
    import subprocess

from kgctl_py.errors import CliError, ExitCode

IN_CLUSTER_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"
IN_CLUSTER_CA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"


@record
class ClusterAuth:
    """Everything needed to talk to one API server as one user."""

    server: str
    ca_data: bytes | None = None
    insecure: bool = False
    tls_server_name: str | None = None
    token: str | None = None
    cert_data: bytes | None = None
    key_data: bytes | None = None
    username: str | None = None
    password: str | None = None
    context: str = ""
    sources: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        # Never let credentials reach a log line or a traceback.
        return f"ClusterAuth(server={self.server!r}, context={self.context!r})"


def default_kubeconfig() -> str:
    """kgctl's default for ``--kubeconfig``: ``$KUBECONFIG`` if it exists, else ``~/.kube/config``."""
    env = os.environ.get("KUBECONFIG", "")
    if env and os.path.exists(env):
        return env
    return os.path.join(os.environ.get("HOME", ""), ".kube/config")


def kubeconfig_paths(explicit: str | None) -> list[str]:
    if explicit:
        return [explicit]
    env = os.environ.get("KUBECONFIG", "")
    if env:
        return [p for p in env.split(os.pathsep) if p]
    return [os.path.join(os.path.expanduser("~"), ".kube", "config")]


# Kubeconfigs are kilobytes; past this (or /dev/zero) PyYAML reads the stream as before.
_FAST_LIMIT = 4 << 20


def _load_yaml(path: str) -> dict[str, Any]:
    from kgctl_py.kube import fastyaml

    try:
        with open(path, "rb") as f:
            raw = f.read(_FAST_LIMIT + 1)
            if len(raw) > _FAST_LIMIT:
                data = _pyyaml(f, path, raw)
            else:
                try:
                    data = fastyaml.load(raw.decode("utf-8"))
                except (UnicodeDecodeError, fastyaml.Unsupported):
                    data = _pyyaml(None, path, raw)
    except OSError as err:
        raise CliError(f"failed to create Kubernetes config: cannot read kubeconfig {path}: {err.strerror}", ExitCode.USAGE) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CliError(f"failed to create Kubernetes config: kubeconfig {path} is not a mapping", ExitCode.USAGE)
    return data


def _pyyaml(rest: BinaryIO | None, path: str, head: bytes) -> Any:
    """PyYAML's reading of ``head`` and then what is left of ``rest``."""
    import yaml  # costs ~13 ms: only for YAML that fastyaml leaves to it

    stream: Any = head if rest is None else _Chain(head, rest)
    try:
        return yaml.load(stream, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise CliError(f"failed to create Kubernetes config: kubeconfig {path} is not valid YAML{where}", ExitCode.USAGE) from None
    except ValueError as err:  # a scalar PyYAML resolves but cannot build (2025-13-45, 5000 digits)
        from kgctl_py.kube.decode import value_problem

        raise CliError(f"failed to create Kubernetes config: kubeconfig {path} is not valid YAML: {value_problem(err, yaml=True)}", ExitCode.USAGE) from None


class _Chain:
    """A read()-able stream of ``head`` followed by the rest of ``f``."""

    def __init__(self, head: bytes, f: BinaryIO) -> None:
        self.head, self.f = head, f

    def read(self, size: int = -1) -> bytes:
        if self.head:
            chunk = self.head if size < 0 else self.head[:size]
            self.head = self.head[len(chunk) :]
            return chunk
        return self.f.read(size)


def _merge(paths: list[str]) -> tuple[dict[str, Any], list[str]]:
    merged: dict[str, Any] = {"clusters": {}, "users": {}, "contexts": {}, "current-context": ""}
    used = []
    for path in paths:
        if not os.path.exists(path) and len(paths) > 1:
            continue  # kubectl skips missing files in a KUBECONFIG list
        data = _load_yaml(path)
        used.append(path)
        base = os.path.dirname(os.path.abspath(path))
        for section, inner in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
            entries = data.get(section) or []
            if not isinstance(entries, list):
                raise CliError(f"failed to create Kubernetes config: kubeconfig {path}: {section} is not a list", ExitCode.USAGE)
            for entry in entries:
                if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                    continue
                body = entry.get(inner) or {}
                if isinstance(body, dict) and entry["name"] not in merged[section]:
                    merged[section][entry["name"]] = (body, base)
        if not merged["current-context"] and isinstance(data.get("current-context"), str):
            merged["current-context"] = data["current-context"]
    return merged, used


def _read_file(path: str, base: str, what: str) -> bytes:
    full = path if os.path.isabs(path) else os.path.join(base, path)
    try:
        with open(full, "rb") as f:
            return f.read()
    except OSError as err:
        raise CliError(f"failed to create Kubernetes config: cannot read {what} {full}: {err.strerror}", ExitCode.USAGE) from None


def _data(body: dict[str, Any], key: str, base: str, what: str) -> bytes | None:
    if body.get(f"{key}-data"):
        try:
            # Strict like Go's decoder, which skips only line breaks: a lax one turns typos into garbage keys.
            return base64.b64decode(str(body[f"{key}-data"]).replace("\r", "").replace("\n", ""), validate=True)
        except (ValueError, TypeError):
            raise CliError(f"failed to create Kubernetes config: {key}-data is not valid base64", ExitCode.USAGE) from None
    if body.get(key):
        return _read_file(str(body[key]), base, what)
    return None


# Without --request-timeout: as long as an API request may take by default.
EXEC_TIMEOUT = 30.0


def _run_plugin(argv: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    """Run a credential plugin as kubectl does: its stderr goes to ours (it may say
    "run the login command"), its stdout is the credential, and it gets ``timeout``."""
    import subprocess  # only for exec plugins
    import sys

    try:
        err_fd: int | None = sys.stderr.fileno()
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):  # no real stderr (in-process runs): relay it
        err_fd = None
    try:
        # Its own session, so that a timeout stops the plugin's children too.
        proc = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err_fd if err_fd is not None else subprocess.PIPE, start_new_session=True
        )
    except OSError as err:
        raise CliError(f"failed to create Kubernetes config: exec plugin {argv[0]} failed: {err.strerror or err}", ExitCode.USAGE) from None
    try:
        out, err_text = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise CliError(
            f"failed to create Kubernetes config: exec plugin {argv[0]} did not finish within {timeout:g}s; raise --request-timeout if it waits for a login",
            ExitCode.API_DENIED,
        ) from None
    except BaseException:
        _kill_group(proc)
        raise
    if err_text:
        sys.stderr.write(err_text.decode(errors="replace"))
    return subprocess.CompletedProcess(argv, proc.returncode, out, b"")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    proc.kill()
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def _run_exec_plugin(spec: dict[str, Any], base: str, timeout: float = EXEC_TIMEOUT) -> dict[str, Any]:
    command = spec.get("command")
    if not isinstance(command, str) or not command:
        raise CliError("failed to create Kubernetes config: exec plugin has no command", ExitCode.USAGE)
    if "/" in command and not os.path.isabs(command):
        command = os.path.join(base, command)
    args, env_list = spec.get("args") or [], spec.get("env") or []
    if not isinstance(args, list) or not isinstance(env_list, list):
        raise CliError("failed to create Kubernetes config: exec plugin args and env must be lists", ExitCode.USAGE)
    args = [str(a) for a in args]
    env = dict(os.environ)
    for item in env_list:
        if isinstance(item, dict) and "name" in item:
            env[str(item["name"])] = str(item.get("value", ""))
    api_version = spec.get("apiVersion") or "client.authentication.k8s.io/v1"
    env["KUBERNETES_EXEC_INFO"] = json.dumps({"apiVersion": api_version, "kind": "ExecCredential", "spec": {"interactive": False}})
    proc = _run_plugin([command, *args], env, timeout)
    if proc.returncode != 0:
        raise CliError(f"failed to create Kubernetes config: exec plugin {command} exited with status {proc.returncode}", ExitCode.API_DENIED)
    try:
        cred = json.loads(proc.stdout)
        status = cred["status"]
        assert isinstance(status, dict)
    except (ValueError, KeyError, TypeError, AssertionError, RecursionError):
        raise CliError(f"failed to create Kubernetes config: exec plugin {command} did not print an ExecCredential", ExitCode.API_DENIED) from None
    return status


def resolve(kubeconfig: str | None, context: str | None = None, timeout: float = EXEC_TIMEOUT) -> ClusterAuth:
    """The server and credentials of the chosen context; ``timeout`` bounds an exec plugin."""
    paths = kubeconfig_paths(kubeconfig)
    if len(paths) == 1 and not os.path.exists(paths[0]):
        in_cluster = _in_cluster()
        if in_cluster is not None and not kubeconfig:
            return in_cluster
        raise CliError(f"failed to create Kubernetes config: stat {paths[0]}: no such file or directory", ExitCode.USAGE)
    merged, used = _merge(paths)
    name = context or merged["current-context"]
    if not name:
        raise CliError("failed to create Kubernetes config: no current context is set in the kubeconfig; use --context", ExitCode.USAGE)
    if name not in merged["contexts"]:
        raise CliError(f'failed to create Kubernetes config: context "{name}" does not exist', ExitCode.USAGE)
    ctx, _ = merged["contexts"][name]
    # Names of the wrong type name nothing (and must not reach a dict lookup).
    cluster_name, user_name = (v if isinstance(v, str) else "" for v in (ctx.get("cluster"), ctx.get("user")))
    if cluster_name not in merged["clusters"]:
        raise CliError(f'failed to create Kubernetes config: cluster "{cluster_name}" of context "{name}" does not exist', ExitCode.USAGE)
    cluster, cbase = merged["clusters"][cluster_name]
    server = cluster.get("server")
    if not isinstance(server, str) or not server:
        raise CliError(f'failed to create Kubernetes config: cluster "{cluster_name}" has no server', ExitCode.USAGE)
    auth = ClusterAuth(
        server=_without_userinfo(server).rstrip("/"),
        ca_data=_data(cluster, "certificate-authority", cbase, "certificate authority"),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        tls_server_name=cluster.get("tls-server-name") or None,
        context=name,
        sources=used,
    )
    user, ubase = merged["users"].get(user_name, ({}, cbase))
    if user.get("token"):
        auth.token = str(user["token"])
    elif user.get("tokenFile"):
        auth.token = _read_file(str(user["tokenFile"]), ubase, "token file").decode().strip()
    auth.cert_data = _data(user, "client-certificate", ubase, "client certificate")
    auth.key_data = _data(user, "client-key", ubase, "client key")
    if user.get("username"):
        auth.username, auth.password = str(user["username"]), str(user.get("password", ""))
    if isinstance(user.get("exec"), dict):
        status = _run_exec_plugin(user["exec"], ubase, timeout)
        if status.get("token"):
            auth.token = str(status["token"])
        if status.get("clientCertificateData"):
            auth.cert_data = str(status["clientCertificateData"]).encode()
            auth.key_data = str(status.get("clientKeyData", "")).encode()
    elif isinstance(user.get("auth-provider"), dict):
        auth.token = _auth_provider_token(kubeconfig, name)
    return auth


def _without_userinfo(server: str) -> str:
    """The server URL without ``user:password@``: it is never ours to print."""
    try:
        url = urllib.parse.urlsplit(server)
    except ValueError:  # the client reports the bad URL; without the credentials
        return re.sub(r"//[^/]*@", "//", server)
    if "@" not in url.netloc:
        return server
    return urllib.parse.urlunsplit(url._replace(netloc=url.netloc.rsplit("@", 1)[1]))


def _auth_provider_token(kubeconfig: str | None, context: str) -> str | None:
    """Legacy auth providers (oidc, gcp, azure): let the official client do it."""
    try:
        from kubernetes import client, config  # heavy; only for this rare path
    except ImportError:  # pragma: no cover - kubernetes is a dependency
        raise CliError("failed to create Kubernetes config: auth-provider needs the kubernetes package", ExitCode.USAGE) from None
    configuration = client.Configuration()
    try:
        config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration)
    except Exception as err:  # noqa: BLE001 - the client raises many unrelated types here
        raise CliError(f"failed to create Kubernetes config: auth-provider: {type(err).__name__}", ExitCode.USAGE) from None
    value = (configuration.api_key or {}).get("authorization", "")
    return value.split(" ", 1)[1] if value.lower().startswith("bearer ") else value or None


def _in_cluster() -> ClusterAuth | None:
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT")
    if not host or not port or not os.path.exists(IN_CLUSTER_TOKEN):
        return None
    with open(IN_CLUSTER_TOKEN) as f:
        token = f.read().strip()
    ca = None
    if os.path.exists(IN_CLUSTER_CA):
        with open(IN_CLUSTER_CA, "rb") as f:
            ca = f.read()
    host = f"[{host}]" if ":" in host else host
    return ClusterAuth(server=f"https://{host}:{port}", ca_data=ca, token=token, context="in-cluster")
