"""JSON that Python can print: lone surrogates (valid in JSON, not in UTF-8) replaced.

Shared by the client and the snapshot reader, which both decode JSON from outside.
"""

from __future__ import annotations

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
