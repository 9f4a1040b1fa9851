"""kgctl's commands: ``graph`` and ``showconf``."""

from __future__ import annotations

import click

from kgctl_py.cli import (
    CompletingChoice,
    Settings,
    environment,
    global_options,
    settings,
    split_csv,
    validate_globals,
)
from kgctl_py.environment import Environment
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
from kgctl_py.mesh.picture import DETAILS, SUMMARY_ABOVE

GRAPH_FORMATS = ("dot", "svg", "png")
LAYOUTS = ("circo", "dot", "neato", "fdp", "sfdp", "twopi")
STYLES = ("picture", "kgctl")


def load_cluster(s: Settings, need_peers: bool = True) -> tuple[Cluster, int]:
    """The cluster's nodes and peers from --snapshot or the API, and the time to judge them at."""
    from kgctl_py import sources

    objects = sources.load(s, sources.MESH if need_peers else sources.Want())
    from kgctl_py.mesh.dropped import notices

    for line in notices(objects.nodes, objects.peers):
        click.echo(f"kgctl-py: warning: {line}", err=True)
    return Cluster.from_objects(objects.nodes, objects.peers, s.topology_label), objects.now


def _options(s: Settings) -> Options:
    return Options(granularity=Granularity(s.mesh_granularity), port=s.port)


def _emit(env: Environment, out: Output) -> None:
    if out.stdout:
        env.write(out.stdout)
    if out.stderr:
        env.stderr.write(out.stderr)


@click.command(context_settings={"ignore_unknown_options": False, "allow_extra_args": True})
@click.option(
    "-o",
    "--output",
    "fmt",
    type=CompletingChoice(GRAPH_FORMATS),
    default="dot",
    show_default=True,
    help="dot prints kgctl's DOT text; svg and png are rendered with Graphviz.",
)
@click.option(
    "--layout",
    type=CompletingChoice(LAYOUTS),
    default=None,
    help="Graphviz layout engine for svg/png. (default fdp for the picture, neato for its summary, circo for --style kgctl)",
)
@click.option(
    "--style",
    type=CompletingChoice(STYLES),
    default="picture",
    show_default=True,
    help="svg/png: picture draws location boxes, leaders, Peers and a legend; kgctl renders kgctl's DOT unchanged.",
)
@click.option(
    "--detail",
    type=CompletingChoice(DETAILS),
    default="auto",
    show_default=True,
    help=f"picture: full draws every node, summary one box per location; auto summarises above {SUMMARY_ABOVE} nodes.",
)
@click.option("--output-file", metavar="FILE", type=click.Path(allow_dash=True), default=None, help="Write to this file instead of stdout.")
@global_options
@click.pass_context
def graph(ctx: click.Context, fmt: str, layout: str | None, style: str, detail: str, output_file: str | None) -> None:
    """Generates a graph of the Kilo network (DOT, like kgctl; or SVG/PNG)."""
    if fmt not in GRAPH_FORMATS:
        raise CliError(f"output format {fmt} unknown; possible values are: {', '.join(GRAPH_FORMATS)}", ExitCode.USAGE)
    if layout is not None and layout not in LAYOUTS:
        raise CliError(f"layout {layout} unknown; possible values are: {', '.join(LAYOUTS)}", ExitCode.USAGE)
    for value, name, choices in ((style, "style", STYLES), (detail, "detail", DETAILS)):
        if value not in choices:
            raise CliError(f"{name} {value} unknown; possible values are: {', '.join(choices)}", ExitCode.USAGE)
    s = settings(ctx)
    validate_globals(s)
    cluster, now = load_cluster(s)
    try:
        from kgctl_py.mesh.cluster import graph as graph_text
        from kgctl_py.mesh.cluster import topology_for_graph

        if fmt == "dot":
            data = graph_text(cluster, _options(s), now).stdout.encode()
        else:
            from kgctl_py import render

            if style == "picture":
                data = render.render_picture(topology_for_graph(cluster, _options(s), now), fmt, detail, layout)
            else:
                data = render.render(graph_text(cluster, _options(s), now).stdout, fmt, layout or "circo")
    except KgctlError as err:
        raise CliError(str(err)) from None
    if output_file in (None, "-"):
        environment(ctx).write_bytes(data)
        return
    from kgctl_py.outfile import write_output

    write_output(output_file, data, "graph")


def _showconf_options(f):  # type: ignore[no-untyped-def]
    f = click.option(
        "--as-peer",
        is_flag=True,
        default=None,
        expose_value=False,
        callback=_remember_showconf,
        help="Show the resource as a peer: useful to configure it as a peer of another WireGuard interface.",
    )(f)
    f = click.option(
        "-o",
        "--output",
        metavar="FORMAT",
        type=CompletingChoice(OUTPUT_FORMATS),
        expose_value=False,
        callback=_remember_showconf,
        help="The output format of the resource. Only valid with --as-peer. Possible values: json, wireguard, yaml. (default wireguard)",
    )(f)
    f = click.option(
        "--allowed-ips",
        metavar="CIDRS",
        multiple=True,
        expose_value=False,
        callback=_remember_showconf,
        help="Add allowed IPs to the configuration (repeatable, comma-separated). Only valid with --as-peer.",
    )(f)
    return f


def _remember_showconf(ctx: click.Context, param: click.Parameter, value: object) -> object:
    store = ctx.find_root().meta.setdefault("kgctl_py.showconf", {})
    if param.name == "allowed_ips":
        store.setdefault("allowed_ips", []).extend(value or ())
    elif value is not None:
        store[param.name] = value
    return value


@click.group(invoke_without_command=True, context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@_showconf_options
@global_options
@click.pass_context
def showconf(ctx: click.Context) -> None:
    """Show the WireGuard configuration for a node or peer in the Kilo network."""
    if ctx.invoked_subcommand is None:
        # Like kgctl: without a known subcommand, show the help and succeed.
        click.echo(ctx.get_help(), file=environment(ctx).stdout)


def _run_showconf(ctx: click.Context, kind: str, name: str) -> None:
    opts = ctx.find_root().meta.get("kgctl_py.showconf", {})
    output = opts.get("output", "wireguard")
    if output not in OUTPUT_FORMATS:
        raise CliError(f"output format {output} unknown; posible values are: json, wireguard, yaml", ExitCode.USAGE)
    values = [v for arg in opts.get("allowed_ips", []) for v in split_csv(arg)]
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
    _emit(environment(ctx), out)


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
