"""``snapshot``: dump what ``--snapshot`` reads back (the work is in ``kgctl_py.snapshot``)."""

from __future__ import annotations

import os

import click

from kgctl_py.cli import environment, global_options, settings, validate_globals
from kgctl_py.environment import Environment
from kgctl_py.errors import CliError, ExitCode


@click.command("snapshot")
@click.option("-o", "--output", "output_file", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True), default="-", show_default=True, help="Write the snapshot to FILE; '-' is stdout.")
@global_options
@click.pass_context
def snapshot(ctx: click.Context, output_file: str) -> None:
    """Save Nodes, Peers, Kilo's pods and DaemonSet to one YAML file.

    `kgctl-py --snapshot FILE ...` reads it back, judging readiness at the
    capture time recorded in it (or at --now), so graph, showconf and the
    static doctor checks give the same answers as on the live cluster. It is
    the file to send to a support engineer.

    Secrets are left out: Peer preshared keys (so showconf from the snapshot
    prints no PresharedKey), kubectl's last-applied configuration, literal
    environment values of the Kilo pods and DaemonSet, and the credential values k3s
    records in the node-args and node-env annotations. Kubernetes Secrets are
    never read. Given --snapshot, this re-writes that
    file (e.g. a `kubectl get -o yaml` dump) with the same redactions.
    """
    from kgctl_py.snapshot import capture, counts, dump_yaml

    s = settings(ctx)
    validate_globals(s)
    env = environment(ctx)
    doc = capture(s, lambda message: _warn(env, message))
    text = dump_yaml(doc)
    if output_file == "-":
        env.write(text)
        return
    _write_atomically(output_file, text)
    n = counts(doc)
    click.echo(f"kgctl-py: wrote {n.get('Node', 0)} nodes, {n.get('Peer', 0)} peers and {n.get('Pod', 0)} Kilo pods to {output_file}", file=env.stderr)


def _warn(env: Environment, message: str) -> None:
    # Nodes and peers are what matter most; a snapshot without pods still helps.
    click.echo(f"kgctl-py: warning: {message}; the snapshot has no Kilo pods", file=env.stderr)




def _write_atomically(path: str, text: str) -> None:
    """Never leave a half-written snapshot behind: write aside, then rename."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise CliError(f"cannot write snapshot {path}: {err.strerror}", ExitCode.USAGE) from None
