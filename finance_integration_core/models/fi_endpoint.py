# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""``fi.endpoint``: a connection to one external system for one company.

This file holds what every endpoint has (identity, state, limits, actions). The
rest is split by responsibility: ``fi_endpoint_secrets.py`` (the vault),
``fi_endpoint_intake.py`` (webhooks), ``fi_endpoint_dispatch.py`` (the outbox),
``fi_endpoint_outbound.py`` (sending), and ``fi_endpoint_provider.py``, the
provider surface a connector overrides (``provider_generic_hmac.py`` is core's
own provider).
"""

import re
import secrets

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class FiEndpoint(models.Model):
    """A connection to one external system for one company."""

    _name = "fi.endpoint"
    _description = "Finance Integration Endpoint"
    _inherit = ["mail.thread", "mail.activity.mixin", "fi.lookup.cache.mixin"]
    _order = "sequence, name, id"

    name = fields.Char(required=True, tracking=True)
    sequence = fields.Integer(default=10)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    provider = fields.Selection(
        [],
        required=True,
        tracking=True,
        help="The external system's kind; each connector addon adds its own.",
    )
    environment = fields.Selection(
        [("sandbox", "Sandbox"), ("production", "Production")],
        required=True,
        default="sandbox",
        tracking=True,
    )
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("active", "Active"),
            ("paused", "Paused"),
            ("disabled", "Disabled"),
        ],
        required=True,
        default="draft",
        tracking=True,
        help="Draft and disabled endpoints refuse webhooks (404) and send "
        "nothing. A paused endpoint keeps storing incoming messages but "
        "processes nothing until it is resumed.",
    )
    base_url = fields.Char(
        "Base URL",
        tracking=True,
        help="Root URL of the external API for outbound flows.",
    )
    key = fields.Char(
        "Webhook Key",
        required=True,
        copy=False,
        readonly=True,
        default=lambda self: secrets.token_urlsafe(24),
        help="Unguessable part of the webhook URL of this endpoint.",
    )
    webhook_url = fields.Char(compute="_compute_webhook_url")
    integration_user_id = fields.Many2one(
        "res.users",
        required=True,
        default=lambda self: self.env.ref(
            "finance_integration_core.user_fi_integration", raise_if_not_found=False
        ),
        tracking=True,
        help="Processing jobs of this endpoint run as this user, never as superuser.",
    )
    responsible_id = fields.Many2one(
        "res.users",
        tracking=True,
        help="Finance owner of the endpoint: business exceptions of flows without "
        "an owner go to this user.",
    )
    technical_owner_id = fields.Many2one(
        "res.users",
        tracking=True,
        help="Gets the technical failures of this endpoint (dead letters, circuit "
        "breaker trips, connection and authentication failures, schema drift, "
        "spikes of refused webhooks) instead of finance.",
    )
    flow_ids = fields.One2many("fi.flow", "endpoint_id")

    unknown_event_policy = fields.Selection(
        [("ignore", "Store and ignore"), ("exception", "Store and open an exception")],
        default="ignore",
        required=True,
        help="What to do with an authenticated event that no flow handles.",
    )
    max_body_bytes = fields.Integer("Max Body Size (bytes)", default=1024 * 1024)

    # -- outbound --
    timeout_connect = fields.Float("Connect Timeout (s)", default=5.0)
    timeout_read = fields.Float("Read Timeout (s)", default=30.0)
    retry_base_seconds = fields.Integer("Retry Base Delay (s)", default=10)
    retry_cap_seconds = fields.Integer("Retry Max Delay (s)", default=3600)

    # -- monitoring --
    auth_failure_count = fields.Integer(readonly=True, copy=False)
    last_auth_failure_at = fields.Datetime(readonly=True, copy=False)
    message_count = fields.Integer(compute="_compute_counts")
    open_exception_count = fields.Integer(compute="_compute_counts")

    _sql_constraints = [
        ("key_unique", "unique(key)", "The webhook key must be unique."),
        (
            "max_body_positive",
            "CHECK(max_body_bytes > 0)",
            "The maximum body size must be positive.",
        ),
    ]

    # ------------------------------------------------------------------
    # computes and constraints
    # ------------------------------------------------------------------
    def _compute_webhook_url(self):
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
        for endpoint in self:
            endpoint.webhook_url = f"{base.rstrip('/')}/fi/webhook/{endpoint.key}"

    def _compute_counts(self):
        messages = dict(
            self.env["fi.message"]._read_group(
                [("endpoint_id", "in", self.ids)], ["endpoint_id"], ["__count"]
            )
        )
        exceptions = dict(
            self.env["fi.exception"]._read_group(
                [
                    ("endpoint_id", "in", self.ids),
                    ("state", "in", ("new", "in_progress")),
                ],
                ["endpoint_id"],
                ["__count"],
            )
        )
        for endpoint in self:
            endpoint.message_count = messages.get(endpoint, 0)
            endpoint.open_exception_count = exceptions.get(endpoint, 0)

    @api.constrains("base_url", "environment")
    def _check_base_url(self):
        for endpoint in self:
            url = endpoint.base_url
            if not url:
                continue
            if not re.match(r"^https?://[^\s/]+", url):
                raise ValidationError(
                    _(
                        "Endpoint %(name)s: base URL %(url)s is not an http(s) URL.",
                        name=endpoint.name,
                        url=url,
                    )
                )
            local = re.match(r"^https?://(127\.0\.0\.1|localhost|\[::1\])(:|/|$)", url)
            if (
                endpoint.environment == "production"
                and not url.startswith("https://")
                and not local
            ):
                raise ValidationError(
                    _(
                        "Endpoint %(name)s: a production endpoint must use https "
                        "(base URL %(url)s).",
                        name=endpoint.name,
                        url=url,
                    )
                )

    # ------------------------------------------------------------------
    # life cycle
    # ------------------------------------------------------------------
    @api.ondelete(at_uninstall=False)
    def _unlink_except_logged(self):
        self.env["fi.message"]._fi_check_unreferenced("endpoint_id", self)

    def action_activate(self):
        """Activate or resume: what waited in the outbox is dispatched again."""
        self.write({"state": "active"})
        for endpoint in self:
            endpoint._fi_enqueue_dispatcher()
        return True

    def action_pause(self):
        self.write({"state": "paused"})
        return True

    def action_disable(self):
        self.write({"state": "disabled"})
        return True

    def action_regenerate_key(self):
        for endpoint in self:
            endpoint.key = secrets.token_urlsafe(24)
        return True

    def action_fi_test_connection(self):
        """Reach the external system with the stored settings and say what
        came back (the provider's ``_fi_test_connection``)."""
        self.ensure_one()
        summary = self._fi_test_connection()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Connection to %s", self.display_name),
                "message": summary,
                "type": "success",
            },
        }
