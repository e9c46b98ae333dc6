# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Tampering as a DBA could do it (guard triggers switched off) is found by
the verification in Odoo and by the offline verifier, at the exact place."""

from unittest.mock import patch

from odoo.tests import tagged

from ..lib.chain import seal
from ..lib.signing import generate_private_key, load_private_key, sign_checkpoint
from ..models import fi_audit_verification
from ..models.fi_audit_event import UNSEALED_SQL
from .common import AuditCommon


@tagged("post_install", "-at_install")
class TestTamper(AuditCommon):
    def setUp(self):
        super().setUp()
        # lines hashed two at a time: a break is found in a later batch too
        self.startPatcher(patch.object(fi_audit_verification, "BATCH", 2))
        for index in range(6):
            self.event("test.tamper", f"event {index}", facts={"index": index})
        self.env["fi.audit.checkpoint"]._fi_sign_heads(self.company)
        self.head = self.events._fi_head(self.company.id)[0]
        self.target = self.head - 3  # a row in the middle of the signed chain
        self.assertEqual(self.verify().state, "ok")

    def assertBrokenAt(self, sequence, kind, offline_text):
        run = self.verify()
        self.assertEqual(run.state, "broken")
        self.assertEqual(
            (run.break_sequence, run.break_kind), (sequence, kind), run.summary
        )
        self.assertIn(f"sequence {sequence}", run.summary)
        self.assertTrue(run.activity_ids, "the audit owner is alerted")
        data, _segment = self.events._fi_export(self.company)
        code, output = self.offline_verify(data)
        self.assertEqual(code, 1, output)
        self.assertIn(f"broken at sequence {sequence}: {offline_text}", output)
        return run

    def setUpOwner(self):
        self.company.fi_audit_owner_id = self.owner

    def test_changed_row_is_found_at_its_sequence(self):
        self.setUpOwner()
        row_id = self.sequence_row(self.target)
        with self.triggers_disabled() as cr:
            cr.execute(
                "UPDATE fi_audit_event SET summary = 'nothing happened' WHERE id = %s",
                (row_id,),
            )
        run = self.assertBrokenAt(self.target, "changed", "row content changed")
        self.assertEqual(run.found, self.events.browse(row_id).hash)
        self.assertNotEqual(run.expected, run.found)

    def test_deleted_row_is_found_at_its_sequence(self):
        self.setUpOwner()
        with self.triggers_disabled() as cr:
            cr.execute(
                "DELETE FROM fi_audit_event WHERE id = %s",
                (self.sequence_row(self.target),),
            )
        run = self.assertBrokenAt(self.target, "gap", "sequence missing")
        self.assertEqual(
            (run.expected, run.found), (str(self.target), str(self.target + 1))
        )

    def test_swapped_rows_are_found_at_the_first_of_them(self):
        self.setUpOwner()
        first, second = (
            self.sequence_row(self.target),
            self.sequence_row(self.target + 1),
        )
        with self.triggers_disabled() as cr:
            cr.execute(
                "UPDATE fi_audit_event SET sequence = -1 WHERE id = %s", (first,)
            )
            cr.execute(
                "UPDATE fi_audit_event SET sequence = %s WHERE id = %s",
                (self.target, second),
            )
            cr.execute(
                "UPDATE fi_audit_event SET sequence = %s WHERE id = %s",
                (self.target + 1, first),
            )
        self.assertBrokenAt(self.target, "link", "previous hash does not match")

    def rehash_tail(self):
        """Change a row and recompute every hash after it, as someone knowing
        the (public) algorithm would: the chain is consistent again."""
        cr = self.env.cr
        with self.triggers_disabled():
            cr.execute(
                "UPDATE fi_audit_event SET summary = 'rewritten history' WHERE id = %s",
                (self.sequence_row(self.target),),
            )
            cr.execute(
                f"SELECT id, {UNSEALED_SQL} FROM fi_audit_event "
                "WHERE company_id = %s AND sequence >= %s ORDER BY sequence",
                (self.company.id, self.target),
            )
            rows = cr.fetchall()
            cr.execute(
                "SELECT hash FROM fi_audit_event "
                "WHERE company_id = %s AND sequence = %s",
                (self.company.id, self.target - 1),
            )
            prev = cr.fetchone()[0]
            for row, (_sequence, prev_hash, digest) in zip(
                rows, seal([r[1:] for r in rows], self.target - 1, prev), strict=True
            ):
                cr.execute(
                    "UPDATE fi_audit_event SET prev_hash = %s, hash = %s WHERE id = %s",
                    (prev_hash, digest, row[0]),
                )
            return digest

    def test_rehashed_tail_is_found_at_the_signed_checkpoint(self):
        self.setUpOwner()
        self.rehash_tail()
        self.assertBrokenAt(self.head, "checkpoint", "chain differs from the signed")

    def test_rehashed_tail_with_a_checkpoint_signed_by_another_key_is_refused(self):
        new_head = self.rehash_tail()
        forger = load_private_key(generate_private_key())
        forged = sign_checkpoint(forger, self.company.id, self.head, new_head, "x")
        self.env.cr.execute(
            "ALTER TABLE fi_audit_checkpoint DISABLE TRIGGER USER; "
            "DELETE FROM fi_audit_checkpoint WHERE company_id = %s; "
            "ALTER TABLE fi_audit_checkpoint ENABLE TRIGGER USER",
            (self.company.id,),
        )
        self.env.cr.execute(
            "INSERT INTO fi_audit_checkpoint (company_id, sequence, hash, signed_at, "
            "key_id, signature) VALUES (%(company_id)s, %(sequence)s, %(hash)s, "
            "%(signed_at)s, %(key_id)s, %(signature)s)",
            forged,
        )
        self.env["fi.audit.checkpoint"].invalidate_model()
        run = self.verify()
        self.assertEqual((run.state, run.break_kind), ("broken", "signature"))
        self.assertEqual(run.break_sequence, self.head)
