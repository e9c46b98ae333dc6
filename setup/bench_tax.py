"""Benchmark: invoices validated with the tax engine, and e-invoice validation.

Run as ``python3 setup/bench_tax.py`` (``setup/bench tax``). It

1. starts a throwaway PostgreSQL cluster and installs ``finance_integration_tax``
   (no demo data) with the generic chart of accounts,
2. starts a local AvaTax server on 127.0.0.1 (tests/fake_servers.py, the shapes
   of the AvaTax spec) answering every call in 50 ms,
3. validates N invoices of 3 lines one by one in one Odoo process (``odoo
   shell``): once without tax engine, once with it; the difference per invoice is
   the added latency of the engine call (target: at most its own 50 ms + 20 ms),
4. builds the Peppol BIS 3 UBL of one invoice (account_edi_ubl_cii) and, after a
   warm-up, times its EN 16931 + Peppol BIS 3 validation (target < 20 ms).

The last line is
``bench tax: invoices_per_s=... added_ms=... en16931_ms=...``.
"""

import json
import os

import _fi

DB = "fi_bench_tax"
INVOICES = int(os.environ.get("FI_BENCH_INVOICES", "200"))
LATENCY = float(os.environ.get("FI_BENCH_ENGINE_MS", "50")) / 1000
VALIDATIONS = int(os.environ.get("FI_BENCH_VALIDATIONS", "50"))

SHELL = """
import json, time
from odoo import Command
import importlib.util, os
import odoo.addons.finance_integration_tax as addon
from odoo.addons.finance_integration_tax.lib import validator

# the local AvaTax server of the tests, loaded without importing the tests
path = os.path.join(os.path.dirname(addon.__file__), "tests", "fake_servers.py")
spec = importlib.util.spec_from_file_location("fi_tax_fake_servers", path)
fake_servers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fake_servers)
FakeAvaTax = fake_servers.FakeAvaTax

env = env(context=dict(env.context, tracking_disable=True))
company = env.company
if not company.chart_template:
    env["account.chart.template"].try_loading(
        "generic_coa", company, install_demo=False)
be = env.ref("base.be")
company.write({"vat": "BE0246697724", "country_id": be.id,
               "street": "Rue de la Loi 16", "city": "Bruxelles", "zip": "1000"})
server = FakeAvaTax().start()
server.latency = LATENCY
endpoint = env["fi.endpoint"].create({
    "name": "AvaTax bench", "provider": "avatax", "state": "active",
    "base_url": server.url, "fi_avatax_account_id": "1100",
    "fi_avatax_company_code": "ACME", "credential": "lk_test"})
tax = company.account_sale_tax_id.copy(
    {"name": "Sales 10%", "amount": 10, "amount_type": "percent"})
partner = env["res.partner"].create({
    "name": "Buyer BV", "street": "Rue des Bourlottes 9", "zip": "1367",
    "city": "Ramillies", "vat": "BE0477472701", "country_id": be.id,
    "invoice_edi_format": "ubl_bis3"})
product = env["product.product"].create({"name": "Widget", "default_code": "W-1"})

def make():
    return env["account.move"].create({
        "move_type": "out_invoice", "partner_id": partner.id,
        "invoice_date": "2026-03-02", "ref": "PO-1",
        "invoice_line_ids": [Command.create({"product_id": product.id,
            "price_unit": 100 + i, "quantity": 1, "tax_ids": [Command.set(tax.ids)]})
            for i in range(3)]})

def run(n):
    moves = [make() for _ in range(n)]
    env.flush_all()
    start = time.perf_counter()
    for move in moves:
        move.action_post()
        env.flush_all()
    return time.perf_counter() - start, moves

for _ in range(5):
    make().action_post()  # warm-up
company.fi_tax_endpoint_id = False
base, _ = run(N)
company.fi_tax_endpoint_id = endpoint.id
with_engine, moves = run(N)
assert all(m.fi_tax_state == "calculated" for m in moves), "engine not used"

xml, errors = env["account.edi.xml.ubl_bis3"]._export_invoice(moves[0])
for _ in range(5):
    report = validator.validate_ubl(xml)
times = []
for _ in range(V):
    report = validator.validate_ubl(xml)
    times.append(report.elapsed_ms)
times.sort()
print("BENCH-RESULT " + json.dumps({
    "invoices": N, "base_s": base, "engine_s": with_engine,
    "validation_ms_median": times[len(times) // 2],
    "validation_ms_p95": times[int(len(times) * 0.95) - 1],
    "findings": [str(f) for f in report.errors][:5], "odoo_errors": sorted(errors),
}))
server.stop()
env.cr.rollback()
"""


def say(text):
    print(f"bench tax: {text}", flush=True)


def main():
    _fi.check_odoo()
    _fi.exit_on_sigterm("bench tax")
    keep = os.environ.get("FI_KEEP") == "1"
    with _fi.workdir("fi-bench-tax-", keep=keep) as work:
        cluster = _fi.Cluster(os.path.join(work, "pg"))
        cluster.start()
        try:
            conf = _fi.write_config(os.path.join(work, "odoo.conf"), cluster.port)
            log = os.path.join(work, "odoo.log")
            say("installing finance_integration_tax")
            _fi.odoo_install(conf, DB, "finance_integration_tax", log=log)
            say(
                f"validating {INVOICES} invoices without and with the engine "
                f"({LATENCY * 1000:.0f} ms per answer)"
            )
            script = f"N = {INVOICES}\nV = {VALIDATIONS}\nLATENCY = {LATENCY}\n"
            out = _fi.odoo_shell(conf, DB, script + SHELL, log=log)
        finally:
            cluster.stop()
    lines = [ln for ln in out.splitlines() if ln.startswith("BENCH-RESULT ")]
    if not lines:
        print(out[-3000:])
        raise SystemExit("bench tax: the shell script printed no result")
    result = json.loads(lines[-1].split(" ", 1)[1])
    n = result["invoices"]
    base_ms = result["base_s"] * 1000 / n
    engine_ms = result["engine_s"] * 1000 / n
    added = engine_ms - base_ms
    print(
        f"bench tax: without engine {base_ms:.1f} ms per invoice, with engine "
        f"{engine_ms:.1f} ms (engine answers in {LATENCY * 1000:.0f} ms); "
        f"target added <= {LATENCY * 1000 + 20:.0f} ms: "
        f"{'met' if added <= LATENCY * 1000 + 20 else 'MISSED'}"
    )
    print(
        f"bench tax: EN 16931 + Peppol BIS 3 validation median "
        f"{result['validation_ms_median']:.1f} ms, p95 "
        f"{result['validation_ms_p95']:.1f} ms (target < 20 ms); document "
        f"findings: {result['findings'] or 'none'}; Odoo export errors: "
        f"{result['odoo_errors'] or 'none'}"
    )
    print(
        f"bench tax: invoices_per_s={n / result['engine_s']:.1f} "
        f"added_ms={added:.1f} en16931_ms={result['validation_ms_median']:.1f}"
    )


if __name__ == "__main__":
    main()
