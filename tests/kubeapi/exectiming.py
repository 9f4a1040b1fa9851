"""How long an exec would take on a real cluster, for handlers that simulate commands.

A real ``ping -c 3 -W 2`` lasts at least 2 s: busybox waits ``-i`` (default 1 s)
between packets, and when no reply comes it waits ``-W`` after the last one.  A
``sh -c SCRIPT`` that runs its pings in the background and waits for them lasts
as long as its slowest ping.  Every exec costs ``overhead`` on top (the kubelet,
the container runtime, the round trips).

``scale`` turns the model into a faster clock for tests that check behaviour
(0.05 makes a 2 s timeout last 0.1 s); benchmarks use 1.0, real durations.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass

# A ping command inside a script: "ping" as a word of its own, then its flags.
_PING_IN_SCRIPT = re.compile(r"(?:^|[\s;&|(])ping((?:\s+-[A-Za-z](?:\s+[^\s;&|)]+)?)*)")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def ping_flags(argv: list[str]) -> tuple[int, float, float]:
    """(count, interval, timeout) of a busybox ping command line."""
    count, interval, wait = 0, 1.0, 10.0  # busybox's defaults; count 0 pings forever
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-c", "-i", "-W") and i + 1 < len(argv):
            value = argv[i + 1]
            if arg == "-c":
                count = int(value)
            elif arg == "-i":
                interval = float(value)
            else:
                wait = float(value)
            i += 2
            continue
        i += 1
    return count, interval, wait


def ping_seconds(argv: list[str], reachable: bool, rtt: float = 0.0005) -> float:
    """A reply ends ping right after the last packet; silence makes it wait -W more."""
    count, interval, wait = ping_flags(argv)
    sent = max(count, 1)
    return (sent - 1) * interval + (rtt if reachable else wait)


@dataclass
class ExecTiming:
    overhead: float = 0.05
    scale: float = 1.0

    def seconds(self, command: list[str], reachable: Callable[[str], bool]) -> float:
        """The modelled duration of ``command``; ``reachable(ip)`` says whether a ping to ip is answered."""
        busy = 0.0
        if command[:1] == ["ping"]:
            busy = ping_seconds(command, reachable(command[-1]))
        elif command[:2] == ["sh", "-c"] and len(command) >= 3:
            m = _PING_IN_SCRIPT.search(command[2])
            if m:
                flags = shlex.split(m.group(1))
                targets = [a for a in command[3:] if _is_ip(a)]
                # Background pings: the script lasts as long as the slowest one.
                busy = max((ping_seconds(flags, reachable(t)) for t in targets), default=0.0)
        return (busy + self.overhead) * self.scale

    def sleep(self, command: list[str], reachable: Callable[[str], bool]) -> float:
        seconds = self.seconds(command, reachable)
        time.sleep(seconds)
        return seconds
