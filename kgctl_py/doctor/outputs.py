"""Where doctor's documents go besides stdout: report files, and the document
a script still gets when the run could not start."""

from __future__ import annotations

import json
import os
import stat
import tempfile

from kgctl_py.errors import CliError, ExitCode


def check_writable(path: str) -> str:
    """The real path ``write_file`` would replace; refuses before a long run rather than after it."""
    target = os.path.realpath(path)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as err:
        raise CliError(f"cannot write {path}: {err.strerror}", ExitCode.USAGE) from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise CliError(f"cannot write {path}: not a regular file (doctor writes reports only to regular files)", ExitCode.USAGE)
    directory = os.path.dirname(target) or "."
    if not os.path.isdir(directory):
        raise CliError(f"cannot write {path}: directory {os.path.dirname(path) or '.'} does not exist", ExitCode.USAGE)
    return target


def write_file(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a temporary file in the same
    directory, then a rename), following a symlink to its target, and refusing
    to replace anything but a regular file.  The lead swaps in kgctl_py/outfile.py."""
    target = check_writable(path)
    directory = os.path.dirname(target) or "."
    try:
        st: os.stat_result | None = os.stat(target)
    except OSError:
        st = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".kgctl-py-", dir=directory)
    except OSError as err:
        raise CliError(f"cannot write {path}: {err.strerror}", ExitCode.USAGE) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, (st.st_mode & 0o777) if st is not None else 0o644)
        os.replace(tmp, target)
    except OSError as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise CliError(f"cannot write {path}: {err.strerror}", ExitCode.FAILURE) from None


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
