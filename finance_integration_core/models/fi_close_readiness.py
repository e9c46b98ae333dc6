# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Close readiness: what of the integrations blocks closing a period.

Core counts open exceptions, messages not processed (received, queued,
waiting to retry), dead letters and failed messages, and versions waiting for
approval. Connectors add their own blockers (unreconciled bank lines,
unsettled payouts, unsealed audit segments, tax not committed) through one of
two hooks:

- per endpoint, on the provider surface (``fi_endpoint_provider.py``):
  ``fi.endpoint._fi_close_blockers(date_from, date_to)``, guarded by provider
  like every hook;
- per company, for addons that are not a provider (audit):
  ``fi.close.readiness._fi_blockers(company, date_from, date_to)`` (call
  ``super()`` and append).

A blocker is a dict: ``code``, ``name``, ``count``, ``blocking`` (False: a
warning that does not stop the close), ``res_model`` and ``domain`` (what the
*Open* button lists), optionally ``endpoint_id``.
"""

from datetime import datetime, time

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..lib.close import format_blockers, is_ready
from .fi_flow_periods import LOCK_FIELDS

#: states of a message that is not processed yet
PENDING_STATES = ("new", "queued", "retry")
#: governed versions waiting for a second Manager (a draft waits for nobody)
PENDING_APPROVAL_STATES = ("submitted", "approved")
GOVERNED_MODELS = (
    "fi.value.map.version",
    "fi.flow.schema.version",
    "fi.endpoint.change",
    "fi.config.import",
)


class FiCloseReadiness(models.Model):
    """A company's period, with what blocks its close: the controller's
    "ready to close" view."""

    _name = "fi.close.readiness"
    _description = "Finance Integration Close Readiness"
    _inherit = ["mail.thread"]
    _order = "date_to desc, company_id, id desc"

    name = fields.Char(compute="_compute_name", store=True)
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    date_from = fields.Date("Period From", required=True)
    date_to = fields.Date("Period To", required=True)
    line_ids = fields.One2many(
        "fi.close.readiness.line", "readiness_id", "Blockers", readonly=True
    )
    state = fields.Selection(
        [("unchecked", "Not Checked"), ("blocked", "Blocked"), ("ready", "Ready")],
        default="unchecked",
        required=True,
        readonly=True,
        tracking=True,
    )
    blocking_count = fields.Integer(
        "Blocking Items",
        readonly=True,
        help="Items that must be settled before the period can be closed.",
    )
    warning_count = fields.Integer("Warnings", readonly=True)
    checked_at = fields.Datetime(readonly=True)
    checked_by_id = fields.Many2one("res.users", readonly=True)

    _sql_constraints = [
        (
            "period_order",
            "CHECK(date_from <= date_to)",
            "A period ends on or after the day it starts.",
        ),
    ]

    @api.depends("company_id.name", "date_from", "date_to")
    def _compute_name(self):
        for record in self:
            record.name = _(
                "%(company)s %(start)s - %(end)s",
                company=record.company_id.name,
                start=record.date_from,
                end=record.date_to,
            )

    # ------------------------------------------------------------------
    # blockers
    # ------------------------------------------------------------------
    @api.model
    def _fi_count_blockers(self, checks):
        """The blockers of ``checks``, each ``(model_name, domain, code, name,
        blocking)``, that count at least one record (as superuser): what a
        connector's ``_fi_close_blockers`` returns from its searches."""
        blockers = []
        for model_name, domain, code, name, blocking in checks:
            count = self.env[model_name].sudo().search_count(domain)
            if count:
                blockers.append(
                    {
                        "code": code,
                        "name": name,
                        "count": count,
                        "blocking": blocking,
                        "res_model": model_name,
                        "domain": domain,
                    }
                )
        return blockers

    @api.model
    def _fi_blockers(self, company, date_from, date_to):
        """Every blocker of ``company`` for the period (core's, each
        endpoint's ``_fi_close_blockers``); ``date_from`` may be None
        (everything up to ``date_to``). Extend with ``super()``."""
        end = fields.Datetime.to_string(datetime.combine(date_to, time.max))
        company_domain = [("company_id", "=", company.id)]
        Message = self.env["fi.message"].sudo()
        Exception_ = self.env["fi.exception"].sudo()
        blockers = []

        def count(model, domain, code, name, blocking=True):
            """One blocker per endpoint (the records of the log and the
            queue have one), else one for the company."""
            if "endpoint_id" in model._fields:
                groups = model._read_group(domain, ["endpoint_id"], ["__count"])
            else:
                groups = [(None, model.search_count(domain))]
            for endpoint, number in groups:
                if not number:
                    continue
                blocker = {
                    "code": code,
                    "name": name,
                    "count": number,
                    "blocking": blocking,
                    "res_model": model._name,
                    "domain": domain,
                }
                if endpoint is not None:
                    blocker.update(
                        endpoint_id=endpoint.id,
                        domain=domain + [("endpoint_id", "=", endpoint.id)],
                    )
                blockers.append(blocker)

        count(
            Exception_,
            company_domain
            + [("state", "in", ("new", "in_progress")), ("date_opened", "<=", end)],
            "open_exceptions",
            _("Open exceptions"),
        )
        count(
            Message,
            company_domain
            + [("state", "in", PENDING_STATES), ("create_date", "<=", end)],
            "pending_messages",
            _("Messages not processed yet (received, queued, waiting to retry)"),
        )
        count(
            Message,
            company_domain + [("state", "=", "dead"), ("create_date", "<=", end)],
            "dead_letters",
            _("Dead letters"),
        )
        count(
            Message,
            company_domain + [("state", "=", "failed"), ("create_date", "<=", end)],
            "failed_messages",
            _("Failed messages"),
        )
        for model_name in GOVERNED_MODELS:
            Model = self.env[model_name].sudo()
            count(
                Model,
                company_domain + [("state", "in", PENDING_APPROVAL_STATES)],
                f"pending_{model_name.replace('.', '_')}",
                _("Pending approval: %s", Model._description),
                blocking=False,
            )
        if "account.move" in self.env:
            # an integration's journal entry left in draft is not booked yet
            Message.flush_model(["res_model", "res_id", "state", "company_id"])
            self.env["account.move"].flush_model(["state", "date"])
            self.env.cr.execute(
                """
                SELECT array_agg(m.id) FROM fi_message m
                  JOIN account_move am ON am.id = m.res_id
                 WHERE m.res_model = 'account.move' AND m.state = 'done'
                   AND am.state = 'draft' AND m.company_id = %s AND am.date <= %s
                """,
                (company.id, date_to),
            )
            ids = self.env.cr.fetchone()[0] or []
            if ids:
                blockers.append(
                    {
                        "code": "draft_postings",
                        "name": _("Integration postings still in draft"),
                        "count": len(ids),
                        "blocking": True,
                        "res_model": "fi.message",
                        "domain": [("id", "in", ids)],
                    }
                )
        endpoints = self.env["fi.endpoint"].sudo().search(company_domain)
        for endpoint in endpoints:
            for blocker in endpoint._fi_close_blockers(date_from, date_to):
                blockers.append(dict(blocker, endpoint_id=endpoint.id))
        return blockers

    def action_check(self):
        """Recompute the blockers of these periods."""
        for record in self:
            blockers = self._fi_blockers(
                record.company_id, record.date_from, record.date_to
            )
            record.line_ids.sudo().unlink()
            lines = [
                (
                    0,
                    0,
                    {
                        "code": b["code"],
                        "name": b["name"],
                        "count": b["count"],
                        "blocking": b.get("blocking", True),
                        "res_model": b.get("res_model"),
                        "domain": repr(b.get("domain") or []),
                        "endpoint_id": b.get("endpoint_id") or False,
                    },
                )
                for b in blockers
            ]
            blocking = sum(b["count"] for b in blockers if b.get("blocking", True))
            record.sudo().write(
                {
                    "line_ids": lines,
                    "state": "ready" if is_ready(blockers) else "blocked",
                    "blocking_count": blocking,
                    "warning_count": sum(
                        b["count"] for b in blockers if not b.get("blocking", True)
                    ),
                    "checked_at": fields.Datetime.now(),
                    "checked_by_id": self.env.user.id,
                }
            )
        return True

    @api.model
    def _fi_check_before_lock(self, company, lock_date):
        """Raise a ``UserError`` listing what blocks closing ``company`` up to
        ``lock_date``; call it before setting a lock date (``res.company``
        does when *Check Integrations Before Lock Dates* is on)."""
        blockers = [
            dict(b, endpoint=self.env["fi.endpoint"].browse(b.get("endpoint_id")).name)
            for b in self._fi_blockers(company, None, lock_date)
            if b.get("blocking", True)
        ]
        if not is_ready(blockers):
            raise UserError(
                _(
                    "%(company)s cannot be locked up to %(date)s: the integrations "
                    "still have\n%(blockers)s\nSettle them (Finance Integration > "
                    "Operations > Close Readiness) or lock later.",
                    company=company.name,
                    date=lock_date,
                    blockers=format_blockers(blockers),
                )
            )
        return True


