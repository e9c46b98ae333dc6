"""Read SVRL (Schematron Validation Report Language) into findings.

>>> report = b'''<svrl:schematron-output xmlns:svrl="http://purl.oclc.org/dsdl/svrl">
...  <svrl:failed-assert id="BR-01" flag="fatal" location="/Invoice[1]" test="x">
...   <svrl:text>[BR-01]-An Invoice shall have a Specification identifier.</svrl:text>
...  </svrl:failed-assert>
...  <svrl:successful-report id="W-1" flag="warning" location="/Invoice[1]">
...   <svrl:text>note</svrl:text></svrl:successful-report>
... </svrl:schematron-output>'''
>>> [(f.rule_id, f.flag, f.location) for f in parse_svrl(report)]
[('BR-01', 'fatal', '/Invoice[1]'), ('W-1', 'warning', '/Invoice[1]')]
>>> errors(parse_svrl(report))[0].message
'[BR-01]-An Invoice shall have a Specification identifier.'
"""

from dataclasses import dataclass

from lxml import etree

SVRL = "http://purl.oclc.org/dsdl/svrl"
_FINDINGS = (f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report")


@dataclass(frozen=True)
class Finding:
    rule_id: str
    flag: str  # fatal / error / warning / information
    message: str
    location: str
    test: str = ""
    source: str = ""  # which rule set: EN16931, PEPPOL

    @property
    def is_error(self):
        return self.flag in ("fatal", "error", "")

    def __str__(self):
        return f"{self.rule_id} ({self.flag}) at {self.location}: {self.message}"


def parse_svrl(data, source=""):
    """Every failed assert and successful report of an SVRL document."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(data, parser)
    findings = []
    for node in root.iter(*_FINDINGS):
        text = node.find(f"{{{SVRL}}}text")
        message = " ".join("".join(text.itertext()).split()) if text is not None else ""
        findings.append(
            Finding(
                rule_id=node.get("id") or "",
                flag=(node.get("flag") or "").lower(),
                message=message,
                location=node.get("location") or "",
                test=node.get("test") or "",
                source=source,
            )
        )
    return findings


def errors(findings):
    """The findings that make a document invalid (fatal / error)."""
    return [f for f in findings if f.is_error]
