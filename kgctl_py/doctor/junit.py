"""doctor's results as JUnit XML, the way CI systems read test reports:
testsuites > testsuite (one per category) > testcase (one per check and
subject) > failure | skipped.  A warning passes, with the warning in
system-out; an unmeasured ping pair is skipped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from kgctl_py.doctor.model import CheckResult, Status
from kgctl_py.doctor.render import _by_category

NAME = "kgctl-py doctor"


# What XML 1.0 cannot hold even escaped (control characters from a hostile node name).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _text(parts: list[str]) -> str:
    return _x("\n".join(p for p in parts if p))


def _tree(suites: list[ET.Element]) -> ET.Element:
    root = ET.Element("testsuites", name=NAME)
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in suites)))
    root.set("time", "0")
    root.extend(suites)
    return root


def _suite(name: str) -> ET.Element:
    return ET.Element("testsuite", name=name, tests="0", failures="0", errors="0", skipped="0", time="0")


def _bump(suite: ET.Element, key: str) -> None:
    suite.set(key, str(int(suite.get(key, "0")) + 1))


def _xml(root: ET.Element) -> str:
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render_junit(results: list[CheckResult]) -> str:
    suites = []
    for category, group in _by_category(results):
        suite = _suite(f"{NAME}: {category}")
        for r in group:
            findings = r.findings or []
            if not findings:
                case = ET.SubElement(suite, "testcase", classname=r.check.id, name=r.check.title, time="0")
                ET.SubElement(case, "skipped", message="no findings")
                _bump(suite, "tests")
                _bump(suite, "skipped")
                continue
            for f in findings:
                case = ET.SubElement(suite, "testcase", classname=r.check.id, name=_x(f.subject or r.check.title), time="0")
                _bump(suite, "tests")
                hint = f.hint or r.check.hint
                if f.status == Status.FAIL:
                    failure = ET.SubElement(case, "failure", message=_x(f.detail), type=r.check.severity.value)
                    failure.text = _text([f.detail, f"hint: {hint}", f"explain: {r.check.explain}"])
                    _bump(suite, "failures")
                elif f.status in (Status.SKIP, Status.UNKNOWN):
                    ET.SubElement(case, "skipped", message=_x(f"{f.status.value}: {f.detail}"))
                    _bump(suite, "skipped")
                else:
                    out = ET.SubElement(case, "system-out")
                    out.text = _text([f"warning: {f.detail}", f"hint: {hint}"]) if f.status == Status.WARN else _x(f.detail)
        suites.append(suite)
    return _xml(_tree(suites))


def render_junit_error(message: str, code: int) -> str:
    """The document for a run that could not start (API unreachable, forbidden, …)."""
    suite = _suite(NAME)
    case = ET.SubElement(suite, "testcase", classname="kgctl-py.doctor", name="load the cluster", time="0")
    error = ET.SubElement(case, "error", message=_x(message), type=f"exit code {code}")
    error.text = _x(message)
    _bump(suite, "tests")
    _bump(suite, "errors")
    return _xml(_tree([suite]))
