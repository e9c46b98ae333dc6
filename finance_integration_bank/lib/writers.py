"""Statement files written from plain data, in every format and version the
parsers read: the tests and the bench write their statements with these (and
they make demo data).

``entries``: dicts with ``amount`` (Decimal, signed), ``date`` and optional
``ref`` (bank reference), ``e2e``, ``text``, ``cref`` (creditor reference),
``name``, ``iban``, ``vat`` (the party's TXID), ``reversal``, ``details`` (a list of
such dicts: a batch).
"""

from datetime import date, timedelta
from decimal import Decimal
from xml.sax.saxutils import escape

NS = "urn:iso:std:iso:20022:tech:xsd:{kind}.001.{version}"


def sample_entries(count, start=date(2026, 1, 5), seed=0):
    """``count`` varied entries (credits with invoice references, debits, some
    RF references and IBANs)."""
    out = []
    for i in range(count):
        n = i + seed
        credit = n % 3 != 2
        amount = Decimal(100 + (n * 37) % 9000) + Decimal(n % 100) / 100
        out.append(
            {
                "amount": amount if credit else -amount,
                "date": start + timedelta(days=n % 20),
                "ref": f"BR{n:09d}",
                "e2e": f"E2E{n:09d}",
                "text": f"INV/2026/{n:06d}",
                "name": f"Partner {n % 5000}",
                "iban": f"DE{(n % 89) + 10:02d}5001051700{n % 100000000:08d}"[:22],
            }
        )
    return out


def _amt(value):
    return f"{abs(value):.2f}"


def _dc(value):
    return "CRDT" if value >= 0 else "DBIT"


def _party(version, role, name, iban, vat=""):
    v = int(version)
    nm = f"<Nm>{escape(name)}</Nm>"
    if vat:
        nm += (
            f"<Id><OrgId><Othr><Id>{escape(vat)}</Id>"
            "<SchmeNm><Cd>TXID</Cd></SchmeNm></Othr></OrgId></Id>"
        )
    party = f"<{role}><Pty>{nm}</Pty></{role}>" if v >= 7 else f"<{role}>{nm}</{role}>"
    acct = f"<{role}Acct><Id><IBAN>{iban}</IBAN></Id></{role}Acct>" if iban else ""
    return party + acct


def _tx(version, e, entry_amount):
    v = int(version)
    amount = e["amount"]
    if v >= 3:
        amt = f'<Amt Ccy="EUR">{_amt(amount)}</Amt><CdtDbtInd>{_dc(amount)}</CdtDbtInd>'
    else:
        amt = f'<AmtDtls><TxAmt><Amt Ccy="EUR">{_amt(amount)}</Amt></TxAmt></AmtDtls>'
    refs = (
        f"<Refs><EndToEndId>{escape(e.get('e2e') or 'NOTPROVIDED')}</EndToEndId></Refs>"
    )
    role = "Dbtr" if entry_amount >= 0 else "Cdtr"
    parties = ""
    if e.get("name") or e.get("iban") or e.get("vat"):
        party = _party(
            version, role, e.get("name", ""), e.get("iban", ""), e.get("vat", "")
        )
        parties = f"<RltdPties>{party}</RltdPties>"
    rmt = ""
    if e.get("cref"):
        rmt = (
            "<RmtInf><Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp>"
            f"<Ref>{escape(e['cref'])}</Ref></CdtrRefInf></Strd></RmtInf>"
        )
    elif e.get("text"):
        rmt = f"<RmtInf><Ustrd>{escape(e['text'])}</Ustrd></RmtInf>"
    return f"<TxDtls>{refs}{amt}{parties}{rmt}</TxDtls>"


