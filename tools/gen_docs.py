"""Generate the shell completions, man pages and CLI reference from the click tree.

One source, the click commands, gives:

* completions/kgctl-py.bash, completions/_kgctl-py (zsh), completions/kgctl-py.fish
  (the same text `kgctl-py completion SHELL` prints);
* man/kgctl-py.1 and one page per subcommand (man/kgctl-py-showconf-node.1, ...);
* docs/cli.md, each command's `--help` verbatim (at 80 columns);
* docs/example-multicloud.svg, `kgctl-py --snapshot examples/multicloud.yaml graph -o svg`.

    python3 tools/gen_docs.py            # regenerate everything
    python3 tools/gen_docs.py --check    # exit 1 if a committed file drifted
    python3 tools/gen_docs.py --only man # one kind: completions, man, cli, svg

--check skips the SVG: its bytes depend on the installed Graphviz.
"""

from __future__ import annotations

import argparse
import inspect
import pathlib
import re
import subprocess
import sys
from collections.abc import Callable, Mapping

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import click  # noqa: E402

from kgctl_py import KGCTL_COMPAT_VERSION, __version__  # noqa: E402
from kgctl_py.cli import app as _app  # noqa: E402,F401  (registers every command)
from kgctl_py.cli import cli  # noqa: E402
from kgctl_py.cli.completion_cmd import PROG, command_paths, completion_script  # noqa: E402

REGENERATE = "python3 tools/gen_docs.py"
# `--help` is formatted to the terminal; the reference is what an 80-column terminal shows.
HELP_COLUMNS = 80
COMPLETION_FILES = {"bash": "completions/kgctl-py.bash", "zsh": "completions/_kgctl-py", "fish": "completions/kgctl-py.fish"}
SVG = "docs/example-multicloud.svg"
SVG_SOURCE = "examples/multicloud.yaml"
KINDS = ("completions", "man", "cli", "svg")


# --- the click tree ---------------------------------------------------------------------------


def contexts() -> list[tuple[tuple[str, ...], click.Command, click.Context]]:
    """Each command with the context `--help` would format it in."""
    out = []
    ctxs: dict[tuple[str, ...], click.Context] = {}
    for path, cmd in command_paths():
        parent = ctxs.get(path[:-1]) if path else None
        # click's formatter leaves two columns of margin: COLUMNS=80 gives width 78.
        settings = {**cmd.context_settings, "terminal_width": HELP_COLUMNS - 2, "max_content_width": HELP_COLUMNS}
        ctx = cmd.context_class(cmd, info_name=path[-1] if path else PROG, parent=parent, **settings)
        ctxs[path] = ctx
        out.append((path, cmd, ctx))
    return out


def help_text(ctx: click.Context) -> str:
    return ctx.command.get_help(ctx) + "\n"


def global_option_names() -> set[str]:
    """kgctl's global flags: the root's options that every subcommand repeats."""
    # With the root's settings: click caches the help option the first time it is made.
    root = cli.context_class(cli, info_name=PROG, **cli.context_settings)
    return {p.name for p in cli.get_params(root) if isinstance(p, click.Option) and p.name not in ("help", "version")}


def exit_codes() -> list[tuple[int, str, str]]:
    """(code, name, meaning) from kgctl_py/errors.py: the comment above each member."""
    from kgctl_py import errors

    source = inspect.getsource(errors.ExitCode)
    out, comment = [], []
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            comment.append(stripped.lstrip("# ").strip())
            continue
        m = re.fullmatch(r"([A-Z_]+)\s*=\s*(\d+)", stripped)
        if m:
            out.append((int(m.group(2)), m.group(1), " ".join(comment)))
        comment = []
    return out


# --- man pages --------------------------------------------------------------------------------


