# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The chain itself: append-only rows, sealed in commit order by one sealer.

See readme/DESCRIPTION.md ("Concurrency") for why rows are written unsealed
in the business transaction and sealed afterwards.
"""

import logging

import psycopg2
from psycopg2 import errorcodes
from psycopg2.extras import execute_values

from odoo import SUPERUSER_ID, _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.finance_integration_core.models.fi_message import LogReference
from odoo.addons.queue_job.exception import RetryableJobError

from ..lib.canonical import canonical_facts
from ..lib.chain import GENESIS, seal

_logger = logging.getLogger(__name__)

#: context value letting the audit API create events; a Python object, so no
#: RPC caller can put it in a context
AUDIT_API = object()

#: the hashed columns in chain.FIELDS order; the date as text, microseconds
HASHED_SQL = """company_id, sequence, prev_hash,
    to_char(event_date, 'YYYY-MM-DD"T"HH24:MI:SS.US'), event_type, user_id,
    integration_user_id, endpoint_id, flow_id, message_id, correlation_id,
    res_model, res_id, summary, facts"""
#: the same, without sequence and prev_hash (what the sealer hashes them with)
UNSEALED_SQL = """company_id,
    to_char(event_date, 'YYYY-MM-DD"T"HH24:MI:SS.US'), event_type, user_id,
    integration_user_id, endpoint_id, flow_id, message_id, correlation_id,
    res_model, res_id, summary, facts"""
#: events sealed per statement
SEAL_BATCH = 5000
#: the queue_job channel of the sealer (capacity 1: data/queue_job_data.xml)
SEAL_CHANNEL = "root.fi_audit_seal"

# Refuses from raw SQL what the ORM refuses: any UPDATE but the sealer's one
# fill of sequence, prev_hash and hash (from NULL, every other column
# unchanged), any DELETE but a retention purge of an exported and signed
# segment, and TRUNCATE. Sealed values cannot be inserted either.
TRIGGERS_SQL = """
CREATE OR REPLACE FUNCTION fi_audit_event_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    probe fi_audit_event%ROWTYPE;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.sequence IS NOT NULL OR NEW.prev_hash IS NOT NULL
           OR NEW.hash IS NOT NULL THEN
            RAISE EXCEPTION 'fi_audit_event: only the sealer fills sequence, '
                'prev_hash and hash' USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        -- the new row but for the hash fields must be the old row, whole
        probe := NEW;
        probe.sequence := NULL;
        probe.prev_hash := NULL;
        probe.hash := NULL;
        IF OLD.hash IS NULL AND OLD.sequence IS NULL AND OLD.prev_hash IS NULL
           AND NEW.hash IS NOT NULL AND NEW.sequence IS NOT NULL
           AND NEW.prev_hash IS NOT NULL
           AND probe IS NOT DISTINCT FROM OLD THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'fi_audit_event is append-only: UPDATE of event % refused',
            OLD.id USING ERRCODE = 'insufficient_privilege';
    ELSIF TG_OP = 'DELETE' THEN
        IF current_setting('fi_audit.purge', true) = 'on'
           AND OLD.sequence <= (
               SELECT max(s.to_sequence) FROM fi_audit_segment s
                WHERE s.company_id = OLD.company_id) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'fi_audit_event is append-only: DELETE of event % refused',
            OLD.id USING ERRCODE = 'insufficient_privilege';
    END IF;
    RAISE EXCEPTION 'fi_audit_event is append-only: TRUNCATE refused'
        USING ERRCODE = 'insufficient_privilege';
END $$;
DROP TRIGGER IF EXISTS fi_audit_event_guard_row ON fi_audit_event;
CREATE TRIGGER fi_audit_event_guard_row
    BEFORE INSERT OR UPDATE OR DELETE ON fi_audit_event
    FOR EACH ROW EXECUTE FUNCTION fi_audit_event_guard();
DROP TRIGGER IF EXISTS fi_audit_event_guard_truncate ON fi_audit_event;
CREATE TRIGGER fi_audit_event_guard_truncate
    BEFORE TRUNCATE ON fi_audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION fi_audit_event_guard();
