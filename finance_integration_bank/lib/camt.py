"""ISO 20022 camt.052 / camt.053 / camt.054 (versions .001.02 to .001.08).

Streamed with ``lxml.etree.iterparse``: each entry is read, turned into a
``Line`` and cleared, so memory stays bounded whatever the number of entries.
The file is validated against the XSD of its namespace *while* it is parsed
(libxml2's streaming schema validation plugged into the same pass): no second
read, no whole tree. Entities, DTDs, network access and huge text nodes are off;
a file with a DOCTYPE is refused before parsing.
"""

import functools
import io
import os
import re
from datetime import date
from decimal import Decimal, InvalidOperation

from lxml import etree

from .model import (
    Balance,
    Line,
    Statement,
    StatementError,
    normalize_iban,
    normalize_vat,
)

XSD_DIR = os.path.join(os.path.dirname(__file__), "xsd")
NS_RE = re.compile(
    rb'xmlns(?::\w+)?="(urn:iso:std:iso:20022:tech:xsd:(camt\.05[234])\.001\.(\d\d))"'
)
SUPPORTED = {
    (kind, f"{v:02d}")
    for kind in ("camt.052", "camt.053", "camt.054")
    for v in range(2, 9)
}
CONTAINERS = {"camt.053": "Stmt", "camt.052": "Rpt", "camt.054": "Ntfctn"}


@functools.lru_cache(maxsize=32)
def schema_for(namespace):
    """The XMLSchema of a namespace, from the XSDs shipped with the addon."""
    name = namespace.rsplit(":", 1)[1] + ".xsd"
    path = os.path.join(XSD_DIR, name)
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(path, parser))


def sniff(head):
    """``(namespace, kind, version)`` of a camt document from its first bytes, or None.

    >>> sniff(b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">')[1:]
    ('camt.053', '08')
    """
    match = NS_RE.search(head)
    if not match:
        return None
    return match.group(1).decode(), match.group(2).decode(), match.group(3).decode()


def refuse_dtd(data, filename):
    """Refuse any DOCTYPE / ENTITY declaration: ISO 20022 files have none, and
    they are how entity bombs and external entities get in."""
    prolog = data[:4096]
    root = re.search(rb"<[A-Za-z]", prolog)
    head = prolog[: root.start()] if root else prolog
    if b"<!DOCTYPE" in head.upper() or b"<!ENTITY" in data[:65536].upper():
        raise StatementError(
            filename, "line 1", "DOCTYPE", "no DTD or entity declaration (refused)"
        )


def _dec(text, filename, where, field_name):
    try:
        return Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise StatementError(
            filename, where, field_name, "a decimal amount", text
        ) from None


@functools.lru_cache(maxsize=4096)
def _date(text):
    """ISO date of a date or datetime text; cached, so equal dates are one object."""
    text = (text or "").strip()
    return date.fromisoformat(text[:10]) if text else None


class _Finder:
    """Child lookups by local name in one namespace (no XPath compile per entry)."""

    def __init__(self, ns):
        self.ns = "{" + ns + "}"

    def q(self, path):
        return "/".join(self.ns + p for p in path.split("/"))

    def text(self, el, *paths):
        if el is None:
            return ""
        for path in paths:
            found = el.findtext(self.q(path))
            if found:
                return found.strip()
        return ""

    def find(self, el, *paths):
        if el is None:
            return None
        for path in paths:
            found = el.find(self.q(path))
            if found is not None:
                return found
        return None


