"""``completion`` and ``snapshot``: the commands that fit kgctl-py into an operator's habits.

``completion`` prints the shell scripts committed under ``completions/`` (both come
from ``completion_script``). ``snapshot`` dumps what ``--snapshot`` reads back: one
YAML ``v1 List`` of Nodes, Peers and Kilo pods, with the capture time, and no secrets.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from typing import Any

import click
from click.shell_completion import BashComplete, CompletionItem, FishComplete, ShellComplete, ZshComplete, add_completion_class

from kgctl_py import __version__
from kgctl_py.cli import Settings, cli, global_options, settings, validate_globals
from kgctl_py.errors import CliError, ExitCode

PROG = "kgctl-py"
COMPLETE_VAR = "_KGCTL_PY_COMPLETE"
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


@cli.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
@global_options
def completion(shell: str) -> None:
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
    sys.stdout.write(completion_script(shell))


# --- snapshot ---------------------------------------------------------------------------------

REDACTED_NOTE = "kgctl-py.squat.ai/redacted"
MASK = "********"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
K3S_NODE_ARGS = "k3s.io/node-args"
K3S_NODE_ENV = "k3s.io/node-env"
# Flag and variable names whose values are credentials (k3s masks some itself, not all).
_SECRET_NAME = re.compile(r"token|secret|password|passwd|datastore-endpoint|private-key|_KEY$|-key$", re.IGNORECASE)


@cli.command("snapshot")
@click.option("-o", "--output", "output_file", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True), default="-", show_default=True, help="Write the snapshot to FILE; '-' is stdout.")
@global_options
@click.pass_context
def snapshot(ctx: click.Context, output_file: str) -> None:
    """Save the cluster's Nodes, Peers and Kilo pods to one YAML file.

    `kgctl-py --snapshot FILE ...` reads it back, judging readiness at the
    capture time recorded in it (or at --now), so graph, showconf and the
    static doctor checks give the same answers as on the live cluster. It is
    the file to send to a support engineer.

    Secrets are left out: Peer preshared keys (so showconf from the snapshot
    prints no PresharedKey), kubectl's last-applied configuration, literal
    environment values of the Kilo pods, and the credential values k3s
    records in the node-args and node-env annotations. Kubernetes Secrets are
    never read. Given --snapshot, this re-writes that
    file (e.g. a `kubectl get -o yaml` dump) with the same redactions.
    """
    s = settings(ctx)
    validate_globals(s)
    doc = capture(s)
    text = dump_yaml(doc)
    if output_file == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    _write_atomically(output_file, text)
    counts = {kind: sum(1 for i in doc["items"] if i.get("kind") == kind) for kind in ("Node", "Peer", "Pod")}
    click.echo(f"kgctl-py: wrote {counts['Node']} nodes, {counts['Peer']} peers and {counts['Pod']} Kilo pods to {output_file}", err=True)


def capture(s: Settings) -> dict[str, Any]:
    """The snapshot document: a ``v1 List`` whose metadata records capture time and CRD presence."""
    from kgctl_py import sources

    if s.snapshot is not None:
        objects = sources.read_snapshot(s.snapshot, s.now)
        nodes, peers, pods, crd, now = objects.nodes, objects.peers, objects.pods, objects.crd_present, objects.now
        daemonsets, server_now = objects.daemonsets, objects.server_now
    else:
        nodes, peers, pods, crd, daemonsets, server_now = _fetch(s)
        # Judge readiness as a live command would have at this moment (after the lists).
        now = s.now if s.now is not None else int(time.time())
    items = [_item(o, "v1", "Node") for o in nodes]
    items += [_item(o, "kilo.squat.ai/v1alpha1", "Peer") for o in peers]
    items += [_item(o, "v1", "Pod") for o in pods]
    items += [_item(o, "apps/v1", "DaemonSet") for o in daemonsets or []]
    notes = {sources.DAEMONSETS_CAPTURED: "true"} if daemonsets is not None else {}
    if server_now is not None:
        notes[sources.SERVER_TIME] = str(server_now)
    return {
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {
            "annotations": {
                sources.CAPTURED_AT: str(now),
                sources.CRD_PRESENT: "true" if crd else "false",
                "kgctl-py.squat.ai/version": __version__,
                **notes,
            }
        },
        "items": items,
    }


def _fetch(s: Settings) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], bool, list[dict[str, Any]] | None, int | None]:
    from kgctl_py import sources
    from kgctl_py.kube.client import Client
    from kgctl_py.kube.kubeconfig import resolve

    def warn(message: str) -> None:
        # Nodes and peers are what matter most; a snapshot without pods still helps.
        click.echo(f"kgctl-py: warning: {message}; the snapshot has no Kilo pods", err=True)

    client = Client(resolve(s.kubeconfig, s.context), timeout=s.request_timeout)
    try:
        objects = sources.fetch(client, with_pods=True, pods_optional=True, warn=warn, with_daemonsets=True)
    finally:
        client.close()
    if objects.daemonsets_error:
        click.echo(f"kgctl-py: warning: {objects.daemonsets_error}; the snapshot has no Kilo DaemonSet", err=True)
    return objects.nodes, objects.peers, objects.pods, objects.crd_present, objects.daemonsets, objects.server_now


def _item(obj: dict[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    """A list item as ``kubectl get -o yaml`` shows it: with apiVersion and kind, without secrets."""
    out: dict[str, Any] = {"apiVersion": obj.get("apiVersion") or api_version, "kind": obj.get("kind") or kind}
    out.update((k, v) for k, v in obj.items() if k not in ("apiVersion", "kind"))
    return redact(out)


def redact(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` without credentials; what was removed is named in an annotation."""
    from kgctl_py.sources import without_lone_surrogates

    obj = without_lone_surrogates(obj)
    removed: list[str] = []
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
        notes = meta.get("annotations")
        if isinstance(notes, dict):
            # It repeats the whole object as applied, preshared key included.
            if notes.pop(LAST_APPLIED, None) is not None:
                removed.append(f"metadata.annotations[{LAST_APPLIED}]")
            if isinstance(notes.get(K3S_NODE_ARGS), str):
                notes[K3S_NODE_ARGS], hit = _mask_args(notes[K3S_NODE_ARGS])
                removed += [f"metadata.annotations[{K3S_NODE_ARGS}]"] if hit else []
            if isinstance(notes.get(K3S_NODE_ENV), str):
                notes[K3S_NODE_ENV], hit = _mask_env(notes[K3S_NODE_ENV])
                removed += [f"metadata.annotations[{K3S_NODE_ENV}]"] if hit else []
    spec = obj.get("spec")
    if obj.get("kind") == "Peer" and isinstance(spec, dict) and spec.pop("presharedKey", None) is not None:
        removed.append("spec.presharedKey")
    if obj.get("kind") == "DaemonSet" and isinstance(spec, dict):
        template = spec.get("template")
        spec = template.get("spec") if isinstance(template, dict) else None
        prefix = "spec.template.spec"
    else:
        prefix = "spec"
    if obj.get("kind") in ("Pod", "DaemonSet") and isinstance(spec, dict):
        for field in ("initContainers", "containers", "ephemeralContainers"):
            for container in spec.get(field) or []:
                for env in (container.get("env") or []) if isinstance(container, dict) else []:
                    if isinstance(env, dict) and "value" in env:
                        env["value"] = MASK
                        removed.append(f"{prefix}.{field}[{container.get('name', '')}].env[{env.get('name', '')}]")
    if removed:
        if not isinstance(obj.get("metadata"), dict):
            obj["metadata"] = {}
        if not isinstance(obj["metadata"].get("annotations"), dict):
            obj["metadata"]["annotations"] = {}
        obj["metadata"]["annotations"][REDACTED_NOTE] = ",".join(removed)
    return obj


