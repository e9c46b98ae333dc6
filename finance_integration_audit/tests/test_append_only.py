# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import psycopg2

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import AuditCommon


@tagged("post_install", "-at_install")
class TestAppendOnly(AuditCommon):
    def setUp(self):
        super().setUp()
        self.sealed = self.event(summary="sealed one")
        self.seal()
        self.unsealed = self.event(summary="not yet sealed")
        self.env.flush_all()

    def assertRefusedBySql(self, query, params=()):
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaises(psycopg2.errors.InsufficientPrivilege) as caught,
            self.env.cr.savepoint(),
        ):
            self.env.cr.execute(query, params)
        return str(caught.exception)

    def test_orm_create_outside_the_audit_api_is_refused_even_for_the_superuser(self):
        with self.assertRaisesRegex(UserError, "recorded by the audit chain only"):
            self.env["fi.audit.event"].sudo().create(
                {"company_id": self.company.id, "event_type": "forged"}
            )

    def test_orm_write_and_unlink_are_refused_for_administrators(self):
        admin_events = self.sealed.with_user(self.env.ref("base.user_admin")).sudo()
        with self.assertRaisesRegex(UserError, "append-only"):
            admin_events.write({"summary": "rewritten"})
        with self.assertRaisesRegex(UserError, "append-only"):
            admin_events.unlink()
        with self.assertRaisesRegex(UserError, "append-only"):
            self.env["fi.audit.checkpoint"].sudo()._fi_sign_heads().unlink()

    def test_raw_sql_update_of_a_sealed_event_is_refused(self):
        message = self.assertRefusedBySql(
            "UPDATE fi_audit_event SET summary = 'rewritten' WHERE id = %s",
            (self.sealed.id,),
        )
        self.assertIn("append-only: UPDATE", message)

    def test_raw_sql_update_of_an_unsealed_event_beyond_the_hash_fill_is_refused(self):
        self.assertRefusedBySql(
            "UPDATE fi_audit_event SET summary = 'x' WHERE id = %s", (self.unsealed.id,)
        )
        # filling the hash fields while changing content: refused too
        self.assertRefusedBySql(
            "UPDATE fi_audit_event SET summary = 'x', sequence = 99, prev_hash = 'a', "
            "hash = 'b' WHERE id = %s",
            (self.unsealed.id,),
        )

    def test_hash_fields_are_filled_once_by_the_sealer_and_never_again(self):
        self.assertEqual(self.seal(), 1)
        self.unsealed.invalidate_recordset()
        self.assertTrue(self.unsealed.hash)
        self.assertRefusedBySql(
            "UPDATE fi_audit_event SET hash = repeat('0', 64) WHERE id = %s",
            (self.unsealed.id,),
        )

    def test_sealed_values_cannot_be_inserted(self):
        self.assertRefusedBySql(
            "INSERT INTO fi_audit_event (company_id, event_type, sequence, "
            "prev_hash, hash) VALUES (%s, 'forged', 1000, 'a', 'b')",
            (self.company.id,),
        )

    def test_raw_sql_delete_is_refused(self):
        message = self.assertRefusedBySql(
            "DELETE FROM fi_audit_event WHERE id = %s", (self.sealed.id,)
        )
        self.assertIn("append-only: DELETE", message)
        # the purge switch alone does not open a segment that was never exported
        self.env.cr.execute("SET LOCAL fi_audit.purge = 'on'")
        self.assertRefusedBySql(
            "DELETE FROM fi_audit_event WHERE id = %s", (self.sealed.id,)
        )

    def test_raw_sql_truncate_is_refused(self):
        message = self.assertRefusedBySql("TRUNCATE fi_audit_event")
        self.assertIn("TRUNCATE refused", message)
        self.assertRefusedBySql("TRUNCATE fi_audit_checkpoint CASCADE")

    def test_checkpoints_cannot_be_changed_or_deleted_by_sql(self):
        checkpoint = self.env["fi.audit.checkpoint"]._fi_sign_heads(self.company)
        self.env.flush_all()
        self.assertRefusedBySql(
            "UPDATE fi_audit_checkpoint SET hash = 'x' WHERE id = %s", (checkpoint.id,)
        )
        self.assertRefusedBySql(
            "DELETE FROM fi_audit_checkpoint WHERE id = %s", (checkpoint.id,)
        )
