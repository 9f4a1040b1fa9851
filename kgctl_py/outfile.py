"""Every file a command writes goes through here, so that no path is replaced by what it is not.

* ``-`` is stdout.
* A regular file, or a path that does not exist yet, is written atomically: a
  temporary file in the same directory, renamed over the target, with the
  target's mode (and owner, when we may) kept.
* A symlink is followed: its target is what gets written (atomically).
* A FIFO or a character device (``/dev/stdout``, ``/dev/null``, a tty) is
  written straight into; renaming over it would replace the device.
* Anything else (a directory, a block device, a socket) is refused.

Errors are one line: a path that cannot be written to is a usage error (exit
2); a write that fails on a good path (disk full, I/O error) exits 1, as
coreutils do.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile

from kgctl_py.errors import CliError, ExitCode

# The path was fine but the write did not go through.
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EIO, errno.EFBIG, errno.EDQUOT, errno.EBADF})


def write_error(what: str, where: str, err: OSError) -> CliError:
    code = ExitCode.FAILURE if err.errno in WRITE_ERRNOS else ExitCode.USAGE
    return CliError(f"cannot write {what} {where}: {err.strerror or err}", code)


def write_stdout(data: bytes, what: str = "output") -> None:
    """``data`` to stdout; EPIPE is left to the caller (a closed pipe is quiet, see ``cli.main``)."""
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as err:
        raise write_error(what, "to stdout", err) from None


def write_output(path: str, data: bytes, what: str, *, private: bool = False) -> None:
    """Write ``data`` to ``path`` by the rules above.

    ``private`` (a key): the file gets mode 0600, is never printed and never
    replaces an existing file; only a new regular file is written.
    """
    if not path:  # else the directory it resolves to is named only by "Is a directory"
        raise CliError(f"cannot write {what}: the path is empty; give a file or '-'", ExitCode.USAGE)
    if path == "-":
        if private:
            raise CliError(f"cannot write {what} to stdout: it is secret; give a file path", ExitCode.USAGE)
        write_stdout(data, what)
        return
    try:
        # stat follows symlinks, also /dev/stdout's magic link to a pipe that realpath cannot name.
        st: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as err:  # a symlink loop, a path through a file, EACCES
        raise write_error(what, path, err) from None
    target = path
    if st is None or stat.S_ISREG(st.st_mode):
        target = os.path.realpath(path)  # a (dangling) symlink: write its target, keep the link
    if st is not None and private:
        raise CliError(f"cannot write {what} {path}: it exists; it is read, never replaced", ExitCode.USAGE)
    if st is not None and stat.S_ISREG(st.st_mode) and not os.access(target, os.W_OK):
        # The rename needs only the directory: without this a read-only file would be replaced, where `>` fails.
        raise write_error(what, path, PermissionError(errno.EACCES, os.strerror(errno.EACCES)))
    if st is None or stat.S_ISREG(st.st_mode):
        _replace(target, data, what, path, st, private)
    elif stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode):
        _write_into(target, data, what, path)
    else:
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "a special file"
        raise CliError(f"cannot write {what} {path}: it is {kind}; give a regular file, a FIFO, a character device or '-'", ExitCode.USAGE)


def refuse_special(path: str, what: str) -> None:
    """For a file that is read before it is written (a key): only a regular file or nothing."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as err:
        raise write_error(what, path, err) from None
    if not stat.S_ISREG(st.st_mode):
        raise CliError(f"cannot use {what} {path}: it is not a regular file", ExitCode.USAGE)


def _replace(target: str, data: bytes, what: str, path: str, st: os.stat_result | None, private: bool) -> None:
    directory = os.path.dirname(target) or "."
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(target)}.", suffix=".tmp")
    except OSError as err:
        raise write_error(what, path, err) from None
    try:
        with os.fdopen(fd, "wb") as f:
            if private:
                mode = 0o600
            elif st is not None:
                mode = stat.S_IMODE(st.st_mode)
                try:
                    os.fchown(f.fileno(), st.st_uid, st.st_gid)
                except OSError:
                    pass  # only root may give a file away; the mode is what matters
            else:
                umask = os.umask(0)
                os.umask(umask)
                mode = 0o666 & ~umask
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if private:
            # link(2) fails if the key appeared meanwhile: never replace a key.
            os.link(tmp, target)
        else:
            os.replace(tmp, target)
    except OSError as err:
        raise write_error(what, path, err) from None
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _write_into(target: str, data: bytes, what: str, path: str) -> None:
    try:
        fd = os.open(target, os.O_WRONLY | os.O_NOCTTY)
    except OSError as err:
        raise write_error(what, path, err) from None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except BrokenPipeError:
        raise CliError(f"cannot write {what} {path}: its reader went away", ExitCode.FAILURE) from None
    except OSError as err:
        raise write_error(what, path, err) from None
    finally:
        os.close(fd)
