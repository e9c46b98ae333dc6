# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The audit trail of accounting records, and the records processing touched
besides its main record."""

import json

from odoo import Command
from odoo.tests import tagged

from .common import AuditCommon

#: a handler (a server action) creating two journal entries (the first is its
#: main record) and changing a third; fails after that when asked to
ENTRY = """{
    "move_type": "entry",
    "journal_id": %(journal)s,
    "ref": %(ref)s,
    "line_ids": [
        (0, 0, {"account_id": %(debit)s, "debit": 10.0}),
        (0, 0, {"account_id": %(credit)s, "credit": 10.0}),
    ],
}"""
TOUCHING_CODE = """
main = env["account.move"].create(%(main)s)
env["account.move"].create(%(side)s)
env["account.move"].browse(%(existing)s).write({"ref": "changed by " + document["id"]})
# a record changed behind the ORM's back, named through core's call
env.cr.execute("UPDATE res_partner SET comment = 'touched' WHERE id = %(partner)s")
env["fi.audit"]._fi_touched(env["res.partner"].browse(%(partner)s), "changed")
if document["data"].get("fail"):
    raise FiBusinessError("refused after touching entries")
action = main
"""


@tagged("post_install", "-at_install")
class TestTrace(AuditCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Account = cls.env["account.account"]
        cls.debit = Account.create(
            {"code": "FA101", "name": "Audit debit", "account_type": "asset_current"}
        )
        cls.credit = Account.create(
            {"code": "FA201", "name": "Audit credit", "account_type": "income"}
        )
        cls.journal = cls.env["account.journal"].create(
            {"name": "Audit misc", "code": "FAMI", "type": "general"}
        )
        cls.existing = cls.entry("existing")
        cls.partner = cls.env["res.partner"].create({"name": "Touched by SQL"})
        cls.bot.groups_id = [Command.link(cls.env.ref("account.group_account_user").id)]
        accounts = {
            "journal": cls.journal.id,
            "debit": cls.debit.id,
            "credit": cls.credit.id,
        }
        code = TOUCHING_CODE % {
            "main": ENTRY % dict(accounts, ref='"main " + document["id"]'),
            "side": ENTRY % dict(accounts, ref='"side " + document["id"]'),
            "existing": cls.existing.id,
            "partner": cls.partner.id,
        }
        cls.handle_with_code("Touch journal entries", code)

    @classmethod
    def entry(cls, ref):
        return cls.env["account.move"].create(
            {
                "move_type": "entry",
                "journal_id": cls.journal.id,
                "ref": ref,
                "line_ids": [
                    Command.create({"account_id": cls.debit.id, "debit": 10.0}),
                    Command.create({"account_id": cls.credit.id, "credit": 10.0}),
                ],
            }
        )

    def process(self, event_id, **data):
        status, answer = self.receive(
            {"id": event_id, "type": "customer.created", "data": data}
        )
        self.assertEqual(status, 200, answer)
        message = self.env["fi.message"].browse(answer["message_id"])
        self.run_jobs()
        self.seal()
        return message

    def trail_of(self, record):
        action = record.action_fi_audit_trace()
        self.assertEqual(action["res_model"], "fi.audit.event")
        return self.events.search(action["domain"], order="sequence")

    def test_entry_and_payment_trails_show_the_events_naming_them(self):
        move = self.entry("traced")
        other = self.entry("not traced")
        self.event("test.on_move", "about the entry", record=move)
        self.event("test.on_other", "about another entry", record=other)
        self.seal()
        trail = self.trail_of(move)
        self.assertEqual(trail.mapped("event_type"), ["test.on_move"])
        self.assertEqual(move.fi_audit_event_count, 1)
        bank = self.env["account.journal"].create(
            {"name": "Audit bank", "code": "FABK", "type": "bank"}
        )
        payment = self.env["account.payment"].create(
            {
                "payment_type": "inbound",
                "partner_type": "customer",
                "amount": 5.0,
                "journal_id": bank.id,
            }
        )
        self.event("test.on_payment", "about the payment", record=payment)
        self.seal()
        self.assertIn("test.on_payment", self.trail_of(payment).mapped("event_type"))
        if payment.move_id:  # its entry's trail shows the payment's events
            self.assertIn(
                "test.on_payment", self.trail_of(payment.move_id).mapped("event_type")
            )

    def test_statement_line_trail_includes_its_entry(self):
        bank = self.env["account.journal"].create(
            {"name": "Audit bank 2", "code": "FAB2", "type": "bank"}
        )
        line = self.env["account.bank.statement.line"].create(
            {"journal_id": bank.id, "amount": 42.0, "payment_ref": "audit line"}
        )
        self.event("test.on_line", "about the line", record=line)
        self.event("test.on_line_move", "about its entry", record=line.move_id)
        self.seal()
        expected = {"test.on_line", "test.on_line_move"}
        self.assertEqual(set(self.trail_of(line).mapped("event_type")), expected)
        move_trail = self.trail_of(line.move_id)
        self.assertEqual(set(move_trail.mapped("event_type")), expected)

    def test_trail_buttons_are_on_the_entry_and_payment_forms(self):
        for model, view in (
            ("account.move", "account.view_move_form"),
            ("account.payment", "account.view_account_payment_form"),
        ):
            arch = self.env[model].get_view(self.env.ref(view).id, "form")["arch"]
            self.assertIn("action_fi_audit_trace", arch, model)
            self.assertIn("fi_audit_event_count", arch, model)
        bound = self.env["ir.actions.server"].search(
            [("binding_model_id.model", "=", "account.bank.statement.line")]
        )
        self.assertIn("action_fi_audit_trace", " ".join(bound.mapped("code")))

    def test_records_touched_besides_the_main_one_are_each_named_by_an_event(self):
        message = self.process("evt_touch1")
        self.assertEqual(message.state, "done")
        main = self.env["account.move"].search([("ref", "=", "main evt_touch1")])
        side = self.env["account.move"].search([("ref", "=", "side evt_touch1")])
        self.assertEqual((message.res_model, message.res_id), ("account.move", main.id))
        events = self.events.search(
            [("message_id", "=", message.id), ("event_type", "like", "record.%")]
        )
        named = {(e.event_type, e.res_model, e.res_id) for e in events}
        self.assertEqual(
            named,
            {
                ("record.created", "account.move", side.id),
                ("record.changed", "account.move", self.existing.id),
                ("record.changed", "res.partner", self.partner.id),
            },
            "each touched record named once, the main record by message.done",
        )
        facts = json.loads(events.filtered(lambda e: e.res_id == side.id).facts)
        self.assertEqual(
            (facts["main_model"], facts["main_id"]), ("account.move", main.id)
        )
        # the touched entries' trails lead to the message that touched them
        self.assertIn(message, self.trail_of(self.existing).message_id)
        self.assertIn(message, self.trail_of(side).message_id)

    def test_rolled_back_processing_names_no_touched_record(self):
        message = self.process("evt_touch2", fail=True)
        self.assertEqual(message.state, "failed")
        self.assertFalse(
            self.env["account.move"].search([("ref", "like", "% evt_touch2")])
        )
        self.assertFalse(
            self.events.search(
                [("message_id", "=", message.id), ("event_type", "like", "record.%")]
            )
        )
        self.assertFalse(self.trail_of(self.existing).message_id)

    def test_batched_processing_names_what_the_batch_touched_once_each(self):
        self.flow.process_batch_size = 3
        statuses = [
            self.receive(
                {"id": f"evt_batch{n}", "type": "customer.created", "data": {}}
            )
            for n in (1, 2)
        ]
        messages = self.env["fi.message"].browse(
            [a["message_id"] for _s, a in statuses]
        )
        self.run_jobs()
        self.seal()
        self.assertEqual(messages.mapped("state"), ["done", "done"])
        jobs = self.env["queue.job"].search(
            [("uuid", "in", messages.mapped("job_uuid"))]
        )
        batch_job = jobs.filtered(lambda j: (j.result or "").startswith("batch of 2"))
        self.assertEqual(len(batch_job), 1, "one job processed both messages")
        first = messages.sorted("id")[0]
        mains = self.env["account.move"].search([("ref", "like", "main evt_batch%")])
        sides = self.env["account.move"].search([("ref", "like", "side evt_batch%")])
        self.assertEqual(len(mains), 2)
        self.assertEqual(len(sides), 2)
        done = self.events.search(
            [("message_id", "in", messages.ids), ("event_type", "=", "message.done")]
        )
        self.assertEqual(
            {(e.message_id, e.res_id) for e in done},
            {(m, m.res_id) for m in messages},
            "each message done with its own main record",
        )
        named = self.events.search(
            [("message_id", "in", messages.ids), ("event_type", "like", "record.%")]
        )
        self.assertEqual(
            {(e.event_type, e.res_model, e.res_id) for e in named},
            {("record.created", "account.move", side.id) for side in sides}
            | {
                ("record.changed", "account.move", self.existing.id),
                ("record.changed", "res.partner", self.partner.id),
            },
            "the batch's side records named once each, its main records not",
        )
        self.assertEqual(named.message_id, first)
        facts = json.loads(named[0].facts)
        self.assertEqual(sorted(facts["batch"]), sorted(messages.ids))
