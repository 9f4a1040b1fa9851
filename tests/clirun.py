"""Run the real kgctl-py entry point in-process and capture what it prints.

The compatibility suite runs thousands of cases; starting Python for each one
would dominate the run, so this calls ``kgctl_py.cli.main`` directly with
real byte streams (the code path is the one the console script runs).
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass


@dataclass
class Result:
    stdout: bytes
    stderr: bytes
    code: int


def run(args: list[str], stdin: bytes = b"") -> Result:
    from kgctl_py.cli import main

    out, err = io.BytesIO(), io.BytesIO()
    # Keep the wrappers referenced: a collected wrapper closes its buffer.
    fake_in = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    fake_out = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    fake_err = io.TextIOWrapper(err, encoding="utf-8", write_through=True)
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = fake_in, fake_out, fake_err
    try:
        code = main(list(args))
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        fake_out.flush()
        fake_err.flush()
        sys.stdin, sys.stdout, sys.stderr = saved
    result = Result(out.getvalue(), err.getvalue(), code)
    for wrapper in (fake_in, fake_out, fake_err):
        wrapper.detach()
    return result
