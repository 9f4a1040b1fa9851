"""``kgctl-py doctor``: parse the flags, run the doctor, print a renderer's output."""

from __future__ import annotations

from typing import Any

import click

from kgctl_py.cli import CompletingChoice, environment, global_options, settings, validate_globals
from kgctl_py.errors import CliError, ExitCode

DOCTOR_FORMATS = ("table", "json", "short", "junit")


@click.command()
@click.option(
    "-o",
    "--output",
    "fmt",
    type=CompletingChoice(DOCTOR_FORMATS),
    default="table",
    show_default=True,
    help="table (grouped, with hints), json (documented schema), short, or junit (JUnit XML for CI).",
)
@click.option("--junit-file", metavar="PATH", default=None, help="Also write the results as JUnit XML to PATH.")
@click.option(
    "--report", "report_path", metavar="PATH.html", default=None, help="Also write a self-contained HTML report (findings, mesh picture, ping heatmap) to PATH."
)
@click.option(
    "--watch",
    "watch_every",
    type=click.FloatRange(min=1),
    default=None,
    metavar="SECONDS",
    help="Rerun every SECONDS and print only what started or stopped failing (Ctrl-C to stop).",
)
@click.option("--check", "checks", metavar="ID", multiple=True, help="Run only checks matching this id or glob (repeatable), e.g. 'kilo.*'.")
@click.option("--skip", "skips", metavar="ID", multiple=True, help="Skip checks matching this id or glob (repeatable).")
@click.option("--static-only", is_flag=True, help="Only the checks that read objects: no pods, no exec, no network.")
@click.option(
    "--pre",
    is_flag=True,
    help="Before Kilo is installed: the K3s flag checks, pod CIDRs, public addresses, and ip_forward and the WireGuard port read from short-lived hostNetwork pods.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=120.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for the ping pods and for cleanup; each exec gets at most 20 s.",
)
@click.option("--image", default="busybox:1.36", show_default=True, help="Image of the ping pods (use a mirror in air-gapped clusters).")
@click.option("--namespace", default=None, metavar="NAME", help="Namespace doctor creates for the ping pods. (default kgctl-py-doctor-<random>)")
@click.option("--keep", is_flag=True, help="Leave the ping namespace and pods for inspection.")
@click.option(
    "--max-concurrent-execs", type=click.IntRange(min=1, max=256), default=16, show_default=True, metavar="N", help="At most this many execs at once."
)
@click.option("--full-matrix", is_flag=True, help="pod.ping: every pod pings every other pod, whatever the cluster's size.")
@click.option(
    "--full-matrix-limit",
    type=click.IntRange(min=2),
    default=160,
    show_default=True,
    metavar="N",
    help="pod.ping: the full matrix up to N nodes (a minute at 16 execs even if every ping times out); above, a location-aware sample.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress line on stderr.")
