# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The Finance Integration block of Odoo's Settings."""

import os

from odoo import _, api, fields, models, tools

from ..lib.crypto import EncryptionKeyError, SecretBox, parse_keys
from .fi_endpoint_environment import KEY_ROTATED_PARAM


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    fi_production_database = fields.Boolean(
        "Production Database",
        compute="_compute_fi_production_database",
        inverse="_inverse_fi_production_database",
        groups="base.group_system",
        help="Only in a production database may production endpoints be active. "
        "Odoo's neutralization of a copy clears it.",
    )
    fi_key_status = fields.Char("Status", compute="_compute_fi_key_status")
    fi_key_count = fields.Integer("Keys Configured", compute="_compute_fi_key_status")
    fi_key_rotated_at = fields.Datetime(
        "Last Rotation",
        compute="_compute_fi_key_status",
        help="When every stored secret was last re-encrypted with the newest key.",
    )
    fi_payload_retention_days = fields.Integer(
        related="company_id.fi_payload_retention_days", readonly=False
    )
    fi_legal_retention_years = fields.Integer(
        related="company_id.fi_legal_retention_years", readonly=False
    )
    fi_require_2fa = fields.Boolean(related="company_id.fi_require_2fa", readonly=False)
    fi_check_close_before_lock = fields.Boolean(
        related="company_id.fi_check_close_before_lock", readonly=False
    )
    fi_endpoint_ids = fields.Many2many(
        "fi.endpoint",
        string="Endpoints",
        compute="_compute_fi_endpoint_ids",
        help="The installed connectors' endpoints of this company.",
    )

    def _compute_fi_production_database(self):
        production = self.env["fi.endpoint"]._fi_is_production_database()
        for settings in self:
            settings.fi_production_database = production

    def _inverse_fi_production_database(self):
        endpoints = self.env["fi.endpoint"]
        for settings in self:
            if settings.fi_production_database != (
                endpoints._fi_is_production_database()
            ):
                endpoints._fi_set_production_database(settings.fi_production_database)

    @api.depends("company_id")
    def _compute_fi_key_status(self):
        value = tools.config.get("fi_encryption_keys") or os.environ.get(
            "FI_ENCRYPTION_KEYS"
        )
        keys = parse_keys(value)
        try:
            SecretBox(keys)
            status = _("Present")
        except EncryptionKeyError:
            status = (
                _("Invalid key") if keys else _("Missing: secrets cannot be stored")
            )
        rotated = self.env["ir.config_parameter"].sudo().get_param(KEY_ROTATED_PARAM)
        for settings in self:
            settings.fi_key_status = status
            settings.fi_key_count = len(keys)
            settings.fi_key_rotated_at = rotated or False

    @api.depends("company_id")
    def _compute_fi_endpoint_ids(self):
        for settings in self:
            settings.fi_endpoint_ids = self.env["fi.endpoint"].search(
                [("company_id", "=", settings.company_id.id)]
            )
