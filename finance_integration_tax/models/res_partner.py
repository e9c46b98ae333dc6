# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, fields, models
from odoo.exceptions import UserError

from odoo.addons.finance_integration_core.lib.errors import FiTransientError

from ..lib.engine import Address, EngineError


class ResPartner(models.Model):
    _inherit = "res.partner"

    fi_tax_exemption_ids = fields.One2many(
        "fi.tax.exemption", "partner_id", "Exemption Certificates"
    )
    fi_address_validated = fields.Boolean("Address Validated", readonly=True)
    fi_einvoicing = fields.Boolean(
        "E-invoicing (clearance)",
        help="Validated invoices of this customer are submitted as Peppol BIS "
        "Billing 3 documents to the company's clearance platform.",
    )

    def action_fi_validate_address(self):
        """Normalise the address with the company's tax engine: only in the
        countries the engine supports; elsewhere nothing is asked."""
        self.ensure_one()
        endpoint = self.env.company.fi_tax_endpoint_id
        if not endpoint or endpoint.state != "active":
            raise UserError(
                _("No active tax engine is set on %s.", self.env.company.name)
            )
        engine = endpoint._fi_tax_engine()
        if not engine.supports_address(self.country_id.code):
            return {
                "type": "ir.actions.client",
                "tag": "display_notification",
                "params": {
                    "type": "info",
                    "message": _(
                        "%(engine)s does not validate addresses in "
                        "%(country)s: nothing to do.",
                        engine=engine.name,
                        country=self.country_id.name or _("this country"),
                    ),
                },
            }
        address = Address(
            self.street or "",
            self.street2 or "",
            self.city or "",
            self.state_id.code or "",
            self.zip or "",
            self.country_id.code or "",
        )
        try:
            found, problems = endpoint._fi_tax_sync_call(
                engine.resolve_address(address), engine.parse_address
            )
        except (EngineError, FiTransientError) as err:
            raise UserError(_("Address validation failed: %s", err)) from None
        if not found:
            raise UserError(
                _(
                    "%(engine)s could not validate the address of %(name)s: %(p)s",
                    engine=engine.name,
                    name=self.display_name,
                    p="; ".join(problems),
                )
            )
        state = self.env["res.country.state"].search(
            [("country_id.code", "=", found.country), ("code", "=", found.region)],
            limit=1,
        )
        self.write(
            {
                "street": found.line1,
                "street2": found.line2 or False,
                "city": found.city,
                "zip": found.postal_code,
                "state_id": state.id or self.state_id.id,
                "fi_address_validated": True,
            }
        )
        return True
