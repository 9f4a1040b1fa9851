"""A reader for the plain YAML that kubeconfigs are written in, without PyYAML.

Importing PyYAML costs about as much as the rest of a ``graph`` run's parsing,
and kubeconfigs (kubectl's, k3s's, kind's, JSON ones) use a small, regular
part of YAML: block mappings and sequences, plain and simply quoted strings,
booleans, nulls, ``{}`` and ``[]``.  ``load`` reads exactly that part and
raises ``Unsupported`` for anything else, so the caller hands the text to
PyYAML: whatever ``load`` returns is what PyYAML's safe loader returns.
Anything that might resolve to a number, a date or a merge key is left to
PyYAML, so strings here are always strings there.
"""

from __future__ import annotations

import json
import re
from typing import Any


class Unsupported(Exception):
    """The text uses YAML this reader leaves to PyYAML."""


_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_BOOLS = {
    **dict.fromkeys(("true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"), True),
    **dict.fromkeys(("false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"), False),
}
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/]*")
# The start of a plain scalar that is certainly a string: not an indicator,
# digit, sign or dot (numbers, .inf), nor < or = (merge, value); a dash only
# before what no number has there (--flag).
_PLAIN_START = re.compile(r"[A-Za-z_/$^()~\\]|-[A-Za-z_/-]")
_Line = tuple[int, str]


def load(text: str) -> Any:
    """The document, or ``Unsupported``."""
    if "\t" in text or "\r" in text or "\ufeff" in text:
        raise Unsupported("tabs, carriage returns or a byte-order mark")
    if text.lstrip(" \n").startswith("{"):
        return _json(text)
    lines: list[_Line] = []
    for raw in text.split("\n"):
        content = raw.strip(" ")
        if not content or content.startswith("#"):
            continue
        if content == "---" and not lines:
            continue
        lines.append((len(raw) - len(raw.lstrip(" ")), content.rstrip(" ")))
    if not lines:
        return None
    if lines[0][0] != 0:
        raise Unsupported("an indented first line")
    value, end = _block(lines, 0, 0)
    if end != len(lines):
        raise Unsupported("text after the document")
    return value


def _no_number(text: str) -> Any:
    raise Unsupported("a JSON number (YAML 1.1 reads some differently)")


def _json(text: str) -> Any:
    if "\\" in text:
        raise Unsupported("JSON escapes")
    try:
        return json.loads(text, parse_int=_no_number, parse_float=_no_number, parse_constant=_no_number)
    except ValueError:
        raise Unsupported("not strict JSON") from None


def _is_item(content: str) -> bool:
    return content == "-" or content.startswith("- ")


def _block(lines: list[_Line], i: int, indent: int) -> tuple[Any, int]:
    if _is_item(lines[i][1]):
        return _sequence(lines, i, indent)
    return _mapping(lines, i, indent)


def _nested(lines: list[_Line], i: int, indent: int, same_level_sequence: bool) -> tuple[Any, int]:
    """The block value of a ``key:`` or ``-`` line at ``indent`` whose text ended there."""
    if i < len(lines):
        nxt_indent, nxt = lines[i]
        if nxt_indent > indent:
            return _block(lines, i, nxt_indent)
        if same_level_sequence and nxt_indent == indent and _is_item(nxt):
            return _sequence(lines, i, indent)
    return None, i


def _mapping(lines: list[_Line], i: int, indent: int) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    while i < len(lines):
        line_indent, content = lines[i]
        if line_indent < indent:
            break
        if line_indent > indent or _is_item(content):
            raise Unsupported("a continued scalar or a misplaced item")
        key, sep, rest = content.partition(":")
        if not _KEY.fullmatch(key) or key in _BOOLS or key in _NULLS or (sep and rest and not rest.startswith(" ")) or not sep:
            raise Unsupported("a key this reader does not know how to resolve")
        rest = rest.strip(" ")
        i += 1
        if rest:
            out[key] = _scalar(rest)
        else:
            out[key], i = _nested(lines, i, indent, same_level_sequence=True)
    return out, i


def _sequence(lines: list[_Line], i: int, indent: int) -> tuple[list[Any], int]:
    out: list[Any] = []
    while i < len(lines):
        line_indent, content = lines[i]
        if line_indent < indent:
            break
        if line_indent > indent:
            raise Unsupported("a misplaced line in a sequence")
        if not _is_item(content):
            break  # the next key of the mapping this sequence is a value of
        rest = content[1:].lstrip(" ")
        if not rest:
            value, i = _nested(lines, i + 1, indent, same_level_sequence=False)
            out.append(value)
            continue
        if _is_item(rest):
            raise Unsupported("a sequence in a sequence's first line")
        key, sep, after = rest.partition(":")
        if sep and (not after or after.startswith(" ")) and not rest.startswith(("'", '"', "{", "[")):
            # "- key: value": a mapping whose keys line up with this first key.
            lines[i] = (indent + len(content) - len(rest), rest)
            value, i = _mapping(lines, i, lines[i][0])
        else:
            value, i = _scalar(rest), i + 1
        out.append(value)
    return out, i


def _scalar(text: str) -> Any:
    if text in ("{}", "[]"):
        return {} if text == "{}" else []
    if text[0] == '"':
        body = text[1:-1]
        if len(text) < 2 or text[-1] != '"' or '"' in body or "\\" in body:
            raise Unsupported("a double-quoted string with escapes")
        return body
    if text[0] == "'":
        body = text[1:-1]
        if len(text) < 2 or text[-1] != "'" or "'" in body.replace("''", ""):
            raise Unsupported("an odd single-quoted string")
        return body.replace("''", "'")
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if not _PLAIN_START.match(text) or ": " in text or " #" in text or text.endswith(":"):
        raise Unsupported("a plain scalar that may not be a string")
    return text
