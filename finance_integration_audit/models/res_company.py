# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    fi_audit_owner_id = fields.Many2one(
        "res.users",
        "Audit Owner",
        help="Alerted (an activity) when a verification finds the audit chain broken.",
    )
    fi_audit_retention_years = fields.Integer(
        "Audit Retention (years)",
        default=10,
        help="Legal retention of the audit chain: older rows may be purged once "
        "an export of them was signed (independent of payload retention).",
    )
