"""``completion``: print the shell scripts committed under ``completions/``
(both come from ``completion_script``)."""

from __future__ import annotations

import click
from click.shell_completion import BashComplete, CompletionItem, FishComplete, ShellComplete, ZshComplete, add_completion_class

from kgctl_py import __version__
from kgctl_py.cli import COMPLETE_VAR, cli, environment, global_options

PROG = "kgctl-py"
SHELLS = ("bash", "zsh", "fish")

# --- shell completion -----------------------------------------------------------------------
#
# The scripts are thin: at TAB time they ask kgctl-py itself (click's protocol), so flag
# values and live node/peer names always match the installed code. The templates are ours,
# not click's, so that a click upgrade cannot change the committed files, and because
# click 8.4's fish script does not parse in fish.

_BASH = """\
%(complete_func)s() {
    local IFS=$'\\n'
    local response
    response=$(env COMP_WORDS="${COMP_WORDS[*]}" COMP_CWORD=$COMP_CWORD %(complete_var)s=bash_complete $1)
    for completion in $response; do
        IFS=',' read type value <<< "$completion"
        if [[ $type == 'dir' ]]; then
            COMPREPLY=()
            compopt -o dirnames
        elif [[ $type == 'file' ]]; then
            COMPREPLY=()
            compopt -o default
        elif [[ $type == 'plain' ]]; then
            COMPREPLY+=($value)
        fi
    done
    return 0
}

complete -o nosort -F %(complete_func)s %(prog_name)s
"""

_ZSH = """\
#compdef %(prog_name)s

%(complete_func)s() {
    local -a completions
    local -a completions_with_descriptions
    local -a response
    (( ! $+commands[%(prog_name)s] )) && return 1
    response=("${(@f)$(env COMP_WORDS="${words[*]}" COMP_CWORD=$((CURRENT-1)) %(complete_var)s=zsh_complete %(prog_name)s)}")
    for type key descr in ${response}; do
        if [[ "$type" == "plain" ]]; then
            if [[ "$descr" == "_" ]]; then
                completions+=("$key")
            else
                completions_with_descriptions+=("$key":"$descr")
            fi
        elif [[ "$type" == "dir" ]]; then
            _path_files -/
        elif [[ "$type" == "file" ]]; then
            _path_files -f
        fi
    done
    if [ -n "$completions_with_descriptions" ]; then
        _describe -V unsorted completions_with_descriptions -U
    fi
    if [ -n "$completions" ]; then
        compadd -U -V unsorted -a completions
    fi
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    # autoloaded from fpath: complete now
    %(complete_func)s "$@"
else
    # sourced: register for later
    compdef %(complete_func)s %(prog_name)s
fi
"""

# One line per item, "type,value<TAB>help": fish splits command output on newlines.
_FISH = """\
function %(complete_func)s
    set -l response (env %(complete_var)s=fish_complete COMP_WORDS=(commandline -cp) COMP_CWORD=(commandline -t) %(prog_name)s)
    for completion in $response
        set -l metadata (string split --max 1 , -- $completion)
        if test "$metadata[1]" = dir
            __fish_complete_directories $metadata[2]
        else if test "$metadata[1]" = file
            __fish_complete_path $metadata[2]
        else if test "$metadata[1]" = plain
            echo $metadata[2]
        end
    end
end

complete --no-files --command %(prog_name)s --arguments "(%(complete_func)s)"
"""


# Options whose value is a file path: the shell completes file names.
FILE_OPTIONS = ("--kubeconfig", "--snapshot", "--output-file")


