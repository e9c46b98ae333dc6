# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""What the tax connector adds to period close and to the finance KPIs (core's
``_fi_close_blockers`` / ``_fi_kpis`` hooks): invoices of the period whose tax
the engine has not committed, differences left to review, e-invoices not
cleared."""

from odoo import _, fields, models

#: tax states of a posted invoice that the engine has not committed
NOT_COMMITTED = ("calculated", "pending", "provisional")
#: e-invoice states that are not final at the platform
NOT_CLEARED = ("invalid", "to_submit", "submitted", "received", "rejected")


class FiEndpointClose(models.Model):
    _inherit = "fi.endpoint"

    def _fi_tax_period_domain(self, date_from, date_to, company_field):
        """Posted customer invoices and credit notes of the period whose
        company uses this endpoint (as its tax engine or its clearance
        platform). Dates as text: close readiness stores the domain as text
        for its *Open* button."""
        domain = [
            ("company_id", "=", self.company_id.id),
            (f"company_id.{company_field}", "=", self.id),
            ("move_type", "in", ("out_invoice", "out_refund")),
            ("state", "=", "posted"),
            ("invoice_date", "<=", fields.Date.to_string(date_to)),
        ]
        if date_from:
            domain.append(("invoice_date", ">=", fields.Date.to_string(date_from)))
        return domain

    def _fi_close_blockers(self, date_from, date_to):
        blockers = super()._fi_close_blockers(date_from, date_to)
        if self.provider == "avatax":
            base = self._fi_tax_period_domain(date_from, date_to, "fi_tax_endpoint_id")
            checks = (
                (
                    "tax_not_committed",
                    _("Invoices whose tax the engine has not committed"),
                    [("fi_tax_state", "in", NOT_COMMITTED)],
                ),
                (
                    "tax_difference",
                    _("Invoices with a tax difference to review"),
                    [("fi_tax_state", "=", "mismatch")],
                ),
            )
        elif self.provider == "clearance":
            base = self._fi_tax_period_domain(
                date_from, date_to, "fi_clearance_endpoint_id"
            )
            checks = (
                (
                    "einvoice_not_cleared",
                    _("E-invoices not cleared by the platform"),
                    [("fi_einvoice_state", "in", NOT_CLEARED)],
                ),
            )
        else:
            return blockers
        return blockers + self.env["fi.close.readiness"]._fi_count_blockers(
            ("account.move", base + extra, code, name, True)
            for code, name, extra in checks
        )

    def _fi_kpis(self, date_from, date_to):
        kpis = super()._fi_kpis(date_from, date_to)
        if self.provider != "avatax":
            return kpis
        domain = self._fi_tax_period_domain(date_from, date_to, "fi_tax_endpoint_id")
        groups = dict(
            self.env["account.move"]
            .sudo()
            ._read_group(domain, ["fi_tax_state"], ["__count"])
        )
        total = sum(groups.values())
        committed = groups.get("committed", 0)
        rate = f"{100 * committed / total:.1f} %" if total else "-"
        kpis.append(
            {
                "code": "tax_commit_rate",
                "name": _("Invoices with their tax committed in the engine"),
                "value": f"{rate} ({committed} / {total})",
            }
        )
        return kpis
