"""One ``Environment`` for every command: the streams, whether they are terminals,
and whether to colour, so tests choose instead of patching globals (as httpie's
``context.py`` does).
"""

from __future__ import annotations

import codecs
import errno
import io
import os
import sys
from collections.abc import Mapping
from typing import IO, TypeVar

from kgctl_py.record import field, fields, record

COLOR_CHOICES = ("auto", "always", "never")
E = TypeVar("E", bound="Environment")


@record
class Environment:
    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    colour: bool = False
    progress: bool = False
    stdin: IO[str] = field(default_factory=lambda: sys.stdin)
    stdout_isatty: bool = False
    stderr_isatty: bool = False
    stdin_isatty: bool = False

    @classmethod
    def detect(
        cls: type[E],
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
        environ: Mapping[str, str] | None = None,
        *,
        stdin: IO[str] | None = None,
        color: str = "auto",
    ) -> E:
        """Colour only on a terminal, never with NO_COLOR set (no-color.org) or TERM=dumb, unless
        ``color`` says always or never; progress only on a terminal that is not dumb."""
        out, err, inp = stdout or sys.stdout, stderr or sys.stderr, stdin or sys.stdin
        env = os.environ if environ is None else environ
        dumb = env.get("TERM", "") == "dumb"
        out_tty, err_tty = isatty(out), isatty(err)
        if color == "always":
            colour = True
        elif color == "never":
            colour = False
        else:
            colour = out_tty and not dumb and env.get("NO_COLOR", "") == ""
        return cls(out, err, colour, err_tty and not dumb, inp, out_tty, err_tty, isatty(inp))

    @classmethod
    def of(cls: type[E], other: Environment) -> E:
        """The same streams and choices, seen through a subclass (e.g. doctor's renderer)."""
        return cls(**{name: getattr(other, name) for name in fields(other)})

    def style(self, sgr: str, text: str) -> str:
        """``text`` in the ANSI style ``sgr`` (e.g. "31" for red) when colouring."""
        return f"\x1b[{sgr}m{text}\x1b[0m" if self.colour else text

    def write(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    def write_bytes(self, data: bytes) -> None:
        buffer = getattr(self.stdout, "buffer", None)
        if buffer is None:
            self.stdout.write(data.decode("utf-8", "replace"))
        else:
            buffer.write(data)
        self.stdout.flush()

    def show_progress(self, message: str) -> None:
        if self.progress:
            self.stderr.write(f"\r\x1b[2K{message}")
            self.stderr.flush()

    def end_progress(self) -> None:
        if self.progress:
            self.stderr.write("\r\x1b[2K")
            self.stderr.flush()


def visible(text: str) -> str:
    """Text for a terminal to show, not obey: ESC sequences, line breaks and U+202E
    (from an annotation, a pod's output) escaped as Go's %q would."""
    if text.isprintable():
        return text
    from kgctl_py.mesh.cluster import go_quote

    return go_quote(text)[1:-1]


def isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class _Closed:
    """Writes to a descriptor closed before the run (``kgctl-py >&-``) fail as
    they do for coreutils, with EBADF, where Python would give us None."""

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))


class ClosedTextStream(_Closed, io.TextIOBase):
    def __init__(self) -> None:
        self.buffer = ClosedBinaryStream()


class ClosedBinaryStream(_Closed, io.RawIOBase):
    pass


def open_standard_streams() -> None:
    """Give a run whose stdout or stderr was closed streams to fail on (stdout)
    or to drop into (stderr: there is nowhere left to say anything)."""
    if sys.stdout is None:
        sys.stdout = ClosedTextStream()
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115  (the process's own stderr, for its life)
    for stream in (sys.stdout, sys.stderr):
        # kgctl writes UTF-8 whatever the locale; a stream in ASCII or Latin-1
        # (PYTHONIOENCODING, an old locale) would fail on a name or a doctor glyph.
        encoding = getattr(stream, "encoding", None)
        if isinstance(encoding, str) and codecs.lookup(encoding).name != "utf-8" and isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(encoding="utf-8")