class _Values(ShellComplete):
    """Values the option declarations leave open: file names, kubeconfig contexts, doctor's check ids."""

    def get_completions(self, args: list[str], incomplete: str) -> list[CompletionItem]:
        items = super().get_completions(args, incomplete)
        if items or not args or incomplete.startswith("-"):
            return items
        if args[-1] in FILE_OPTIONS:
            return [CompletionItem(incomplete, type="file")]
        if args[-1] in ("--check", "--skip", "--explain") and "doctor" in args:
            from kgctl_py.cli.completion import check_ids

            ids = check_ids(incomplete)
            if args[-1] == "--explain":  # one check, not a glob
                ids = [(v, t) for v, t in ids if not v.endswith("*")]
            return [CompletionItem(value, help=title) for value, title in ids]
        if args[-1] == "--context":
            from kgctl_py.cli.completion import context_names

            return [CompletionItem(n) for n in context_names(_kubeconfig_arg(args)) if n.startswith(incomplete)]
        return items


def _kubeconfig_arg(args: list[str]) -> str | None:
    """The last --kubeconfig given so far, as click would take it."""
    found = None
    for i, arg in enumerate(args):
        if arg == "--kubeconfig" and i + 1 < len(args):
            found = args[i + 1]
        elif arg.startswith("--kubeconfig="):
            found = arg.partition("=")[2]
    return found


class _Bash(_Values, BashComplete):
    source_template = _BASH

    def source(self) -> str:
        # click's version probe runs bash; the script needs nothing beyond bash 4.
        return self.source_template % self.source_vars()


class _Zsh(_Values, ZshComplete):
    source_template = _ZSH


class _Fish(_Values, FishComplete):
    source_template = _FISH

    def format_completion(self, item: CompletionItem) -> str:
        value = str(item.value).replace("\n", " ")
        if item.help:
            return f"{item.type},{value}\t{item.help.splitlines()[0]}"
        return f"{item.type},{value}"


for _cls, _name in ((_Bash, "bash"), (_Zsh, "zsh"), (_Fish, "fish")):
    add_completion_class(_cls, _name)


def command_paths(group: click.Command = cli, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    """Every command of the tree, parents first, children in name order (stable output)."""
    out = [(prefix, group)]
    if isinstance(group, click.Group):
        for name in sorted(group.commands):
            out.extend(command_paths(group.commands[name], prefix + (name,)))
    return out


def completion_script(shell: str, prog_name: str = PROG) -> str:
    """The script for ``shell``, with a header naming the commands it completes."""
    from kgctl_py.cli import app

    app.load_all()  # the header names every command

    cls = {"bash": _Bash, "zsh": _Zsh, "fish": _Fish}[shell]
    body = cls(cli, {}, prog_name, COMPLETE_VAR).source()
    commands = [" ".join(path) for path, cmd in command_paths() if path and not isinstance(cmd, click.Group)]
    install = {
        "bash": f"source <({prog_name} completion bash)   # or copy to /usr/share/bash-completion/completions/{prog_name}",
        "zsh": f"source <({prog_name} completion zsh)    # or copy to a directory on $fpath as _{prog_name}",
        "fish": f"{prog_name} completion fish | source   # or copy to ~/.config/fish/completions/{prog_name}.fish",
    }[shell]
    lines = [
        f"# {shell} completion for {prog_name} {__version__}. Generated by tools/gen_docs.py; do not edit.",
        f"# Install: {install}",
        f"# Commands: {', '.join(commands)}.",
        "# Flags, flag values and the names of Ready nodes and peers come from",
        f"# {prog_name} itself at TAB time (it reads the cluster, or --snapshot).",
    ]
    if shell == "zsh":
        # compinit reads #compdef from the first line of a file on $fpath.
        first, _, rest = body.partition("\n")
        return first + "\n" + "\n".join(lines) + "\n" + rest
    return "\n".join(lines) + "\n\n" + body


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
@global_options
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the shell completion script for bash, zsh or fish.

    \b
      bash:  source <(kgctl-py completion bash)
      zsh:   source <(kgctl-py completion zsh)
      fish:  kgctl-py completion fish | source

    TAB then completes commands, flags, flag values (granularity, output
    formats, layouts, doctor check ids, kubeconfig contexts, file names) and
    the names of Ready nodes and peers for `showconf node` and `showconf
    peer`, read from the cluster or --snapshot.
    """
    environment(ctx).write(completion_script(shell))