"""

# Received messages are chained from their own rows (nothing more written at
# intake): every fi_message row carries the id of the transaction that
# inserted it (a column default, BRIN-indexed); the sealer picks up rows of
# transactions below its snapshot's xmin, all of which have ended, and moves
# its horizon there. A row whose id was drawn early but whose transaction
# commits late has a transaction id at or above the horizon: it is picked up
# by a later pass, never skipped.
MESSAGE_ROWS_SQL = """
SELECT m.id, m.company_id, to_char(m.create_date, 'YYYY-MM-DD"T"HH24:MI:SS.US'),
       m.direction, COALESCE(m.create_uid, e.integration_user_id),
       e.integration_user_id, m.endpoint_id, m.flow_id, m.correlation_id,
       m.event_type, m.external_id, m.idempotency_key, m.payload_sha256,
       m.payload_size
  FROM fi_message m
  JOIN fi_endpoint e ON e.id = m.endpoint_id
 WHERE ((m.fi_audit_xid >= %(horizon)s AND m.fi_audit_xid < %(xmin)s)
        OR m.fi_audit_xid = %(own)s)
   AND NOT EXISTS (
       SELECT 1 FROM fi_audit_event a
        WHERE a.message_id = m.id
          AND a.event_type IN ('message.received', 'message.queued'))
 ORDER BY m.id
"""
MESSAGE_INSERT_SQL = """
INSERT INTO fi_audit_event
    (company_id, event_date, event_type, user_id, integration_user_id,
     endpoint_id, flow_id, message_id, correlation_id, summary, facts)
