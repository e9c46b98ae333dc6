"""Benchmark of the bank connector (``setup/bench bank``).

1. Parsing: a generated 100,000-entry camt.053.001.08 file (validated against
   its XSD while it is parsed) and the same entries as MT940, each parsed in a
   fresh process (time and peak RSS of that process), beside the peers on the
   same files: an lxml whole-tree parse of the camt file with one XPath per
   field and entry as the OCA ``account_statement_import_camt`` parser does,
   the ``mt-940`` package on the MT940 file, and ``ofxparse`` on an OFX file of
   the same 100,000 entries (for the record: the addon uses ``ofxparse``;
   stopped after FI_BENCH_OFX_TIMEOUT=300 s).
2. Import of a 10,000-line camt.053 statement into Odoo (throwaway PostgreSQL
   cluster, ``account`` with the generic chart, ``finance_integration_bank``):
   parse, checks, statement, lines and their moves, in one transaction.
3. Matching 10,000 lines against 50,000 open items with the lib engine, and
   20,000 against 100,000 (best of 3 rounds each); growth = the ratio.

The last line is ``bench bank: camt_100k_s=... camt_peak_mb=...
camt_peer_ratio=... mt940_100k_s=... mt940_peer_ratio=... import_10k_s=...
match_10k_s=... match_growth=...``.
Set ``FI_BENCH_SKIP_ODOO=1`` to skip step 2 (``import_10k_s=skipped``).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ADDON = os.path.join(ROOT, "finance_integration_bank")
PYTHON = os.environ.get("FI_PYTHON", sys.executable)
ENTRIES = int(os.environ.get("FI_BENCH_ENTRIES", "100000"))
IMPORT_LINES = int(os.environ.get("FI_BENCH_IMPORT_LINES", "10000"))
OFX_TIMEOUT = int(os.environ.get("FI_BENCH_OFX_TIMEOUT", "300"))

sys.path.insert(0, ADDON)  # the addon's lib/ as a plain package: no Odoo needed

from lib import matching, writers  # noqa: E402


def log(text):
    print(f"bench bank: {text}", flush=True)


# ----------------------------------------------------------------------
# parsing, each in its own process (peak RSS is per process)
# ----------------------------------------------------------------------
CHILD = r"""
import json, sys, time
sys.path.insert(0, {addon!r})
what, path = sys.argv[1], sys.argv[2]
start, cpu_start = time.perf_counter(), time.process_time()
if what == "ours":
    from lib import statements
    parsed = statements.parse(path, path)
    count = sum(len(s.lines) for s in parsed)
elif what == "oca_lxml":
    from lxml import etree
    with open(path, "rb") as handle:
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        root = etree.fromstring(handle.read(), parser)
    ns = {{"ns": root.nsmap[None]}}
    count = 0
    lines = []
    tx = "./ns:NtryDtls/ns:TxDtls/"
    for node in root.xpath("./ns:BkToCstmrStmt/ns:Stmt/ns:Ntry", namespaces=ns):
        # one XPath per field and entry, as account_statement_import_camt does
        x = lambda p: node.xpath(p, namespaces=ns)
        amount = x("./ns:Amt")[0].text
        sign = x("./ns:CdtDbtInd")[0].text
        lines.append(dict(
            amount=amount if sign == "CRDT" else "-" + amount,
            date=(x("./ns:BookgDt/ns:Dt") or x("./ns:BookgDt/ns:DtTm"))[0].text,
            value_date=[e.text for e in x("./ns:ValDt/ns:Dt")],
            ref=[e.text for e in x("./ns:AcctSvcrRef")],
            e2e=[e.text for e in x(tx + "ns:Refs/ns:EndToEndId")],
            text=[e.text for e in x(tx + "ns:RmtInf/ns:Ustrd")],
            cref=[e.text for e in x(tx + "ns:RmtInf/ns:Strd/ns:CdtrRefInf/ns:Ref")],
            name=[e.text for e in x(tx + "ns:RltdPties/ns:Dbtr/ns:Pty/ns:Nm")],
            iban=[e.text for e in x(tx + "ns:RltdPties/ns:DbtrAcct/ns:Id/ns:IBAN")],
            code=[e.text for e in x("./ns:BkTxCd/ns:Domn/ns:Cd")],
        ))
        count += 1
elif what == "lxml_tree_only":
    from lxml import etree
    with open(path, "rb") as handle:
        root = etree.fromstring(handle.read())
    count = len(root[0][1])
