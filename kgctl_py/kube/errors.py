"""The kube layer's errors: what failed, on which resource, and the HTTP status.

They carry no exit status of their own: ``kgctl_py.errors.exit_code_for``
is the one mapping from an error's kind to an exit code (and flag hint).
"""

from __future__ import annotations

from kgctl_py.errors import CliError, exit_code_for, flag_hint


class ApiError(CliError):
    """A failed API call; ``status`` is the HTTP status, 0 when none came."""

    kind = "error"

    def __init__(self, message: str, status: int = 0) -> None:
        hint = flag_hint(self.kind)
        super().__init__(f"{message}; {hint}" if hint else message)
        self.code = exit_code_for(self)
        self.status = status


class Unreachable(ApiError):
    """No HTTP answer: refused, reset, DNS, TLS, not HTTP."""

    kind = "unreachable"


class Timeout(Unreachable):
    """No (whole) answer within the request timeout."""

    kind = "timeout"


class Denied(ApiError):
    """401 or 403."""

    kind = "denied"


class NotFound(ApiError):
    kind = "not-found"


class Conflict(ApiError):
    kind = "conflict"


class ServerError(ApiError):
    """5xx, after the retries."""

    kind = "server-error"


class BadResponse(ApiError):
    """An answer that is not the JSON or the list we asked for."""

    kind = "bad-response"


def for_status(status: int, message: str) -> ApiError:
    """The typed error for an HTTP error status."""
    if status in (401, 403):
        return Denied(message, status)
    if status == 404:
        return NotFound(message, status)
    if status == 409:
        return Conflict(message, status)
    if status >= 500:
        return ServerError(message, status)
    return ApiError(message, status)