VALUES %s
"""


def is_audit_api(env):
    return env.context.get("fi_audit") is AUDIT_API


def enqueue_seal_after_commit(registry):
    """The post-commit hook of a transaction that appended events: enqueue a
    seal job in a transaction of its own. Only a real commit runs it (a
    rolled-back transaction enqueues nothing; Odoo's test cursors skip
    post-commit hooks, so tests of other addons see no extra job). Should it
    fail, the one-minute cron seals those events."""
    try:
        with registry.cursor() as cr:
            cr.transaction = api.Transaction(registry)
            api.Environment(cr, SUPERUSER_ID, {})["fi.audit.event"]._fi_enqueue_seal()
    except Exception:  # noqa: BLE001 - the commit is done; the cron seals
        _logger.exception("audit: seal job not enqueued, the cron will seal")


class FiAuditEvent(models.Model):
    """One link of a company's audit chain."""

    _name = "fi.audit.event"
    _description = "Finance Integration Audit Event"
    _order = "company_id, sequence desc, id desc"
    _rec_name = "summary"
    # no create/write columns: the row's own event_date (database time) and
    # user_id say when and who; nothing may write the row anyway
    _log_access = False

    # references without foreign keys: a deleted message, endpoint or user
    # must not set anything in the chain to NULL (the trigger would refuse it)
    # every index costs the sealer one insert per row (filling the hashes is
    # not a HOT update): company is covered by the (company, sequence) index,
    # the date by a BRIN index, type, user and hash are searched without one
    company_id = LogReference("res.company", required=True, readonly=True)
    sequence = fields.Integer(readonly=True, aggregator=False)
    event_date = fields.Datetime("Date", readonly=True)
    event_type = fields.Char(required=True, readonly=True)
    user_id = LogReference("res.users", "Acting User", readonly=True)
    integration_user_id = LogReference("res.users", "Integration User", readonly=True)
    endpoint_id = LogReference("fi.endpoint", readonly=True, index=True)
    flow_id = LogReference("fi.flow", readonly=True)
    message_id = LogReference("fi.message", readonly=True, index=True)
    correlation_id = fields.Char(readonly=True, index=True)
    res_model = fields.Char("Record Model", readonly=True)
    res_id = fields.Many2oneReference(
        "Record ID", model_field="res_model", readonly=True
    )
    summary = fields.Char(readonly=True)
    facts = fields.Text(readonly=True, help="Canonical JSON (sorted keys, no floats).")
    prev_hash = fields.Char("Previous Hash", readonly=True)
    hash = fields.Char(readonly=True)
    sealed = fields.Boolean(compute="_compute_sealed", search="_search_sealed")

    @api.depends("hash")
    def _compute_sealed(self):
        for event in self:
            event.sealed = bool(event.hash)

    def _search_sealed(self, operator, value):
        positive = (operator == "=") == bool(value)
        return [("hash", "!=" if positive else "=", False)]

    def init(self):
        cr = self.env.cr
        cr.execute(
            "ALTER TABLE fi_audit_event ALTER COLUMN event_date "
            "SET DEFAULT (clock_timestamp() AT TIME ZONE 'UTC'), "
            "ALTER COLUMN event_date SET NOT NULL"
        )
        cr.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS fi_audit_event_chain_uniq "
            "ON fi_audit_event (company_id, sequence)"
        )
        cr.execute(
            "CREATE INDEX IF NOT EXISTS fi_audit_event_date_brin "
            "ON fi_audit_event USING brin (event_date)"
        )
        cr.execute(
            "CREATE INDEX IF NOT EXISTS fi_audit_event_unsealed_idx "
            "ON fi_audit_event (id) WHERE sequence IS NULL"
        )
        cr.execute(
            "CREATE INDEX IF NOT EXISTS fi_audit_event_res_idx "
            "ON fi_audit_event (res_model, res_id) WHERE res_id IS NOT NULL"
        )
        cr.execute(
            """
            CREATE TABLE IF NOT EXISTS fi_audit_sealer (
                id integer PRIMARY KEY CHECK (id = 1),
                message_horizon bigint NOT NULL,
                sealed_at timestamp
            )"""
        )
        # rows received before the audit addon was installed are not chained:
        # the horizon starts at the installing transaction
        cr.execute(
            "INSERT INTO fi_audit_sealer (id, message_horizon) "
            "VALUES (1, pg_current_xact_id()::text::bigint) "
            "ON CONFLICT (id) DO NOTHING"
        )
        # no default while adding: existing rows stay NULL (not chained)
        cr.execute(
            "ALTER TABLE fi_message ADD COLUMN IF NOT EXISTS fi_audit_xid bigint"
        )
        # measured in setup/bench_audit.py: the default and the BRIN index
        # cost the intake well under 1% (a btree on xid8 would be per row)
        cr.execute(
            "ALTER TABLE fi_message ALTER COLUMN fi_audit_xid "
            "SET DEFAULT pg_current_xact_id()::text::bigint"
        )
        cr.execute(
            "CREATE INDEX IF NOT EXISTS fi_message_audit_xid_brin "
            "ON fi_message USING brin (fi_audit_xid) WITH (autosummarize = on)"
        )
        cr.execute(TRIGGERS_SQL)

    # ------------------------------------------------------------------
    # append-only
    # ------------------------------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        if not is_audit_api(self.env):
            raise UserError(
                _("Audit events are recorded by the audit chain only: %s", self._name)
            )
        for vals in vals_list:
            for name in ("sequence", "prev_hash", "hash", "event_date"):
                if vals.get(name):
                    raise UserError(
                        _("Audit event field %s is set by the sealer only.", name)
                    )
        return super().create(vals_list)

    def write(self, vals):
        raise UserError(_("The audit chain is append-only: events cannot be changed."))

    def unlink(self):
        raise UserError(_("The audit chain is append-only: events cannot be deleted."))

    def copy(self, default=None):
        raise UserError(_("Audit events cannot be duplicated."))

    # ------------------------------------------------------------------
    # the audit API
    # ------------------------------------------------------------------
    @api.model
    def _fi_append(
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
        """Write one unsealed event in the current transaction; see
        ``fi.audit._fi_event``. Facts must be plain JSON (no floats)."""
        if not event_type:
            raise UserError(_("An audit event needs an event type."))
        facts_text = canonical_facts(facts)
        message = message or self.env["fi.message"]
        endpoint = endpoint or message.endpoint_id
        flow = flow or message.flow_id
        if record is not None and record and len(record) != 1:
            raise UserError(
                _("An audit event concerns one record, not %s.", len(record))
            )
        company = (
            company
            or (
                record
                and "company_id" in record._fields
                and record.sudo().company_id[:1]
            )
            or message.company_id
            or endpoint.company_id
            or self.env.company
        )
        values = {
            "company_id": company.id,
            "event_type": event_type,
            "user_id": self.env.uid,
            "integration_user_id": endpoint.sudo().integration_user_id.id or False,
            "endpoint_id": endpoint.id or False,
            "flow_id": flow.id or False,
            "message_id": message.id or False,
            "correlation_id": correlation_id or message.correlation_id or False,
            "res_model": record._name if record else False,
            "res_id": record.id if record else False,
            "summary": (summary or "")[:500],
            "facts": facts_text,
        }
        event = self.sudo().with_context(fi_audit=AUDIT_API).create([values])
        # the database stamps the time (column default): read it from there
        event.invalidate_recordset(["event_date"])
        postcommit = self.env.cr.postcommit
        if not postcommit.data.get("fi_audit_seal"):
            postcommit.data["fi_audit_seal"] = True
            registry = self.env.registry
            postcommit.add(lambda: enqueue_seal_after_commit(registry))
        return event

    # ------------------------------------------------------------------
    # the sealer
    # ------------------------------------------------------------------
    @api.model
    def _fi_seal(self):
        """Seal every committed (or own) unsealed event, in one pass.

        Returns the number of events sealed, or None when another sealer holds
        the chain (its lock row is taken, or it committed after this
        transaction's snapshot, which would make the heads seen here stale).
        """
        self.env.flush_all()
        cr = self.env.cr
        try:
            with cr.savepoint(flush=False):
                cr.execute(
                    "SELECT message_horizon FROM fi_audit_sealer WHERE id = 1 "
                    "FOR UPDATE SKIP LOCKED"
                )
                row = cr.fetchone()
        except psycopg2.OperationalError as err:
            if err.pgcode not in (
                errorcodes.LOCK_NOT_AVAILABLE,
                errorcodes.SERIALIZATION_FAILURE,
            ):
                raise
            row = None
        if row is None:
            _logger.info("audit sealer: another sealer holds the chain")
            return None
        (horizon,) = row
        cr.execute(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, "
            "pg_current_xact_id_if_assigned()::text::bigint"
        )
        xmin, own = cr.fetchone()
        self._fi_chain_messages(horizon, xmin, own)
        cr.execute(
            "UPDATE fi_audit_sealer SET message_horizon = GREATEST(%s, %s), "
            "sealed_at = now() AT TIME ZONE 'UTC' WHERE id = 1",
            (horizon, xmin),
        )
        heads = {}
        total = 0
        last_id = 0
        while True:
            # keyset: the index entries of rows sealed by this pass are dead
            # but still there until vacuum; start after them
            cr.execute(
                f"SELECT id, {UNSEALED_SQL} FROM fi_audit_event "
                "WHERE sequence IS NULL AND id > %s ORDER BY id LIMIT %s",
                (last_id, SEAL_BATCH),
            )
            rows = cr.fetchall()
            if not rows:
                break
            last_id = rows[-1][0]
            updates = []
            for company_id in sorted({row[1] for row in rows}):
                if company_id not in heads:
                    heads[company_id] = self._fi_head(company_id)
                sequence, prev_hash = heads[company_id]
                todo = [row for row in rows if row[1] == company_id]
                for row, sealed in zip(
                    todo,
                    seal([row[1:] for row in todo], sequence, prev_hash),
                    strict=True,
                ):
                    updates.append((row[0], *sealed))
                heads[company_id] = sealed[0], sealed[2]
            execute_values(
                cr._obj,
                "UPDATE fi_audit_event e SET sequence = v.seq, "
                "prev_hash = v.prev, hash = v.hash "
                "FROM (VALUES %s) AS v(id, seq, prev, hash) WHERE e.id = v.id",
                updates,
                page_size=SEAL_BATCH,
            )
            total += len(updates)
        if total:
            self.invalidate_model(["sequence", "prev_hash", "hash"])
        return total

    @api.model
    def _fi_chain_messages(self, horizon, xmin, own):
        """Write the events of the messages stored since the last pass."""
        cr = self.env.cr
        cr.execute(
            MESSAGE_ROWS_SQL,
            {"horizon": horizon, "xmin": xmin, "own": own if own is not None else -1},
        )
        values = []
        for (
            message_id,
            company_id,
            date,
            direction,
            user_id,
            bot_id,
            endpoint_id,
            flow_id,
            correlation_id,
            event_type,
            external_id,
            key,
            sha,
            size,
        ) in cr.fetchall():
            inbound = direction == "in"
            facts = {
                "direction": direction,
                "event_type": event_type,
                "external_id": external_id,
                "idempotency_key": key,
                "payload_sha256": sha,
                "payload_size": size,
            }
            if inbound:
                # intake stores only what passed the endpoint's signature check
                facts["signature"] = "verified"
            values.append(
                (
                    company_id,
                    date,
                    "message.received" if inbound else "message.queued",
                    user_id,
                    bot_id,
                    endpoint_id,
                    flow_id,
                    message_id,
                    correlation_id,
                    f"{'IN' if inbound else 'OUT'} #{message_id} {event_type or ''}",
                    canonical_facts(facts),
                )
            )
        if values:
            execute_values(cr._obj, MESSAGE_INSERT_SQL, values, page_size=SEAL_BATCH)
        return len(values)

    @api.model
    def _fi_head(self, company_id):
        """(sequence, hash) of the last sealed event of a company's chain, or
        the genesis."""
        self.env.cr.execute(
            "SELECT sequence, hash FROM fi_audit_event "
            "WHERE company_id = %s AND sequence IS NOT NULL "
            "ORDER BY sequence DESC LIMIT 1",
            (company_id,),
        )
        row = self.env.cr.fetchone()
        if row:
            return row
        checkpoint = self.env["fi.audit.checkpoint"].sudo()._fi_last(company_id)
        if checkpoint:  # every row purged: the chain goes on from the checkpoint
            return checkpoint.sequence, checkpoint.hash
        return 0, GENESIS

    @api.model
    def _fi_enqueue_seal(self):
        """One seal job on the sealer's capacity-1 channel, unless one is
        waiting there already (it starts after this and sees what committed
        before). Run after the commit of a transaction that appended events
        (:func:`enqueue_seal_after_commit`)."""
        self.env.cr.execute(
            "SELECT 1 FROM queue_job WHERE channel = %s AND state = 'pending' LIMIT 1",
            (SEAL_CHANNEL,),
        )
        if self.env.cr.fetchone():
            return False
        self.with_user(SUPERUSER_ID).with_delay(
            channel=SEAL_CHANNEL, description="Seal the audit chain"
        )._fi_seal_job()
        return True

    @api.model
    def _fi_seal_job(self):
        """The sealer as a queue job (channel root.fi_audit_seal, capacity 1:
        one sealer at a time; the lock row guards it all the same)."""
        count = self._fi_seal()
        if count is None:
            # another sealer (the cron, "Seal now") holds the chain and may
            # have started before the events of this job committed
            raise RetryableJobError(
                "another sealer holds the audit chain", seconds=5, ignore_retry=True
            )
        return f"{count} events sealed"

    @api.model
    def _cron_fi_seal(self):
        """The fallback sealer: events of transactions whose seal job was
        taken by a sealer that started before they committed, and the
        messages chained from their rows (intake enqueues nothing)."""
        self._fi_seal()

    def action_seal_now(self):
        count = self._fi_seal()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Audit chain"),
                "message": _("%s events sealed.", count or 0)
                if count is not None
                else _("Another sealer is running; try again in a moment."),
                "type": "info",
            },
        }

    # ------------------------------------------------------------------
    # trace
    # ------------------------------------------------------------------
    @api.model
    def _fi_trace_action(self, domain, name):
        return {
            "type": "ir.actions.act_window",
            "name": name,
            "res_model": "fi.audit.event",
            "view_mode": "list,form",
            "domain": domain,
            "context": {"create": False},
        }

    def action_trace_correlation(self):
        self.ensure_one()
        if not self.correlation_id:
            raise UserError(_("Event %s has no correlation id.", self.display_name))
        return self._fi_trace_action(
            [("correlation_id", "=", self.correlation_id)],
            _("Trace %s", self.correlation_id),
        )