@click.option("--wg-interface", default="kilo0", show_default=True, metavar="NAME", help="Kilo's WireGuard interface on the nodes.")
@click.option("--from-host", is_flag=True, help="Also ping every node's WireGuard IP and endpoint from this machine (host.ping).")
@click.option(
    "--explain",
    metavar="ID",
    default=None,
    help="Print the page of a check (what it checks, why it matters, how to fix it) and exit; a glob prints each match's.",
)
@click.option("--list-checks", is_flag=True, help="List every check (id, category, severity, title) in the order doctor runs them, and exit.")
@click.option(
    "--api-port",
    type=click.IntRange(1, 65535),
    default=6443,
    show_default=True,
    metavar="PORT",
    help="The API port of the K3s servers' external IPs (api.tls-san).",
)
@global_options
@click.pass_context
def doctor(
    ctx: click.Context,
    fmt: str,
    checks: tuple[str, ...],
    skips: tuple[str, ...],
    static_only: bool,
    pre: bool,
    timeout: float,
    image: str,
    namespace: str | None,
    keep: bool,
    max_concurrent_execs: int,
    full_matrix: bool,
    full_matrix_limit: int,
    quiet: bool,
    wg_interface: str,
    from_host: bool,
    explain: str | None,
    list_checks: bool,
    api_port: int,
    junit_file: str | None,
    report_path: str | None,
    watch_every: float | None,
) -> None:
    """Check a K3s + Kilo cluster: what is broken, on which node, what to type.

    Exit status: 0 when nothing failed (warnings allowed), 1 when a check
    failed, 2 for usage errors, 3/4/5 when the API server is unreachable,
    refuses us or answers with an error, 130 when interrupted.
    """
    if explain is not None or list_checks:
        import fnmatch

        from kgctl_py.doctor import explain as pages
        from kgctl_py.doctor.registry import CHECKS
        from kgctl_py.doctor.runner import no_such_check

        if list_checks:
            from tabulate import tabulate  # type: ignore[import-untyped]

            rows = [(c.id, c.category, c.severity.value, c.title) for c in CHECKS]
            click.echo(tabulate(rows, headers=("ID", "CATEGORY", "SEVERITY", "TITLE"), tablefmt="plain", disable_numparse=True))
            return
        assert explain is not None
        chosen = [c for c in CHECKS if fnmatch.fnmatchcase(c.id, explain)]
        if not chosen:
            raise no_such_check(explain, [c.id for c in CHECKS])
        click.echo("\n".join(pages.page(c) for c in chosen), nl=False)
        return
    if fmt not in DOCTOR_FORMATS:
        raise CliError(f"output format {fmt} unknown; possible values are: {', '.join(DOCTOR_FORMATS)}", ExitCode.USAGE)
    from kgctl_py.doctor import junit, outputs
    from kgctl_py.doctor.model import DoctorOptions, Observer
    from kgctl_py.doctor.render import Env, render_short, render_table
    from kgctl_py.doctor.runner import doctor as run_doctor

    s = settings(ctx)
    validate_globals(s)
    opts = DoctorOptions(
        checks,
        skips,
        static_only,
        timeout,
        image,
        namespace,
        keep,
        max_concurrent_execs,
        wg_interface,
        from_host,
        api_port,
        pre=pre,
        full_matrix_limit=full_matrix_limit,
        full_matrix=full_matrix,
    )
    for path in (junit_file, report_path):
        if path is not None:  # an empty one too: refused, not skipped in silence
            outputs.check_writable(path)  # before creating pods, not after
    env = Env.of(environment(ctx))
    if quiet:
        env.progress = False

    def warn(message: str) -> None:
        env.end_progress()
        click.echo(f"kgctl-py: {message}", file=env.stderr)

    def run_once() -> tuple[list[Any], int]:
        observer = Observer()
        try:
            code = run_doctor(s, opts, observer, env.show_progress, warn)
        except CliError as err:
            # Scripts parse every outcome: the machine formats still get a document.
            if fmt == "json":
                env.stdout.write(outputs.error_json(err.message, int(err.code)))
            elif fmt == "junit":
                env.stdout.write(junit.render_junit_error(err.message, int(err.code)))
            env.stdout.flush()
            if junit_file:
                outputs.write_file(junit_file, junit.render_junit_error(err.message, int(err.code)))
            raise
        finally:
            env.end_progress()
        if junit_file:
            outputs.write_file(junit_file, junit.render_junit(observer.results))
        if report_path:
            _write_report(report_path, observer)
        return observer.results, code

    def show(results: list[Any]) -> None:
        if fmt == "json":
            import json

            from kgctl_py.doctor.render import report

            # Streamed: at 1000 nodes the document is ~25 MB, not worth holding twice.
            json.dump(report(results), env.stdout, indent=2, ensure_ascii=False)
            env.stdout.write("\n")
            env.stdout.flush()
            return
        if fmt == "short":
            text = render_short(results, env)
        elif fmt == "junit":
            text = junit.render_junit(results)
        else:
            text = render_table(results, env)
        env.stdout.write(text)
        env.stdout.flush()

    if watch_every is not None:
        from kgctl_py.doctor.watch import watch

        def say(line: str) -> None:
            env.stdout.write(line + "\n")
            env.stdout.flush()

        watch(lambda: run_once()[0], watch_every, show, say)  # until Ctrl-C
        return
    results, code = run_once()
    show(results)
    ctx.exit(code)


def _write_report(path: str, observer: Any) -> None:
    from kgctl_py.doctor import report_html
    from kgctl_py.doctor.outputs import write_file

    svg, why = "", ""
    if observer.input is not None:
        try:
            svg = report_html.mesh_svg(observer.input)
        except Exception as err:  # Graphviz missing or failing: the report still has every finding
            why = f"Graphviz could not draw the mesh ({type(err).__name__})"
    write_file(path, report_html.render_html(observer.results, svg, why))
