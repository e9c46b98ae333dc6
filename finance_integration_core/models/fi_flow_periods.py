# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Lock dates: what a flow does with a message dated in a locked period.

Core does not depend on ``account``: the lock dates are read only when the
company has them (``account`` installed); otherwise every date is open.
"""

from odoo import _, fields, models

from ..lib.periods import first_open_date, latest_lock
from .ir_actions_server import FiBusinessActionError

LOCK_FIELDS = (
    "fiscalyear_lock_date",
    "hard_lock_date",
    "tax_lock_date",
    "sale_lock_date",
    "purchase_lock_date",
)


class FiFlow(models.Model):
    _inherit = "fi.flow"

    locked_period_policy = fields.Selection(
        [
            ("next_open", "Post on the first open date, with a note"),
            ("exception", "Open an exception for finance"),
        ],
        "Locked Period",
        default="exception",
        required=True,
        help="What a connector does with a message whose accounting date falls "
        "in a period locked by the company's lock dates (Accounting): post it "
        "on the first open date and say so in a note, or stop with an exception "
        "for finance to decide. Never an error retried forever.",
    )

    def _fi_lock_violations(self, company, date, journal=None, has_tax=False):
        """``[(lock_date, field_name)]`` of the company's lock dates that
        ``date`` violates, for the running user (Odoo's own rules when
        ``account`` is installed, none otherwise)."""
        if hasattr(company, "_get_violated_lock_dates"):
            return company._get_violated_lock_dates(
                date, has_tax, journal or self.env["account.journal"]
            )
        return [
            (company[name], name)
            for name in LOCK_FIELDS
            if name in company._fields and company[name] and date <= company[name]
        ]

    def _fi_accounting_date(self, company, date, journal=None, has_tax=False):
        """Connector helper: the date to post on, and a note or None.

        A date in a locked period follows the flow's policy: the first open
        date with a note saying why (``next_open``), or a ``FiBusinessError``
        (reason ``period_locked``, a UserError too so that it crosses a flow
        server action's safe_eval) that opens a finance exception.
        """
        self.ensure_one()
        violations = self._fi_lock_violations(company, date, journal, has_tax)
        lock = latest_lock(violations)
        if lock is None:
            return date, None
        locks = ", ".join(f"{name} {value}" for value, name in sorted(violations))
        if self.locked_period_policy == "next_open":
            posted_on = first_open_date(date, lock)
            return posted_on, _(
                "Accounting date %(date)s is in a locked period (%(locks)s): "
                "posted on %(posted)s, the first open date (flow %(flow)s).",
                date=date,
                locks=locks,
                posted=posted_on,
                flow=self.display_name,
            )
        raise FiBusinessActionError(
            _(
                "Accounting date %(date)s is in a locked period of %(company)s "
                "(%(locks)s). Decide: post it by hand in an open period, or "
                "have the period reopened and replay (flow %(flow)s).",
                date=date,
                company=company.display_name,
                locks=locks,
                flow=self.display_name,
            ),
            "period_locked",
        )