def _entry(version, e):
    v = int(version)
    amount = e["amount"]
    sts = "<Sts><Cd>BOOK</Cd></Sts>" if v >= 7 else "<Sts>BOOK</Sts>"
    rvsl = "<RvslInd>true</RvslInd>" if e.get("reversal") else ""
    ref = f"<AcctSvcrRef>{escape(e['ref'])}</AcctSvcrRef>" if e.get("ref") else ""
    day = e["date"].isoformat()
    details = e.get("details") or [e]
    btch = f"<Btch><NbOfTxs>{len(details)}</NbOfTxs></Btch>" if e.get("details") else ""
    txs = "".join(_tx(version, d, amount) for d in details)
    return (
        f'<Ntry><Amt Ccy="EUR">{_amt(amount)}</Amt>'
        f"<CdtDbtInd>{_dc(amount)}</CdtDbtInd>{rvsl}"
        f"{sts}<BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>{ref}"
        "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>"
        f"<NtryDtls>{btch}{txs}</NtryDtls></Ntry>"
    )


def _bal(code, amount, day):
    return (
        f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
        f'<Amt Ccy="EUR">{_amt(amount)}</Amt><CdtDbtInd>{_dc(amount)}</CdtDbtInd>'
        f"<Dt><Dt>{day.isoformat()}</Dt></Dt></Bal>"
    )


def camt(
    entries,
    kind="camt.053",
    version="08",
    iban="NL91ABNA0417164300",
    opening=Decimal("1000.00"),
    closing=None,
    stmt_id="STMT-1",
    seq=1,
    day=date(2026, 1, 31),
    available=None,
    currency="EUR",
):
    """A camt.052/053/054 document (bytes); the closing balance is computed
    unless given (to write a wrong one)."""
    container = {"camt.053": "Stmt", "camt.052": "Rpt", "camt.054": "Ntfctn"}[kind]
    root = {
        "camt.053": "BkToCstmrStmt",
        "camt.052": "BkToCstmrAcctRpt",
        "camt.054": "BkToCstmrDbtCdtNtfctn",
    }[kind]
    if closing is None:
        closing = opening + sum((e["amount"] for e in entries), Decimal(0))
    bals = ""
    if kind != "camt.054":
        bals = _bal("OPBD" if kind == "camt.053" else "PRCD", opening, day) + _bal(
            "CLBD" if kind == "camt.053" else "ITBD", closing, day
        )
        if available is not None:
            bals += _bal("CLAV", available, day)
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Document xmlns="{NS.format(kind=kind, version=version)}">'
        f"<{root}><GrpHdr><MsgId>MSG-{escape(stmt_id)}</MsgId><CreDtTm>{day.isoformat()}T18:00:00</CreDtTm></GrpHdr>"
        f"<{container}><Id>{escape(stmt_id)}</Id><ElctrncSeqNb>{seq}</ElctrncSeqNb><CreDtTm>{day.isoformat()}T18:00:00</CreDtTm>"
        f"<Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>EUR</Ccy></Acct>{bals}"
    )
    parts = [head.encode()]
    parts.extend(("\n" + _entry(version, e)).encode() for e in entries)
    parts.append(f"</{container}></{root}></Document>\n".encode())
    data = b"".join(parts)
    if currency != "EUR":
        data = data.replace(b'Ccy="EUR"', f'Ccy="{currency}"'.encode())
        data = data.replace(b"<Ccy>EUR</Ccy>", f"<Ccy>{currency}</Ccy>".encode())
    return data


def _mt_amount(value):
    return f"{abs(value):.2f}".replace(".", ",")


def _yymmdd(day):
    return day.strftime("%y%m%d")