class FiCloseReadinessLine(models.Model):
    _name = "fi.close.readiness.line"
    _description = "Finance Integration Close Blocker"
    _order = "blocking desc, count desc, id"

    readiness_id = fields.Many2one(
        "fi.close.readiness", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="readiness_id.company_id", store=True)
    code = fields.Char(required=True)
    name = fields.Char("Blocker", required=True)
    count = fields.Integer(required=True)
    blocking = fields.Boolean(
        help="Must be settled before the close; otherwise a warning."
    )
    endpoint_id = fields.Many2one("fi.endpoint", ondelete="cascade")
    res_model = fields.Char()
    domain = fields.Char()

    def action_open(self):
        self.ensure_one()
        if not self.res_model:
            raise UserError(_("%s lists no records to open.", self.name))
        return {
            "type": "ir.actions.act_window",
            "name": self.name,
            "res_model": self.res_model,
            "view_mode": "list,form",
            "domain": self.domain or "[]",
        }


class ResCompany(models.Model):
    _inherit = "res.company"

    fi_check_close_before_lock = fields.Boolean(
        "Check Integrations Before Lock Dates",
        help="Setting a lock date is refused while the integrations still have "
        "blocking items up to that date (open exceptions, unprocessed messages, "
        "dead letters, and what connectors add).",
    )

    def write(self, vals):
        lock_dates = [
            vals[name]
            for name in LOCK_FIELDS
            if name in vals and name in self._fields and vals[name]
        ]
        if lock_dates:
            latest = max(fields.Date.to_date(value) for value in lock_dates)
            for company in self.filtered("fi_check_close_before_lock"):
                self.env["fi.close.readiness"]._fi_check_before_lock(company, latest)
        return super().write(vals)
