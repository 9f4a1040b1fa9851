"""Kubernetes ``Status`` objects and the exception that carries one."""

from __future__ import annotations

from typing import Any

# HTTP code -> the ``reason`` the real apiserver puts in its Status.
REASONS: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def status(
    code: int,
    message: str,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A failure ``Status`` exactly shaped like the apiserver's."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason if reason is not None else REASONS.get(code, ""),
        "code": code,
    }
    if details:
        body["details"] = details
    return body


def success_status(details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    if details:
        body["details"] = details
    return body


def _qualified(group: str, resource: str) -> str:
    return f"{resource}.{group}" if group else resource


class StatusError(Exception):
    """An API error; the server turns it into a Status response with ``code``."""

    def __init__(self, code: int, message: str, reason: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.status = status(code, message, reason, details)

    @classmethod
    def not_found(cls, group: str, resource: str, name: str) -> StatusError:
        return cls(
            404,
            f'{_qualified(group, resource)} "{name}" not found',
            details={"name": name, "group": group, "kind": resource} if group else {"name": name, "kind": resource},
        )

    @classmethod
    def already_exists(cls, group: str, resource: str, name: str) -> StatusError:
        details = {"name": name, "kind": resource}
        if group:
            details["group"] = group
        return cls(409, f'{_qualified(group, resource)} "{name}" already exists', "AlreadyExists", details)

    @classmethod
    def conflict(cls, group: str, resource: str, name: str) -> StatusError:
        details = {"name": name, "kind": resource}
        if group:
            details["group"] = group
        return cls(
            409,
            f'Operation cannot be fulfilled on {_qualified(group, resource)} "{name}": '
            "the object has been modified; please apply your changes to the latest version and try again",
            "Conflict",
            details,
        )

    @classmethod
    def bad_request(cls, message: str) -> StatusError:
        return cls(400, message)

    @classmethod
    def invalid(cls, kind: str, name: str, message: str) -> StatusError:
        return cls(422, f'{kind} "{name}" is invalid: {message}', details={"name": name, "kind": kind})

    @classmethod
    def gone(cls, message: str) -> StatusError:
        return cls(410, message, "Expired")
