"""Output paths a hostile (or unlucky) user gives: every command that writes a
file (``snapshot -o``, ``graph --output-file``, ``connect --private-key``)
writes through ``kgctl_py.outfile``; run as the real console script."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from kgctl_py.errors import CliError, ExitCode

FIXTURE = Path(__file__).resolve().parents[1] / "compat/cases/a-blog-6node/cluster.yaml"
EXE = shutil.which("kgctl-py", path=os.path.dirname(sys.executable)) or shutil.which("kgctl-py") or "kgctl-py"

# command -> argv before the output path
WRITERS = {
    "snapshot": ["snapshot", "-o"],
    "graph dot": ["graph", "--output-file"],
    # --style kgctl: circo lays kgctl's DOT out byte-stably; the styled picture (fdp) is not.
    "graph svg": ["graph", "-o", "svg", "--style", "kgctl", "--output-file"],
}


def kgctl(*args: str, stdout: int | None = subprocess.PIPE, pre: list[str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*(pre or []), EXE, "--snapshot", str(FIXTURE), *args], stdout=stdout, stderr=subprocess.PIPE, timeout=60, check=False)


def one_line(err: bytes) -> str:
    text = err.decode()
    assert "Traceback" not in text
    assert text.count("\n") == 1 and text.endswith("\n"), text
    return text


def expected_bytes(writer: str) -> bytes:
    proc = kgctl(*{"snapshot": ["snapshot"], "graph dot": ["graph"], "graph svg": ["graph", "-o", "svg", "--style", "kgctl"]}[writer])
    assert proc.returncode == 0
    return proc.stdout


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_symlink_is_followed_and_kept(tmp_path: Path, writer: str) -> None:
    target = tmp_path / "real.out"
    target.write_bytes(b"old")
    target.chmod(0o640)
    link = tmp_path / "link.out"
    link.symlink_to(target.name)
    proc = kgctl(*WRITERS[writer], str(link))
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and os.readlink(link) == target.name
    assert target.read_bytes() == expected_bytes(writer)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # the mode of the file it replaced
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_dangling_symlink_creates_its_target(tmp_path: Path, writer: str) -> None:
    link = tmp_path / "link.out"
    link.symlink_to("new.out")
    assert kgctl(*WRITERS[writer], str(link)).returncode == 0
    assert link.is_symlink() and (tmp_path / "new.out").read_bytes() == expected_bytes(writer)


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_fifo_is_written_into_not_replaced(tmp_path: Path, writer: str) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    proc = kgctl(*WRITERS[writer], str(fifo))
    reader.join(30)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert got == [expected_bytes(writer)]


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_dev_full_stays_a_device_and_fails_in_one_line(writer: str) -> None:
    before = os.stat("/dev/full")
    proc = kgctl(*WRITERS[writer], "/dev/full")
    assert proc.returncode == ExitCode.FAILURE
    assert one_line(proc.stderr) == "cannot write {} /dev/full: No space left on device\n".format("snapshot" if writer == "snapshot" else "graph")
    after = os.stat("/dev/full")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_character_devices_and_dash_are_written_straight(writer: str) -> None:
    assert kgctl(*WRITERS[writer], "/dev/null").returncode == 0
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    dash = kgctl(*WRITERS[writer], "-")
    assert dash.returncode == 0 and dash.stdout == expected_bytes(writer)
    # /dev/stdout is a magic link to a pipe here: written into, never resolved away.
    dev = kgctl(*WRITERS[writer], "/dev/stdout")
    assert dev.returncode == 0 and dev.stdout.startswith(expected_bytes(writer))


@pytest.mark.parametrize("writer", sorted(WRITERS))
@pytest.mark.parametrize("case", ["directory", "missing-dir", "through-a-file", "loop", "read-only-dir"])
def test_bad_paths_are_one_line_usage_errors(tmp_path: Path, writer: str, case: str, request: pytest.FixtureRequest) -> None:
    pre: list[str] = []
    if case == "directory":
        path = tmp_path
    elif case == "missing-dir":
        path = tmp_path / "missing" / "dir" / "x.out"
    elif case == "through-a-file":
        (tmp_path / "file").write_text("x")
        path = tmp_path / "file" / "x.out"
    elif case == "loop":
        (tmp_path / "a").symlink_to("b")
        (tmp_path / "b").symlink_to("a")
        path = tmp_path / "a"
    else:
        # EACCES: root ignores modes, so run as nobody.
        if shutil.which("setpriv") is None:
            pytest.fail("setpriv (util-linux) is needed for the EACCES case")
        # pytest's own parents of tmp_path are 0700: nobody could not even reach the directory.
        tmp_path = Path(tempfile.mkdtemp(dir="/tmp"))
        request.addfinalizer(lambda: shutil.rmtree(tmp_path, ignore_errors=True))
        tmp_path.chmod(0o755)
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o755)
        path = locked / "x.out"
        pre = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = kgctl(*WRITERS[writer], str(path), pre=pre)
    assert proc.returncode == ExitCode.USAGE, proc.stderr
    assert one_line(proc.stderr).startswith(f"cannot write {'snapshot' if writer == 'snapshot' else 'graph'} {path}: ")
    if case == "read-only-dir":
        assert proc.stderr.decode().endswith(": Permission denied\n") and list(locked.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("writer", [*sorted(WRITERS), "doctor --report", "doctor --junit-file"])
def test_a_read_only_file_is_not_replaced(writer: str) -> None:
    """The rename needs only a writable directory; `>` on a file mode 0444 fails, so must we."""
    import tempfile

    if shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is needed: root ignores modes, so run as nobody")
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    # Not under tmp_path: pytest makes its parents 0700, and nobody would fail at the stat.
    with tempfile.TemporaryDirectory(dir="/tmp") as where:
        directory = Path(where)
        directory.chmod(0o777)
        path = directory / "old.out"
        path.write_bytes(b"old")
        path.chmod(0o444)
        os.chown(path, 65534, 65534)
        assert subprocess.run([*nobody, "test", "-w", str(directory)]).returncode == 0
        argv = WRITERS[writer] if writer in WRITERS else ["doctor", "--static-only", "-q", writer.split()[1]]
        proc = kgctl(*argv, str(path), pre=nobody)
        assert proc.returncode == ExitCode.USAGE, proc.stderr
        what = {"snapshot": "snapshot ", "graph dot": "graph ", "graph svg": "graph "}.get(writer, "")
        assert one_line(proc.stderr) == f"cannot write {what}{path}: Permission denied\n"
        assert path.read_bytes() == b"old" and sorted(p.name for p in directory.iterdir()) == ["old.out"]


@pytest.mark.parametrize("writer", [*sorted(WRITERS), "doctor --report", "doctor --junit-file"])
def test_an_empty_path_is_refused_by_name(writer: str) -> None:
    argv = WRITERS[writer] if writer in WRITERS else ["doctor", "--static-only", "-q", writer.split()[1]]
    proc = kgctl(*argv, "")
    assert proc.returncode == ExitCode.USAGE, proc.stderr
    assert "empty" in one_line(proc.stderr) and "Is a directory" not in proc.stderr.decode()


def test_a_new_file_gets_the_umask_mode(tmp_path: Path) -> None:
    path = tmp_path / "new.yaml"
    proc = subprocess.run(["sh", "-c", f'umask 027 && exec "$0" --snapshot {FIXTURE} snapshot -o {path}', EXE], capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


@pytest.mark.parametrize("command", [["graph"], ["doctor", "--static-only"], ["showconf", "node", "ty1.k3s"], ["snapshot"]])
def test_stdout_on_a_full_disk_is_one_line(command: list[str]) -> None:
    with open("/dev/full", "wb") as full:
        proc = kgctl(*command, stdout=full.fileno())
    assert proc.returncode == ExitCode.FAILURE
    assert "No space left on device" in one_line(proc.stderr)


@pytest.mark.parametrize("command", [["graph"], ["doctor", "--static-only"], ["showconf", "node", "ty1.k3s"], ["snapshot"], ["--version"], ["graph", "--help"]])
def test_a_closed_stdout_is_one_line_like_coreutils(command: list[str]) -> None:
    # `kgctl-py graph >&-`: Python starts with no sys.stdout at all.
    proc = subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh", EXE, "--snapshot", str(FIXTURE), *command], stderr=subprocess.PIPE, timeout=60, check=False)
    assert proc.returncode == ExitCode.FAILURE
    assert one_line(proc.stderr) == "kgctl-py: cannot write output: Bad file descriptor\n"


@pytest.mark.parametrize(("command", "code"), [(["graph"], ExitCode.OK), (["showconf", "node", "no-such-node"], ExitCode.FAILURE)])
def test_a_closed_stderr_keeps_the_output_and_the_exit_code(command: list[str], code: int) -> None:
    proc = subprocess.run(["sh", "-c", 'exec "$@" 2>&-', "sh", EXE, "--snapshot", str(FIXTURE), *command], stdout=subprocess.PIPE, timeout=60, check=False)
    assert proc.returncode == code
    assert proc.stdout == (kgctl(*command).stdout if code == ExitCode.OK else b"")
    if code == ExitCode.OK:
        assert proc.stdout.startswith(b"digraph kilo {")


@pytest.mark.parametrize("command", [["graph"], ["doctor", "--static-only"], ["snapshot"]])
def test_a_closed_pipe_is_quiet_like_kubectl(command: list[str]) -> None:
    # kubectl (Go) dies of SIGPIPE when its reader goes away; so do we, silently.
    r, w = os.pipe()
    os.close(r)
    try:
        proc = kgctl(*command, stdout=w)
    finally:
        os.close(w)
    assert proc.stderr == b""
    assert proc.returncode == -signal.SIGPIPE


def test_private_keys_are_0600_never_printed_never_replaced(tmp_path: Path) -> None:
    from kgctl_py.connect import system

    key = bytes(range(1, 33))
    new = tmp_path / "dir-link"
    new.symlink_to("wg.key")
    system.write_private_key(str(new), key)
    written = tmp_path / "wg.key"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert system.read_private_key(str(new)) == key
    for path in (str(written), "-"):
        with pytest.raises(CliError) as err:
            system.write_private_key(path, bytes(32))
        assert err.value.code == ExitCode.USAGE
    assert system.read_private_key(str(written)) == key
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for special in (str(fifo), "/dev/null", "/dev/zero", str(tmp_path)):
        with pytest.raises(CliError) as err:
            system.read_private_key(special)  # a FIFO would block, a tty would echo the key
        assert err.value.code == ExitCode.USAGE and "not a regular file" in err.value.message
    assert stat.S_ISFIFO(fifo.stat().st_mode)


@pytest.mark.parametrize("now", ["-5", "0", "253402300800", "99999999999999"])
def test_absurd_now_is_rejected(now: str) -> None:
    proc = kgctl("--now", now, "graph")
    assert proc.returncode == ExitCode.USAGE
    assert one_line(proc.stderr).startswith(f"invalid --now {int(now)}: ")
