# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Fixtures: a company with a chart, an AvaTax endpoint and a clearance
endpoint pointing at local servers, value maps, invoices."""

from decimal import Decimal

from odoo import Command, fields

from odoo.addons.account.tests.common import AccountTestInvoicingCommon
from odoo.addons.queue_job.job import Job

from ..models.fi_endpoint import OPENED_HERE
from .fake_servers import FakeAvaTax, FakeClearance

WEBHOOK_SECRET = "whsec_clearance_test_0123456789"


class TaxCommon(AccountTestInvoicingCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.env["queue.job"].sudo().search([("state", "=", "pending")]).unlink()
        cls.avatax = FakeAvaTax().start()
        cls.clearance = FakeClearance().start()
        cls.addClassCleanup(cls.avatax.stop)
        cls.addClassCleanup(cls.clearance.stop)

        cls.env.user.write(
            {
                "groups_id": [
                    Command.link(
                        cls.env.ref("finance_integration_core.group_fi_manager").id
                    )
                ]
            }
        )
        company = cls.env.company
        bot = cls.env.ref("finance_integration_core.user_fi_integration")
        bot.write({"company_ids": [Command.link(company.id)]})
        be = cls.env.ref("base.be")
        company.write(
            {
                "vat": "BE0246697724",
                "country_id": be.id,
                "street": "Rue de la Loi 16",
                "city": "Bruxelles",
                "zip": "1000",
            }
        )
        cls.endpoint = cls.env["fi.endpoint"].create(
            {
                "name": "AvaTax sandbox",
                "provider": "avatax",
                "state": "active",
                "company_id": company.id,
                "base_url": cls.avatax.url,
                "fi_avatax_account_id": "1100",
                "fi_avatax_company_code": "ACME",
                "credential": "lk_test",
                "retry_base_seconds": 1,
                "retry_cap_seconds": 2,
                "timeout_read": 5,
            }
        )
        cls.platform = cls.env["fi.endpoint"].create(
            {
                "name": "Clearance",
                "provider": "clearance",
                "state": "active",
                "company_id": company.id,
                "base_url": cls.clearance.url,
                "credential": "clr_token",
                "webhook_secret": WEBHOOK_SECRET,
                "retry_base_seconds": 1,
                "retry_cap_seconds": 2,
                "timeout_read": 5,
            }
        )
        company.write(
            {
                "fi_tax_endpoint_id": cls.endpoint.id,
                "fi_tax_tolerance_amount": 0.01,
                "fi_tax_tolerance_percent": 0,
                "fi_tax_mismatch_policy": "apply",
                "fi_tax_unavailable_policy": "queue",
                "fi_clearance_endpoint_id": cls.platform.id,
            }
        )
        cls.tax10 = cls.tax_sale_a.copy(
            {"name": "Sales 10%", "amount": 10, "amount_type": "percent"}
        )
        cls.tax20 = cls.tax_sale_a.copy(
            {"name": "Sales 20%", "amount": 20, "amount_type": "percent"}
        )
        cls.customer = cls.env["res.partner"].create(
            {
                "name": "Buyer BV",
                "street": "Rue des Bourlottes 9",
                "zip": "1367",
                "city": "Ramillies",
                "vat": "BE0477472701",
                "country_id": be.id,
                "ref": "CUST-1",
                "invoice_edi_format": "ubl_bis3",
            }
        )
        cls.product = cls.env["product.product"].create(
            {
                "name": "Widget",
                "default_code": "W-1",
                "lst_price": 100,
                "taxes_id": [Command.set(cls.tax10.ids)],
            }
        )
        cls.tax10_incl = cls.tax10.copy(
            {"name": "Sales 10% incl.", "price_include_override": "tax_included"}
        )
        cls.tax20_incl = cls.tax20.copy(
            {"name": "Sales 20% incl.", "price_include_override": "tax_included"}
        )
        cls.rate_map = cls._value_map(
            "avatax_tax",
            "account.tax",
            {
                "10": cls.tax10,
                "20": cls.tax20,
                "10 incl": cls.tax10_incl,
                "20 incl": cls.tax20_incl,
            },
        )

    @classmethod
    def _value_map(cls, code, model, mapping):
        """An active value map of the AvaTax endpoint: record values when
        ``model`` is given, plain values otherwise."""
        values = {
            "name": code,
            "code": code,
            "endpoint_id": cls.endpoint.id,
            "value_type": "record" if model else "char",
        }
        if model:
            values["target_model_id"] = cls.env["ir.model"]._get(model).id
        vmap = cls.env["fi.value.map"].create(values)
        version = vmap._fi_new_version()
        version.write(
            {
                "line_ids": [
                    Command.create(
                        {"external_code": k, "value_ref": f"{v._name},{v.id}"}
                        if model
                        else {"external_code": k, "value_char": v}
                    )
                    for k, v in mapping.items()
                ]
            }
        )
        version.sudo()._fi_on_activate()
        return vmap

    def setUp(self):
        super().setUp()
        # the circuit breaker counts validation failures in a transaction of
        # its own (registry.cursor()): in test mode that cursor works inside
        # the test's transaction, so it sees the test's records
        if not self.registry.in_test_mode():
            self.registry.enter_test_mode(self.env.cr)
            self.addCleanup(self.registry.leave_test_mode)
        self.env.cr.postcommit.data.pop(OPENED_HERE, None)
        for server in (self.avatax, self.clearance):
            server.come_back()
            server.requests.clear()
            server.down = False
        self.avatax.answer_currency = None
        self.avatax.rate = Decimal("0.10")
        self.avatax.transactions.clear()
        self.avatax.locked.clear()
        self.clearance.documents.clear()
        self.clearance.by_key.clear()
        self.clearance.precondition = None

    def invoice(
        self,
        lines=None,
        move_type="out_invoice",
        date="2026-03-02",
        partner=None,
        **values,
    ):
        lines = lines or [{"price_unit": 100, "quantity": 1}]
        return self.env["account.move"].create(
            dict(
                {
                    "move_type": move_type,
                    "partner_id": (partner or self.customer).id,
                    "invoice_date": date,
                    "invoice_line_ids": [
                        Command.create(
                            dict(
                                {
                                    "product_id": self.product.id,
                                    "tax_ids": [Command.set(self.tax10.ids)],
                                },
                                **line,
                            )
                        )
                        for line in lines
                    ],
                },
                **values,
            )
        )

    def us_partner(self):
        """A customer where the engine validates addresses."""
        return self.env["res.partner"].create(
            {
                "name": "US buyer",
                "street": "100 Ravine Lane",
                "city": "Bainbridge",
                "zip": "98110",
                "country_id": self.env.ref("base.us").id,
                "state_id": self.env.ref("base.state_us_48").id,
            }
        )

    # -- jobs ------------------------------------------------------------
    def pending_jobs(self):
        return (
            self.env["queue.job"].sudo().search([("state", "=", "pending")], order="id")
        )

    def run_jobs(self, max_rounds=10):
        """Perform pending jobs as the job runner does (eta ignored: the
        retries are what the tests look at); returns how many ran."""
        ran = self.env["queue.job"]
        for _round in range(max_rounds):
            jobs = self.pending_jobs() - ran
            if not jobs:
                break
            for record in jobs:
                job = Job.load(self.env, record.uuid)
                job.set_started()
                job.store()
                job.perform()
                job.set_done()
                job.store()
                ran |= record
        self.env.invalidate_all()
        return len(ran)

    def messages(self, event_type, record=None):
        domain = [("event_type", "=", event_type)]
        if record:
            domain += [("res_model", "=", record._name), ("res_id", "=", record.id)]
        return self.env["fi.message"].sudo().search(domain, order="id")

    def exceptions(self, record, code=None):
        domain = [("res_model", "=", record._name), ("res_id", "=", record.id)]
        if code:
            domain.append(("error_code", "=", code))
        return self.env["fi.exception"].sudo().search(domain)

    @staticmethod
    def today():
        return fields.Date.today()
