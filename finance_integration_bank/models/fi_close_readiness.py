# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, models


class FiCloseReadiness(models.Model):
    _inherit = "fi.close.readiness"

    def _fi_blockers(self, company, date_from, date_to):
        """Bank and cash journals that no bank endpoint carries (statements
        entered by hand or imported by other means) block the close too: their
        blockers are listed per journal, so each Open shows its own lines."""
        blockers = super()._fi_blockers(company, date_from, date_to)
        Journal = self.env["account.journal"].sudo().with_context(active_test=False)
        endpoints = (
            self.env["fi.endpoint"]
            .sudo()
            .with_context(active_test=False)
            .search([("provider", "=", "bank"), ("company_id", "=", company.id)])
        )
        carried = Journal.browse()
        for endpoint in endpoints:
            carried |= endpoint._fi_bank_journals()
        journals = (
            Journal.search(
                [("type", "in", ("bank", "cash")), ("company_id", "=", company.id)]
            )
            - carried
        )
        for journal in journals:
            for blocker in journal._fi_bank_close_blockers(date_from, date_to):
                blockers.append(
                    dict(
                        blocker,
                        name=_(
                            "%(what)s (journal %(journal)s, no bank endpoint)",
                            what=blocker["name"],
                            journal=journal.display_name,
                        ),
                    )
                )
        return blockers
