# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Environments: the production database flag and Odoo's neutralization,
production and sandbox endpoints, source-network allowlists."""

from pathlib import Path
from unittest.mock import patch

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import HttpCase, tagged
from odoo.tools import config

from ..models.fi_endpoint_environment import PRODUCTION_PARAM
from .common import FiCommon

NEUTRALIZE_SQL = Path(__file__).parent.parent / "data" / "neutralize.sql"


@tagged("post_install", "-at_install")
class TestEnvironments(FiCommon):
    def set_production(self, production):
        self.env["fi.endpoint"]._fi_set_production_database(production)

    def production_endpoint(self, **values):
        return self.env["fi.endpoint"].create(
            dict(
                {
                    "name": "PSP live",
                    "provider": "generic_hmac",
                    "environment": "production",
                    "base_url": "https://api.psp.example/v1",
                    "webhook_secret": "whsec_live_0123456789",
                },
                **values,
            )
        )

    def test_production_endpoint_is_active_only_in_a_production_database(self):
        self.set_production(False)
        endpoint = self.production_endpoint()
        with self.assertRaisesRegex(
            ValidationError, "PSP live.*not declared production"
        ):
            endpoint.action_activate()
        self.set_production(True)
        endpoint.action_activate()
        self.assertEqual(endpoint.state, "active")

    def test_only_an_administrator_declares_the_database_production(self):
        manager = self.owner.copy({"login": "fi_env_manager"})
        manager.groups_id |= self.env.ref("finance_integration_core.group_fi_manager")
        with self.assertRaises(AccessError):
            self.env["fi.endpoint"].with_user(manager)._fi_set_production_database(True)
        self.assertFalse(self.env["fi.endpoint"]._fi_is_production_database())

    def test_neutralized_copy_is_not_production_and_refuses_production_endpoints(self):
        self.set_production(True)
        endpoint = self.production_endpoint(state="active")
        status, answer = self.receive(
            self.event("evt_live"), key=endpoint.key, secret="whsec_live_0123456789"
        )
        self.assertEqual(status, 200, answer)
        # what `odoo-bin neutralize` runs for this addon, on this database
        self.env.flush_all()
        self.env.cr.execute(NEUTRALIZE_SQL.read_text())
        self.env.registry.clear_cache()
        self.env.invalidate_all()
        self.assertFalse(
            self.env["ir.config_parameter"].sudo().get_param(PRODUCTION_PARAM)
        )
        self.assertFalse(self.env["fi.endpoint"]._fi_is_production_database())
        self.assertEqual(endpoint.state, "disabled")
        with self.assertRaisesRegex(ValidationError, "not declared production"):
            endpoint.action_activate()
        # a production endpoint marked active in a copy receives nothing
        self.env.cr.execute(
            "UPDATE fi_endpoint SET state = 'active' WHERE id = %s", (endpoint.id,)
        )
        endpoint.invalidate_recordset()
        status, _answer = self.receive(
            self.event("evt_copy"), key=endpoint.key, secret="whsec_live_0123456789"
        )
        self.assertEqual(status, 404)
        self.assertTrue(
            self.env["fi.message"].new({"endpoint_id": endpoint.id})._fi_hold_reason()
        )

    def test_sandbox_endpoint_refuses_a_production_url_of_its_provider(self):
        Endpoint = type(self.env["fi.endpoint"])
        with patch.object(
            Endpoint,
            "_fi_production_urls",
            lambda self: ("https://api.psp.example",),
        ):
            with self.assertRaisesRegex(
                ValidationError, "sandbox endpoint.*https://API.psp.example/v1"
            ):
                self.endpoint.base_url = "https://API.psp.example/v1"
            self.endpoint.base_url = "https://sandbox.psp.example/v1"
            self.set_production(True)
            self.production_endpoint()  # a production endpoint may use it

    def test_allowlist_is_validated_with_a_clear_error(self):
        with self.assertRaisesRegex(
            ValidationError, "Allowed Source Networks: entry 2 '10.0.0.300'"
        ):
            self.endpoint.webhook_allowed_networks = "192.0.2.0/24\n10.0.0.300"

    def test_delivery_from_outside_the_allowlist_is_a_security_event(self):
        self.endpoint.webhook_allowed_networks = "192.0.2.0/24"
        body = self.body_of(self.event("evt_src"))
        headers = self.signed_headers(body)
        status, answer = (
            self.env["fi.endpoint"]
            .sudo()
            ._fi_receive_webhook(
                self.endpoint.key, headers, lambda n: body[:n], len(body), "203.0.113.9"
            )
        )
        self.assertEqual(status, 403, answer)
        event = self.env["fi.security.event"].search(
            [("endpoint_id", "=", self.endpoint.id)], limit=1
        )
        self.assertEqual(
            (event.reason, event.remote_addr), ("source_refused", "203.0.113.9")
        )
        self.assertFalse(
            self.env["fi.message"].search([("endpoint_id", "=", self.endpoint.id)])
        )
        status, answer = (
            self.env["fi.endpoint"]
            .sudo()
            ._fi_receive_webhook(
                self.endpoint.key, headers, lambda n: body[:n], len(body), "192.0.2.44"
            )
        )
        self.assertEqual(status, 200, answer)

    def test_allowlist_check_makes_no_query(self):
        self.endpoint.webhook_allowed_networks = "192.0.2.0/24"
        endpoint = self.env["fi.endpoint"].sudo()
        config_ = endpoint._fi_endpoint_config(self.endpoint.key)
        self.env.flush_all()
        with self.assertQueryCount(0):
            self.assertFalse(endpoint._fi_source_allowed(config_, "203.0.113.1"))
            self.assertTrue(endpoint._fi_source_allowed(config_, "192.0.2.1"))


@tagged("post_install", "-at_install")
class TestAllowlistBehindProxy(FiCommon, HttpCase):
    def post(self, headers):
        body = self.body_of(self.event(f"evt_proxy_{len(headers)}"))
        return self.url_open(
            f"/fi/webhook/{self.endpoint.key}",
            data=body,
            headers=dict(self.signed_headers(body), **headers),
            timeout=120,
        )

    def test_forwarded_address_counts_only_in_proxy_mode(self):
        self.endpoint.webhook_allowed_networks = "198.51.100.0/24"
        forwarded = {
            "X-Forwarded-For": "198.51.100.7",
            "X-Forwarded-Host": "odoo.example",
        }
        with patch.dict(config.options, {"proxy_mode": False}):
            response = self.post(forwarded)
        self.assertEqual(response.status_code, 403, response.text)
        with patch.dict(config.options, {"proxy_mode": True}):
            response = self.post(forwarded)
        self.assertEqual(response.status_code, 200, response.text)
