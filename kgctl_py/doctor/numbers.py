"""Numbers in a pod's output, which is not trusted."""

from __future__ import annotations

import math

# More than any port, MTU, counter or timestamp a node prints (2**64 has 20 digits).
MAX_DIGITS = 20


def decimal(text: str) -> int | None:
    """ASCII digits as an int, else None: "²".isdigit() holds and int() then fails,
    and int() refuses thousands of digits with a ValueError."""
    text = text.strip()
    if not text or len(text) > MAX_DIGITS or not text.isascii() or not text.isdigit():
        return None
    return int(text)


def finite(text: str) -> float | None:
    """A float that is a number ("1.2.3" is not, and 400 nines are inf, which JSON cannot carry)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