def mt940(
    entries,
    account="NL91ABNA0417164300",
    opening=Decimal("1000.00"),
    closing=None,
    stmt_no="1/1",
    day=date(2026, 1, 31),
    dialect="german",
    ref="STMT1",
    header=True,
    available=None,
    currency="EUR",
):
    """An MT940 statement (str); several are joined by the caller."""
    if closing is None:
        closing = opening + sum((e["amount"] for e in entries), Decimal(0))
    out = []
    if header:
        out.append("{1:F01ABNANL2AXXX0000000000}{2:I940ABNANL2AXXXN}{4:")
    out += [f":20:{ref}", f":25:{account}", f":28C:{stmt_no}"]
    out.append(
        f":60F:{'C' if opening >= 0 else 'D'}{_yymmdd(day)}"
        f"{currency}{_mt_amount(opening)}"
    )
    for e in entries:
        dc = ("R" if e.get("reversal") else "") + ("C" if e["amount"] >= 0 else "D")
        if e.get("reversal"):
            dc = "RD" if e["amount"] >= 0 else "RC"
        bankref = f"//{e['ref'][:16]}" if e.get("ref") else ""
        out.append(
            f":61:{_yymmdd(e['date'])}{e['date'].strftime('%m%d')}{dc}"
            f"{_mt_amount(e['amount'])}NTRF{(e.get('e2e') or 'NONREF')[:16]}{bankref}"
        )
        text = e.get("text", "")
        if dialect == "german":
            purpose = (f"EREF+{e['e2e']}" if e.get("e2e") else "") + (
                f"SVWZ+{text}" if text else ""
            )
            if e.get("cref"):
                purpose += f" {e['cref']}"
            chunks = [purpose[i : i + 27] for i in range(0, len(purpose), 27)] or [""]
            sub = "".join(f"?{20 + i}{c}" for i, c in enumerate(chunks[:10]))
            name = e.get("name", "")[:27]
            iban = e.get("iban", "")
            info = f"166?00SEPA-UEBERWEISUNG{sub}?30DEUTDEFFXXX?31{iban}?32{name}"
            lines86 = [info[i : i + 65] for i in range(0, len(info), 65)]
        elif dialect == "slash":
            info = (
                f"/EREF/{e.get('e2e', 'NOTPROVIDED')}/IBAN/{e.get('iban', '')}"
                f"/NAME/{e.get('name', '')}/REMI/{text}"
            )
            lines86 = [info[i : i + 65] for i in range(0, len(info), 65)]
        else:
            lines86 = [text or "PAYMENT"]
        out.append(":86:" + lines86[0])
        out.extend(lines86[1:6])
    out.append(
        f":62F:{'C' if closing >= 0 else 'D'}{_yymmdd(day)}"
        f"{currency}{_mt_amount(closing)}"
    )
    if available is not None:
        out.append(
            f":64:{'C' if available >= 0 else 'D'}{_yymmdd(day)}"
            f"{currency}{_mt_amount(available)}"
        )
    out.append("-}" if header else "-")
    return "\r\n".join(out) + "\r\n"


