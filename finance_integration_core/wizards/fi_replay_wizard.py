# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..models.fi_message import STATES


class FiReplayWizard(models.TransientModel):
    """Replay a filtered set of messages, after a dry run shows which."""

    _name = "fi.replay.wizard"
    _description = "Replay Finance Integration Messages"

    endpoint_id = fields.Many2one("fi.endpoint")
    flow_ids = fields.Many2many("fi.flow", string="Flows")
    states = fields.Char(
        default="failed,dead",
        help="Comma-separated message states, e.g. failed,dead,done",
    )
    date_from = fields.Datetime("Received From")
    date_to = fields.Datetime("Received To")
    message_ids = fields.Many2many(
        "fi.message", string="Messages That Would Be Replayed", readonly=True
    )
    message_count = fields.Integer(readonly=True)
    dry_run_done = fields.Boolean(readonly=True)

    def _domain(self):
        self.ensure_one()
        known = {key for key, _label in STATES}
        states = [s.strip() for s in (self.states or "").split(",") if s.strip()]
        unknown = sorted(set(states) - known)
        if unknown:
            raise UserError(
                _(
                    "Unknown message state(s) %(states)s; use %(known)s.",
                    states=", ".join(unknown),
                    known=", ".join(sorted(known)),
                )
            )
        domain = [("flow_id", "!=", False), ("state", "!=", "new")]
        if self.endpoint_id:
            domain.append(("endpoint_id", "=", self.endpoint_id.id))
        if self.flow_ids:
            domain.append(("flow_id", "in", self.flow_ids.ids))
        if states:
            domain.append(("state", "in", states))
        if self.date_from:
            domain.append(("create_date", ">=", self.date_from))
        if self.date_to:
            domain.append(("create_date", "<=", self.date_to))
        return domain

    @api.model
    def _fi_search(self, domain):
        return self.env["fi.message"].search(domain, order="id")

    def action_dry_run(self):
        """List what would be replayed, change nothing."""
        messages = self._fi_search(self._domain())
        self.write(
            {
                "message_ids": [(6, 0, messages.ids)],
                "message_count": len(messages),
                "dry_run_done": True,
            }
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }

    def action_replay(self):
        messages = self._fi_search(self._domain())
        if not messages:
            raise UserError(_("No message matches these filters."))
        messages.action_replay()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Replay queued"),
                "message": _("%s messages will be processed again.", len(messages)),
                "type": "success",
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
