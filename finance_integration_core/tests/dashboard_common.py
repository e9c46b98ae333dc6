# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Fixtures for the dashboards and alerts: messages placed at a chosen time."""

from datetime import timedelta

from odoo import fields

from .common import FiCommon


class DashboardCommon(FiCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.flow_out = cls.env["fi.flow"].create(
            {
                "name": "invoice -> billing",
                "endpoint_id": cls.endpoint.id,
                "direction": "out",
                "event_type": "invoice.export",
                "owner_id": cls.owner.id,
                "channel": "root.fi.dash_out",
            }
        )
        now = fields.Datetime.now()
        #: a whole hour well outside the window every refresh recomputes
        cls.old_hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(
            hours=30
        )

    def make_message(
        self,
        at,
        state="done",
        flow=None,
        latency_ms=None,
        attempts=1,
        posted=False,
        partner=None,
    ):
        """A message received at ``at`` (whatever the clock says now)."""
        flow = flow if flow is not None else self.flow
        message = (
            self.env["fi.message"]
            .sudo()
            .create(
                {
                    "endpoint_id": self.endpoint.id,
                    "company_id": self.endpoint.company_id.id,
                    "flow_id": flow.id or False,
                    "direction": flow.direction or "in",
                    "state": state,
                    "event_type": flow.event_type or "unknown",
                    "attempts": attempts,
                    "res_model": "res.partner" if posted else False,
                    "res_id": (partner or self.owner.partner_id).id if posted else 0,
                }
            )
        )
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE fi_message SET create_date = %s, latency_ms = %s, date_done = %s "
            "WHERE id = %s",
            (
                at,
                latency_ms,
                at + timedelta(milliseconds=latency_ms or 0)
                if state == "done"
                else None,
                message.id,
            ),
        )
        message.invalidate_recordset()
        return message

    def open_exception(self, opened_at=None, flow=None):
        """An open exception item opened at ``opened_at``."""
        message = self.make_message(
            fields.Datetime.now(), state="failed", flow=flow or self.flow
        )
        item = message._fi_open_exception("business_rule", "VAT number missing")
        if opened_at:
            hours = item.flow_id.sla_max_exception_age_hours or 24
            self.env.flush_all()
            self.env.cr.execute(
                "UPDATE fi_exception SET date_opened = %s, sla_deadline = %s "
                "WHERE id = %s",
                (opened_at, opened_at + timedelta(hours=hours), item.id),
            )
            item.invalidate_recordset()
        return item

    def stats(self, **domain):
        """``{(hour, flow, direction): stat}`` of this test's endpoint."""
        self.env.invalidate_all()
        rows = self.env["fi.message.stat"].search(
            [("endpoint_id", "=", self.endpoint.id)]
            + [(name, "=", value) for name, value in domain.items()]
        )
        return {(row.hour, row.flow_id, row.direction): row for row in rows}
