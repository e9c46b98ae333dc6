# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The message log's references are kept by the ORM, not by foreign keys."""

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import FiCommon


@tagged("post_install", "-at_install")
class TestLogReferences(FiCommon):
    def setUp(self):
        super().setUp()
        status, answer = self.receive(self.event("evt_ref"))
        self.assertEqual(status, 200, answer)
        self.message = self.env["fi.message"].browse(answer["message_id"])

    def test_intake_insert_checks_no_foreign_key(self):
        self.env.cr.execute(
            "SELECT a.attname FROM pg_constraint c JOIN pg_attribute a "
            "ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey) "
            "WHERE c.conrelid = 'fi_message'::regclass AND c.contype = 'f'"
        )
        checked = {row[0] for row in self.env.cr.fetchall()}
        self.assertFalse(checked & {"endpoint_id", "flow_id", "company_id"})

    def test_endpoint_with_messages_cannot_be_deleted(self):
        with self.assertRaisesRegex(UserError, r"Test HMAC endpoint \(1 messages\)"):
            self.endpoint.unlink()
        self.assertTrue(self.endpoint.exists())
        self.assertTrue(self.flow.exists(), "its flows are not deleted either")

    def test_flow_with_messages_cannot_be_deleted(self):
        with self.assertRaisesRegex(UserError, "message log refers to it"):
            self.flow.unlink()
        self.assertTrue(self.flow.exists())

    def test_company_with_messages_cannot_be_deleted(self):
        company = self.env["res.company"].create({"name": "Logged company"})
        self.message.sudo().company_id = company
        with self.assertRaisesRegex(UserError, "Logged company"):
            company.unlink()
        self.assertTrue(company.exists())

    def test_endpoint_and_flow_without_messages_can_be_deleted(self):
        endpoint = self.env["fi.endpoint"].create({"name": "Never used"})
        flow = self.env["fi.flow"].create(
            {"name": "unused", "endpoint_id": endpoint.id, "direction": "in"}
        )
        endpoint.unlink()
        self.assertFalse(flow.exists(), "flows go with their endpoint")
