"""The click layer: parse arguments, call the core, print, exit.

kgctl's global flags may stand before or after the subcommand, as with cobra's
persistent flags, so every command carries them (``global_options``).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any

import click

from kgctl_py import KGCTL_COMPAT_VERSION, __version__
from kgctl_py.environment import Environment, open_standard_streams
from kgctl_py.errors import CliError, ExitCode, exit_code_for
from kgctl_py.kube import valid_timeout
from kgctl_py.record import record

GRANULARITIES = ("location", "full", "auto")
DEFAULT_TIMEOUT = 30.0
# click's variable for a shell asking for completions (_PROG_COMPLETE)
COMPLETE_VAR = "_KGCTL_PY_COMPLETE"
# 9999-12-31T23:59:59Z: beyond it a --now is a typo, not a time.
MAX_NOW = 253402300799


class CompletingChoice(click.ParamType):
    """A string whose values complete like a choice, validated later with kgctl's messages."""

    name = "text"

    def __init__(self, choices: tuple[str, ...]) -> None:
        self.choices = choices

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        from click.shell_completion import CompletionItem

        return [CompletionItem(c) for c in self.choices if c.startswith(incomplete)]


@record
class Settings:
    kubeconfig: str | None = None
    context: str | None = None
    backend: str = "kubernetes"
    mesh_granularity: str = "auto"
    port: int = 51820
    topology_label: str = "topology.kubernetes.io/region"
    snapshot: str | None = None
    now: int | None = None
    request_timeout: float = DEFAULT_TIMEOUT


def environment(ctx: click.Context) -> Environment:
    """The run's streams and terminal facts: main()'s, else (click's test runner) detected now."""
    env = ctx.find_root().obj
    if not isinstance(env, Environment):
        env = ctx.find_root().obj = Environment.detect()
    return env


def settings(ctx: click.Context) -> Settings:
    values = ctx.find_root().meta.setdefault("kgctl_py.settings", {})
    return Settings(**values)


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None and param.name is not None:
        ctx.find_root().meta.setdefault("kgctl_py.settings", {})[param.name] = value
    return value


_GLOBAL_OPTIONS: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
    click.option(
        "--kubeconfig",
        metavar="PATH",
        help="Path to kubeconfig (default: $KUBECONFIG, merged like kubectl, else ~/.kube/config).",
        expose_value=False,
        callback=_remember,
    ),
    click.option("--context", metavar="NAME", help="The kubeconfig context to use.", expose_value=False, callback=_remember),
    click.option(
        "--backend",
        metavar="NAME",
        type=CompletingChoice(("kubernetes",)),
        help="The backend for the mesh. Possible values: kubernetes.",
        expose_value=False,
        callback=_remember,
    ),
    click.option(
        "--mesh-granularity",
        metavar="GRANULARITY",
        type=CompletingChoice(GRANULARITIES),
        help="The granularity of the network mesh to create. Possible values: location, full, auto. (default auto)",
        expose_value=False,
        callback=_remember,
    ),
    click.option(
        "--port", type=int, metavar="PORT", help="The WireGuard port over which the nodes communicate. (default 51820)", expose_value=False, callback=_remember
    ),
    click.option(
        "--topology-label",
        metavar="LABEL",
        help="Kubernetes node label used to group nodes into logical locations. (default topology.kubernetes.io/region)",
        expose_value=False,
        callback=_remember,
    ),
    click.option(
        "--snapshot",
        metavar="FILE",
        help="Read a `kubectl get nodes,peers -o yaml|json` dump (or `kgctl-py snapshot`) instead of the cluster; '-' reads stdin.",
        expose_value=False,
        callback=_remember,
    ),
    click.option(
        "--now",
        type=int,
        metavar="UNIX",
        help="Judge node readiness (last-seen within 60 s) at this Unix time. With --snapshot the default is the capture time, else the newest last-seen.",
        expose_value=False,
        callback=_remember,
    ),
    click.option(
        "--request-timeout",
        type=float,
        metavar="SECONDS",
        help="Give up on an API request after this long. (default 30)",
        expose_value=False,
        callback=_remember,
    ),
]


def global_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_GLOBAL_OPTIONS):
        f = option(f)
    return f


def validate_globals(s: Settings) -> None:
    """kgctl's checks of its global flags, in kgctl's order and words."""
    if not 1 <= s.port <= 65535:
        raise CliError(f"invalid port: port mus be in range [1:65535], but got {s.port}", ExitCode.USAGE)
    if s.mesh_granularity not in GRANULARITIES:
        raise CliError(f"mesh granularity {s.mesh_granularity} unknown; posible values are: [location full auto]", ExitCode.USAGE)
    if s.backend != "kubernetes":
        raise CliError(f"backend {s.backend} unknown; posible values are: [kubernetes]", ExitCode.USAGE)
    if not valid_timeout(s.request_timeout):
        raise CliError(f"invalid --request-timeout {s.request_timeout:g}: give a number of seconds greater than 0", ExitCode.USAGE)
    if s.now is not None and not (0 < s.now <= MAX_NOW):
        raise CliError(f"invalid --now {s.now}: give a Unix time in seconds, from 1 to {MAX_NOW} (the end of year 9999)", ExitCode.USAGE)


