# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Per-currency settings of a live production Stripe endpoint change through
approved settings versions, as the endpoint's own accounts do."""

import json

from odoo import Command
from odoo.exceptions import UserError, ValidationError
from odoo.tests import HttpCase, tagged

from odoo.addons.finance_integration_core.tests.common import browser_js_screenshot

from .common import StripeCommon


@tagged("post_install", "-at_install")
class TestStripeCurrencyGovernance(StripeCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["fi.endpoint"]._fi_set_production_database(True)
        cls.eur_journal = cls.env["account.journal"].create(
            {"name": "Stripe EUR", "code": "STEU", "type": "bank"}
        )
        cls.eur_clearing = cls.env["account.account"].create(
            {
                "code": "S1011",
                "name": "Stripe EUR clearing",
                "account_type": "asset_current",
                "reconcile": True,
            }
        )
        # set up while sandbox, then live in production
        cls.endpoint.write(
            {
                "stripe_currency_ids": [
                    (0, 0, {"currency_id": cls.usd.id, "journal_id": cls.journal.id})
                ]
            }
        )
        cls.endpoint.environment = "production"
        cls.manager_a = cls.env.user

    def propose(self, **values):
        action = self.endpoint.action_propose_change()
        change = self.env["fi.endpoint.change"].browse(action["res_id"])
        change.write(values)
        return change

    def test_direct_changes_of_live_currency_rows_are_refused(self):
        row = self.endpoint.stripe_currency_ids
        with self.assertRaisesRegex(UserError, r"Stripe \(test\) is live.*USD"):
            row.clearing_account_id = self.eur_clearing
        with self.assertRaisesRegex(UserError, "per-currency settings .EUR."):
            self.env["fi.stripe.currency"].create(
                {"endpoint_id": self.endpoint.id, "currency_id": self.eur.id}
            )
        with self.assertRaisesRegex(UserError, "change request"):
            row.unlink()
        with self.assertRaisesRegex(UserError, "change request"):
            self.endpoint.write({"stripe_currency_ids": [(5, 0, 0)]})
        self.assertEqual(row.journal_id, self.journal, "nothing changed")
        self.assertFalse(row.clearing_account_id)

    def test_currency_rows_change_through_an_approved_version(self):
        settings = json.loads(self.endpoint.stripe_currency_settings)
        self.assertEqual(
            settings,
            [
                {
                    "currency": "USD",
                    "journal_id": self.journal.id,
                    "journal": "STRP",
                    "clearing_account_id": None,
                    "clearing_account": None,
                }
            ],
        )
        proposed = [
            {"currency": "usd", "journal_id": self.journal.id},
            {
                "currency": "EUR",
                "journal_id": self.eur_journal.id,
                "clearing_account_id": self.eur_clearing.id,
            },
        ]
        change = self.propose(stripe_currency_settings=json.dumps(proposed))
        self.assertIn("Per-currency Settings", change.diff_display)
        change.action_submit()
        with self.assertRaisesRegex(UserError, "Four eyes"):
            change.action_approve()
        change.with_user(self.manager_b).action_approve()
        self.assertEqual(len(self.endpoint.stripe_currency_ids), 1, "not before")
        change.with_user(self.manager_b).action_activate()
        eur = self.endpoint._fi_stripe_currency_row("EUR")
        self.assertEqual(eur.journal_id, self.eur_journal)
        self.assertEqual(eur.clearing_account_id, self.eur_clearing)
        self.assertEqual(self.endpoint._fi_stripe_journal(self.eur), self.eur_journal)
        self.assertEqual(self.endpoint._fi_stripe_clearing(self.eur), self.eur_clearing)
        # rolling back to the baseline removes the EUR row again
        baseline = self.endpoint.change_ids.filtered("is_baseline")
        baseline.with_user(self.manager_b).action_rollback()
        self.assertEqual(self.endpoint.stripe_currency_ids.currency_id, self.usd)
        self.assertEqual(self.endpoint._fi_stripe_clearing(self.eur), self.clearing)

    def test_currency_rows_proposed_as_rows_apply_at_activation(self):
        change = self.propose()
        self.assertEqual(
            [
                (row.currency_id, row.journal_id, row.clearing_account_id)
                for row in change.stripe_currency_line_ids
            ],
            [(self.usd, self.journal, self.env["account.account"])],
            "a new version starts from the endpoint's rows",
        )
        change.write(
            {
                "stripe_currency_line_ids": [
                    Command.create(
                        {
                            "currency_id": self.eur.id,
                            "journal_id": self.eur_journal.id,
                            "clearing_account_id": self.eur_clearing.id,
                        }
                    )
                ]
            }
        )
        self.assertIn('"EUR"', change.stripe_currency_settings)
        self.assertIn("STEU", change.diff_display, "the approver reads the journal")
        change.action_submit()
        row = change.stripe_currency_line_ids.filtered(
            lambda r: r.currency_id == self.eur
        )
        with self.assertRaisesRegex(UserError, "only a draft can be edited"):
            row.clearing_account_id = self.clearing
        with self.assertRaisesRegex(UserError, "only a draft can be edited"):
            row.unlink()
        with self.assertRaisesRegex(UserError, "only a draft can be edited"):
            change.write(
                {
                    "stripe_currency_line_ids": [
                        Command.create({"currency_id": self.jpy.id})
                    ]
                }
            )
        change.with_user(self.manager_b).action_approve()
        self.assertFalse(self.endpoint._fi_stripe_currency_row("EUR"), "not before")
        change.with_user(self.manager_b).action_activate()
        eur = self.endpoint._fi_stripe_currency_row("EUR")
        self.assertEqual(eur.journal_id, self.eur_journal)
        self.assertEqual(eur.clearing_account_id, self.eur_clearing)
        self.assertEqual(
            self.endpoint._fi_stripe_currency_row("USD").journal_id, self.journal
        )

    def test_who_edits_a_proposed_row_cannot_approve_the_version(self):
        change = self.propose()
        change.with_user(
            self.manager_b
        ).stripe_currency_line_ids.clearing_account_id = self.clearing
        change.action_submit()
        with self.assertRaisesRegex(UserError, "Four eyes: Second Manager"):
            change.with_user(self.manager_b).action_approve()
        self.assertEqual(change.state, "submitted")

    def test_a_proposed_journal_of_another_currency_is_refused(self):
        change = self.propose()
        self.eur_journal.currency_id = self.eur
        # Odoo's assertRaises rolls the failed write back, as the request would
        with self.assertRaises(ValidationError) as caught:
            change.write(
                {
                    "stripe_currency_line_ids": [
                        Command.create(
                            {
                                "currency_id": self.jpy.id,
                                "journal_id": self.eur_journal.id,
                            }
                        )
                    ]
                }
            )
        self.assertRegex(
            str(caught.exception),
            "Stripe JPY settings of Stripe .test.: journal Stripe EUR is in EUR",
        )
        self.assertEqual(change.stripe_currency_line_ids.currency_id, self.usd)

    def test_wrong_currency_settings_name_the_entry(self):
        for text, error in (
            ("{", "not JSON"),
            ('{"currency": "EUR"}', "must be a JSON list"),
            ('[{"currency": "XXX"}]', r"entry 1: no known currency code \(XXX\)"),
            (
                '[{"currency": "EUR"}, {"currency": "eur"}]',
                "entry 2: currency EUR appears twice",
            ),
            (
                '[{"currency": "EUR", "journal_id": 999999}]',
                "EUR: journal_id 999999 is not a record id of account.journal",
            ),
        ):
            with self.assertRaisesRegex(UserError, error):
                self.propose(stripe_currency_settings=text)
            self.assertEqual(self.endpoint.stripe_currency_ids.currency_id, self.usd)


@tagged("post_install", "-at_install")
class TestStripeChangeForm(HttpCase):
    def test_settings_version_form_shows_the_stripe_settings(self):
        currency = self.env.ref("base.USD")
        journal = self.env["account.journal"].create(
            {"name": "Stripe form", "code": "STFM", "type": "bank"}
        )
        endpoint = self.env["fi.endpoint"].create(
            {
                "name": "Stripe form endpoint",
                "provider": "stripe",
                "stripe_journal_id": journal.id,
                "stripe_currency_ids": [
                    (0, 0, {"currency_id": currency.id, "journal_id": journal.id})
                ],
            }
        )
        change_id = endpoint.action_propose_change()["res_id"]

        code = """
            const form = document.querySelector(".o_form_view");
            // group titles are shown in capitals
            const text = form.innerText.toLowerCase();
            for (const label of ["Stripe Clearing Journal", "Stripe Clearing Account",
                    "Payout Transit Account", "Per-currency settings"]) {
                if (!text.includes(label.toLowerCase())) {
                    throw new Error("missing in the settings version: " + label);
                }
            }
            const rows = [...form.querySelectorAll(
                ".o_field_widget[name='stripe_currency_line_ids'] .o_data_row")]
                .map((row) => row.innerText);
            if (rows.length !== 1 || !rows[0].includes("USD")
                    || !rows[0].includes("Stripe form")) {
                throw new Error("per-currency rows not shown: " + rows);
            }
            form.querySelector(".o_field_widget[name='stripe_currency_line_ids']")
                .scrollIntoView({block: "center"});
            console.log("test successful");
        """
        field = ".o_field_widget[name='stripe_currency_line_ids'] .o_data_row"
        browser_js_screenshot(
            self,
            "fi_stripe_change_",
            f"/odoo/fi.endpoint.change/{change_id}",
            code,
            ready=f'!!document.querySelector("{field}")',
        )
