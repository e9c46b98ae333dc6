# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import base64
import json

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import SECRET
from .governance_common import FiGovernanceCommon


@tagged("post_install", "-at_install")
class TestConfigTransfer(FiGovernanceCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.endpoint.credential = "sk_test_never_exported"
        cls.flow.write({"escalation_user_id": cls.owner.id, "schema_json": "{}"})
        cls.env["fi.reason.runbook"].search([]).unlink()
        cls.env["fi.reason.runbook"].create(
            {
                "reason_code": "missing_mapping",
                "instructions": "Ask the controller which category applies.",
                "company_id": cls.env.company.id,
            }
        )

    def export(self, company=None):
        company = company or self.env.company
        return json.loads(
            self.env["fi.config.transfer"]
            .with_user(self.manager_a)
            .with_company(company)
            ._fi_export_text(company)
        )

    @staticmethod
    def record(document, section, key):
        return next(r for r in document[section] if r["key"] == key)

    def new_import(self, document, user=None, company=None, name="config.json"):
        user = user or self.manager_a
        text = document if isinstance(document, str) else json.dumps(document)
        Import = self.env["fi.config.import"].with_user(user)
        if company:
            Import = Import.with_company(company)
        return Import.create(
            {"file": base64.b64encode(text.encode()), "file_name": name}
        )

    def steps(self, imported):
        return {(s["section"], s["key"]): s for s in json.loads(imported.plan_json)}

    # ------------------------------------------------------------------
    def test_export_holds_no_secret_and_lists_what_must_be_re_entered(self):
        text = (
            self.env["fi.config.transfer"]
            .with_user(self.manager_a)
            ._fi_export_text(self.env.company)
        )
        self.assertNotIn(SECRET, text)
        self.assertNotIn("sk_test_never_exported", text)
        self.assertNotRegex(text, r"_enc\b")
        document = json.loads(text)
        self.assertEqual(document["format"], "finance_integration_core.configuration")
        self.assertEqual(document["version"], 1)
        endpoint = self.record(document, "endpoints", self.endpoint.name)
        self.assertEqual(
            endpoint["secrets"],
            {
                "credential": "must be re-entered",
                "webhook_secret": "must be re-entered",
            },
        )
        self.assertEqual(endpoint["values"]["base_url"], "http://127.0.0.1:9/")
        self.assertNotIn("key", endpoint["values"])
        flow = self.record(
            document, "flows", f"{self.endpoint.name} / {self.flow.name}"
        )
        # routing and alert rules travel with the flow
        self.assertEqual(flow["values"]["owner_id"], {"login": "fi_flow_owner"})
        self.assertEqual(
            flow["values"]["escalation_user_id"], {"login": "fi_flow_owner"}
        )
        vmap = self.record(
            document, "value_maps", f"payment_method @ {self.endpoint.name}"
        )
        self.assertEqual(vmap["values"]["lines"], {"card": {"name": "Paid by card"}})
        self.assertEqual(
            vmap["values"]["target_model_id"], {"model": "res.partner.category"}
        )
        runbook = self.record(document, "runbooks", "missing_mapping")
        self.assertIn("controller", runbook["values"]["instructions"])

    def test_dry_run_shows_per_record_and_field_and_writes_nothing(self):
        document = self.export()
        endpoint = self.record(document, "endpoints", self.endpoint.name)
        endpoint["values"]["base_url"] = "http://127.0.0.1:10/"
        flow_key = f"{self.endpoint.name} / {self.flow.name}"
        self.record(document, "flows", flow_key)["values"]["max_attempts"] = 9
        vmap_key = f"payment_method @ {self.endpoint.name}"
        lines = self.record(document, "value_maps", vmap_key)["values"]["lines"]
        lines["sepa"] = {"name": "Paid by SEPA"}
        new_flow = json.loads(json.dumps(self.record(document, "flows", flow_key)))
        new_flow["key"] = f"{self.endpoint.name} / refunds"
        new_flow["values"].update(name="refunds", event_type="refund.created")
        document["flows"].append(new_flow)
        imported = self.new_import(document)
        imported.action_dry_run()

        steps = self.steps(imported)
        self.assertEqual(
            steps[("endpoints", self.endpoint.name)]["changes"],
            [["base_url", "http://127.0.0.1:9/", "http://127.0.0.1:10/"]],
        )
        self.assertEqual(
            steps[("endpoints", self.endpoint.name)]["secrets"],
            ["credential", "webhook_secret"],
        )
        self.assertEqual(
            steps[("flows", flow_key)]["changes"], [["max_attempts", 3, 9]]
        )
        self.assertEqual(steps[("flows", new_flow["key"])]["action"], "create")
        self.assertEqual(
            steps[("value_maps", vmap_key)]["changes"],
            [["lines/sepa", None, {"name": "Paid by SEPA"}]],
        )
        self.assertEqual(steps[("runbooks", "missing_mapping")]["action"], "unchanged")
        self.assertIn(
            "base_url: http://127.0.0.1:9/ -> http://127.0.0.1:10/",
            imported.plan_display,
        )
        self.assertIn("credential: must be re-entered", imported.plan_display)
        self.assertEqual((imported.create_count, imported.update_count), (1, 3))
        # a dry run only: nothing changed
        self.assertEqual(self.endpoint.base_url, "http://127.0.0.1:9/")
        self.assertEqual(self.flow.max_attempts, 3)
        self.assertFalse(
            self.env["fi.flow"].search([("name", "=", "refunds")]),
        )
        self.assertEqual(self.vmap.active_version_id, self.v1)

    def test_import_applies_only_after_a_second_manager_approves(self):
        document = self.export()
        self.record(document, "endpoints", self.endpoint.name)["values"]["base_url"] = (
            "http://127.0.0.1:10/"
        )
        vmap_key = f"payment_method @ {self.endpoint.name}"
        self.record(document, "value_maps", vmap_key)["values"]["lines"]["sepa"] = {
            "name": "Paid by SEPA"
        }
        document["runbooks"].append(
            {
                "key": "schema_invalid",
                "values": {
                    "reason_code": "schema_invalid",
                    "instructions": "Compare with the provider's changelog.",
                    "approver_id": {"login": "fi_gov_manager_b"},
                    "shared": False,
                },
            }
        )
        imported = self.new_import(document)
        with self.assertRaisesRegex(UserError, "run the dry run"):
            imported.action_submit()
        imported.action_dry_run()
        imported.action_submit()
        with self.assertRaisesRegex(UserError, "Four eyes: Manager Alice"):
            imported.with_user(self.manager_a).action_approve()
        self.assertEqual(self.endpoint.base_url, "http://127.0.0.1:9/")
        imported.with_user(self.manager_b).action_approve()
        self.assertEqual(self.endpoint.base_url, "http://127.0.0.1:9/")
        imported.with_user(self.manager_b).action_activate()

        self.assertEqual(imported.state, "active")
        self.assertEqual(self.endpoint.base_url, "http://127.0.0.1:10/")
        self.assertNotEqual(self.vmap.active_version_id, self.v1)
        self.assertEqual(self.lookup("sepa"), self.cat_sepa)
        self.assertEqual(self.lookup("card"), self.cat_card)
        runbook = self.env["fi.reason.runbook"].search(
            [("reason_code", "=", "schema_invalid")]
        )
        self.assertEqual(runbook.approver_id, self.manager_b)
        # the secrets stay as they were: the file had none
        self.assertEqual(self.endpoint._fi_secret("webhook_secret"), SECRET)
        self.assertEqual(
            self.env["fi.change.log"]
            .search(
                [("res_model", "=", "fi.config.import"), ("res_id", "=", imported.id)]
            )
            .mapped("to_state"),
            ["active", "approved", "submitted", "draft"],
        )
        with self.assertRaisesRegex(UserError, "not rolled back"):
            imported.with_user(self.manager_b).action_rollback()

    def test_activation_is_refused_when_the_database_changed_since_the_dry_run(self):
        document = self.export()
        self.record(document, "endpoints", self.endpoint.name)["values"][
            "max_body_bytes"
        ] = 2048
        imported = self.new_import(document)
        imported.action_dry_run()
        imported.action_submit()
        imported.with_user(self.manager_b).action_approve()
        self.endpoint.timeout_read = 12.0
        with self.assertRaisesRegex(UserError, "changed since the approved dry run"):
            imported.with_user(self.manager_b).action_activate()
        self.assertEqual(self.endpoint.max_body_bytes, 1024 * 1024)

    def test_import_into_another_company_creates_draft_endpoints_without_secrets(self):
        document = self.export()
        company = self.env["res.company"].create({"name": "FI Sandbox Company"})
        (self.manager_a | self.manager_b).write({"company_ids": [(4, company.id)]})
        imported = self.new_import(document, company=company)
        self.assertEqual(imported.company_id, company)
        imported.with_company(company).action_dry_run()
        steps = self.steps(imported)
        self.assertEqual(steps[("endpoints", self.endpoint.name)]["action"], "create")
        imported.with_company(company).action_submit()
        approver = imported.with_user(self.manager_b).with_company(company)
        approver.action_approve()
        approver.action_activate()

        endpoint = self.env["fi.endpoint"].search(
            [("company_id", "=", company.id), ("name", "=", self.endpoint.name)]
        )
        self.assertEqual(endpoint.state, "draft")
        self.assertNotEqual(endpoint.key, self.endpoint.key)
        self.assertFalse(endpoint.webhook_secret_set)
        self.assertFalse(endpoint.credential_set)
        flow = endpoint.flow_ids.filtered(lambda f: f.name == self.flow.name)
        self.assertEqual(flow.owner_id, self.owner)
        vmap = self.env["fi.value.map"].search(
            [("endpoint_id", "=", endpoint.id), ("code", "=", "payment_method")]
        )
        self.assertEqual(vmap.company_id, company)
        self.assertEqual(
            vmap.active_version_id.line_ids.mapped("value_ref"), [self.cat_card]
        )
        # importing the same file again changes nothing
        again = self.new_import(document, company=company)
        again.with_company(company).action_dry_run()
        actions = {s["action"] for s in json.loads(again.plan_json)}
        self.assertEqual(actions, {"unchanged"})

    def test_errors_name_the_file_record_and_field(self):
        document = self.export()
        flow_key = f"{self.endpoint.name} / {self.flow.name}"
        self.record(document, "flows", flow_key)["values"]["owner_id"] = {
            "login": "nobody_here"
        }
        imported = self.new_import(document, name="prod.json")
        with self.assertRaisesRegex(
            UserError,
            rf"prod\.json, flows record '{flow_key}', field 'owner_id': "
            r".*names 0 records of res\.users",
        ):
            imported.action_dry_run()

        document = self.export()
        self.record(document, "endpoints", self.endpoint.name)["values"]["colour"] = 3
        with self.assertRaisesRegex(
            UserError,
            rf"prod\.json, endpoints record '{self.endpoint.name}', field 'colour': "
            "this database has no such field",
        ):
            self.new_import(document, name="prod.json").action_dry_run()

        document = self.export()
        vmap_key = f"payment_method @ {self.endpoint.name}"
        self.record(document, "value_maps", vmap_key)["values"]["lines"]["x"] = {
            "name": "No such category"
        }
        with self.assertRaisesRegex(
            UserError, rf"value_maps record '{vmap_key}', field 'lines/x': .*names 0"
        ):
            self.new_import(document, name="prod.json").action_dry_run()

        document = self.export()
        self.record(document, "endpoints", self.endpoint.name)["secrets"] = {
            "webhook_secret": "whsec_live"
        }
        with self.assertRaisesRegex(
            UserError, r"field 'secrets': secrets are never imported"
        ):
            self.new_import(document, name="prod.json").action_dry_run()
        with self.assertRaisesRegex(UserError, r"prod\.json: not valid JSON"):
            self.new_import("{nope", name="prod.json").action_dry_run()

    def test_governed_settings_of_a_live_production_endpoint_become_a_version(self):
        self.env["fi.endpoint"]._fi_set_production_database(True)
        live = self.env["fi.endpoint"].create(
            {
                "name": "Live PSP",
                "provider": "generic_hmac",
                "environment": "production",
                "state": "active",
                "base_url": "https://api.psp.example/v1",
                "webhook_secret": SECRET,
            }
        )
        document = self.export()
        values = self.record(document, "endpoints", "Live PSP")["values"]
        values.update(base_url="https://api.psp.example/v2", retry_base_seconds=30)
        imported = self.new_import(document)
        imported.action_dry_run()
        imported.action_submit()
        imported.with_user(self.manager_b).action_approve()
        imported.with_user(self.manager_b).action_activate()

        self.assertEqual(live.base_url, "https://api.psp.example/v2")
        self.assertEqual(live.retry_base_seconds, 30)
        self.assertEqual(live.state, "active")
        version = live.change_ids.filtered(lambda c: c.state == "active")
        self.assertEqual(version.base_url, "https://api.psp.example/v2")
        self.assertIn("Imported from config.json", version.change_note)
        self.assertTrue(live.change_ids.filtered("is_baseline"))