def split_csv(value: str, flag: str = "--allowed-ips") -> list[str]:
    """A string-slice flag's value: cobra reads it as one CSV record."""
    import csv

    try:
        return next(csv.reader([value])) if value else []
    except (csv.Error, StopIteration):
        raise CliError(f'invalid argument {value!r} for "{flag}" flag', ExitCode.USAGE) from None


class CommandTree(click.Group):
    """The root group: its subcommands (``kgctl_py.cli.app.COMMANDS``) are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from kgctl_py.cli.app import COMMANDS

        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        from kgctl_py.cli.app import COMMANDS

        if cmd_name not in self.commands and cmd_name in COMMANDS:
            import importlib

            module, _, attr = COMMANDS[cmd_name].partition(":")
            self.add_command(getattr(importlib.import_module(module), attr), cmd_name)
        return self.commands.get(cmd_name)


@click.group(cls=CommandTree, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", message=f"kgctl-py %(version)s (compatible with kgctl {KGCTL_COMPAT_VERSION})")
@global_options
def cli() -> None:
    """Manage a Kilo network: a kgctl-compatible CLI plus a cluster doctor."""


def main(argv: list[str] | None = None, prog_name: str = "kgctl-py", env: Environment | None = None) -> int:
    """Entry point: every failure ends as one line on stderr and an exit code, which is returned."""
    open_standard_streams()
    env = env or Environment.detect()
    if COMPLETE_VAR in os.environ:  # a shell at TAB: answer with our completion classes, not click's
        from kgctl_py.cli import completion_cmd  # noqa: F401
    # SIGTERM ends a run like Ctrl-C: one line and exit 130, never a traceback.
    # doctor and connect install their own handlers to clean up first.
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        code = cli.main(args=argv, prog_name=prog_name, standalone_mode=False, obj=env)
    except click.UsageError as err:
        # One line like every other error: click's show() adds the usage line and "Try --help".
        see = f" See '{err.ctx.command_path} --help'." if err.ctx is not None else ""
        click.echo(" ".join(err.format_message().split()) + see, file=env.stderr)
        code = ExitCode.USAGE
    except click.ClickException as err:
        err.show(env.stderr)
        code = ExitCode.USAGE
    except click.exceptions.Abort:
        click.echo("kgctl-py: interrupted", file=env.stderr)
        code = ExitCode.INTERRUPTED
    except click.exceptions.Exit as err:
        code = err.exit_code
    except CliError as err:
        click.echo(err.message, file=env.stderr)
        code = exit_code_for(err)
    except KeyboardInterrupt:
        click.echo("kgctl-py: interrupted", file=env.stderr)
        code = ExitCode.INTERRUPTED
    except BrokenPipeError:
        code = ExitCode.OK
    except SystemExit as err:
        # click exits by itself when stdout is a closed pipe.
        code = err.code if isinstance(err.code, int) else ExitCode.FAILURE
    except OSError as err:
        from kgctl_py.outfile import WRITE_ERRNOS

        if err.errno not in WRITE_ERRNOS:
            raise
        # stdout is a full disk or a broken device: one line, as coreutils.
        _silence_stdout(env)
        click.echo(f"kgctl-py: cannot write output: {err.strerror}", file=env.stderr)
        code = ExitCode.FAILURE
    closed = _stdout_closed(env)
    if closed is not None:
        _silence_stdout(env)
        if closed == "pipe":
            # A reader like `head` went away: die quietly of SIGPIPE, as kubectl (Go) does.
            env.stderr.flush()
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGPIPE)
        click.echo(f"kgctl-py: cannot write output: {closed}", file=env.stderr)
        code = code or ExitCode.FAILURE
    return int(code or 0)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stdout_closed(env: Environment) -> str | None:
    """None if what we wrote reached stdout; "pipe" for a closed pipe; else why it failed."""
    if type(env.stdout).__name__.endswith("PacifyFlushWrapper") or type(sys.stdout).__name__.endswith("PacifyFlushWrapper"):
        return "pipe"  # click met EPIPE and wrapped stdout so that it stays quiet
    try:
        env.stdout.flush()
    except (BrokenPipeError, ValueError):
        return "pipe"
    except OSError as err:
        return err.strerror or str(err)
    return None


def _silence_stdout(env: Environment) -> None:
    # Output still buffered must not fail again (with a traceback) at exit.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, env.stdout.fileno())
    except (OSError, ValueError):
        pass