def _roff(text: str) -> str:
    """Escape text for roff: backslashes, hyphens (copy-pasteable flags), leading dots."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    text = re.sub(r"`([^`]+)`", r"\\fB\1\\fR", text)
    return "\n".join(("\\&" + line if line.startswith((".", "'")) else line) for line in text.splitlines())


def _paragraphs(help_: str) -> list[tuple[bool, str]]:
    """(verbatim, text) blocks of a docstring; click's \\b marks a block not to re-wrap."""
    blocks = []
    for block in re.split(r"\n\s*\n", inspect.cleandoc(help_ or "")):
        if block.startswith("\b"):
            blocks.append((True, block[1:].strip("\n")))
        elif block.strip():
            blocks.append((False, " ".join(block.split())))
    return blocks


def _short(cmd: click.Command) -> str:
    return cmd.get_short_help_str(limit=1000).rstrip(".")


def _page_name(path: tuple[str, ...]) -> str:
    return "-".join((PROG, *path))


def man_page(path: tuple[str, ...], cmd: click.Command, ctx: click.Context, globals_: set[str], pages: list[str]) -> str:
    name = _page_name(path)
    full = " ".join((PROG, *path))
    out = [
        f'.TH "{name.upper()}" "1" "" "{PROG} {__version__}" "{PROG} Manual"',
        # No hyphenation, ragged right: flags and names stay whole for copy and paste.
        ".nh",
        ".ad l",
        ".SH NAME",
        f"{_roff(name)} \\- {_roff(_short(cmd))}",
        ".SH SYNOPSIS",
        f".B {_roff(full)}",
        _roff(" ".join(cmd.collect_usage_pieces(ctx))),
        ".SH DESCRIPTION",
    ]
    for i, (verbatim, text) in enumerate(_paragraphs(cmd.help or "")):
        if i:
            out.append(".PP")
        if verbatim:
            out += [".nf", _roff(text), ".fi"]
        else:
            out.append(_roff(text))
    if not path:
        out += [".PP", _roff(f"Compatible with kgctl {KGCTL_COMPAT_VERSION}: the same flags, messages and output bytes for graph and showconf.")]
    own: list[tuple[str, str]] = []
    shared: list[tuple[str, str]] = []
    for param in cmd.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        (shared if path and param.name in globals_ else own).append(record)
    if own:
        out.append(".SH OPTIONS")
        for flags, help_ in own:
            out += [".TP", f"\\fB{_roff(flags)}\\fR", _roff(help_)]
    if shared:
        out += [".SH GLOBAL OPTIONS", _roff(f"kgctl's global flags, accepted before or after the subcommand; see {PROG}(1):")]
        out.append(", ".join(f"\\fB{_roff(flags.split()[0])}\\fR" for flags, _ in shared) + ".")
    if isinstance(cmd, click.Group) and cmd.commands:
        out.append(".SH COMMANDS")
        for sub in sorted(cmd.commands):
            out += [".TP", f"\\fB{_roff(sub)}\\fR", _roff(_short(cmd.commands[sub]) + ".") + f" See \\fB{_roff(_page_name(path + (sub,)))}\\fR(1)."]
    if not path:
        out += [".SH ENVIRONMENT", ".TP", "\\fBKUBECONFIG\\fR", _roff("Colon-separated kubeconfig files, merged as kubectl merges them, when --kubeconfig is not given.")]
        out.append(".SH EXIT STATUS")
        for code, member, meaning in exit_codes():
            out += [".TP", f"\\fB{code}\\fR", _roff(f"{member}: {meaning}" if meaning else member)]
        out += [".SH KUBECTL PLUGIN", _roff("The package also installs kubectl-kilo, so `kubectl kilo COMMAND` runs the same commands; --kubeconfig, --context and KUBECONFIG work as with kubectl.")]
    see = [p for p in pages if p != name]
    out.append(".SH SEE ALSO")
    out.append(",\n".join(f"\\fB{_roff(p)}\\fR(1)" for p in see + ["kubectl"]))
    return "\n".join(out) + "\n"


def man_pages() -> dict[str, str]:
    entries = contexts()
    globals_ = global_option_names()
    pages = [_page_name(path) for path, _, _ in entries]
    return {f"man/{_page_name(path)}.1": man_page(path, cmd, ctx, globals_, pages) for path, cmd, ctx in entries}