elif what == "mt940_pkg":
    import mt940
    with open(path, encoding="utf-8") as handle:
        transactions = mt940.models.Transactions()
        transactions.parse(handle.read())
    count = len(transactions)
elif what == "ofxparse":
    import ofxparse, warnings
    warnings.simplefilter("ignore")
    with open(path, "rb") as handle:
        ofx = ofxparse.OfxParser.parse(handle)
    count = len(ofx.account.statement.transactions)
seconds = time.perf_counter() - start
cpu = time.process_time() - cpu_start
# VmHWM: this process's own high-water mark (ru_maxrss would carry the
# parent's peak over fork + exec)
with open("/proc/self/status") as status:
    peak = next(int(l.split()[1]) for l in status if l.startswith("VmHWM")) / 1024
print(json.dumps({{"seconds": seconds, "cpu": cpu, "peak_mb": peak, "count": count}}))
"""


def run_child(what, path, timeout=None):
    try:
        answer = subprocess.run(
            [PYTHON, "-c", CHILD.format(addon=ADDON), what, path],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        log(f"{what:15s} {os.path.basename(path)}: more than {timeout}s, stopped")
        return {"seconds": float(timeout), "cpu": 0.0, "peak_mb": 0.0, "count": 0}
    if answer.returncode:
        raise RuntimeError(f"{what} failed: {answer.stderr[-2000:]}")
    result = json.loads(answer.stdout.strip().splitlines()[-1])
    log(
        f"{what:15s} {os.path.basename(path)}: {result['seconds']:.2f}s "
        f"(CPU {result['cpu']:.2f}s), peak {result['peak_mb']:.0f} MB, "
        f"{result['count']} entries"
    )
    return result


def best_of(what, path, rounds=2, timeout=None):
    results = [run_child(what, path, timeout) for _ in range(rounds)]
    return min(results, key=lambda r: r["seconds"])


def parse_bench(workdir):
    entries = writers.sample_entries(ENTRIES)
    camt_path = os.path.join(workdir, "camt053_100k.xml")
    mt_path = os.path.join(workdir, "mt940_100k.sta")
    ofx_path = os.path.join(workdir, "ofx_100k.ofx")
    with open(camt_path, "wb") as handle:
        handle.write(writers.camt(entries))
    with open(mt_path, "w", encoding="utf-8") as handle:
        handle.write(writers.mt940(entries))
    with open(ofx_path, "wb") as handle:
        handle.write(writers.ofx(entries))
    for path in (camt_path, mt_path, ofx_path):
        log(f"{os.path.basename(path)}: {os.path.getsize(path) / 1e6:.1f} MB")
    ours_camt = best_of("ours", camt_path)
    oca = best_of("oca_lxml", camt_path)
    best_of("lxml_tree_only", camt_path, rounds=1)
    ours_mt = best_of("ours", mt_path)
    peer_mt = best_of("mt940_pkg", mt_path, rounds=1)
    # ofxparse (BeautifulSoup underneath) is far slower: informative, bounded
    best_of("ofxparse", ofx_path, rounds=1, timeout=OFX_TIMEOUT)
    return ours_camt, oca, ours_mt, peer_mt


# ----------------------------------------------------------------------
# matching
# ----------------------------------------------------------------------
def match_once(n_lines, n_items):
    from datetime import date, timedelta
    from decimal import Decimal

    items = [
        matching.OpenItem(
            i,
            Decimal(100 + (i * 37) % 9000) + Decimal(i % 100) / 100,
            "EUR",
            date(2026, 1, 1) + timedelta(days=i % 30),
            i % (n_items // 10) + 1,
            (f"INV/2026/{i:07d}", f"RF{i:010d}"),
        )
        for i in range(n_items)
    ]
    ibans = {f"DE{p:020d}": p for p in range(1, n_items // 10 + 1)}
    lines = []
    for j in range(n_lines):
        item = items[(j * 5) % n_items]
        kind = j % 4
        texts = (
            (f"Payment INV/2026/{item.id:07d}",)
            if kind == 0
            else (("thanks",) if kind else ())
        )
        amount = item.amount if kind != 3 else item.amount + 1
        lines.append(
            matching.BankLine(
                j,
                amount,
                "EUR",
                date(2026, 1, 15),
                texts,
                f"DE{item.partner_id:020d}" if kind in (1, 3) else "",
            )
        )
    start = time.perf_counter()
    proposals = matching.match(lines, items, ibans)
    return time.perf_counter() - start, len({p.line_id for p in proposals})


def match_bench():
    small = min(match_once(10000, 50000)[0] for _ in range(3))
    big = min(match_once(20000, 100000)[0] for _ in range(3))
    log(f"matching 10,000 x 50,000: {small:.2f}s; 20,000 x 100,000: {big:.2f}s")
    return small, big


# ----------------------------------------------------------------------
# import into Odoo
# ----------------------------------------------------------------------
SHELL_IMPORT = r"""
import os, time, sys
sys.path.insert(0, {addon!r})
from lib import writers
company = env.company
if not env["account.account"].search_count([("company_ids", "in", company.ids)]):
    env["account.chart.template"].try_loading(
        "generic_coa", company=company, install_demo=False
    )
