# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json

from odoo.tests import tagged

from ..lib.chain import GENESIS, event_hash, first_break
from .common import AuditCommon


@tagged("post_install", "-at_install")
class TestChain(AuditCommon):
    def test_sealing_numbers_each_company_chain_without_gaps_and_links_hashes(self):
        other = self.env["res.company"].create({"name": "Audit Other Co"})
        self.seal()  # what the fixtures recorded
        head_seq, head_hash = self.events._fi_head(self.company.id)
        for index in range(3):
            self.event(summary=f"main {index}", facts={"n": index})
            self.event(summary=f"other {index}", company=other)
        self.seal()
        rows = self.chain_rows()
        self.assertEqual(rows[-1][1], head_seq + 3)
        self.assertIsNone(first_break(rows))
        other_rows = self.chain_rows(other)
        self.assertEqual([r[1] for r in other_rows], [1, 2, 3])
        self.assertEqual(other_rows[0][2], GENESIS)
        self.assertEqual(other_rows[1][2], other_rows[0][-1])
        # the hash covers sequence and previous hash
        self.assertEqual(event_hash(other_rows[2][:-1]), other_rows[2][-1])
        self.assertNotEqual(
            event_hash((other_rows[2][0], 7, *other_rows[2][2:-1])), other_rows[2][-1]
        )
        if head_seq:
            self.assertEqual(rows[-3][2], head_hash)

    def test_event_carries_who_what_where_with_canonical_facts(self):
        message_event = self.event(
            "payout.settled",
            "Payout po_1 settled",
            endpoint=self.endpoint,
            flow=self.flow,
            correlation_id="corr-42",
            record=self.owner.partner_id,
            facts={"payout": "po_1", "amount_minor": 12345, "currency": "EUR"},
        )
        self.assertEqual(message_event.user_id, self.env.user)
        self.assertEqual(message_event.integration_user_id, self.bot)
        self.assertEqual(message_event.endpoint_id, self.endpoint)
        self.assertEqual(
            (message_event.res_model, message_event.res_id),
            ("res.partner", self.owner.partner_id.id),
        )
        self.assertEqual(
            message_event.facts,
            '{"amount_minor":12345,"currency":"EUR","payout":"po_1"}',
        )
        self.assertTrue(message_event.event_date)
        self.assertFalse(message_event.hash)
        self.seal()
        self.assertTrue(message_event.hash)

    def test_float_facts_are_refused_at_the_call(self):
        with self.assertRaisesRegex(ValueError, "facts.amount: float"):
            self.event(facts={"amount": 12.5})

    def test_rolled_back_event_never_enters_the_chain(self):
        before = self.events._fi_head(self.company.id)[0]
        try:
            with self.env.cr.savepoint():
                self.event("test.rolled_back")
                self.env.flush_all()
                raise RuntimeError("business failure")
        except RuntimeError:
            pass
        self.env.invalidate_all()
        self.event("test.kept")
        self.seal()
        types = [
            r[4]
            for r in self.chain_rows()
            if r[1] > before and r[4].startswith("test.")
        ]
        self.assertEqual(types, ["test.kept"])

    def test_verify_reports_an_intact_chain(self):
        self.event()
        self.env["fi.audit.checkpoint"]._fi_sign_heads(self.company)
        self.event()
        run = self.verify()
        self.assertEqual(run.state, "ok", run.summary)
        self.assertGreater(run.events_checked, 1)
        self.assertEqual(run.signed_sequence, run.last_sequence - 1)

    def test_export_verifies_offline_without_odoo(self):
        for index in range(4):
            self.event(facts={"index": index, "text": "é \u2028"})
        data, segment = self.events._fi_export(self.company)
        self.assertTrue(segment)
        header = json.loads(data.splitlines()[0])
        self.assertEqual(header["format"], "fi-audit-export/1")
        code, output = self.offline_verify(data)
        self.assertEqual(code, 0, output)
        self.assertTrue(output.startswith("OK "), output)
        self.assertIn(f"signed up to {segment.to_sequence}", output)
        code, output = self.offline_verify(data, public_keys=[self.other_public_key()])
        self.assertEqual(code, 1, output)
        self.assertIn("signature invalid", output)

    def other_public_key(self):
        from ..lib.signing import generate_private_key, load_private_key, public_key_b64

        return public_key_b64(load_private_key(generate_private_key()))

    def test_database_lines_are_the_python_ones_for_awkward_text(self):
        """The lines PostgreSQL streams to the verification and the export
        are byte for byte the sealer's canonical form with its hash."""
        from ..lib.chain import canonical_form, event_line
        from ..lib.pgcopy import CANONICAL_SQL, CopySink, copy_sql

        controls = "".join(chr(c) for c in range(1, 32))
        awkward = [
            'tab\t quote" backslash\\ ctl\x01\x1f del\x7f é \u2028 \U0001f600',
            f"every control {controls} and vt \v ff \f",
            "ends with a backslash\\",
            '\\"quoted\\" \\N null \\v \\\\ \x02\x01',
            "null",
        ]
        events = self.events
        for index, text in enumerate(awkward):
            events |= self.event(
                "test.awkward",
                text,
                correlation_id=f"c\n{index}\\",
                facts={"text": text, "index": index},
            )
        self.seal()
        rows = [r for r in self.chain_rows() if r[4] == "test.awkward"]
        self.assertEqual(len(rows), len(awkward))
        self.env.cr.execute(
            f"SELECT {CANONICAL_SQL} FROM fi_audit_event WHERE id IN %s "
            "ORDER BY sequence",
            (tuple(events.ids),),
        )
        self.assertEqual(
            [r[0].encode("utf-8") for r in self.env.cr.fetchall()],
            [canonical_form(r[:-1]) for r in rows],
        )
        lines = []
        sink = CopySink(None, batch=2, lines=lines)
        self.env.cr.copy_expert(copy_sql(f"id IN {tuple(events.ids)}"), sink)
        sink.flush()
        self.assertEqual(lines, [event_line(r).rstrip(b"\n") for r in rows])
        self.assertEqual(self.verify().state, "ok")
