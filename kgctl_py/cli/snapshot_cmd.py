"""``snapshot``: dump what ``--snapshot`` reads back (the work is in ``kgctl_py.snapshot``)."""

from __future__ import annotations

import click

from kgctl_py.cli import environment, global_options, settings, validate_globals
from kgctl_py.environment import Environment


@click.command("snapshot")
@click.option(
    "-o",
    "--output",
    "output_file",
    metavar="FILE",
    type=click.Path(allow_dash=True),
    default="-",
    show_default=True,
    help="Write the snapshot to FILE; '-' is stdout.",
)
@global_options
@click.pass_context
def snapshot(ctx: click.Context, output_file: str) -> None:
    """Save Nodes, Peers, Kilo's pods and DaemonSet to one JSON (so also YAML) file.

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
    from kgctl_py.outfile import write_output
    from kgctl_py.snapshot import capture, counts, dump_json

    s = settings(ctx)
    validate_globals(s)
    env = environment(ctx)
    doc = capture(s, lambda message: _warn(env, message))
    text = dump_json(doc)
    if output_file == "-":
        env.write(text)
        return
    write_output(output_file, text.encode(), "snapshot")
    n = counts(doc)
    click.echo(f"kgctl-py: wrote {n.get('Node', 0)} nodes, {n.get('Peer', 0)} peers and {n.get('Pod', 0)} Kilo pods to {output_file}", file=env.stderr)


def _warn(env: Environment, message: str) -> None:
    # Nodes and peers are what matter most; a snapshot without pods still helps.
    click.echo(f"kgctl-py: warning: {message}; the snapshot has no Kilo pods", file=env.stderr)
