# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import base64
import json
from datetime import timedelta

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from odoo.addons.finance_integration_core.lib.signature import sign

from .common import WEBHOOK_SECRET, TaxCommon


@tagged("post_install", "-at_install")
class TestEinvoice(TaxCommon):
    def setUp(self):
        super().setUp()
        self.customer.fi_einvoicing = True
        self.clearance.down = False
        self.clearance.precondition = None
        self.clearance.requests.clear()

    def posted(self, **values):
        move = self.invoice(ref="PO-4711", **values)
        move.action_post()
        return move

    def submitted(self):
        move = self.posted()
        self.run_jobs()
        doc = move.fi_einvoice_document_ids
        self.assertEqual(doc.state, "submitted", self.exceptions(move).mapped("detail"))
        return move, doc

    def webhook(self, event_id, doc, status, **extra):
        document = dict(
            {
                "id": event_id,
                "type": "document.status",
                "document_id": doc.platform_id,
                "status": status,
                "occurred_at": "2026-03-02T10:00:00Z",
            },
            **extra,
        )
        body = json.dumps(document).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Signature": sign(body, WEBHOOK_SECRET),
        }
        answer = (
            self.env["fi.endpoint"]
            .sudo()
            ._fi_receive_webhook(
                self.platform.key, headers, lambda n: body[:n], len(body), "127.0.0.1"
            )
        )
        self.run_jobs()
        return answer

    def test_valid_invoice_is_validated_archived_and_submitted_once(self):
        move, doc = self.submitted()
        (post,) = self.clearance.calls("/documents")
        sent = json.loads(post["body"])
        xml = base64.b64decode(sent["document"])
        self.assertEqual(sent["sha256"], doc.sha256)
        self.assertEqual(
            post["headers"]["Idempotency-Key"], f"{move.name}:v1:{doc.sha256}"
        )
        self.assertTrue(doc.attachment_id.fi_legal_archive)
        self.assertEqual(doc._fi_xml(), xml)
        self.assertEqual(move.fi_einvoice_state, "submitted")
        # a resubmission (replay of the message) never creates a second one
        doc.message_id._fi_requeue()
        self.run_jobs()
        self.assertEqual(len(self.clearance.documents), 1)
        history = move.fi_einvoice_status_ids
        self.assertEqual(history.mapped("status"), ["submitted"])
        self.assertEqual(history.source, "submission")

    def test_invalid_document_is_not_sent_and_names_each_rule(self):
        self.customer.write(
            {
                "street": False,
                "city": False,
                "zip": False,
                "country_id": False,
                "vat": False,
            }
        )
        move = self.posted()
        self.run_jobs()
        self.assertEqual(move.fi_einvoice_state, "invalid")
        self.assertFalse(self.clearance.calls("/documents"))
        (item,) = self.exceptions(move, "einvoice_invalid")
        self.assertRegex(item.detail, r"BR-\d+ \[EN16931\] .+ \(at /")

    def test_rejected_document_corrected_and_resubmitted_as_new_version(self):
        move, doc = self.submitted()
        self.clearance.documents[doc.platform_id].update(
            status="rejected", reasons=[{"code": "BR-X", "message": "wrong buyer"}]
        )
        self.platform._fi_tax_flow("einvoice.poll")._fi_run_scheduled()
        self.run_jobs()
        self.assertEqual(doc.state, "rejected")
        self.assertIn("wrong buyer", doc.reasons)
        self.assertTrue(self.exceptions(move, "clearance_rejected"))
        move.button_draft()
        move.ref = "PO-4712"
        move.action_post()
        self.run_jobs()
        v1, v2 = move.fi_einvoice_document_ids.sorted("version")
        self.assertEqual((v1.state, v2.state), ("superseded", "submitted"))
        self.assertNotEqual(v1.sha256, v2.sha256)
        self.assertEqual(len(self.clearance.documents), 2)
        self.assertTrue(v1._fi_verify() and v2._fi_verify())

    def test_duplicate_status_webhooks_change_the_history_once(self):
        move, doc = self.submitted()
        self.assertEqual(self.webhook("evt-1", doc, "received")[0], 200)
        self.webhook("evt-1", doc, "received")  # the same delivery again
        self.webhook("evt-2", doc, "received")  # the same news, another id
        self.webhook(
            "evt-3",
            doc,
            "cleared",
            business_response={"status": "accepted", "reason": "ok"},
        )
        self.webhook("evt-4", doc, "received")  # late, older news
        self.assertEqual(doc.state, "cleared")
        platform = move.fi_einvoice_status_ids.filtered(lambda s: s.kind == "platform")
        self.assertEqual(
            sorted(platform.mapped("status")), ["cleared", "received", "submitted"]
        )
        buyer = move.fi_einvoice_status_ids.filtered(lambda s: s.kind == "buyer")
        self.assertEqual(buyer.status, "accepted")
        self.assertEqual(move.fi_einvoice_business_status, "accepted")
        self.assertEqual(self.webhook("evt-5", doc, "paid")[0], 200)
        self.assertEqual(move.fi_einvoice_state, "paid")

    def test_acknowledgement_timeout_opens_an_exception(self):
        move, doc = self.submitted()
        doc.sudo().with_context(fi_einvoice_internal=True).submitted_at = (
            fields.Datetime.now() - timedelta(hours=5)
        )
        self.env["fi.einvoice.document"]._cron_fi_check_ack_deadline()
        (item,) = self.exceptions(move, "ack_timeout")
        self.assertIn("did not acknowledge", item.detail)

    def test_platform_down_is_retried_then_escalated(self):
        self.clearance.down = True
        move = self.posted()
        self.run_jobs(max_rounds=1)
        message = self.messages("einvoice.submit", move)
        self.assertEqual(message.state, "retry")
        self.env.cr.execute(
            "UPDATE fi_message SET create_date = %s WHERE id = %s",
            (fields.Datetime.now() - timedelta(hours=30), message.id),
        )
        message.invalidate_recordset()
        result = message._fi_process()
        self.assertIn("transient failure", result)
        self.assertEqual(message.exception_ids.error_code, "clearance_overdue", result)
        self.assertTrue(self.exceptions(move, "clearance_overdue"))
        self.clearance.down = False
        message._fi_process()
        self.assertEqual(move.fi_einvoice_state, "submitted")

    def test_platform_down_blocks_validation_under_block_policy(self):
        self.env.company.fi_clearance_unavailable_policy = "block"
        self.clearance.down = True
        move = self.invoice(ref="PO-1")
        with (
            self.assertRaisesRegex(UserError, "clearance platform.*unavailable"),
            self.env.cr.savepoint(),
        ):
            move.action_post()
        move.invalidate_recordset()
        self.assertEqual(move.state, "draft")
        self.assertFalse(move.fi_einvoice_document_ids)

    def test_precondition_answer_tells_what_to_fix(self):
        self.clearance.precondition = "buyer has no Peppol endpoint"
        move = self.posted()
        self.run_jobs()
        (item,) = self.exceptions(move)
        self.assertIn("Fix it on invoice", item.detail)
        self.assertIn("buyer_endpoint", item.detail)

    def test_submitted_invoice_is_immutable_and_verifiable(self):
        move, doc = self.submitted()
        with self.assertRaisesRegex(UserError, "cannot be reset to draft"):
            move.button_draft()
        with self.assertRaisesRegex(UserError, "cannot be changed"):
            move.ref = "changed"
        with self.assertRaisesRegex(UserError, "legal value"):
            doc.attachment_id.unlink()
        self.assertEqual(move.action_fi_verify_einvoice()["params"]["type"], "success")
        self.env.cr.execute(
            "UPDATE fi_einvoice_document SET sha256 = %s WHERE id = %s",
            ("0" * 64, doc.id),
        )
        doc.invalidate_recordset()
        with self.assertRaisesRegex(UserError, "does NOT match"):
            move.action_fi_verify_einvoice()

    def test_cleared_invoice_is_corrected_only_by_credit_note(self):
        move, doc = self.submitted()
        self.webhook("evt-c", doc, "cleared")
        with self.assertRaisesRegex(UserError, "credit note"):
            move.button_draft()

    def test_audit_events_of_each_step(self):
        events = []
        audit = type(self.env["fi.audit"])
        original = audit._fi_event

        def record(this, event_type, summary, **kw):
            events.append(event_type)
            return original(this, event_type, summary, **kw)

        audit._fi_event = record
        try:
            move, doc = self.submitted()
            self.webhook("evt-a", doc, "received")
        finally:
            audit._fi_event = original
        for expected in (
            "tax.calculated",
            "tax.committed",
            "einvoice.submitted",
            "einvoice.submitted",
            "einvoice.received",
        ):
            self.assertIn(expected, events)
        self.assertTrue(move.fi_correlation_id)
        self.assertEqual(doc.fi_correlation_id, move.fi_correlation_id)

    def test_status_webhook_with_a_bad_signature_is_refused(self):
        move, doc = self.submitted()
        body = json.dumps(
            {
                "id": "evt-x",
                "type": "document.status",
                "document_id": doc.platform_id,
                "status": "cleared",
            }
        )
        body = body.encode()
        headers = {
            "Content-Type": "application/json",
            "X-Signature": sign(body, "not-the-secret"),
        }
        status, _answer = (
            self.env["fi.endpoint"]
            .sudo()
            ._fi_receive_webhook(
                self.platform.key, headers, lambda n: body[:n], len(body), "127.0.0.1"
            )
        )
        self.assertEqual(status, 401)
        self.run_jobs()
        self.assertEqual(doc.state, "submitted")

    def test_submit_later_policy_defers_the_submission_to_the_dispatcher(self):
        self.env.company.fi_clearance_unavailable_policy = "later"
        move = self.posted()
        message = self.messages("einvoice.submit", move)
        self.assertEqual(message.state, "new")
        self.assertFalse(self.clearance.calls("/documents"))
        self.assertEqual(move.fi_einvoice_document_ids.state, "to_submit")
