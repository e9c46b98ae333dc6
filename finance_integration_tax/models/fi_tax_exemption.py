# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class FiTaxExemption(models.Model):
    """A customer's exemption certificate for one region, with its validity."""

    _name = "fi.tax.exemption"
    _description = "Tax Exemption Certificate"
    _order = "partner_id, country_id, state_id, date_from desc"

    partner_id = fields.Many2one(
        "res.partner", required=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    country_id = fields.Many2one("res.country", required=True)
    state_id = fields.Many2one(
        "res.country.state",
        "Region",
        domain="[('country_id', '=', country_id)]",
        help="Empty: valid in the whole country.",
    )
    number = fields.Char("Certificate Number", required=True)
    exemption_code = fields.Char(help="Engine's entity use code, when it needs one.")
    date_from = fields.Date("Valid From", required=True)
    date_to = fields.Date("Valid Until")
    active = fields.Boolean(default=True)

    @api.constrains("date_from", "date_to")
    def _check_dates(self):
        for cert in self:
            if cert.date_to and cert.date_to < cert.date_from:
                raise ValidationError(
                    _(
                        "Certificate %(n)s ends (%(to)s) before it starts (%(fr)s).",
                        n=cert.number,
                        to=cert.date_to,
                        fr=cert.date_from,
                    )
                )

    @api.model
    def _fi_find(self, partner, company, country, state, on_date):
        """The certificate valid for ``partner`` in the region on ``on_date``."""
        domain = [
            ("partner_id", "in", (partner | partner.commercial_partner_id).ids),
            ("company_id", "=", company.id),
            ("country_id", "=", country.id),
            ("date_from", "<=", on_date),
            "|",
            ("date_to", "=", False),
            ("date_to", ">=", on_date),
            "|",
            ("state_id", "=", False),
            ("state_id", "=", state.id),
        ]
        return self.search(domain, order="state_id desc, date_from desc", limit=1)