def ofx(
    entries,
    account="123456789",
    closing=Decimal("5000.00"),
    day=date(2026, 1, 31),
    xml=False,
    available=None,
    currency="EUR",
):
    """An OFX bank statement: 1.x SGML (default) or 2.x XML."""
    txs = []
    for i, e in enumerate(entries):
        end = "</TRNTYPE>" if xml else ""
        ends = lambda tag: f"</{tag}>" if xml else ""  # noqa: E731
        txs.append(
            f"<STMTTRN><TRNTYPE>{'CREDIT' if e['amount'] >= 0 else 'DEBIT'}{end}"
            f"<DTPOSTED>{e['date'].strftime('%Y%m%d')}{ends('DTPOSTED')}"
            f"<TRNAMT>{e['amount']:.2f}{ends('TRNAMT')}"
            f"<FITID>{e.get('ref') or i}{ends('FITID')}"
            f"<NAME>{escape(e.get('name', 'X'))}{ends('NAME')}"
            f"<MEMO>{escape(e.get('text', ''))}{ends('MEMO')}</STMTTRN>"
        )
    c = (lambda tag: f"</{tag}>") if xml else (lambda tag: "")
    avail = (
        f"<AVAILBAL><BALAMT>{available:.2f}{c('BALAMT')}<DTASOF>{day.strftime('%Y%m%d')}{c('DTASOF')}</AVAILBAL>"
        if available is not None
        else ""
    )
    start = min((e["date"] for e in entries), default=day)
    body = (
        f"<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0{c('CODE')}<SEVERITY>INFO{c('SEVERITY')}</STATUS>"
        f"<DTSERVER>{day.strftime('%Y%m%d')}{c('DTSERVER')}<LANGUAGE>ENG{c('LANGUAGE')}</SONRS></SIGNONMSGSRSV1>"
        f"<BANKMSGSRSV1><STMTTRNRS><TRNUID>1{c('TRNUID')}<STATUS><CODE>0{c('CODE')}<SEVERITY>INFO{c('SEVERITY')}</STATUS>"
        f"<STMTRS><CURDEF>{currency}{c('CURDEF')}<BANKACCTFROM><BANKID>121099999{c('BANKID')}<ACCTID>{account}{c('ACCTID')}"
        f"<ACCTTYPE>CHECKING{c('ACCTTYPE')}</BANKACCTFROM><BANKTRANLIST><DTSTART>{start.strftime('%Y%m%d')}{c('DTSTART')}"
        f"<DTEND>{day.strftime('%Y%m%d')}{c('DTEND')}{''.join(txs)}</BANKTRANLIST>"
        f"<LEDGERBAL><BALAMT>{closing:.2f}{c('BALAMT')}<DTASOF>{day.strftime('%Y%m%d')}{c('DTASOF')}</LEDGERBAL>{avail}"
        "</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>"
    )
    if xml:
        head = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<?OFX OFXHEADER="200" '
            'VERSION="211" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>\n'
        )
    else:
        head = (
            "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\n"
            "ENCODING:USASCII\nCHARSET:1252\nCOMPRESSION:NONE\n"
            "OLDFILEUID:NONE\nNEWFILEUID:NONE\n\n"
        )
    return (head + body.replace("><", ">\n<")).encode()


def bai2(
    entries,
    account="0975312468",
    opening=Decimal("1000.00"),
    day=date(2026, 1, 31),
    bad_total=False,
):
    """A BAI2 file with one group and one account, control totals computed."""
    closing = opening + sum((e["amount"] for e in entries), Decimal(0))
    d = _yymmdd(day)
    o, c = int(opening * 100), int(closing * 100)
    rec = [f"03,{account},USD,010,{o},,,015,{c},,/"]
    total = o + c
    for e in entries:
        minor = int(abs(e["amount"]) * 100)
        total += minor
        code = "195" if e["amount"] >= 0 else "495"
        rec.append(
            f"16,{code},{minor},0,{e.get('ref', '')},{e.get('e2e', '')},"
            f"{e.get('text', '')}/"
        )
    rec.append(f"49,{total + (1 if bad_total else 0)},{len(rec) + 1}/")
    lines = [
        f"01,BANK,CUST,{d},0800,1,,,2/",
        f"02,CUST,BANK,1,{d},,USD,2/",
        *rec,
        f"98,{total},1,{len(rec) + 2}/",
        f"99,{total},1,{len(rec) + 4}/",
    ]
    return ("\n".join(lines) + "\n").encode()


def csv_text(entries, delimiter=";", decimal=",", debit_credit=False):
    rows = [
        "Date;Name;Text;Amount;IBAN;Ref"
        if not debit_credit
        else "Date;Name;Text;Debit;Credit;IBAN;Ref"
    ]
    for e in entries:
        amount = f"{e['amount']:.2f}".replace(".", decimal)
        if debit_credit:
            deb = f"{-e['amount']:.2f}".replace(".", decimal) if e["amount"] < 0 else ""
            cre = amount if e["amount"] >= 0 else ""
            cells = [
                e["date"].strftime("%d.%m.%Y"),
                e.get("name", ""),
                e.get("text", ""),
                deb,
                cre,
                e.get("iban", ""),
                e.get("ref", ""),
            ]
        else:
            cells = [
                e["date"].strftime("%d.%m.%Y"),
                e.get("name", ""),
                e.get("text", ""),
                amount,
                e.get("iban", ""),
                e.get("ref", ""),
            ]
        rows.append(delimiter.join(cells))
    return ("\n".join(rows) + "\n").encode()
