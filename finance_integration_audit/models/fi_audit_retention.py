# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Export of a chain segment as JSON Lines, and the legal-retention purge of
segments exported and signed before."""

import base64
import io
import logging

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..lib.chain import GENESIS
from ..lib.export import header, write_head
from ..lib.pgcopy import copy_sql
from .fi_audit_event import AUDIT_API

_logger = logging.getLogger(__name__)

PURGE_BATCH = 10000


class FiAuditEvent(models.Model):
    _inherit = "fi.audit.event"

    @api.model
    def _fi_export(self, company, date_from=None, date_to=None, stream=None):
        """The JSON Lines export of the events of ``company`` between the
        dates (widened to the checkpoints around them, so that it verifies on
        its own); returns ``(bytes, segment or empty)``. With ``stream`` (a
        binary file), the lines are written there and no bytes returned (a
        million events stay out of memory); the segment then keeps no
        attachment.

        The chain head is signed first, so the export ends on a checkpoint
        when a signing key is configured; such an export is recorded as a
        segment that retention may later purge.
        """
        checkpoints = self.env["fi.audit.checkpoint"].sudo()
        checkpoints._fi_sign_heads(company)
        cr = self.env.cr
        cr.execute(
            "SELECT min(sequence), max(sequence) FROM fi_audit_event "
            "WHERE company_id = %s AND sequence IS NOT NULL "
            "AND (%s::timestamp IS NULL OR event_date >= %s) "
            "AND (%s::timestamp IS NULL OR event_date <= %s)",
            (
                company.id,
                date_from or None,
                date_from or None,
                date_to or None,
                date_to or None,
            ),
        )
        first, last = cr.fetchone()
        if first is None:
            raise UserError(
                _("No sealed audit events of %s in this period.", company.name)
            )
        anchor = checkpoints._fi_last(company.id, before=first)
        anchor_seq, anchor_hash = (
            (anchor.sequence, anchor.hash) if anchor else (0, GENESIS)
        )
        closing = checkpoints.search(
            [("company_id", "=", company.id), ("sequence", ">=", last)],
            order="sequence",
            limit=1,
        )
        end = closing.sequence if closing else last
        included = checkpoints.search(
            [
                ("company_id", "=", company.id),
                ("sequence", ">=", anchor_seq),
                ("sequence", "<=", end),
            ],
            order="sequence",
        )
        keys = self.env["fi.audit.key"]._fi_public_keys()
        own_stream = stream is None
        stream = io.BytesIO() if own_stream else stream
        write_head(
            stream,
            header(company.id, anchor_seq, anchor_hash, keys),
            [cp._fi_as_dict() for cp in included],
        )
        # the event lines as PostgreSQL builds them for the verification
        # (lib/pgcopy.py), streamed straight into the file
        self.env.flush_all()
        cr.copy_expert(
            copy_sql(
                f"company_id = {int(company.id)} AND sequence > {int(anchor_seq)} "
                f"AND sequence <= {int(end)}"
            ),
            stream,
        )
        data = stream.getvalue() if own_stream else None
        segment = self.env["fi.audit.segment"]
        if closing:
            attachment = self.env["ir.attachment"]
            if data is not None:
                attachment = attachment.sudo().create(
                    {
                        "name": f"audit-{company.id}-{anchor_seq + 1}-{end}.jsonl",
                        "raw": data,
                        "mimetype": "application/jsonl",
                    }
                )
            segment = (
                segment.sudo()
                .with_context(fi_audit=AUDIT_API)
                .create(
                    {
                        "company_id": company.id,
                        "from_sequence": anchor_seq + 1,
                        "to_sequence": end,
                        "checkpoint_id": closing.id,
                        "attachment_id": attachment.id or False,
                    }
                )
            )
        return data, segment

    @api.model
    def _cron_fi_audit_retention(self):
        """Purge chain rows past each company's legal retention, up to the end
        of a segment exported and signed before; the checkpoint closing the
        segment stays, and verification starts from it."""
        segments = self.env["fi.audit.segment"].sudo()
        purged = {}
        for company in self.env["res.company"].sudo().search([]):
            years = company.fi_audit_retention_years
            if years < 0:
                continue
            self.env.cr.execute(
                "SELECT max(sequence) FROM fi_audit_event "
                "WHERE company_id = %s AND sequence IS NOT NULL AND event_date < "
                "(clock_timestamp() AT TIME ZONE 'UTC') - make_interval(years => %s)",
                (company.id, years),
            )
            old_until = self.env.cr.fetchone()[0]
            if not old_until:
                continue
            segment = segments.search(
                [("company_id", "=", company.id), ("to_sequence", "<=", old_until)],
                order="to_sequence desc",
                limit=1,
            )
            if not segment:
                _logger.warning(
                    "audit retention: %s has rows past retention but no exported "
                    "segment; export them first",
                    company.name,
                )
                continue
            purged[company.id] = self._fi_purge_until(company, segment.to_sequence)
        return purged

    @api.model
    def _fi_purge_until(self, company, sequence):
        cr = self.env.cr
        cr.execute("SET LOCAL fi_audit.purge = 'on'")
        try:
            cr.execute(
                "DELETE FROM fi_audit_event WHERE company_id = %s AND sequence <= %s",
                (company.id, sequence),
            )
            count = cr.rowcount
        finally:
            cr.execute("SET LOCAL fi_audit.purge = 'off'")
        if count:
            self.env["fi.audit"]._fi_event(
                "retention.audit_purged",
                f"Audit rows up to sequence {sequence} purged after export",
                company=company,
                facts={"up_to_sequence": sequence, "rows": count},
            )
        return count


class FiAuditExport(models.TransientModel):
    _name = "fi.audit.export.wizard"
    _description = "Export the audit chain"

    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    date_from = fields.Datetime()
    date_to = fields.Datetime()
    file = fields.Binary(readonly=True, attachment=False)
    filename = fields.Char(readonly=True)

    def action_export(self):
        self.ensure_one()
        data, _segment = (
            self.env["fi.audit.event"]
            .sudo()
            ._fi_export(self.company_id, self.date_from, self.date_to)
        )
        self.write(
            {
                "file": base64.b64encode(data),
                "filename": f"audit-chain-{self.company_id.id}.jsonl",
            }
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }
