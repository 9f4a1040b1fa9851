"""What a check is, what it finds, and how findings add up to a verdict."""

from __future__ import annotations

from collections.abc import Callable, Generator
from enum import Enum
from typing import TYPE_CHECKING, Any

from kgctl_py.record import field, record

if TYPE_CHECKING:
    from kgctl_py.doctor.live import LiveContext
    from kgctl_py.doctor.static import StaticInput


class Status(str, Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"
    # A ping pair that could not be measured (the exec failed or timed out).
    UNKNOWN = "unknown"


class Severity(str, Enum):
    """The worst status a check reports for a problem it finds."""

    FAIL = "fail"
    WARN = "warn"
    INFO = "info"


# How bad a status is, for "the worst finding wins".
RANK = {Status.SKIP: 0, Status.PASS: 1, Status.UNKNOWN: 2, Status.WARN: 3, Status.FAIL: 4}

# Categories in the order the report shows them.
CATEGORIES = ("k3s", "kilo", "node", "api", "wireguard", "network")


@record(frozen=True)
class Finding:
    """One verdict about one subject: a node, peer, location, pair or the cluster.

    Checks leave ``check`` empty; the runner stamps the id of the check that
    made the finding, so a check cannot report under another's name.
    """

    status: Status
    subject: str
    detail: str
    kind: str = "node"
    hint: str = ""
    check: str = ""


# What a check's function returns: its findings, and optionally structured data
# (e.g. the ping matrix) for the renderers.
Outcome = list[Finding] | tuple[list[Finding], dict[str, Any] | None]
# A live check that reads something twice, some seconds apart, yields those seconds
# instead of sleeping: the runner runs the next checks meanwhile, then resumes it.
Waiting = Generator[float, None, Outcome]
StaticRun = Callable[["StaticInput"], Outcome]
LiveRun = Callable[["LiveContext"], Outcome | Waiting]


@record(frozen=True)
class Check:
    """A check declared as data; the runner applies its contract (see ``runner.run_checks``)."""

    id: str
    category: str
    title: str
    severity: Severity
    hint: str
    # Static checks take a ``StaticInput``; the others a ``LiveContext``.
    run: StaticRun | LiveRun = field(repr=False, compare=False)
    # Needs a live API (not a snapshot), exec in pods, or the network.
    needs_api: bool = False
    needs_exec: bool = False
    needs_network: bool = False
    # The DoctorOptions flag that must be on for the check to run, and the skip
    # reason shown when it is off (e.g. host.ping runs only with --from-host).
    opt_in: str = ""
    opt_in_reason: str = ""
    # Its data is a node x node matrix the table renderer draws (pod.ping).
    matrix: bool = False
    # Runs with --pre, on a K3s cluster before Kilo is installed; pre_only: only then.
    pre: bool = False
    pre_only: bool = False

    @property
    def explain(self) -> str:
        """The command that prints this check's page; works wherever kgctl-py is installed."""
        return f"kgctl-py doctor --explain {self.id}"

    @property
    def static(self) -> bool:
        """Reads only objects, so it also runs on --snapshot and --static-only."""
        return not (self.needs_api or self.needs_exec or self.needs_network)

    @property
    def kind(self) -> str:
        """What the check needs, for the docs: static, exec or network."""
        if self.static:
            return "static"
        return "exec" if self.needs_exec else "network"

    def cap(self, status: Status) -> Status:
        """A finding's status, no worse than this check's severity."""
        limit = {Severity.FAIL: Status.FAIL, Severity.WARN: Status.WARN, Severity.INFO: Status.PASS}[self.severity]
        if status in (Status.SKIP, Status.UNKNOWN) or RANK[status] <= RANK[limit]:
            return status
        return limit


@record
class CheckResult:
    check: Check
    findings: list[Finding]
    # Extra structured output, e.g. the ping matrix.
    data: dict[str, Any] | None = None

    @property
    def status(self) -> Status:
        if not self.findings:
            return Status.SKIP
        return max((f.status for f in self.findings), key=RANK.__getitem__)


def worst(statuses: list[Status]) -> Status:
    return max(statuses, key=RANK.__getitem__) if statuses else Status.PASS


class Observer:
    """Receives results as checks finish; renderers work on the collected list."""

    def __init__(self) -> None:
        self.results: list[CheckResult] = []
        # The objects the checks ran on (for reports that draw the mesh).
        self.input: StaticInput | None = None

    def loaded(self, inp: StaticInput) -> None:
        self.input = inp

    def started(self, check: Check) -> None:
        pass

    def finished(self, result: CheckResult) -> None:
        self.results.append(result)


@record
class DoctorOptions:
    checks: tuple[str, ...] = ()
    skips: tuple[str, ...] = ()
    static_only: bool = False
    # Bounds waiting for the ping pods and for the namespace to go; execs get min(this, 20 s).
    timeout: float = 120.0
    image: str = "busybox:1.36"
    namespace: str | None = None
    keep: bool = False
    max_concurrent_execs: int = 16
    wg_interface: str = "kilo0"
    from_host: bool = False
    api_port: int = 6443
    kilo_namespace: str = "kube-system"
    # Before Kilo is installed: only the checks marked pre run.
    pre: bool = False
    # pod.ping: the full N x N matrix up to this many nodes (plan.DEFAULT_FULL_MATRIX_LIMIT), or always.
    full_matrix_limit: int = 160
    full_matrix: bool = False

    @property
    def exec_timeout(self) -> float:
        return min(self.timeout, 20.0)
