"""Label and field selectors with the apiserver's syntax."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .errors import StatusError

Predicate = Callable[[dict[str, Any]], bool]

# Fields the real apiserver accepts in fieldSelector (for the kinds served here);
# anything else is a 400, as there.
FIELDS = (
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.unschedulable",
    "status.phase",
    "status.podIP",
)

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_SET_RE = re.compile(rf"^\s*(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<vals>[^)]*)\)\s*$")
_CMP_RE = re.compile(rf"^\s*(?P<key>{_KEY})\s*(?P<op>==|!=|=|>|<)\s*(?P<val>[^=!<>\s]*)\s*$")
_EXISTS_RE = re.compile(rf"^\s*(?P<neg>!?)\s*(?P<key>{_KEY})\s*$")


def _split_terms(selector: str) -> list[str]:
    """Split on commas that are not inside ``(...)`` sets."""
    terms: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    terms.append("".join(cur))
    return [t for t in terms if t.strip()]


def _label_term(term: str) -> Callable[[Mapping[str, str]], bool]:
    m = _SET_RE.match(term)
    if m:
        key, vals = m["key"], {v.strip() for v in m["vals"].split(",") if v.strip()}
        if m["op"] == "in":
            return lambda labels: labels.get(key) in vals
        return lambda labels: labels.get(key) not in vals
    m = _CMP_RE.match(term)
    if m:
        key, op, val = m["key"], m["op"], m["val"]
        if op in ("=", "=="):
            return lambda labels: labels.get(key) == val
        if op == "!=":
            return lambda labels: labels.get(key) != val
        try:
            bound = int(val)
        except ValueError:
            raise StatusError.bad_request(f"unable to parse requirement: {term!r}: value must be an integer") from None

        def compare(labels: Mapping[str, str]) -> bool:
            try:
                have = int(labels.get(key, ""))
            except ValueError:
                return False
            return have > bound if op == ">" else have < bound

        return compare
    m = _EXISTS_RE.match(term)
    if m:
        key, neg = m["key"], bool(m["neg"])
        return lambda labels: (key in labels) != neg
    raise StatusError.bad_request(f"unable to parse requirement: invalid label selector term {term!r}")


def parse_label_selector(selector: str | None) -> Predicate:
    if not selector:
        return lambda obj: True
    terms = [_label_term(t) for t in _split_terms(selector)]

    def match(obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(t(labels) for t in terms)

    return match


def field_value(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    if cur is None:
        return "false" if path == "spec.unschedulable" else ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def parse_field_selector(selector: str | None) -> Predicate:
    if not selector:
        return lambda obj: True
    checks: list[tuple[str, bool, str]] = []
    for term in _split_terms(selector):
        m = _CMP_RE.match(term)
        if not m or m["op"] in ("<", ">"):
            raise StatusError.bad_request(f"invalid selector: '{selector}'; can't understand '{term.strip()}'")
        if m["key"] not in FIELDS:
            raise StatusError.bad_request(f"field label not supported: {m['key']}")
        checks.append((m["key"], m["op"] == "!=", m["val"]))

    def match(obj: dict[str, Any]) -> bool:
        return all((field_value(obj, key) == val) != neg for key, neg, val in checks)

    return match


def parse(label_selector: str | None, field_selector: str | None) -> Predicate:
    labels, fields = parse_label_selector(label_selector), parse_field_selector(field_selector)
    return lambda obj: labels(obj) and fields(obj)


def match_label_selector_object(selector: dict[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A ``metav1.LabelSelector`` (matchLabels/matchExpressions), as in DaemonSet.spec.selector."""
    if not selector:
        return False  # an empty selector on a workload matches nothing
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), set(expr.get("values") or [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True
