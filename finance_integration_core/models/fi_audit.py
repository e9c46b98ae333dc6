# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, models


class FiAudit(models.AbstractModel):
    """The one call with which core and every connector record an auditable event.

    Core stores nothing here: without ``finance_integration_audit`` the call is a
    no-op, so connectors record their steps from their first version without
    depending on the audit addon. The audit addon overrides ``_fi_event`` and
    turns every call into an entry of its tamper-evident chain.
    """

    _name = "fi.audit"
    _description = "Finance Integration Auditable Events"

    @api.model
    def _fi_event(
        self,
        event_type,
        summary,
        *,
        record=None,
        message=None,
        endpoint=None,
        flow=None,
        correlation_id=None,
        facts=None,
        company=None,
    ):
        """Record one auditable event; returns what the audit addon stored
        (``None`` here).

        ``event_type``: a dotted code (``message.received``, ``payout.settled``,
        ``statement.imported``, ``tax.committed`` ...); ``summary``: one line for
        a person; ``record``: the Odoo record concerned (one); ``message``,
        ``endpoint``, ``flow``: the integration records involved; ``correlation_id``
        defaults to the message's; ``facts``: a JSON-able dict of plain values
        (no floats: money as strings or minor units; payload hashes, never raw
        payloads or secrets); ``company`` defaults to the record's, the
        endpoint's or the environment's.

        Called inside the business transaction: an event of a transaction that
        rolls back must not survive it (the audit addon guarantees that).
        """
        return None

    @api.model
    def _fi_touched(self, records, change="changed"):
        """Name ``records`` (any model) as created or changed (``change``:
        ``"created"`` | ``"changed"``) by the message handler that is running,
        when the ORM's ``create`` / ``write`` of accounting records did not
        see it: rows a connector wrote in bulk (SQL), or records of other
        models the step belongs to. The audit addon then records one
        ``record.<change>`` event for each when the handler succeeds (none when
        it fails). Outside a handler, and without the audit addon: nothing."""
        return None