def parse(data, filename="<file>", validate=True):
    """All statements of a camt.052/053/054 file as ``Statement`` objects.

    ``data``: bytes, or the path of the file (then it is read as it is parsed,
    never whole in memory). Raises ``StatementError`` naming the file, the line
    or XPath, the field and what was expected.
    """
    if isinstance(data, str):
        with open(data, "rb") as handle:
            head = handle.read(65536)
            handle.seek(max(os.path.getsize(data) - 256, 0))
            tail = handle.read()
        source = data
    else:
        head, tail, source = data[:65536], data[-256:], io.BytesIO(data)
    # libxml2 does not always report a document cut short when a schema is
    # plugged into iterparse: the end of the document is checked here
    if not re.search(rb"</(\w+:)?Document>\s*$", tail):
        raise StatementError(
            filename,
            "end of file",
            "XML",
            "well-formed XML ending with </Document> (file truncated?)",
        )
    refuse_dtd(head, filename)
    sniffed = sniff(head[:4096])
    if not sniffed:
        raise StatementError(
            filename, "/Document", "xmlns", "an ISO 20022 camt.052/053/054 namespace"
        )
    ns, kind, version = sniffed
    if (kind, version) not in SUPPORTED:
        raise StatementError(
            filename, "/Document", "xmlns", "camt version .001.02 to .001.08", ns
        )
    f = _Finder(ns)
    container = f.ns + CONTAINERS[kind]
    ntry_tag = f.ns + "Ntry"
    kwargs = {
        "events": ("end",),
        "tag": (container, ntry_tag, f.ns + "Bal", f.ns + "Acct"),
        "resolve_entities": False,
        "no_network": True,
        "load_dtd": False,
        "huge_tree": False,
        "remove_comments": True,
        "remove_pis": True,
    }
    if validate:
        kwargs["schema"] = schema_for(ns)
    statements = []
    current = None
    stmt_index = 0
    entry_index = 0
    context = etree.iterparse(source, **kwargs)
    try:
        for _event, el in context:
            parent = el.getparent()
            if el.tag == container:
                stmt_index += 1
                current = current or Statement(kind=kind, version=version)
                _fill_header(f, el, current, stmt_index)
                statements.append(current)
                current = None
                entry_index = 0
                el.clear()
                continue
            if parent is None or parent.tag != container:
                continue  # an Acct or Bal inside an entry: read with the entry
            current = current or Statement(kind=kind, version=version)
            if el.tag == ntry_tag:
                entry_index += 1
                where = (
                    f"/Document/{CONTAINERS[kind]}[{stmt_index + 1}]"
                    f"/Ntry[{entry_index}]"
                )
                current.lines.extend(_entry(f, el, filename, where, current))
                el.clear()
                prev = el.getprevious()
                while prev is not None and prev.tag == ntry_tag:
                    parent.remove(prev)
                    prev = el.getprevious()
            elif el.tag == f.ns + "Bal":
                current.balances.append(_balance(f, el, filename, stmt_index + 1))
                el.clear()
            elif el.tag == f.ns + "Acct":
                current.account = normalize_iban(f.text(el, "Id/IBAN", "Id/Othr/Id"))
                current.currency = f.text(el, "Ccy")
    except etree.XMLSyntaxError as err:
        log = err.error_log.last_error if err.error_log else None
        line = getattr(log, "line", 0) or getattr(err, "lineno", 0) or "?"
        is_schema = log is not None and log.domain_name in ("SCHEMASV", "SCHEMASP")
        raise StatementError(
            filename,
            f"line {line}",
            "XSD " + ns.rsplit(":", 1)[1] if is_schema else "XML",
            "a document valid against its XSD" if is_schema else "well-formed XML",
            err.msg if hasattr(err, "msg") else str(err),
        ) from None
    if not statements:
        raise StatementError(
            filename, "/Document", CONTAINERS[kind], "at least one statement"
        )
    return statements


def _fill_header(f, el, stmt, index):
    stmt.statement_id = f.text(el, "Id")
    stmt.sequence = f.text(el, "ElctrncSeqNb", "LglSeqNb")
    stmt.date = _date(f.text(el, "CreDtTm"))
    stmt.date_from = _date(f.text(el, "FrToDt/FrDtTm"))
    stmt.date_to = _date(f.text(el, "FrToDt/ToDtTm"))
    stmt.location = f"/Document/{CONTAINERS[stmt.kind]}[{index}]"
    if not stmt.currency and stmt.balances:
        stmt.currency = stmt.balances[0].currency
    for line in stmt.lines:
        line.currency = line.currency or stmt.currency
    closing = stmt.balance("CLBD", "CLAV")
    if closing and closing.date:
        stmt.date = closing.date
    elif stmt.date_to:
        stmt.date = stmt.date_to


def _balance(f, el, filename, index):
    where = f"/Document/Stmt[{index}]/Bal"
    code = f.text(el, "Tp/CdOrPrtry/Cd", "Tp/CdOrPrtry/Prtry")
    amt = el.find(f.q("Amt"))
    amount = _dec(amt.text if amt is not None else None, filename, where, "Amt")
    if f.text(el, "CdtDbtInd") == "DBIT":
        amount = -amount
    return Balance(
        code=code,
        amount=amount,
        currency=amt.get("Ccy", "") if amt is not None else "",
        date=_date(f.text(el, "Dt/Dt", "Dt/DtTm")),
    )


def _flat(el, strip, prefix="", out=None, txs=None):
    """One walk over an entry: {relative path: text} for its leaves (the first
    of each, Ustrd joined), with TxDtls flattened apart into ``txs``. A walk
    with dict lookups is several times faster than one findtext per field."""
    if out is None:
        out = {}
    for child in el:
        tag = child.tag[strip:]
        if tag == "TxDtls" and txs is not None:
            txs.append(_flat(child, strip))
            continue
        path = prefix + tag
        if len(child):
            if tag == "Chrgs":
                out["Chrgs"] = True
            _flat(child, strip, path + "/", out, txs)
        elif path in out:
            if tag == "Ustrd":
                out[path] += " " + (child.text or "").strip()
        else:
            out[path] = (child.text or "").strip()
            if tag == "Amt":
                out[path + "@Ccy"] = child.get("Ccy", "")
    return out


def _first(d, *paths):
    for path in paths:
        value = d.get(path)
        if value:
            return value
    return ""


def _signed(d, filename, where, path="Amt"):
    text = d.get(path)
    if text is None:
        return None, ""
    value = _dec(text, filename, where, path)
    if d.get("CdtDbtInd") == "DBIT":
        value = -value
    return value, d.get(path + "@Ccy", "")


