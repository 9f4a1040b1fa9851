"""Decoding untrusted JSON and YAML (snapshots, API answers) into plain objects.

Every reader decodes here, so no consumer meets a document nested deep enough
to exhaust Python's stack (Kubernetes objects nest about 15 levels; we allow
MAX_DEPTH), nor a lone surrogate (valid in JSON, not printable as UTF-8).
"""

from __future__ import annotations

import json
import re
from typing import Any

# A \uD800-\uDFFF escape: JSON and YAML decode it to a lone surrogate, which
# cannot be printed as UTF-8.  Go's decoder turns those into U+FFFD; so do we.
_SURROGATE_ESCAPE = re.compile(rb"\\[uU](?:0000)?[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def replace_lone_surrogates(obj: Any, raw: bytes) -> Any:
    """``obj`` decoded from ``raw``, with lone surrogates replaced (cheap when ``raw`` has none)."""
    if not _SURROGATE_ESCAPE.search(raw):
        return obj
    return _replace(obj)


def without_lone_surrogates(obj: Any) -> Any:
    """A copy where lone surrogates (valid in JSON, not in UTF-8) become U+FFFD."""
    return _replace(obj)


def _replace(obj: Any) -> Any:
    if isinstance(obj, str):
        return _LONE_SURROGATE.sub("\ufffd", obj)
    if isinstance(obj, list):
        return [_replace(v) for v in obj]
    if isinstance(obj, dict):
        return {_replace(k): _replace(v) for k, v in obj.items()}
    return obj


MAX_DEPTH = 100


class TooDeep(ValueError):
    """The document nests deeper than MAX_DEPTH."""

    def __init__(self) -> None:
        super().__init__(f"it nests deeper than {MAX_DEPTH} levels")


def check_depth(doc: Any, limit: int = MAX_DEPTH) -> Any:
    """``doc``, or TooDeep; iterative, one level at a time, so it cannot overflow itself."""
    level = [doc] if isinstance(doc, (dict, list)) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            raise TooDeep()
        below: list[Any] = []
        for value in level:
            for child in value.values() if isinstance(value, dict) else value:
                if isinstance(child, (dict, list)):
                    below.append(child)
        level = below
    return doc


# int()'s own bound on decimal text (Python's default), which json and PyYAML meet.
MAX_DIGITS = 4300
NUMBER_TOO_LONG = f"a number has more than {MAX_DIGITS} digits"


def value_problem(err: ValueError, yaml: bool = False) -> str:
    """A decoder's ValueError in the user's words: ``int()``'s for thousands of digits,
    and (``yaml``) PyYAML's constructors' for an unquoted date that does not exist."""
    if "integer string conversion" in str(err) or str(err) == NUMBER_TOO_LONG:
        return NUMBER_TOO_LONG
    return f"a date that does not exist ({err})" if yaml else str(err)


def loads_json(data: str | bytes) -> Any:
    """``json.loads``, bounded; raises ValueError (TooDeep included) on bad input."""
    try:
        doc = json.loads(data)
    except RecursionError:
        raise TooDeep() from None
    return check_depth(doc)
