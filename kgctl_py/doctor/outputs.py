"""Where doctor's documents go besides stdout: report files, and the document
a script still gets when the run could not start."""

from __future__ import annotations

import errno
import json
import os
import stat

from kgctl_py.errors import CliError, ExitCode


def check_writable(path: str) -> str:
    """The real path a report will be written to; refuses before a long run rather than after it.

    A report is a file to attach to a ticket: only a regular file or a new path
    in an existing directory (a FIFO would block the run at its very end).
    """
    if not path:
        raise CliError("cannot write a report to an empty path; give a file", ExitCode.USAGE)
    target = os.path.realpath(path)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as err:
        raise CliError(f"cannot write {path}: {err.strerror}", ExitCode.USAGE) from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise CliError(f"cannot write {path}: not a regular file (doctor writes reports only to regular files)", ExitCode.USAGE)
    if st is not None and not os.access(target, os.W_OK):
        raise CliError(f"cannot write {path}: {os.strerror(errno.EACCES)}", ExitCode.USAGE)  # a read-only file is not replaced
    directory = os.path.dirname(target) or "."
    if not os.path.isdir(directory):
        raise CliError(f"cannot write {path}: directory {os.path.dirname(path) or '.'} does not exist", ExitCode.USAGE)
    return target


def write_file(path: str, text: str) -> None:
    """Write a report atomically by the project's output-file rules (``kgctl_py.outfile``)."""
    from kgctl_py.outfile import write_output

    check_writable(path)
    write_output(path, text.encode("utf-8"), "report")


def error_json(message: str, code: int) -> str:
    """A DoctorReport that carries why no check ran, so scripts parse every outcome."""
    from kgctl_py.doctor.render import SCHEMA_VERSION

    doc = {
        "apiVersion": SCHEMA_VERSION,
        "kind": "DoctorReport",
        "status": "error",
        "error": {"message": message, "exitCode": code},
        "summary": {"pass": 0, "warn": 0, "fail": 0, "skip": 0, "unknown": 0},
        "categories": [],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
