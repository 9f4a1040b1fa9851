"""api.tls-san: does the API server's certificate cover the address we use?"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import urllib.parse
from typing import Any

from kgctl_py.doctor import k3s
from kgctl_py.doctor.model import Finding, Status


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def covers(sans: list[tuple[str, str]], host: str) -> bool:
    """Whether the certificate's subjectAltNames cover ``host`` (IP or DNS, with wildcards)."""
    if _is_ip(host):
        want = ipaddress.ip_address(host)
        return any(kind == "IP Address" and _same(value, want) for kind, value in sans)
    host = host.lower().rstrip(".")
    for kind, value in sans:
        if kind != "DNS":
            continue
        value = value.lower().rstrip(".")
        if value == host:
            return True
        if value.startswith("*.") and "." in host and host.split(".", 1)[1] == value[2:]:
            return True
    return False


def _same(text: str, want: Any) -> bool:
    try:
        return ipaddress.ip_address(text.strip()) == want
    except ValueError:
        return False


def probe(host: str, port: int, ca_data: bytes | None, timeout: float) -> tuple[list[tuple[str, str]] | None, str]:
    """(subjectAltNames, '') after a verified handshake, or (None, why not)."""
    ctx = ssl.create_default_context()
    if ca_data:
        try:
            ctx.load_verify_locations(cadata=ca_data.decode("ascii", "replace"))
        except (ssl.SSLError, ValueError):
            return None, "the kubeconfig's certificate authority is not valid PEM"
    # Verify the chain here and judge the name ourselves, to say which names the certificate has.
    ctx.check_hostname = False
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            with ctx.wrap_socket(sock, server_hostname=None if _is_ip(host) else host) as tls:
                cert = tls.getpeercert() or {}
    except ssl.SSLCertVerificationError as err:
        return None, f"certificate not trusted: {err.verify_message}"
    except (ssl.SSLError, OSError) as err:
        return None, f"TLS handshake with {host}:{port} failed: {getattr(err, 'strerror', None) or err}"
    names: Any = cert.get("subjectAltName", ())
    return [(str(k), str(v)) for k, v in names], ""


def targets(server_url: str, node_objs: list[dict[str, Any]], api_port: int) -> list[tuple[str, str, int, str]]:
    """(subject, host, port, kind) to probe: the kubeconfig server, then each server node's external IPs."""
    out = []
    url = urllib.parse.urlsplit(server_url)
    if url.hostname:
        out.append(("kubeconfig", url.hostname, url.port or 443, "cluster" if url.scheme == "https" else "http"))
    for obj in node_objs:
        args = k3s.node_args(obj)
        if not k3s.is_server(obj, args):
            continue
        name = str((obj.get("metadata") or {}).get("name", ""))
        for ip in k3s.external_ips(obj, args):
            out.append((name, ip, api_port, "node"))
    return out


def check(server_url: str, insecure: bool, ca_data: bytes | None, node_objs: list[dict[str, Any]], api_port: int, timeout: float) -> list[Finding]:
    out = []
    for subject, host, port, kind in targets(server_url, node_objs, api_port):
        where = f"{host}:{port}"
        if kind == "http":
            out.append(Finding(Status.SKIP, subject, f"the kubeconfig server {server_url} is plain HTTP", "cluster"))
            continue
        if insecure:
            out.append(
                Finding(Status.SKIP, subject, "insecure-skip-tls-verify is set: nothing verifies the certificate", "cluster" if kind == "cluster" else kind)
            )
            continue
        sans, why = probe(host, port, ca_data, timeout)
        fkind = "cluster" if kind == "cluster" else "node"
        if sans is None:
            out.append(Finding(Status.FAIL, subject, why, fkind, hint="check that the API server listens there and that the kubeconfig's CA is the cluster's"))
        elif covers(sans, host):
            out.append(Finding(Status.PASS, subject, f"the certificate at {where} covers {host}", fkind))
        else:
            names = ", ".join(v for _, v in sans) or "no subjectAltNames"
            out.append(
                Finding(
                    Status.FAIL,
                    subject,
                    f"the certificate at {where} does not cover {host} (it has {names})",
                    fkind,
                    hint=f"add `--tls-san {host}` to the K3s server and restart it (K3s reissues the certificate)",
                )
            )
    return out