def _mask_args(text: str) -> tuple[str, bool]:
    """k3s's node-args (a JSON list of argv): mask the values of credential flags."""
    try:
        args = json.loads(text)
    except ValueError:
        return text, False
    if not isinstance(args, list):
        return text, False
    hit = False
    out: list[Any] = []
    secret_next = False
    for arg in args:
        if secret_next and isinstance(arg, str) and arg != MASK:
            out.append(MASK)
            hit = True
            secret_next = False
            continue
        secret_next = False
        if isinstance(arg, str) and arg.startswith("-"):
            name, eq, value = arg.partition("=")
            if _SECRET_NAME.search(name):
                if eq and value != MASK:
                    arg, hit = f"{name}={MASK}", True
                elif not eq:
                    secret_next = True
        out.append(arg)
    return (json.dumps(out) if hit else text), hit


def _mask_env(text: str) -> tuple[str, bool]:
    """k3s's node-env (a JSON object of K3S_* variables): mask credential values."""
    try:
        env = json.loads(text)
    except ValueError:
        return text, False
    if not isinstance(env, dict):
        return text, False
    hit = False
    for key, value in env.items():
        if _SECRET_NAME.search(str(key)) and value != MASK:
            env[key] = MASK
            hit = True
    return (json.dumps(env) if hit else text), hit


def dump_yaml(doc: dict[str, Any]) -> str:
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return str(yaml.dump(doc, Dumper=dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1 << 16))


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
