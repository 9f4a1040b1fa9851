"""kgctl's commands: ``graph`` and ``showconf``."""

from __future__ import annotations

import sys

import click

from kgctl_py.cli import (
    CompletingChoice,
    Settings,
    cli,
    global_options,
    settings,
    validate_globals,
)
from kgctl_py.errors import CliError, ExitCode
from kgctl_py.mesh.cluster import (
    OUTPUT_FORMATS,
    Cluster,
    KgctlError,
    Options,
    Output,
    parse_allowed_ips,
)
from kgctl_py.mesh.model import Granularity

GRAPH_FORMATS = ("dot", "svg", "png")
LAYOUTS = ("circo", "dot", "neato", "fdp", "sfdp", "twopi")


def load_cluster(s: Settings, need_peers: bool = True) -> tuple[Cluster, int]:
    """The cluster's nodes and peers from --snapshot or the API, and the time to judge them at."""
    from kgctl_py import sources

    if s.snapshot is not None:
        objects = sources.read_snapshot(s.snapshot, s.now)
        if need_peers and not objects.crd_present:
            raise sources.crd_missing_error(f"the snapshot {objects.source} records no peers.kilo.squat.ai CRD")
    else:
        objects = sources.from_cluster(s.kubeconfig, s.context, s.request_timeout, need_peers)
        if s.now is not None:
            objects.now = s.now
    return Cluster.from_objects(objects.nodes, objects.peers, s.topology_label), objects.now


def _options(s: Settings) -> Options:
    return Options(granularity=Granularity(s.mesh_granularity), port=s.port)


def _emit(out: Output) -> None:
    if out.stdout:
        sys.stdout.write(out.stdout)
        sys.stdout.flush()
    if out.stderr:
        sys.stderr.write(out.stderr)


