"""Where doctor's documents go besides stdout: report files, and the document
a script still gets when the run could not start."""

from __future__ import annotations

import json
import os
import stat

from kgctl_py.errors import CliError, ExitCode


def check_writable(path: str) -> str:
    """The real path a report will be written to; refuses before a long run rather than after it.

    The same rules as every other output file (``kgctl_py.outfile``): a regular
    file, a new path, a FIFO or a character device; never a directory or other
    special file, and the directory must exist.
    """
    target = os.path.realpath(path)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as err:
        raise CliError(f"cannot write {path}: {err.strerror}", ExitCode.USAGE) from None
    if st is not None and not (stat.S_ISREG(st.st_mode) or stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode)):
        raise CliError(f"cannot write {path}: it is a directory or special file", ExitCode.USAGE)
    directory = os.path.dirname(target) or "."
    if not os.path.isdir(directory):
        raise CliError(f"cannot write {path}: directory {os.path.dirname(path) or '.'} does not exist", ExitCode.USAGE)
    return target


def write_file(path: str, text: str) -> None:
    """Write a report by the project's output-file rules (``kgctl_py.outfile``)."""
    from kgctl_py.outfile import write_output

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
