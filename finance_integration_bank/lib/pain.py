"""SEPA payments out: pain.001 credit transfer files (``.001.001.09`` and
``.001.001.03``) written with ``sepaxml`` and checked against the XSD shipped
with the addon, and pain.002 status reports read back.

``sepaxml`` writes both versions valid against their XSD (checked by the
tests); it takes amounts in cents (no float). Banks also refuse characters
outside the EPC basic set that the XSD allows: every text goes through
``epc_text`` first.
"""

import io
import unicodedata
from dataclasses import dataclass

from lxml import etree

from .camt import refuse_dtd, schema_for
from .model import StatementError

EPC_ALLOWED = set(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-?:().,'+ "
)
SPECIAL = {
    "ß": "ss",
    "Ä": "Ae",
    "Ö": "Oe",
    "Ü": "Ue",
    "ä": "ae",
    "ö": "oe",
    "ü": "ue",
    "&": "+",
    "€": "EUR",
    "Ø": "O",
    "ø": "o",
    "Æ": "AE",
    "æ": "ae",
    "Ł": "L",
    "ł": "l",
}
SCHEMAS = ("pain.001.001.09", "pain.001.001.03")


def epc_text(text, length=140):
    """Text reduced to the EPC basic Latin character set.

    >>> epc_text("Müller & Søn – Rechnung #12 «€»")
    'Mueller + Son - Rechnung 12 EUR'
    """
    out = []
    for char in text or "":
        if char in EPC_ALLOWED:
            out.append(char)
            continue
        if char in SPECIAL:
            out.append(SPECIAL[char])
            continue
        if unicodedata.category(char) == "Pd":
            out.append("-")
            continue
        base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
        out.append("".join(c for c in base if c in EPC_ALLOWED))
    return " ".join("".join(out).split())[:length]


@dataclass(slots=True)
class Payment:
    end_to_end_id: str
    amount_cents: int
    name: str
    iban: str
    bic: str = ""
    text: str = ""
    execution_date: object = None


def write_pain001(debtor, payments, schema="pain.001.001.09", msg_id=None):
    """A pain.001 file (bytes), validated against the shipped XSD.

    ``debtor``: dict(name, iban, bic, currency); ``payments``: ``Payment``s.
    """
    from sepaxml import SepaTransfer

    if schema not in SCHEMAS:
        raise ValueError(f"pain.001 version {schema!r}: expected one of {SCHEMAS}")
    config = {
        "name": epc_text(debtor["name"], 70),
        "IBAN": debtor["iban"].replace(" ", "").upper(),
        "BIC": debtor.get("bic") or "NOTPROVIDED",
        "batch": True,
        "currency": debtor.get("currency") or "EUR",
    }
    if not debtor.get("bic"):
        config.pop("BIC")
    transfer = SepaTransfer(config, schema=schema, clean=True)
    if msg_id:
        transfer.msg_id = msg_id[:35]
        transfer._xml.find(".//GrpHdr/MsgId").text = transfer.msg_id
    for pay in payments:
        entry = {
            "name": epc_text(pay.name, 70),
            "IBAN": pay.iban.replace(" ", "").upper(),
            "amount": int(pay.amount_cents),
            "execution_date": pay.execution_date,
            "description": epc_text(pay.text, 140) or epc_text(pay.end_to_end_id),
            "endtoend_id": epc_text(pay.end_to_end_id, 35).replace(" ", ""),
        }
        if pay.bic:
            entry["BIC"] = pay.bic
        transfer.add_payment(entry)
    data = transfer.export(validate=False)
    validate(data, schema)
    return data


def validate(data, schema):
    """Raise StatementError unless ``data`` is valid against ``schema``'s XSD."""
    xsd = schema_for(f"urn:iso:std:iso:20022:tech:xsd:{schema}")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    doc = etree.parse(io.BytesIO(data), parser)
    if not xsd.validate(doc):
        err = xsd.error_log.last_error
        raise StatementError(
            f"{schema}.xml",
            f"line {err.line}",
            "XSD",
            f"a file valid against {schema}",
            err.message,
        )


@dataclass(slots=True)
class PaymentStatus:
    original_msg_id: str
    end_to_end_id: str
    status: str  # ACCP, ACSC, ACSP, ACTC, RJCT, PDNG, PART ...
    reason_code: str = ""
    reason_text: str = ""

    @property
    def rejected(self):
        return self.status == "RJCT"


def parse_pain002(data, filename="<file>"):
    """Per payment status of a pain.002.001.03 report (a group status applies to
    every payment without its own)."""
    refuse_dtd(data, filename)
    ns = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"
    if ns.encode() not in data[:4096]:
        raise StatementError(filename, "/Document", "xmlns", ns)
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        doc = etree.parse(io.BytesIO(data), parser)
    except etree.XMLSyntaxError as err:
        raise StatementError(
            filename, f"line {err.lineno}", "XML", "well-formed XML", err.msg
        ) from None
    xsd = schema_for(ns)
    if not xsd.validate(doc):
        err = xsd.error_log.last_error
        raise StatementError(
            filename,
            f"line {err.line}",
            "XSD pain.002.001.03",
            "a valid document",
            err.message,
        )
    n = {"p": ns}
    root = doc.getroot()
    grp = root.find("p:CstmrPmtStsRpt/p:OrgnlGrpInfAndSts", n)
    msg_id = grp.findtext("p:OrgnlMsgId", "", n)
    grp_status = grp.findtext("p:GrpSts", "", n)
    out = []
    for tx in root.iterfind(".//p:TxInfAndSts", n):
        rsn = tx.find("p:StsRsnInf", n)
        code = text = ""
        if rsn is not None:
            code = rsn.findtext("p:Rsn/p:Cd", "", n) or rsn.findtext(
                "p:Rsn/p:Prtry", "", n
            )
            text = " ".join(t.text or "" for t in rsn.iterfind("p:AddtlInf", n)).strip()
        out.append(
            PaymentStatus(
                msg_id,
                tx.findtext("p:OrgnlEndToEndId", "", n),
                tx.findtext("p:TxSts", "", n) or grp_status,
                code,
                text,
            )
        )
    if not out and grp_status:
        out.append(PaymentStatus(msg_id, "", grp_status))
    return out


def write_pain002(original_msg_id, statuses):
    """A pain.002.001.03 report (bytes), for tests and the bank simulator:
    ``statuses`` = [(end_to_end_id, status, reason_code, text)]."""
    txs = "".join(
        f"<TxInfAndSts><OrgnlEndToEndId>{e2e}</OrgnlEndToEndId><TxSts>{sts}</TxSts>"
        + (
            f"<StsRsnInf><Rsn><Cd>{code}</Cd></Rsn><AddtlInf>{text}</AddtlInf></StsRsnInf>"
            if code
            else ""
        )
        + "</TxInfAndSts>"
        for e2e, sts, code, text in statuses
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03">'
        "<CstmrPmtStsRpt><GrpHdr><MsgId>STS-1</MsgId><CreDtTm>2026-01-31T10:00:00</CreDtTm></GrpHdr>"
        f"<OrgnlGrpInfAndSts><OrgnlMsgId>{original_msg_id}</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId></OrgnlGrpInfAndSts>"
        f"<OrgnlPmtInfAndSts><OrgnlPmtInfId>PMT-1</OrgnlPmtInfId>{txs}</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>"
    ).encode()
