# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The tax engine's circuit breaker, against the local AvaTax server going
down (connections refused, no answer at all, 503) and coming back."""

import unittest
from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import TaxCommon


@tagged("post_install", "-at_install")
class TestEngineCircuit(TaxCommon):
    def setUp(self):
        super().setUp()
        self.customer.fi_einvoicing = False
        self.endpoint.write(
            {
                "circuit_threshold": 2,
                "circuit_cooldown_minutes": 10,
                "timeout_read": 0.5,
            }
        )

    # -- helpers ---------------------------------------------------------
    def refused(self, move, regex):
        """``action_post`` refused with a UserError. unittest's own
        assertRaises: Odoo's would roll back a savepoint, and with it the
        failure count that a real server commits in a transaction of its own
        (in test mode that "own transaction" lives inside the test's)."""
        with unittest.TestCase.assertRaisesRegex(self, UserError, regex):
            move.action_post()
        self.assertEqual(move.state, "draft")

    def cool_down_elapsed(self):
        """The cool-down is over (as if its minutes had passed)."""
        self.endpoint.sudo().circuit_opened_at -= timedelta(
            minutes=self.endpoint.circuit_cooldown_minutes + 1
        )

    def probe_jobs(self):
        return self.pending_jobs().filtered(
            lambda j: j.identity_key == f"fi.tax.probe:{self.endpoint.id}"
        )

    def engine_calls(self):
        return [r for r in self.avatax.requests if "/api/v2/transactions/" in r["path"]]

    def assert_open(self):
        self.endpoint.invalidate_recordset()
        self.assertEqual(self.endpoint.circuit_state, "open")
        self.assertTrue(self.endpoint.fi_unavailable_since)
        company = self.env.company
        self.assertEqual(company.fi_tax_engine_circuit, "open")
        self.assertEqual(
            company.fi_tax_engine_unavailable_since,
            self.endpoint.fi_unavailable_since,
        )

    def assert_closed(self):
        self.endpoint.invalidate_recordset()
        self.assertEqual(self.endpoint.circuit_state, "closed")
        self.assertEqual(self.endpoint.circuit_failures, 0)
        self.assertFalse(self.endpoint.fi_unavailable_since)

    # -- tests -----------------------------------------------------------
    def test_timeouts_open_the_circuit_then_held_invoices_validate_after_probe(self):
        self.env.company.fi_tax_unavailable_policy = "queue"
        self.avatax.start_hanging()
        first, second, third = self.invoice(), self.invoice(), self.invoice()
        first.action_post()
        self.assertEqual(first.fi_tax_state, "pending")
        self.assertEqual(self.endpoint.circuit_failures, 1)
        self.assertEqual(self.endpoint.circuit_state, "closed")
        second.action_post()
        self.assertEqual(second.fi_tax_state, "pending")
        self.assertEqual(len(self.engine_calls()), 2)
        self.assert_open()
        (item,) = self.exceptions(self.endpoint, "circuit_open")
        self.assertIn("2 consecutive failures or timeouts", item.detail)
        self.assertIn("timed out", item.detail)
        # open: held at once, without calling the engine (no timeout waited)
        third.action_post()
        self.assertEqual(third.fi_tax_state, "pending")
        self.assertEqual(third.state, "draft")
        self.assertEqual(len(self.engine_calls()), 2)
        (probe,) = self.probe_jobs()
        self.assertEqual(
            probe.eta,
            self.endpoint.circuit_opened_at + timedelta(minutes=10),
        )
        self.avatax.come_back()
        # before the cool-down is over, the probe asks nothing
        self.endpoint._fi_tax_probe()
        self.assertFalse(self.avatax.calls("/utilities/ping"))
        self.assert_open()
        self.cool_down_elapsed()
        self.run_jobs()
        self.assertEqual(len(self.avatax.calls("/utilities/ping")), 1)
        self.assert_closed()
        for move in (first, second, third):
            self.assertEqual(move.state, "posted", move.name)
            self.assertEqual(move.fi_tax_state, "committed", move.name)
        self.assertEqual(len(self.avatax.calls("/commit")), 3)

    def test_refused_connections_contingency_then_committed_after_probe(self):
        self.env.company.fi_tax_unavailable_policy = "contingency"
        self.endpoint.circuit_threshold = 3
        self.avatax.go_down()
        endpoints = type(self.env["fi.endpoint"])
        original = endpoints._fi_request
        sent = []

        def counting(endpoint, method, url, body, headers):
            sent.append(url)
            return original(endpoint, method, url, body, headers)

        moves = [self.invoice() for _i in range(4)]
        with patch.object(endpoints, "_fi_request", counting):
            for move in moves:
                move.action_post()
        self.assertEqual(len(sent), 3, "no call once the circuit is open")
        self.assert_open()
        for move in moves:
            self.assertEqual(move.state, "posted")
            self.assertEqual(move.fi_tax_state, "provisional")
            self.assertEqual(move.amount_tax, 10.0)
        self.avatax.come_back()
        self.cool_down_elapsed()
        self.env["fi.endpoint"]._cron_fi_tax_probe()  # the safety net probes too
        self.assert_closed()
        self.run_jobs()
        for move in moves:
            self.assertEqual(move.fi_tax_state, "committed", move.name)
        self.assertEqual(len(self.avatax.calls("/commit")), 4)

    def test_block_policy_refuses_at_once_while_open_and_failed_probe_keeps_it(self):
        self.env.company.fi_tax_unavailable_policy = "block"
        self.avatax.down = True  # 503 answers
        self.refused(self.invoice(), "unavailable.*ServiceUnavailable")
        self.refused(self.invoice(), "unavailable.*ServiceUnavailable")
        self.assert_open()
        since = self.endpoint.fi_unavailable_since
        calls = len(self.engine_calls())
        move = self.invoice()
        self.refused(move, "unavailable since .* UTC .*circuit open")
        self.assertEqual(len(self.engine_calls()), calls)
        # still down at the probe: open again, a new cool-down, the same since
        self.cool_down_elapsed()
        self.run_jobs(max_rounds=1)
        self.assertEqual(len(self.avatax.calls("/utilities/ping")), 1)
        self.assert_open()
        self.assertEqual(self.endpoint.fi_unavailable_since, since)
        reopened = self.endpoint.circuit_opened_at
        self.assertGreater(reopened, fields.Datetime.now() - timedelta(minutes=1))
        (probe,) = self.probe_jobs()
        self.assertEqual(probe.eta, reopened + timedelta(minutes=10))
        # back: the next probe closes it and validation calls the engine again
        self.avatax.down = False
        self.cool_down_elapsed()
        self.run_jobs()
        self.assert_closed()
        move.action_post()
        self.assertEqual(move.state, "posted")
        self.assertEqual(move.fi_tax_state, "calculated")

    def test_an_answer_resets_the_count_of_consecutive_failures(self):
        self.env.company.fi_tax_unavailable_policy = "queue"
        self.avatax.down = True
        self.invoice().action_post()
        self.assertEqual(self.endpoint.circuit_failures, 1)
        self.avatax.down = False
        self.invoice().action_post()
        self.assertEqual(self.endpoint.circuit_failures, 0)
        self.avatax.down = True
        self.invoice().action_post()
        self.assertEqual(self.endpoint.circuit_state, "closed")

    def test_failing_commit_jobs_open_the_circuit_and_the_ping_probe_closes_it(self):
        moves = self.invoice(), self.invoice()
        for move in moves:
            move.action_post()
        self.avatax.go_down()
        self.run_jobs(max_rounds=1)
        self.assert_open()
        self.assertTrue(self.probe_jobs())
        self.avatax.come_back()
        self.cool_down_elapsed()
        self.run_jobs()
        self.assert_closed()
        for move in moves:
            self.assertEqual(move.fi_tax_state, "committed", move.name)

    def test_held_invoice_escalated_once_past_max_hold_while_circuit_open(self):
        self.env.company.write(
            {"fi_tax_unavailable_policy": "queue", "fi_tax_max_hold_hours": 2}
        )
        self.endpoint.circuit_threshold = 1
        self.avatax.go_down()
        move = self.invoice()
        move.action_post()
        self.assert_open()
        moves = self.env["account.move"]
        self.assertFalse(moves._cron_fi_tax_pending_overdue())
        move.fi_tax_pending_since = fields.Datetime.now() - timedelta(hours=3)
        self.assertEqual(moves._cron_fi_tax_pending_overdue(), move)
        self.assertFalse(moves._cron_fi_tax_pending_overdue(), "once")
        (item,) = self.exceptions(move, "tax_pending_overdue")
        self.assertIn("still unavailable", item.detail)

    def test_address_validation_refused_at_once_while_the_engine_is_unavailable(self):
        self.endpoint.circuit_threshold = 1
        us = self.us_partner()
        self.avatax.go_down()
        self.env.company.fi_tax_unavailable_policy = "queue"
        self.invoice().action_post()
        self.assert_open()
        self.avatax.come_back()
        with self.assertRaisesRegex(UserError, "unavailable since"):
            us.action_fi_validate_address()
        self.assertFalse(self.avatax.calls("/addresses/resolve"))
        self.assertEqual(us.street, "100 Ravine Lane")
