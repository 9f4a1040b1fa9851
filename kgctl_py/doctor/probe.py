"""One exec per source pod: a busybox shell script pings all its targets at
once and prints one line per target, which ``parse`` hands to ``judge_ping``.

The line is ``kgctl-ping TARGET EXIT OUTPUT``, OUTPUT being ping's stdout and
stderr with newlines turned into ``|``.  Pure: no I/O here.
"""

from __future__ import annotations

from kgctl_py.doctor.model import Status
from kgctl_py.doctor.numbers import decimal
from kgctl_py.doctor.ping import PingResult, judge_ping

TAG = "kgctl-ping"
# busybox ping: -i takes fractions, so 3 packets last 0.4 s instead of 2 s;
# -W is the wait for a reply after the last packet; -q prints only the summary.
PING_FLAGS = ["-c", "3", "-i", "0.2", "-W", "2", "-q"]
# More targets than this go to a second exec on the same pod: each target is a
# process in the pod, and the ping pods have a small memory limit.
MAX_TARGETS_PER_EXEC = 128
# The slowest exec: every ping unanswered, plus what the exec itself costs.
WORST_EXEC_SECONDS = 2 * 0.2 + 2 + 0.5

# $@ are the targets.  Each ping runs in the background with its output in a
# file; `wait PID` then gives each one's exit code, in order.
SCRIPT = (
    "d=$(mktemp -d) || exit 125; i=0; "
    f'for t; do ping {" ".join(PING_FLAGS)} "$t" >"$d/$i" 2>&1 & eval "p$i=\\$!"; i=$((i+1)); done; '
    "i=0; "
    f'for t; do eval "wait \\$p$i"; c=$?; printf \'{TAG} %s %s %s\\n\' "$t" "$c" "$(tr \'\\n\' \'|\' <"$d/$i")"; i=$((i+1)); done; '
    'rm -rf "$d"'
)


def command(targets: list[str]) -> list[str]:
    return ["sh", "-c", SCRIPT, TAG, *targets]


def chunks(targets: list[str]) -> list[list[str]]:
    return [targets[i : i + MAX_TARGETS_PER_EXEC] for i in range(0, len(targets), MAX_TARGETS_PER_EXEC)] or [[]]


def parse(targets: list[str], exit_code: int | None, stdout: str, stderr: str, error: str = "") -> dict[str, PingResult]:
    """Each target's verdict; a target without its line could not be measured."""
    if error:
        return {t: PingResult(Status.UNKNOWN, None, error) for t in targets}
    lines: dict[str, tuple[int, str]] = {}
    for line in stdout.splitlines():
        parts = line.split(" ", 3)
        if len(parts) >= 3 and parts[0] == TAG and (code := decimal(parts[2])) is not None:
            lines[parts[1]] = (code, parts[3].replace("|", "\n") if len(parts) > 3 else "")
    out = {}
    why = (stderr or "\n".join(line for line in stdout.splitlines() if not line.startswith(TAG))).strip().splitlines()
    missing = f"no result from the ping script (exit code {exit_code}" + (f": {why[-1]}" if why else "") + ")"
    for t in targets:
        if t in lines:
            code, text = lines[t]
            out[t] = judge_ping(code, text, "")
        else:
            out[t] = PingResult(Status.UNKNOWN, None, missing)
    return out