@cli.command(context_settings={"ignore_unknown_options": False, "allow_extra_args": True})
@click.option("-o", "--output", "fmt", type=CompletingChoice(GRAPH_FORMATS), default="dot", show_default=True, help="dot prints kgctl's DOT text; svg and png are rendered with Graphviz.")
@click.option("--layout", type=CompletingChoice(LAYOUTS), default=None, help="Graphviz layout engine for svg/png. (default circo)")
@click.option("--output-file", type=click.Path(dir_okay=False, writable=True), default=None, help="Write to this file instead of stdout.")
@global_options
@click.pass_context
def graph(ctx: click.Context, fmt: str, layout: str | None, output_file: str | None) -> None:
    """Generates a graph of the Kilo network (DOT, like kgctl; or SVG/PNG)."""
    if fmt not in GRAPH_FORMATS:
        raise CliError(f"output format {fmt} unknown; possible values are: {', '.join(GRAPH_FORMATS)}", ExitCode.USAGE)
    if layout is not None and layout not in LAYOUTS:
        raise CliError(f"layout {layout} unknown; possible values are: {', '.join(LAYOUTS)}", ExitCode.USAGE)
    s = settings(ctx)
    validate_globals(s)
    cluster, now = load_cluster(s)
    try:
        from kgctl_py.mesh.cluster import graph as graph_text

        dot = graph_text(cluster, _options(s), now).stdout
    except KgctlError as err:
        raise CliError(str(err)) from None
    data = dot.encode() if fmt == "dot" else _render(dot, fmt, layout or "circo")
    if output_file:
        with open(output_file, "wb") as f:
            f.write(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


def _render(dot: str, fmt: str, layout: str) -> bytes:
    import graphviz

    try:
        return graphviz.Source(dot, engine=layout).pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise CliError(f"cannot render {fmt}: the Graphviz '{layout}' program is not installed; install the 'graphviz' package (e.g. apt-get install graphviz)", ExitCode.USAGE) from None
    except graphviz.CalledProcessError as err:
        detail = (err.stderr or b"").decode(errors="replace").strip().splitlines()
        raise CliError(f"Graphviz failed to render {fmt}: {detail[-1] if detail else err}") from None


def _showconf_options(f):  # type: ignore[no-untyped-def]
    f = click.option("--as-peer", is_flag=True, default=None, expose_value=False, callback=_remember_showconf, help="Show the resource as a peer: useful to configure it as a peer of another WireGuard interface.")(f)
    f = click.option("-o", "--output", metavar="FORMAT", type=CompletingChoice(OUTPUT_FORMATS), expose_value=False, callback=_remember_showconf, help="The output format of the resource. Only valid with --as-peer. Possible values: json, wireguard, yaml. (default wireguard)")(f)
    f = click.option("--allowed-ips", metavar="CIDRS", multiple=True, expose_value=False, callback=_remember_showconf, help="Add allowed IPs to the configuration (repeatable, comma-separated). Only valid with --as-peer.")(f)
    return f


def _remember_showconf(ctx: click.Context, param: click.Parameter, value: object) -> object:
    store = ctx.find_root().meta.setdefault("kgctl_py.showconf", {})
    if param.name == "allowed_ips":
        store.setdefault("allowed_ips", []).extend(value or ())
    elif value is not None:
        store[param.name] = value
    return value


@cli.group(invoke_without_command=True, context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@_showconf_options
@global_options
@click.pass_context
def showconf(ctx: click.Context) -> None:
    """Show the WireGuard configuration for a node or peer in the Kilo network."""
    if ctx.invoked_subcommand is None:
        # Like kgctl: without a known subcommand, show the help and succeed.
        click.echo(ctx.get_help())


def _run_showconf(ctx: click.Context, kind: str, name: str) -> None:
    opts = ctx.find_root().meta.get("kgctl_py.showconf", {})
    output = opts.get("output", "wireguard")
    if output not in OUTPUT_FORMATS:
        raise CliError(f"output format {output} unknown; posible values are: json, wireguard, yaml", ExitCode.USAGE)
    values = [v for arg in opts.get("allowed_ips", []) for v in _split_csv(arg)]
    try:
        allowed = parse_allowed_ips(values)
    except KgctlError as err:
        raise CliError(str(err), ExitCode.USAGE) from None
    s = settings(ctx)
    validate_globals(s)
    cluster, now = load_cluster(s)
    from kgctl_py.mesh import cluster as core

    run = core.showconf_node if kind == "node" else core.showconf_peer
    try:
        out = run(cluster, name, _options(s), now, bool(opts.get("as_peer")), output, allowed)
    except KgctlError as err:
        raise CliError(str(err)) from None
    _emit(out)


def _split_csv(value: str) -> list[str]:
    # cobra reads string-slice flags as one CSV record.
    import csv

    try:
        return next(csv.reader([value])) if value else []
    except (csv.Error, StopIteration):
        raise CliError(f"invalid argument {value!r} for \"--allowed-ips\" flag", ExitCode.USAGE) from None


def _complete_names(kind: str):  # type: ignore[no-untyped-def]
    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
        from kgctl_py.cli.completion import ready_names

        return [n for n in ready_names(ctx, kind) if n.startswith(incomplete)]

    return complete


@showconf.command("node")
@click.argument("name", shell_complete=_complete_names("node"))
@_showconf_options
@global_options
@click.pass_context
def showconf_node(ctx: click.Context, name: str) -> None:
    """Show the WireGuard configuration for a node in the Kilo network."""
    _run_showconf(ctx, "node", name)


@showconf.command("peer")
@click.argument("name", shell_complete=_complete_names("peer"))
@_showconf_options
@global_options
@click.pass_context
def showconf_peer(ctx: click.Context, name: str) -> None:
    """Show the WireGuard configuration for a peer in the Kilo network."""
    _run_showconf(ctx, "peer", name)
from kgctl_py.cli import (
    connect_cmd,  # noqa: F401
    status_cmd,  # noqa: F401
    tools_cmd,  # noqa: F401
)
from kgctl_py.cli import doctor_cmd  # noqa: E402,F401