def _no_na(value):
    return "" if value in ("NOTPROVIDED", "NONREF") else value


def _bank_code(d):
    domain = d.get("BkTxCd/Domn/Cd")
    if domain:
        fmly = d.get("BkTxCd/Domn/Fmly/Cd", "")
        sub = d.get("BkTxCd/Domn/Fmly/SubFmlyCd", "")
        return "/".join(x for x in (domain, fmly, sub) if x)
    return d.get("BkTxCd/Prtry/Cd", "")


def _charges(d):
    total = Decimal(0)
    if "Chrgs" not in d:
        return total
    for key, value in d.items():
        if key.startswith("Chrgs/") and key.endswith("/Amt") and value:
            total += Decimal(value)
    return total or Decimal(d.get("Chrgs/TtlChrgsAndTaxAmt") or 0)


def _details(d, line, credit):
    line.end_to_end_id = line.end_to_end_id or _no_na(d.get("Refs/EndToEndId", ""))
    line.bank_ref = line.bank_ref or d.get("Refs/AcctSvcrRef", "")
    role = "Dbtr" if credit else "Cdtr"
    rp = "RltdPties/"
    line.counterparty_name = line.counterparty_name or _first(
        d,
        f"{rp}{role}/Nm",
        f"{rp}{role}/Pty/Nm",
        f"{rp}Ultmt{role}/Nm",
        f"{rp}Ultmt{role}/Pty/Nm",
    )
    iban = _first(d, f"{rp}{role}Acct/Id/IBAN", f"{rp}{role}Acct/Id/Othr/Id")
    line.counterparty_iban = line.counterparty_iban or normalize_iban(iban)
    line.counterparty_bic = line.counterparty_bic or _first(
        d, f"RltdAgts/{role}Agt/FinInstnId/BIC", f"RltdAgts/{role}Agt/FinInstnId/BICFI"
    )
    line.counterparty_vat = line.counterparty_vat or _tax_id(d, f"{rp}{role}")
    line.payment_ref = line.payment_ref or d.get("RmtInf/Ustrd", "")
    line.creditor_ref = line.creditor_ref or d.get("RmtInf/Strd/CdtrRefInf/Ref", "")
    line.charges += _charges(d)


def _tax_id(d, party):
    """The party's organisation id of scheme TXID (its tax / VAT number)."""
    for base in (f"{party}/Id/OrgId/Othr", f"{party}/Pty/Id/OrgId/Othr"):
        if d.get(base + "/SchmeNm/Cd") == "TXID":
            return normalize_vat(d.get(base + "/Id", ""))
    return ""


def _entry(f, el, filename, where, stmt):
    """The entry as one line, and its details as lines (``detail_index`` > 0)
    when it is a batch of several transactions; the caller keeps one or the other."""
    txs = []
    d = _flat(el, len(f.ns), txs=txs)
    amount, ccy = _signed(d, filename, where)
    if amount is None:
        raise StatementError(filename, where, "Amt", "an entry amount")
    credit = amount >= 0
    status = _first(d, "Sts/Cd", "Sts")
    base = Line(
        date=_date(_first(d, "BookgDt/Dt", "BookgDt/DtTm", "ValDt/Dt")),
        value_date=_date(_first(d, "ValDt/Dt", "ValDt/DtTm")),
        amount=amount,
        currency=ccy,
        bank_ref=d.get("AcctSvcrRef", ""),
        entry_ref=d.get("NtryRef", ""),
        bank_code=_bank_code(d),
        reversal=d.get("RvslInd", "").lower() == "true",
        booked=status in ("", "BOOK"),
        payment_ref=d.get("AddtlNtryInf", ""),
        charges=_charges(d),
        location=where,
    )
    batch_n = d.get("NtryDtls/Btch/NbOfTxs", "")
    base.batch_count = int(batch_n) if batch_n.isdigit() else max(len(txs), 1)
    if len(txs) <= 1:
        if txs:
            _details(txs[0], base, credit)
        return [base]
    # a batch: the whole entry (with the first remittance only as a hint) and details
    base.batch = True
    lines = [base]
    for index, tx in enumerate(txs, 1):
        tx_where = f"{where}/NtryDtls/TxDtls[{index}]"
        tx_amount, tx_ccy = _signed(tx, filename, tx_where)
        if tx_amount is None:
            tx_amount, tx_ccy = _signed(tx, filename, tx_where, "AmtDtls/TxAmt/Amt")
        if tx_amount is not None and not tx.get("CdtDbtInd") and not credit:
            tx_amount = -abs(tx_amount)
        detail = Line(
            date=base.date,
            value_date=base.value_date,
            amount=tx_amount if tx_amount is not None else Decimal(0),
            currency=tx_ccy or ccy,
            entry_ref=base.entry_ref,
            bank_code=_bank_code(tx) or base.bank_code,
            reversal=base.reversal,
            booked=base.booked,
            detail_index=index,
            location=tx_where,
        )
        _details(tx, detail, credit)
        lines.append(detail)
    return lines
