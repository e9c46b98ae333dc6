"""Catch-up beyond the 30 days of ``/v1/events``: the objects themselves.

Stripe keeps events for 30 days. An outage longer than that is caught up by
listing the objects by creation date (``created[gte]``) and feeding each, as
the event a webhook would have delivered, through the same intake. The
synthetic event id is fixed by the object and its status, so a second run
stores nothing again, and a later status (a refund that failed, a dispute that
closed) is a new event; the handlers re-fetch the object and bind what they
post, so an object also delivered by a real event is never posted twice.

>>> needs_object_listing(1_000_000, 1_000_000 + 10 * 86400)
False
>>> needs_object_listing(1_000_000, 1_000_000 + 31 * 86400)
True
>>> needs_object_listing(0, 1_000_000)
False
"""

#: how far back Stripe lists events
EVENTS_RETENTION = 30 * 86400
#: margin before the retention ends: switch to the objects a day early
RETENTION_MARGIN = 86400

#: (list path, Stripe object) in the order the objects are fed: who pays what
#: first, what depends on a payment after it
OBJECT_SOURCES = (
    ("/v1/customers", "customer"),
    ("/v1/invoices", "invoice"),
    ("/v1/charges", "charge"),
    ("/v1/refunds", "refund"),
    ("/v1/disputes", "dispute"),
    ("/v1/payouts", "payout"),
)

#: what the handler of each fed object creates (binding type), for dry runs
CREATES = {
    "customer": "customer",
    "invoice": "invoice",
    "charge": "payment_intent",
    "refund": "refund",
    "dispute": "dispute_case",
    "payout": "payout",
}


def needs_object_listing(last_created, now):
    """Whether a catch-up from ``last_created`` (unix time of the newest
    event seen; 0: never) reaches past what ``/v1/events`` still lists."""
    if not last_created:
        return False
    return now - int(last_created) > EVENTS_RETENTION - RETENTION_MARGIN


def event_type_of(obj):
    """The event type a webhook would have delivered for ``obj`` as it is now,
    or None when it is nothing the connector posts (an unpaid charge).

    >>> event_type_of({"object": "charge", "paid": True, "payment_intent": "pi_1"})
    'payment_intent.succeeded'
    >>> event_type_of({"object": "charge", "paid": False, "payment_intent": "pi_1"})
    >>> event_type_of({"object": "dispute", "status": "lost"})
    'charge.dispute.closed'
    >>> event_type_of({"object": "payout", "status": "failed"})
    'payout.failed'
    >>> event_type_of({"object": "invoice", "status": "draft"})
    """
    kind = obj.get("object")
    status = obj.get("status")
    if kind == "customer":
        return "customer.created"
    if kind == "invoice":
        return None if status == "draft" else "invoice.finalized"
    if kind == "charge":
        if obj.get("paid") and obj.get("payment_intent"):
            return "payment_intent.succeeded"
        return None
    if kind == "refund":
        return "refund.failed" if status == "failed" else "refund.created"
    if kind == "dispute":
        if status in ("won", "lost", "warning_closed", "charge_refunded"):
            return "charge.dispute.closed"
        return "charge.dispute.created"
    if kind == "payout":
        if status in ("failed", "canceled"):
            return f"payout.{status}"
        if obj.get("reconciliation_status") == "completed":
            return "payout.reconciliation_completed"
        return "payout.paid"
    return None


def synthetic_event(obj, api_version):
    """The event document fed to intake for ``obj`` (None: nothing to feed).
    A charge is fed as its PaymentIntent, which is what the payment handler
    re-fetches.

    >>> ev = synthetic_event({"id": "ch_1", "object": "charge", "paid": True,
    ...     "status": "succeeded", "payment_intent": "pi_1", "created": 5,
    ...     "livemode": False}, "2022-04-12")
    >>> ev["id"], ev["type"]
    ('evt_catchup_ch_1_succeeded', 'payment_intent.succeeded')
    >>> ev["data"]["object"]
    {'id': 'pi_1', 'object': 'payment_intent'}
    >>> synthetic_event({"id": "ch_2", "object": "charge", "paid": False}, "x")
    """
    event_type = event_type_of(obj)
    if not event_type:
        return None
    data = obj
    if obj.get("object") == "charge":
        data = {"id": obj["payment_intent"], "object": "payment_intent"}
    state = obj.get("status") or obj.get("object")
    if obj.get("object") == "payout":
        state = f"{state}_{obj.get('reconciliation_status') or '-'}"
    return {
        "id": f"evt_catchup_{obj['id']}_{state}",
        "object": "event",
        "type": event_type,
        "created": int(obj.get("created") or 0),
        "livemode": bool(obj.get("livemode")),
        "api_version": api_version,
        "data": {"object": data},
    }
