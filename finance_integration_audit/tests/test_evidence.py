# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Checkpoints, key rotation, the auditor's rights, exports and retention."""

from unittest.mock import patch

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import config

from ..lib.signing import generate_private_key, load_private_key, public_key_b64
from .common import AuditCommon


@tagged("post_install", "-at_install")
class TestEvidence(AuditCommon):
    def test_checkpoint_signs_the_head_once_and_names_its_key(self):
        self.event()
        checkpoints = self.env["fi.audit.checkpoint"]
        checkpoint = checkpoints._fi_sign_heads(self.company)
        sequence, head = self.events._fi_head(self.company.id)
        self.assertEqual((checkpoint.sequence, checkpoint.hash), (sequence, head))
        key = self.env["fi.audit.key"].search([("key_id", "=", checkpoint.key_id)])
        self.assertEqual(key.public_key, self.public_key)
        self.assertFalse(checkpoints._fi_sign_heads(self.company), "head unchanged")

    def test_no_signing_key_is_a_clear_error_on_demand(self):
        with patch.dict(config.options, {"fi_audit_signing_key": ""}):
            with self.assertRaisesRegex(UserError, "fi_audit_signing_key"):
                self.env["fi.audit.checkpoint"]._fi_sign_heads(raise_if_no_key=True)

    def test_rotated_key_keeps_old_checkpoints_verifiable_when_trusted(self):
        self.event()
        self.env["fi.audit.checkpoint"]._fi_sign_heads(self.company)
        new_key = generate_private_key()
        with patch.dict(config.options, {"fi_audit_signing_key": new_key}):
            self.event()
            second = self.env["fi.audit.checkpoint"]._fi_sign_heads(self.company)
            self.assertEqual(
                second.key_id,
                self.env["fi.audit.key"].search([], order="id desc", limit=1).key_id,
            )
            # the old key rotated out and not declared trusted: refused
            run = self.verify()
            self.assertEqual((run.state, run.break_kind), ("broken", "signature"))
            with patch.dict(
                config.options, {"fi_audit_trusted_public_keys": self.public_key}
            ):
                self.assertEqual(self.verify().state, "ok")
                data, _segment = self.events._fi_export(self.company)
        keys = self.env["fi.audit.key"].search([]).mapped("public_key")
        code, output = self.offline_verify(data, public_keys=keys)
        self.assertEqual(code, 0, output)
        self.assertEqual(public_key_b64(load_private_key(new_key)) in keys, True)

    def test_auditor_reads_verifies_and_exports_but_changes_nothing(self):
        auditor = self.env["res.users"].create(
            {
                "name": "Auditor Anna",
                "login": "fi_auditor_anna",
                "groups_id": [
                    (
                        6,
                        0,
                        [self.env.ref("finance_integration_audit.group_fi_auditor").id],
                    )
                ],
            }
        )
        self.event(summary="visible to the auditor")
        self.seal()
        events = self.events.with_user(auditor)
        self.assertTrue(events.search([("summary", "=", "visible to the auditor")]))
        with self.assertRaises(UserError):  # AccessError is one too
            events.search([], limit=1).write({"summary": "x"})
        with self.assertRaises(AccessError):
            self.env["fi.endpoint"].with_user(auditor).search([])
        action = (
            self.env["fi.audit.verification"].with_user(auditor).action_verify_now()
        )
        runs = self.env["fi.audit.verification"].search(action["domain"])
        self.assertEqual(runs.mapped("state"), ["ok"])
        wizard = self.env["fi.audit.export.wizard"].with_user(auditor).create({})
        wizard.action_export()
        self.assertTrue(wizard.file)

    def test_purge_needs_an_exported_segment_and_verification_resumes_after_it(self):
        for index in range(3):
            self.event(facts={"index": index})
        self.company.fi_audit_retention_years = 0  # everything is past retention
        self.seal()
        self.assertEqual(self.events._cron_fi_audit_retention(), {}, "nothing exported")
        _data, segment = self.events._fi_export(self.company)
        self.event(summary="after the export")
        self.seal()
        purged = self.events._cron_fi_audit_retention()
        self.assertEqual(purged[self.company.id], segment.to_sequence)
        run = self.verify()
        self.assertEqual(run.state, "ok", run.summary)
        rows = self.chain_rows()
        self.assertEqual(rows[0][1], segment.to_sequence + 1)
        self.assertEqual(run.first_sequence, segment.to_sequence + 1)
        types = [r[4] for r in rows]
        self.assertIn("retention.audit_purged", types)

    def test_verify_counts_the_unsigned_tail_and_checkpoint_now_signs_it(self):
        self.event()
        self.env["fi.audit.checkpoint"]._fi_sign_heads(self.company)
        self.event(summary="after the checkpoint 1")
        self.event(summary="after the checkpoint 2")
        run = self.verify()
        self.assertEqual(run.state, "ok")
        self.assertEqual(run.unsigned_events, 2)
        self.assertEqual(run.signed_sequence, run.last_sequence - 2)
        self.assertIn("2 events after the last checkpoint", run.summary)
        plain = self.env["res.users"].create(
            {
                "name": "Plain FI user",
                "login": "fi_audit_plain_user",
                "groups_id": [
                    (6, 0, [self.env.ref("finance_integration_core.group_fi_user").id])
                ],
            }
        )
        with self.assertRaises(AccessError):
            self.env["fi.audit.verification"].with_user(plain).action_checkpoint_now()
        action = self.env["fi.audit.verification"].action_checkpoint_now()
        self.assertEqual(action["params"]["type"], "success")
        checkpoint = self.env["fi.audit.checkpoint"]._fi_last(self.company.id)
        self.assertEqual(checkpoint.sequence, run.last_sequence)
        again = self.verify()
        self.assertEqual((again.state, again.unsigned_events), ("ok", 0))
        self.assertIn("signed up to its head", again.summary)
        nothing = self.env["fi.audit.verification"].action_checkpoint_now()
        self.assertEqual(nothing["params"]["type"], "info")
