# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    fi_payload_retention_days = fields.Integer(
        "Default Payload Retention (days)",
        default=90,
        help="Payload retention given to this company's new endpoints: message "
        "bodies older than this are purged, metadata and hashes stay.",
    )
    fi_legal_retention_years = fields.Integer(
        "Legal Retention (years)",
        default=10,
        help="Records of legal value (submitted e-invoices, bank files, audit "
        "segments, as the connectors mark them) are kept this long whatever the "
        "payload retention says.",
    )
    fi_require_2fa = fields.Boolean(
        "Require Two-Factor Authentication",
        help="Finance Integration Managers must have two-factor authentication "
        "enabled before they may approve or change production settings.",
    )

    _sql_constraints = [
        (
            "fi_legal_retention_positive",
            "CHECK(fi_legal_retention_years IS NULL OR fi_legal_retention_years >= 0)",
            "The legal retention cannot be negative.",
        ),
    ]

    @api.ondelete(at_uninstall=False)
    def _unlink_except_fi_logged(self):
        self.env["fi.message"].sudo()._fi_check_unreferenced("company_id", self)
