"""Decoding untrusted JSON and YAML into plain objects of bounded nesting.

Every reader (snapshots, API answers) decodes here, so that no consumer,
recursive or not, ever meets a document nested deep enough to exhaust
Python's stack: Kubernetes objects nest about 15 levels; we allow MAX_DEPTH.
"""

from __future__ import annotations

import json
from typing import Any

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


def loads_json(data: str | bytes) -> Any:
    """``json.loads``, bounded; raises ValueError (TooDeep included) on bad input."""
    try:
        doc = json.loads(data)
    except RecursionError:
        raise TooDeep() from None
    return check_depth(doc)
