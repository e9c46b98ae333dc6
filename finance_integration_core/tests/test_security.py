# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Who can read and do what, over RPC; secrets readable by no one."""

import os
import xmlrpc.client
from unittest.mock import patch

from cryptography.fernet import Fernet

from odoo.exceptions import UserError
from odoo.modules.neutralize import neutralize_database
from odoo.tests import HttpCase, tagged
from odoo.tools import config

from .common import SECRET, FiCommon

GROUPS = {
    "user": "finance_integration_core.group_fi_user",
    "operator": "finance_integration_core.group_fi_operator",
    "manager": "finance_integration_core.group_fi_manager",
}
SECRET_COLUMNS = ["credential_enc", "webhook_secret_enc", "webhook_secret_next_enc"]


@tagged("post_install", "-at_install")
class TestAccessOverRpc(FiCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.endpoint.credential = "sk_live_never_shown"
        cls.users = {}
        for role, xmlid in GROUPS.items():
            cls.users[role] = cls.env["res.users"].create(
                {
                    "name": f"FI {role}",
                    "login": f"fi_{role}",
                    "password": f"fi_{role}_pw_123",
                    "email": f"fi_{role}@example.com",
                    "notification_type": "inbox",
                    "groups_id": [
                        (
                            6,
                            0,
                            [
                                cls.env.ref("base.group_user").id,
                                cls.env.ref("base.group_allow_export").id,
                                cls.env.ref(xmlid).id,
                            ],
                        )
                    ],
                }
            )
        cls.users["nobody"] = cls.env["res.users"].create(
            {
                "name": "Plain employee",
                "login": "fi_nobody",
                "password": "fi_nobody_pw_123",
                "groups_id": [(6, 0, [cls.env.ref("base.group_user").id])],
            }
        )
        status, answer = cls.receive(cls.event("evt_rpc", token="tok_secret_value"))
        cls.message = cls.env["fi.message"].browse(answer["message_id"])
        cls.item = cls.message._fi_open_exception(
            "business_rule", "check it", "business"
        )

    def rpc(self, role, model, method, *args, **kwargs):
        uid = self.xmlrpc_common.authenticate(
            self.env.cr.dbname, f"fi_{role}", f"fi_{role}_pw_123", {}
        )
        return self.xmlrpc_object.execute_kw(
            self.env.cr.dbname,
            uid,
            f"fi_{role}_pw_123",
            model,
            method,
            list(args),
            kwargs,
        )

    def assertRpcDenied(self, role, model, method, *args, **kwargs):
        with self.assertRaises(xmlrpc.client.Fault) as caught:
            self.rpc(role, model, method, *args, **kwargs)
        self.assertRegex(
            caught.exception.faultString,
            "AccessError|not allowed|access|rights|Operators",
        )

    def test_plain_employee_sees_nothing(self):
        for model in ("fi.endpoint", "fi.message", "fi.exception", "fi.flow"):
            self.assertRpcDenied("nobody", model, "search_read", [], fields=["id"])

    def test_user_reads_but_cannot_change(self):
        read = self.rpc(
            "user",
            "fi.message",
            "read",
            [self.message.id],
            ["state", "payload_display"],
        )
        self.assertEqual(read[0]["state"], "new")
        self.assertNotIn("tok_secret_value", read[0]["payload_display"])
        self.assertRpcDenied(
            "user", "fi.endpoint", "write", [self.endpoint.id], {"name": "x"}
        )
        self.assertRpcDenied(
            "user", "fi.exception", "write", [self.item.id], {"state": "resolved"}
        )
        self.assertRpcDenied("user", "fi.message", "action_replay", [self.message.id])

    def test_operator_works_exceptions_but_cannot_configure(self):
        self.rpc("operator", "fi.exception", "action_take", [self.item.id])
        self.assertEqual(self.item.state, "in_progress")
        self.rpc("operator", "fi.exception", "action_resolve", [self.item.id])
        self.assertEqual(self.item.state, "resolved")
        self.assertRpcDenied(
            "operator", "fi.endpoint", "write", [self.endpoint.id], {"name": "x"}
        )
        self.assertRpcDenied(
            "operator",
            "fi.flow",
            "create",
            {"name": "x", "endpoint_id": self.endpoint.id},
        )

    def test_manager_configures_and_sets_secrets_write_only(self):
        new_id = self.rpc(
            "manager",
            "fi.endpoint",
            "create",
            {
                "name": "Created over RPC",
                "webhook_secret": "whsec_rpc_value",
                "credential": "sk_rpc",
            },
        )
        (row,) = self.rpc(
            "manager",
            "fi.endpoint",
            "read",
            [new_id],
            ["webhook_secret", "credential", "webhook_secret_set"],
        )
        self.assertFalse(row["webhook_secret"])
        self.assertFalse(row["credential"])
        self.assertTrue(row["webhook_secret_set"])
        self.assertEqual(
            self.env["fi.endpoint"].browse(new_id)._fi_secret("webhook_secret"),
            "whsec_rpc_value",
        )

    def test_no_group_can_read_a_secret_or_raw_payload(self):
        for role in GROUPS:
            rows = self.rpc(
                role, "fi.endpoint", "search_read", [("id", "=", self.endpoint.id)]
            )
            blob = repr(rows)
            self.assertNotIn(SECRET, blob)
            self.assertNotIn("sk_live_never_shown", blob)
            for column in SECRET_COLUMNS:
                self.assertNotIn(column, rows[0])
                self.assertRpcDenied(
                    role, "fi.endpoint", "read", [self.endpoint.id], [column]
                )
            self.assertNotIn(
                column,
                self.rpc(role, "fi.endpoint", "fields_get", [], attributes=["type"]),
            )
            self.assertRpcDenied(
                role,
                "fi.endpoint",
                "export_data",
                [self.endpoint.id],
                ["webhook_secret_enc"],
            )
            exported = self.rpc(
                role,
                "fi.endpoint",
                "export_data",
                [self.endpoint.id],
                ["name", "webhook_secret", "credential"],
            )
            self.assertNotIn(SECRET, repr(exported))
            self.assertRpcDenied(
                role, "fi.message", "read", [self.message.id], ["payload"]
            )
            self.assertRpcDenied(
                role, "fi.endpoint", "search", [("webhook_secret_enc", "!=", False)]
            )
        # nor does the chatter keep a trace of them
        tracked = (
            self.env["mail.tracking.value"]
            .sudo()
            .search([])
            .mapped(lambda t: f"{t.old_value_char} {t.new_value_char}")
        )
        self.assertFalse([t for t in tracked if SECRET in t or "sk_live" in t])

    def test_other_company_sees_nothing(self):
        other = self.env["res.company"].create({"name": "Other Co"})
        manager = self.users["manager"]
        manager.write({"company_ids": [(4, other.id)], "company_id": other.id})
        self.env["fi.endpoint"].create(
            {"name": "Other endpoint", "company_id": other.id}
        )
        visible = (
            self.env["fi.endpoint"]
            .with_user(manager)
            .with_context(allowed_company_ids=[other.id])
            .search([])
        )
        self.assertEqual(visible.mapped("company_id"), other)
        messages = (
            self.env["fi.message"]
            .with_user(manager)
            .with_context(allowed_company_ids=[other.id])
            .search([])
        )
        self.assertFalse(messages)


@tagged("post_install", "-at_install")
class TestSecretsAtRest(FiCommon):
    def test_ciphertext_in_database_is_not_the_secret(self):
        self.env.cr.execute(
            "SELECT webhook_secret_enc FROM fi_endpoint WHERE id = %s",
            (self.endpoint.id,),
        )
        (stored,) = self.env.cr.fetchone()
        self.assertTrue(stored)
        self.assertNotIn(SECRET, stored)
        self.assertEqual(self.endpoint._fi_secret("webhook_secret"), SECRET)

    def test_missing_key_is_a_clear_error(self):
        env_patch = {k: v for k, v in os.environ.items() if k != "FI_ENCRYPTION_KEYS"}
        with (
            patch.dict(config.options, {"fi_encryption_keys": ""}),
            patch.dict(os.environ, env_patch, clear=True),
        ):
            with self.assertRaisesRegex(UserError, "fi_encryption_keys"):
                self.endpoint.webhook_secret = "another"

    def test_reencryption_moves_every_secret_to_the_new_key(self):
        current = config.get("fi_encryption_keys") or os.environ["FI_ENCRYPTION_KEYS"]
        new_key = Fernet.generate_key().decode()
        with patch.dict(config.options, {"fi_encryption_keys": f"{new_key},{current}"}):
            self.assertGreaterEqual(self.endpoint._fi_reencrypt_all(), 1)
        with (
            patch.dict(config.options, {"fi_encryption_keys": new_key}),
            patch.dict(os.environ, {"FI_ENCRYPTION_KEYS": new_key}),
        ):
            self.assertEqual(self.endpoint._fi_secret("webhook_secret"), SECRET)

    def test_neutralized_copy_disables_every_endpoint(self):
        neutralize_database(self.env.cr)
        self.endpoint.invalidate_recordset()
        self.assertEqual(self.endpoint.state, "disabled")
        crons = self.env["ir.cron"].search(
            [
                (
                    "id",
                    "in",
                    [self.env.ref("finance_integration_core.cron_fi_dispatch").id],
                )
            ]
        )
        self.assertFalse(crons.active)
        self.assertEqual(
            self.receive(self.event("evt_neutral"))[0], 404, "a copy refuses webhooks"
        )
