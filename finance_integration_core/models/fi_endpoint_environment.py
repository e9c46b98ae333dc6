# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Environments: whether this database is production, what a production or
sandbox endpoint may do in it, and which networks may deliver webhooks."""

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, ValidationError

from ..lib.network import parse_networks

#: set by an administrator (Settings); Odoo's neutralization deletes it
PRODUCTION_PARAM = "finance_integration_core.production_database"
#: when every stored secret was last re-encrypted with the newest key
KEY_ROTATED_PARAM = "finance_integration_core.key_rotated_at"


class FiEndpointEnvironment(models.Model):
    _inherit = "fi.endpoint"

    webhook_allowed_networks = fields.Text(
        "Allowed Source Networks",
        tracking=True,
        help="Optional: webhooks are accepted only from these networks (CIDR, "
        "one per line or comma-separated, e.g. 192.0.2.0/24). A delivery from "
        "elsewhere is refused (403) and recorded as a security event. The "
        "forwarded address (X-Forwarded-For) counts only when Odoo runs with "
        "proxy_mode behind a proxy; otherwise the connecting address does.",
    )

    # ------------------------------------------------------------------
    # the database's environment
    # ------------------------------------------------------------------
    @api.model
    def _fi_is_production_database(self):
        """Whether an administrator declared this database production (a
        cached parameter: no query once read)."""
        value = self.env["ir.config_parameter"].sudo().get_param(PRODUCTION_PARAM)
        return (value or "").strip().lower() in ("1", "true", "yes")

    @api.model
    def _fi_set_production_database(self, production):
        """Declare this database production or not; administrators only."""
        if not self.env.is_admin():
            raise AccessError(
                _("Only an administrator may declare this database production.")
            )
        self.env["ir.config_parameter"].sudo().set_param(
            PRODUCTION_PARAM, "1" if production else False
        )

    def _fi_refuses_production(self):
        """A production endpoint in a database that is not production (a copy,
        a test server): it must neither receive nor send."""
        self.ensure_one()
        return (
            self.environment == "production" and not self._fi_is_production_database()
        )

    @api.constrains("state")
    def _check_production_database(self):
        for endpoint in self:
            if endpoint.state in ("active", "paused") and (
                endpoint._fi_refuses_production()
            ):
                raise ValidationError(
                    _(
                        "Endpoint %(name)s is a production endpoint and this "
                        "database is not declared production (Settings > Finance "
                        "Integration; a neutralized copy never is): it cannot be "
                        "active here. Use a sandbox endpoint.",
                        name=endpoint.name,
                    )
                )

    @api.constrains("base_url", "environment")
    def _check_sandbox_url(self):
        for endpoint in self.filtered(
            lambda e: e.environment == "sandbox" and e.base_url
        ):
            url = endpoint.base_url.strip().lower()
            for prefix in endpoint._fi_production_urls():
                if url.startswith(prefix.lower()):
                    raise ValidationError(
                        _(
                            "Endpoint %(name)s is a sandbox endpoint but its base "
                            "URL %(url)s is a production URL of %(provider)s "
                            "(%(prefix)s). Use the provider's test URL, or make "
                            "the endpoint a production one.",
                            name=endpoint.name,
                            url=endpoint.base_url,
                            provider=endpoint.provider,
                            prefix=prefix,
                        )
                    )

    @api.constrains("webhook_allowed_networks")
    def _check_allowed_networks(self):
        for endpoint in self:
            try:
                parse_networks(endpoint.webhook_allowed_networks)
            except ValueError as err:
                raise ValidationError(
                    _(
                        "Endpoint %(name)s, Allowed Source Networks: %(error)s",
                        name=endpoint.name,
                        error=err,
                    )
                ) from None