bank = env["res.partner.bank"].create(
    {{"acc_number": "NL91ABNA0417164300", "partner_id": company.partner_id.id}}
)
journal = env["account.journal"].search(
    [("type", "=", "bank"), ("company_id", "=", company.id)], limit=1
)
journal.write({{"bank_account_id": bank.id, "currency_id": False}})
env.cr.commit()
entries = writers.sample_entries({lines})
data = writers.camt(entries, currency=company.currency_id.name)
env.cr.execute("SELECT pg_backend_pid()")
backend = env.cr.fetchone()[0]
def pg_cpu():  # the PostgreSQL backend of this shell (same machine)
    try:
        with open(f"/proc/{{backend}}/stat") as stat:
            f = stat.read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")
def own_cpu():
    t = os.times()
    return t.user + t.system
cpu0, pg0 = own_cpu(), pg_cpu()
start = time.perf_counter()
record = env["fi.bank.statement.file"]._fi_import_files(journal, [("bench.xml", data)])
env.cr.commit()
seconds = time.perf_counter() - start
print(f"CPU odoo={{own_cpu() - cpu0:.1f}} postgres={{pg_cpu() - pg0:.1f}}")
print(f"IMPORT={{seconds}} {{record.state}} {{record.line_count}}", record.error or "")
"""


def import_bench(workdir):
    import _fi  # the throwaway cluster and Odoo runs shared by the benches

    cluster = _fi.Cluster(os.path.join(workdir, "pg"))
    logfile = os.path.join(workdir, "odoo.log")
    try:
        cluster.start()
        conf = _fi.write_config(
            os.path.join(workdir, "odoo.conf"), cluster.port, data_dir=workdir
        )
        log(f"cluster on port {cluster.port}, logs in {logfile}")
        start = time.perf_counter()
        _fi.odoo_install(conf, "bench_bank", "finance_integration_bank", log=logfile)
        log(f"installed in {time.perf_counter() - start:.0f}s")
        out = _fi.odoo_shell(
            conf,
            "bench_bank",
            SHELL_IMPORT.format(addon=ADDON, lines=IMPORT_LINES),
            log=logfile,
        )
        found = re.search(r"IMPORT=(\S+) (\S+) (\S+)(.*)", out)
        if not found:
            raise RuntimeError(out[-3000:])
        seconds, state, count, error = found.groups()
        cpu = re.search(r"CPU odoo=(\S+) postgres=(\S+)", out)
        log(
            f"imported {count} lines ({state}) in {float(seconds):.1f}s {error}"
            f"(CPU: Odoo {cpu.group(1)}s, PostgreSQL {cpu.group(2)}s; "
            f"load average {os.getloadavg()[0]:.1f})"
        )
        if state != "done":
            raise RuntimeError(error)
        return float(seconds)
    finally:
        cluster.stop()


def main():
    workdir = tempfile.mkdtemp(prefix="fi_bench_bank_")
    os.chmod(workdir, 0o755)
    try:
        ours_camt, oca, ours_mt, peer_mt = parse_bench(workdir)
        small, big = match_bench()
        if os.environ.get("FI_BENCH_SKIP_ODOO"):
            import_s = "skipped"
        else:
            import_s = f"{import_bench(workdir):.1f}"
        print(
            f"bench bank: camt_100k_s={ours_camt['seconds']:.2f} "
            f"camt_peak_mb={ours_camt['peak_mb']:.0f} "
            f"camt_peer_ratio={ours_camt['seconds'] / oca['seconds']:.2f} "
            f"mt940_100k_s={ours_mt['seconds']:.2f} "
            f"mt940_peer_ratio={ours_mt['seconds'] / peer_mt['seconds']:.2f} "
            f"import_10k_s={import_s} "
            f"match_10k_s={small:.2f} "
            f"match_growth={big / small:.2f}",
            flush=True,
        )
    finally:
        if os.environ.get("FI_BENCH_KEEP"):
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
