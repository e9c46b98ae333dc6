# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Demo population: signed Stripe events through the real intake and
processing, answered by the tests' local Stripe API (127.0.0.1, in this
process, stopped afterwards), so that the demo database shows a Stripe
endpoint with messages in every state, exceptions and a settled payout."""

import importlib.util
import json
import logging
import time
from datetime import datetime
from pathlib import Path

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..lib.signature import sign

_logger = logging.getLogger(__name__)


def _local_stripe():
    """The tests' local Stripe API module, loaded from its file (importing
    the tests package would import Odoo's test framework outside tests)."""
    path = Path(__file__).resolve().parents[1] / "tests" / "stripe_server.py"
    spec = importlib.util.spec_from_file_location("fi_stripe_demo_server", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"no local Stripe API at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FiStripeDemo(models.AbstractModel):
    _name = "fi.stripe.demo"
    _description = "Finance Integration Stripe Demo Data"

    @api.model
    def _fi_stripe_demo_populate(self, endpoint_ids):
        endpoint = self.env["fi.endpoint"].browse(endpoint_ids)
        try:
            fake = _local_stripe().FakeStripe(api_key="sk_test_demo_0123456789")
            fake.start()
        except (ImportError, OSError) as err:
            _logger.warning("Stripe demo skipped: no local Stripe API (%s)", err)
            return
        try:
            with self.env.cr.savepoint():
                self._fi_stripe_demo_run(endpoint, fake)
        except Exception:  # noqa: BLE001 - demo data never breaks an install
            _logger.warning("Stripe demo population failed", exc_info=True)
        finally:
            fake.stop()

    def _fi_stripe_demo_run(self, endpoint, fake):
        secret = "whsec_demo_stripe_" + endpoint.key[:12]
        try:
            endpoint.write(
                {
                    "base_url": fake.url,
                    "credential": fake.api_key,
                    "webhook_secret": secret,
                }
            )
        except UserError:
            _logger.warning("Stripe demo endpoint: no encryption key is set")
            return
        endpoint.state = "active"
        journal = endpoint.stripe_journal_id
        (
            journal.inbound_payment_method_line_ids
            | journal.outbound_payment_method_line_ids
        ).payment_account_id = endpoint.stripe_clearing_account_id
        endpoint.action_fi_stripe_install_flows()
        partner = self.env.ref("base.res_partner_12", raise_if_not_found=False)
        partner = partner or self.env["res.partner"].create({"name": "Stripe buyer"})
        currency = endpoint.company_id.currency_id
        code = currency.name.lower()
        now = int(time.time())
        invoices = {}
        for name, amount in (("paid", 100), ("refunded", 50), ("disputed", 80)):
            move = self.env["account.move"].create(
                {
                    "move_type": "out_invoice",
                    "partner_id": partner.id,
                    "currency_id": currency.id,
                    "invoice_line_ids": [
                        fields.Command.create(
                            {
                                "name": f"Stripe demo ({name})",
                                "quantity": 1,
                                "price_unit": amount,
                                "tax_ids": [],
                            }
                        )
                    ],
                }
            )
            move.action_post()
            invoices[name] = move

        def intent(pid, minor, invoice=None, **extra):
            methods = extra.get("payment_method_types") or ["card"]
            charge = fake.add(
                "charge",
                id=f"ch_{pid[3:]}",
                amount=minor,
                amount_captured=minor,
                captured=True,
                currency=code,
                payment_intent=pid,
                paid=True,
                created=now,
                payment_method_details={"type": methods[0]},
            )
            values = {
                "id": pid,
                "amount": minor,
                "amount_received": minor,
                "currency": code,
                "status": "succeeded",
                "latest_charge": charge["id"],
                "metadata": {"odoo_invoice_id": str(invoice.id)} if invoice else {},
                "application": None,
                "transfer_data": None,
                "created": now,
            }
            values.update(extra)
            return fake.add("payment_intent", **values)

        paid = intent("pi_demo_paid", 10000, invoices["paid"])
        refunded = intent("pi_demo_refunded", 5000, invoices["refunded"])
        disputed = intent("pi_demo_disputed", 8000, invoices["disputed"])
        unmatched = intent("pi_demo_unmatched", 4200, receipt_email=partner.email)
        in_store = intent(
            "pi_demo_in_store", 1500, payment_method_types=["card_present"]
        )
        later = intent("pi_demo_later", 900)
        refund = fake.add(
            "refund",
            id="re_demo_partial",
            amount=2000,
            currency=code,
            charge=refunded["latest_charge"],
            payment_intent=refunded["id"],
            status="succeeded",
            created=now,
        )
        early_refund = fake.add(
            "refund",
            id="re_demo_before_charge",
            amount=900,
            currency=code,
            charge=later["latest_charge"],
            payment_intent=later["id"],
            status="succeeded",
            created=now,
        )
        withdrawn = {
            "id": "txn_demo_dispute",
            "object": "balance_transaction",
            "amount": -8000,
            "fee": 1500,
            "net": -9500,
            "currency": code,
            "created": now,
            "type": "adjustment",
            "reporting_category": "dispute",
            "fee_details": [{"amount": 1500, "currency": code, "type": "stripe_fee"}],
        }
        dispute = fake.add(
            "dispute",
            id="dp_demo",
            amount=8000,
            currency=code,
            charge=disputed["latest_charge"],
            payment_intent=disputed["id"],
            status="needs_response",
            reason="fraudulent",
            balance_transactions=[withdrawn],
            evidence_details={"due_by": now + 7 * 86400},
        )
        rows = [
            ("txn_demo_paid", "charge", 10000, 320, paid["latest_charge"]),
            ("txn_demo_refunded", "charge", 5000, 175, refunded["latest_charge"]),
            ("txn_demo_refund", "refund", -2000, 0, refund["id"]),
        ]
        for tid, category, amount, fee, source in rows:
            fake.add(
                "balance_transaction",
                id=tid,
                type=category,
                reporting_category=category,
                amount=amount,
                fee=fee,
                net=amount - fee,
                currency=code,
                fee_details=[{"amount": fee, "currency": code, "type": "stripe_fee"}]
                if fee
                else [],
                source=source,
                _payout="po_demo",
            )
        payout = fake.add(
            "payout",
            id="po_demo",
            amount=sum(amount - fee for _t, _c, amount, fee, _s in rows),
            currency=code,
            status="paid",
            automatic=True,
            reconciliation_status="completed",
            arrival_date=now,
            created=now,
        )
        events = [
            ("payment_intent.succeeded", paid),
            ("payment_intent.succeeded", refunded),
            ("payment_intent.succeeded", disputed),
            ("refund.created", refund),
            ("charge.dispute.created", dispute),
            ("payout.reconciliation_completed", payout),
            ("payment_intent.succeeded", unmatched),  # -> unmatched exception
            ("payment_intent.succeeded", in_store),  # -> ignored: card present
            ("refund.created", early_refund),  # -> waits for its charge
            ("customer.subscription.created", {"id": "sub_demo"}),  # no flow
        ]
        for index, (event_type, obj) in enumerate(events):
            event = fake.event(event_type, obj, event_id=f"evt_demo_stripe_{index}")
            self._fi_stripe_demo_deliver(endpoint, secret, json.dumps(event).encode())
        self._fi_stripe_demo_deliver(endpoint, secret, b'{"id": "evt_demo_broken", ')
        self._fi_stripe_demo_run_jobs(endpoint)
        endpoint.env.invalidate_all()
        # the day reconciled at once (the cron waits for its end): the register
        # shows the payment and the refund Odoo has not booked, the day's
        # exception lists them
        try:
            with self.env.cr.savepoint():
                endpoint._fi_stripe_reconcile_day(
                    datetime.now(endpoint._fi_stripe_tz()).date()
                )
        except Exception:  # noqa: BLE001 - demo data never breaks an install
            _logger.warning("Stripe demo reconciliation failed", exc_info=True)

    def _fi_stripe_demo_deliver(self, endpoint, secret, body):
        headers = {
            "Content-Type": "application/json",
            "Stripe-Signature": sign(body, secret, int(time.time())),
        }
        endpoint.sudo()._fi_receive_webhook(
            endpoint.key, headers, lambda _n, b=body: b, len(body), "127.0.0.1"
        )

    def _fi_stripe_demo_run_jobs(self, endpoint, waiting=("evt_demo_stripe_8",)):
        """Run the jobs now, as the job runner would (retries of events that
        came before what they are about included); the ``waiting`` events stay
        planned for a later retry after their first attempt."""
        self.env["fi.demo"]._fi_demo_run_jobs(endpoint.env, waiting=waiting)