# --- CLI reference ----------------------------------------------------------------------------


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", title.lower()).replace(" ", "-")


def cli_reference() -> dict[str, str]:
    entries = contexts()
    titles = [" ".join((PROG, *path)) for path, _, _ in entries]
    out = [
        f"# {PROG} command reference",
        "",
        f"Generated by `{REGENERATE}` from each command's `--help` (at {HELP_COLUMNS} columns).",
        "Do not edit: `tests/test_ecosystem_docs.py` fails when this page and the code disagree.",
        "",
        "```text",
        f"$ {PROG} --version",
        f"{PROG} {__version__} (compatible with kgctl {KGCTL_COMPAT_VERSION})",
        "```",
        "",
        *[f"- [`{t}`](#{_anchor(t)})" for t in titles],
        "- [Exit status](#exit-status)",
        "",
    ]
    for title, (_, _, ctx) in zip(titles, entries):
        out += [f"## {title}", "", "```text", help_text(ctx).rstrip("\n"), "```", ""]
    out += ["## Exit status", "", "| Code | Name | Meaning |", "| ---: | --- | --- |"]
    out += [f"| {code} | `{member}` | {meaning} |" for code, member, meaning in exit_codes()]
    return {"docs/cli.md": "\n".join(out) + "\n"}


# --- completions and the example graph --------------------------------------------------------


def completions() -> dict[str, str]:
    return {path: completion_script(shell) for shell, path in COMPLETION_FILES.items()}


def example_svg() -> dict[str, bytes]:
    argv = [sys.executable, "-m", "kgctl_py", "--snapshot", str(ROOT / SVG_SOURCE), "graph", "-o", "svg"]
    proc = subprocess.run(argv, capture_output=True, timeout=120, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"gen_docs: rendering {SVG} failed: {proc.stderr.decode(errors='replace').strip()}")
    return {SVG: proc.stdout}


def generate(kinds: tuple[str, ...] = ("completions", "man", "cli")) -> dict[str, str | bytes]:
    """Relative path -> content, for the kinds asked for."""
    makers: dict[str, Callable[[], Mapping[str, str | bytes]]] = {"completions": completions, "man": man_pages, "cli": cli_reference, "svg": example_svg}
    files: dict[str, str | bytes] = {}
    for kind in kinds:
        files.update(makers[kind]())
    return files


def stale_man_pages(files: dict[str, str | bytes]) -> list[str]:
    """Committed pages of commands that no longer exist."""
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / "man").glob("*.1") if str(p.relative_to(ROOT)) not in files)


def drift(files: dict[str, str | bytes]) -> list[str]:
    """The paths whose committed content differs from ``files`` (or is stale)."""
    out = []
    for rel, content in files.items():
        path = ROOT / rel
        want = content.encode() if isinstance(content, str) else content
        if not path.exists() or path.read_bytes() != want:
            out.append(rel)
    if "man/kgctl-py.1" in files:
        out += stale_man_pages(files)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a generated file drifted; write nothing")
    parser.add_argument("--only", choices=KINDS, action="append", help="generate only this kind (repeatable)")
    args = parser.parse_args(argv)
    kinds = tuple(args.only or (("completions", "man", "cli") if args.check else KINDS))
    if args.check and "svg" in kinds:
        parser.error("--check does not cover the SVG (its bytes depend on Graphviz)")
    files = generate(kinds)
    if args.check:
        drifted = drift(files)
        if drifted:
            print(f"gen_docs: out of date: {', '.join(drifted)}; run `{REGENERATE}` and commit the result", file=sys.stderr)
            return 1
        print(f"gen_docs: {len(files)} files up to date")
        return 0
    for rel in stale_man_pages(files) if "man" in kinds else []:
        (ROOT / rel).unlink()
    for rel, content in files.items():
        path = ROOT / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
    print(f"gen_docs: wrote {len(files)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
