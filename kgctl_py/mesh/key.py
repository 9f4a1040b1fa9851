"""WireGuard keys: 32 bytes, written as standard base64."""

from __future__ import annotations

import base64
import binascii

KEY_LEN = 32
ZERO_KEY = bytes(KEY_LEN)


def parse_key(text: object) -> bytes | None:
    """wgtypes' ``ParseKey``; ``None`` for anything that is not 32 bytes of base64.

    Go's decoder skips CR and LF, so we do too.
    """
    if not isinstance(text, str) or not text.isascii():
        return None
    cleaned = text.replace("\r", "").replace("\n", "")
    try:
        raw = base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == KEY_LEN else None


def key_str(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")
