"""Just enough of Kubernetes' protobuf encoding to read a SelfSubjectAccessReview.

kubectl's typed clients (``kubectl auth can-i``) send that request as protobuf, and
client-go does not fall back to JSON when refused; answers still go out as JSON,
which the client accepts. Other protobuf bodies are refused with 415.
"""

from __future__ import annotations

from typing import Any

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(data):
            raise ValueError("truncated varint")
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def fields(data: bytes) -> dict[int, list[Any]]:
    """Wire-level fields: number -> values (ints for varints, bytes for length-delimited)."""
    out: dict[int, list[Any]] = {}
    i = 0
    while i < len(data):
        tag, i = _varint(data, i)
        number, wire = tag >> 3, tag & 7
        value: int | bytes
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 2:
            size, i = _varint(data, i)
            value, i = data[i : i + size], i + size
        elif wire == 1:
            value, i = data[i : i + 8], i + 8
        elif wire == 5:
            value, i = data[i : i + 4], i + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        out.setdefault(number, []).append(value)
    return out


def _str(f: dict[int, list[Any]], n: int) -> str:
    return f[n][-1].decode() if n in f else ""


def decode_ssar(body: bytes) -> dict[str, Any]:
    """A protobuf ``SelfSubjectAccessReview`` (in its ``runtime.Unknown`` envelope) as JSON-style dict."""
    if not body.startswith(MAGIC):
        raise ValueError("missing protobuf magic")
    unknown = fields(body[len(MAGIC) :])
    type_meta = fields(unknown[1][-1]) if 1 in unknown else {}
    if _str(type_meta, 2) != "SelfSubjectAccessReview":
        raise ValueError(f"unsupported protobuf kind {_str(type_meta, 2)!r}")
    review = fields(unknown[2][-1]) if 2 in unknown else {}
    spec_f = fields(review[2][-1]) if 2 in review else {}
    spec: dict[str, Any] = {}
    if 1 in spec_f:
        ra = fields(spec_f[1][-1])
        names = ("namespace", "verb", "group", "version", "resource", "subresource", "name")
        spec["resourceAttributes"] = {k: _str(ra, n) for n, k in enumerate(names, 1) if _str(ra, n)}
    if 2 in spec_f:
        nra = fields(spec_f[2][-1])
        spec["nonResourceAttributes"] = {"path": _str(nra, 1), "verb": _str(nra, 2)}
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": spec}
