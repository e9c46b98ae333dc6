# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Batched processing of inbound messages: a flow's *Processing Batch Size*.

Odoo posts a batch of documents much faster than the same documents one by one
(one ``create`` of many payments, one ``action_post``, one reconciliation plan).
When the job of a message of a flow whose batch size is N > 1 runs, it claims
up to N - 1 other queued messages of the same flow and endpoint whose own jobs
have not started (``FOR UPDATE SKIP LOCKED`` on the message and its job), and
hands all of them to the provider's ``_fi_handle_inbound_batch`` in one
savepoint. Each message is then marked done, ignored or failed exactly as when
processed alone; when the batch fails as a whole, each message is processed
alone in its own savepoint (``_fi_process_one``), so that one bad message never
fails its neighbours. The jobs of the claimed messages are marked done in the
same transaction: the job runner never starts them.

The dispatcher does better still for the messages it turns into jobs: it
cuts the received messages of a batched flow into groups of up to N and gives
each group one job (``_fi_process_group``), so that a burst of events costs one
job per N messages, and no claim ever waits on a job the runner is starting.
The claim stays for the messages that get a job of their own (a retry, a
replay): it only takes messages whose job is a single message's.
"""

import logging

import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import DONE, PENDING

from ..lib.errors import FiIgnored
from ..lib.hashing import sha256_hex
from .fi_message import PROCESSABLE, SINGLE_JOB_IDENTITY, TRANSIENT_PGCODES

_logger = logging.getLogger(__name__)


def batch_summary(summaries):
    """A batch job's result: how many messages, how many done, the first
    twenty outcomes."""
    done = sum(1 for text in summaries if text.startswith("done"))
    return f"batch of {len(summaries)} ({done} done): " + "; ".join(summaries[:20])


class FiFlow(models.Model):
    _inherit = "fi.flow"

    process_batch_size = fields.Integer(
        "Processing Batch Size",
        default=1,
        help="Inbound: how many queued messages of this flow one processing job "
        "handles together (the provider's batch handler posts them at once). "
        "1 processes each message in its own job.",
    )

    @api.constrains("process_batch_size")
    def _check_process_batch_size(self):
        for flow in self:
            if flow.process_batch_size < 1:
                raise ValidationError(
                    _(
                        "Flow %s: the processing batch size must be at least 1.",
                        flow.name,
                    )
                )


class FiMessage(models.Model):
    _inherit = "fi.message"

    def _fi_batch_size(self):
        """How many messages the job of this message processes together."""
        if self.direction != "in" or not self.flow_id:
            return 1
        return max(1, self.flow_id.process_batch_size or 1)

    def _fi_lock_for_processing(self):
        """Lock this message for its processing; a message a batch of another
        job holds is retried by its job later (it finds it done then)."""
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT id FROM fi_message WHERE id = %s FOR UPDATE SKIP LOCKED",
            (self.id,),
        )
        if not self.env.cr.fetchone():
            raise RetryableJobError(
                f"message {self.id} is being processed in the batch of another job",
                seconds=5,
                ignore_retry=True,
            )

    def _fi_claim_batch(self, limit):
        """Up to ``limit`` other queued messages of this message's flow and
        endpoint whose jobs have not started, locked with their jobs (rows
        another transaction holds are skipped). Returns ``(messages, jobs)``.

        The newest are claimed first: the job runner starts the oldest jobs
        first, so that claimer and runner seldom want the same job. A claim
        that meets a row changed since this transaction began (a concurrent
        claim or job start) claims nothing: the message is processed alone.
        """
        cr = self.env.cr
        query = SQL(
            "SELECT m.id, j.id FROM fi_message m "
            "JOIN queue_job j ON j.uuid = m.job_uuid "
            "WHERE m.endpoint_id = %s AND m.flow_id = %s AND m.direction = 'in' "
            "AND m.state = 'queued' AND m.id != %s AND j.state = %s "
            "AND (j.eta IS NULL OR j.eta <= now() at time zone 'UTC') "
            # a message's own job only: the job of a group (or of a scheduled
            # batch unit) still has other messages to process
            "AND j.identity_key LIKE %s "
            "ORDER BY m.id DESC LIMIT %s FOR UPDATE OF m, j SKIP LOCKED",
            self.endpoint_id.id,
            self.flow_id.id,
            self.id,
            PENDING,
            SINGLE_JOB_IDENTITY + "%",
            limit,
        )
        try:
            with cr.savepoint(flush=False):
                cr.execute(query)
                rows = cr.fetchall()
        except psycopg2.OperationalError as err:
            if err.pgcode not in TRANSIENT_PGCODES:
                raise
            _logger.info("message %s: batch claim lost a race, alone", self.id)
            rows = []
        messages = self.browse([row[0] for row in reversed(rows)])
        jobs = self.env["queue.job"].sudo().browse([row[1] for row in rows])
        return messages, jobs

    # ------------------------------------------------------------------
    # groups: one job for up to N messages, made by the dispatcher
    # ------------------------------------------------------------------
    def _fi_enqueue_dispatched(self):
        """The dispatcher's jobs for these received messages: the messages of
        each batched flow (and endpoint) in groups of up to its batch size,
        one job per group, in the order received; every other message, and a
        group of one, in a job of its own."""
        groups, singles = {}, []
        for message in self:
            if message._fi_batch_size() > 1:
                key = (message.endpoint_id.id, message.flow_id.id)
                groups.setdefault(key, []).append(message.id)
            else:
                singles.append(message.id)
        for ids in groups.values():
            size = self.browse(ids[0])._fi_batch_size()
            for start in range(0, len(ids), size):
                chunk = ids[start : start + size]
                if len(chunk) == 1:
                    singles.extend(chunk)
                else:
                    self.browse(chunk)._fi_enqueue_group()
        self.browse(singles)._fi_enqueue_processing()

    def _fi_enqueue_group(self):
        """One processing job for these inbound messages of one flow and
        endpoint, on the flow's channel, as the endpoint's integration user;
        the identity key (the messages and their tries) stops a second one."""
        first = self[0]
        tries = ",".join(f"{m.id}:{m.attempts}:{m.conflict_count}" for m in self)
        job = (
            self.with_user(first.endpoint_id.integration_user_id)
            .with_company(first.company_id)
            .with_delay(
                channel=first.flow_id.channel or "root.fi",
                identity_key=f"fi.group:{sha256_hex(tries)}",
                description=f"Process {len(self)} messages of flow "
                f"{first.flow_id.name}",
                max_retries=5,
            )
            ._fi_process_group()
        )
        self.sudo().write({"state": "queued", "job_uuid": job.uuid})
        return job

    def _fi_process_group(self):
        """Job: process these messages together (``_fi_process_together``).

        Locks them first (waiting for a transaction that holds one, in id
        order: two groups never deadlock) and processes those still queued
        for this job; one that was replayed or retried meanwhile belongs to
        its new job. A message whose endpoint holds it back returns to the
        outbox, as alone."""
        if not self:
            return "nothing to do"
        job_uuid = self.env.context.get("job_uuid")
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT id, state, job_uuid FROM fi_message WHERE id IN %s "
            "ORDER BY id FOR UPDATE",
            (tuple(self.ids),),
        )
        mine = [
            row[0]
            for row in self.env.cr.fetchall()
            if row[1] in PROCESSABLE and (not job_uuid or row[2] == job_uuid)
        ]
        messages = self.browse(mine)
        if not messages:
            return f"nothing to do: messages {self.ids} are no longer this job's"
        held = messages.filtered(lambda m: m._fi_hold_reason())
        if held:
            held.write({"state": "new", "job_uuid": False})
            messages -= held
        summaries = []
        if len(messages) > 1:
            summaries = messages._fi_process_together()
        elif messages:
            summaries = [messages._fi_process_one()]
        text = batch_summary(summaries)
        if held:
            text += f"; held back: {held[0]._fi_hold_reason()} ({len(held)})"
        return text

    def _fi_process_batch(self, size):
        """Process this message with up to ``size - 1`` claimed neighbours."""
        self._fi_lock_for_processing()
        claimed, jobs = self._fi_claim_batch(size - 1)
        # a claimed message that must wait is left to its own job
        held = claimed.filtered(lambda m: m._fi_hold_reason())
        if held:
            jobs = jobs.filtered(lambda j: j.uuid not in held.mapped("job_uuid"))
            claimed -= held
        messages = self | claimed
        summaries = messages._fi_process_together()
        if jobs:
            jobs._change_job_state(
                DONE, result=_("processed in the batch of message %s", self.id)
            )
        return batch_summary(summaries)

    def _fi_process_together(self):
        """Validate each message, run the provider's batch handler on the
        valid ones in one savepoint and record each outcome; when the batch
        fails as a whole, process each message alone. Returns the summaries."""
        valid, documents, refused = self.browse(), [], []
        for message in self:
            try:
                documents.append(message._fi_valid_document())
                valid |= message
            except Exception as err:  # noqa: BLE001 - recorded on the message
                refused.append((message, err))
        summaries, failed = [], []
        try:
            with self.env.cr.savepoint():
                results = valid._fi_run_batch_handler(documents) if valid else []
                if len(results) != len(valid):
                    raise ValueError(
                        f"the batch handler returned {len(results)} results for "
                        f"{len(valid)} messages"
                    )
                for message, result in zip(valid, results, strict=True):
                    if isinstance(result, BaseException):
                        failed.append((message, result))
                    else:
                        summaries.append(message._fi_mark_done(result or None))
        except Exception as err:  # noqa: BLE001 - each message is tried alone
            _logger.warning(
                "batch of messages %s failed as a whole (%s: %s): each is "
                "processed alone",
                valid.ids,
                type(err).__name__,
                err,
            )
            summaries = [message._fi_process_one() for message in valid]
            failed = []
        for message, err in failed + refused:
            if isinstance(err, FiIgnored):
                summaries.append(message._fi_mark_ignored(err.reason))
            else:
                summaries.append(message._fi_handle_failure(err))
        return summaries

    def _fi_run_batch_handler(self, documents):
        """The provider's batch handler on these inbound messages (one flow,
        one endpoint): a list aligned with them, each the main record touched
        (or None) or the exception that message failed with."""
        return self.endpoint_id._fi_handle_inbound_batch(self, documents)
