"""``kubectl-kilo``: kgctl-py as a kubectl plugin (``kubectl kilo graph``, ``kubectl kilo doctor``).

kubectl runs the first ``kubectl-<name>`` on PATH with the words after ``kilo``
and its own environment, so KUBECONFIG works as is, and ``--kubeconfig`` and
``--context`` are kgctl-py's own global flags. kubectl writes
``--request-timeout`` as a duration ("30s", "1m"); we accept that spelling too.
"""

from __future__ import annotations

import sys

from kgctl_py.mesh.duration import parse_duration

PROG_NAME = "kubectl kilo"


def kubectl_duration(text: str) -> str | None:
    """kubectl's ``--request-timeout`` value in seconds ("1m30s" -> "90"), other text unchanged.

    kubectl's 0 means "no timeout"; ours stay bounded, so None: keep the default.
    """
    seconds = parse_duration(text)
    if seconds is None:
        # kubectl also takes a bare number of seconds, which is ours already.
        return None if text.strip() in ("0", "0.0") else text
    return f"{seconds:g}" if seconds else None


def translate_args(argv: list[str]) -> list[str]:
    """kubectl's spelling of shared flags turned into kgctl-py's."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            # Everything after -- is an argument, never a flag.
            return out + argv[i:]
        if arg == "--request-timeout" and i + 1 < len(argv):
            value = kubectl_duration(argv[i + 1])
            out += ["--request-timeout", value] if value is not None else []
            i += 2
            continue
        if arg.startswith("--request-timeout="):
            value = kubectl_duration(arg.partition("=")[2])
            out += ["--request-timeout=" + value] if value is not None else []
        else:
            out.append(arg)
        i += 1
    return out


def main() -> int:
    from kgctl_py.cli import main as cli_main

    return cli_main(translate_args(sys.argv[1:]), prog_name=PROG_NAME)


if __name__ == "__main__":
    sys.exit(main())
