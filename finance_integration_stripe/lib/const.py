"""Stripe constants: the pinned API version, handled events, currency exponents."""

#: the API version every request pins (``Stripe-Version``) and every handler
#: reads objects in; events rendered in another version are re-fetched
API_VERSION = "2022-04-12"

#: Stripe's API root
DEFAULT_BASE_URL = "https://api.stripe.com"

#: event type -> handler suffix (``_fi_stripe_on_<suffix>`` on fi.endpoint)
HANDLED_EVENTS = {
    "payment_intent.succeeded": "payment_intent",
    "payment_intent.payment_failed": "payment_intent",
    "payment_intent.canceled": "payment_intent",
    "charge.refunded": "charge_refunded",
    "refund.created": "refund",
    "refund.updated": "refund",
    "refund.failed": "refund",
    "charge.refund.updated": "refund",
    "charge.dispute.created": "dispute",
    "charge.dispute.updated": "dispute",
    "charge.dispute.closed": "dispute",
    "charge.dispute.funds_withdrawn": "dispute",
    "charge.dispute.funds_reinstated": "dispute",
    "review.opened": "review",
    "review.closed": "review",
    "radar.early_fraud_warning.created": "review",
    "radar.early_fraud_warning.updated": "review",
    "invoice.payment_failed": "collections",
    "invoice.marked_uncollectible": "collections",
    "credit_note.created": "credit_note",
    "credit_note.updated": "credit_note",
    "credit_note.voided": "credit_note",
    "customer.created": "customer",
    "customer.updated": "customer",
    "invoice.finalized": "invoice",
    "invoice.paid": "invoice",
    "invoice.voided": "invoice",
    "payout.paid": "payout",
    "payout.failed": "payout",
    "payout.reconciliation_completed": "payout",
    "payout.canceled": "payout",
}

#: object types the handlers re-fetch, and their API path
OBJECT_PATHS = {
    "payment_intent": "/v1/payment_intents/{id}",
    "charge": "/v1/charges/{id}",
    "refund": "/v1/refunds/{id}",
    "payout": "/v1/payouts/{id}",
    "dispute": "/v1/disputes/{id}",
    "invoice": "/v1/invoices/{id}",
    "customer": "/v1/customers/{id}",
    "balance_transaction": "/v1/balance_transactions/{id}",
    "review": "/v1/reviews/{id}",
    "early_fraud_warning": "/v1/radar/early_fraud_warnings/{id}",
    "credit_note": "/v1/credit_notes/{id}",
}

#: currencies whose amounts Stripe gives in whole units (no minor unit)
ZERO_DECIMAL = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
)

#: currencies with three decimals: Stripe's integer amount is in 1/1000
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())

#: balance-transaction fee kinds (``fee_details[].type``) -> endpoint account field
FEE_ACCOUNT_FIELDS = {
    "stripe_fee": "stripe_fee_account_id",
    "application_fee": "stripe_fee_account_id",
    "tax": "stripe_fee_account_id",
    "payment_method_passthrough_fee": "stripe_fee_account_id",
}

#: reporting categories of dispute movements, booked by the dispute flow
DISPUTE_CATEGORIES = frozenset({"dispute", "dispute_reversal"})

#: value map code of balance-transaction ``reporting_category`` -> account
BALANCE_CATEGORY_MAP = "stripe_balance_category"

#: flows installed with a processing batch size above 1 (core's batched
#: processing: one job posts up to that many queued payments together)
BATCH_SIZES = {"payment_intent.succeeded": 20}
