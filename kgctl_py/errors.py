"""Exit codes, the one error type the CLI turns into a one-line message, and the one
mapping from an error to its exit code (like httpie's ``status.py``)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit statuses of every kgctl-py command (documented in the README)."""

    OK = 0
    # The command ran and found a problem: kgctl's own errors about the mesh
    # (no ready nodes, unknown node, subnet exhausted), or a failed doctor check.
    FAILURE = 1
    # Bad flags or arguments, or an unreadable snapshot or kubeconfig.
    USAGE = 2
    # The API server could not be reached: refused, DNS, TLS or timeout.
    API_UNREACHABLE = 3
    # The API server refused us: 401 or 403.
    API_DENIED = 4
    # The API server answered with an error: 404 (e.g. the Peer CRD), 5xx.
    API_ERROR = 5
    # Interrupted by SIGINT or SIGTERM.
    INTERRUPTED = 130


class CliError(Exception):
    """An error reported as ``kgctl-py: <message>`` with ``code``."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# The kube layer's error kinds (kgctl_py.kube.errors) and their exit codes.
API_EXIT_CODES = {
    "unreachable": ExitCode.API_UNREACHABLE,
    "timeout": ExitCode.API_UNREACHABLE,
    "denied": ExitCode.API_DENIED,
    "not-found": ExitCode.API_ERROR,
    "conflict": ExitCode.API_ERROR,
    "server-error": ExitCode.API_ERROR,
    "bad-response": ExitCode.API_ERROR,
    "error": ExitCode.API_ERROR,
}
# What the user can change with a flag, appended to the message.
FLAG_HINTS = {"timeout": "check the server or raise --request-timeout"}


def exit_code_for(err: BaseException) -> ExitCode:
    """The exit status for an error that ends a command."""
    kind = getattr(err, "kind", None)
    if isinstance(kind, str) and kind in API_EXIT_CODES:
        return API_EXIT_CODES[kind]
    if isinstance(err, CliError):
        return err.code
    return ExitCode.FAILURE


def flag_hint(kind: str) -> str:
    return FLAG_HINTS.get(kind, "")
