# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Bindings: one Odoo record per external object, even under a race."""

from odoo import fields
from odoo.tests import tagged

from ..lib.errors import FiTransientError
from .common import FiCommon
from .test_processing import POSTING_CODE


@tagged("post_install", "-at_install")
class TestBindings(FiCommon):
    def test_bind_lookup_both_ways(self):
        partner = self.env["res.partner"].create({"name": "Bound"})
        Binding = self.env["fi.binding"]
        Binding.bind(self.endpoint, "customer", "cus_1", partner)
        self.assertEqual(Binding.to_odoo(self.endpoint, "customer", "cus_1"), partner)
        self.assertEqual(
            Binding.to_external(self.endpoint, partner, "customer"), "cus_1"
        )
        self.assertIsNone(Binding.to_odoo(self.endpoint, "customer", "cus_2"))

    def test_second_binding_of_one_external_id_is_a_transient_error(self):
        Binding = self.env["fi.binding"]
        first, second = self.env["res.partner"].create([{"name": "A"}, {"name": "B"}])
        Binding.bind(self.endpoint, "customer", "cus_race", first)
        with self.assertRaises(FiTransientError) as caught:
            Binding.bind(self.endpoint, "customer", "cus_race", second)
        self.assertEqual(caught.exception.reason_code, "binding_race")
        self.assertEqual(Binding.to_odoo(self.endpoint, "customer", "cus_race"), first)

    def test_losing_a_binding_race_retries_within_seconds_spending_no_attempt(self):
        action = self.env["ir.actions.server"].create(
            {
                "name": "post",
                "model_id": self.env.ref(
                    "finance_integration_core.model_fi_message"
                ).id,
                "state": "code",
                "code": POSTING_CODE,
            }
        )
        self.flow.write({"action": "server_action", "server_action_id": action.id})
        winner = self.env["res.partner"].create({"name": "Race Corp"})
        Binding = type(self.env["fi.binding"])
        original = Binding.to_odoo
        calls = []

        def stale_then_real(model, endpoint, external_type, external_id):
            # the first lookup ran just before another worker's binding committed
            calls.append(external_id)
            if len(calls) == 1:
                return None
            return original(model, endpoint, external_type, external_id)

        self.patch(Binding, "to_odoo", stale_then_real)
        status, answer = self.receive(
            self.event("evt_race", customer_id="cus_race", name="Race Corp")
        )
        message = self.env["fi.message"].browse(answer["message_id"])
        self.env["fi.binding"].bind(self.endpoint, "customer", "cus_race", winner)
        self.run_jobs()
        self.assertEqual(message.state, "retry")
        self.assertEqual(message.error_code, "binding_race")
        # settled by the other transaction's commit: retried within seconds
        # (not on the endpoint's backoff), and no attempt is spent on it
        self.endpoint.retry_base_seconds = 600
        self.assertEqual(message.attempts, 0)
        self.assertEqual(message.conflict_count, 1)
        wait = (message.next_retry_at - fields.Datetime.now()).total_seconds()
        self.assertLessEqual(wait, 1)
        (job,) = self.pending_jobs("_fi_process")
        self.assertLessEqual((job.eta - fields.Datetime.now()).total_seconds(), 1)
        self.run_jobs(ignore_eta=True)
        self.assertEqual(message.state, "done")
        self.assertEqual(message.attempts, 1)
        self.assertEqual(
            self.env["res.partner"].search_count([("name", "=", "Race Corp")]), 1
        )
        self.assertEqual(
            (message.res_model, message.res_id), ("res.partner", winner.id)
        )
